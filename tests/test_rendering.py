import numpy as np
import trimesh

from core.config import RenderConfig
from core.loading import load_asset
from core.rendering import Camera, Renderer, reference_cameras
from meshes import card_before_a_box, textured_scene, two_boxes


def boxes_asset(tmp_path):
    path = str(tmp_path / "boxes.ply")
    two_boxes().export(path)
    return load_asset(path)


def test_face_ids_match_a_direct_ray_cast(tmp_path):
    asset = boxes_asset(tmp_path)
    camera = Camera.orbit(30, 25, 2.5, resolution=96)
    view = Renderer(asset).render(camera)
    origins, dirs = camera.rays()
    direct = trimesh.ray.ray_triangle.RayMeshIntersector(asset.mesh).intersects_first(origins, dirs)
    agree = (view.face.ravel() == direct).mean()
    assert agree > 0.995  # only rays grazing an edge may pick its neighbor
    assert (view.face >= 0).mean() > 0.1
    # depth: the point a pixel sees lies on the face it reports
    xyz = view.points()[view.face >= 0]
    faces = view.face[view.face >= 0]
    closest = trimesh.triangles.closest_point(asset.mesh.triangles[faces], xyz)
    np.testing.assert_allclose(closest, xyz, atol=1e-4)


def test_projection_inverts_the_rays(tmp_path):
    asset = boxes_asset(tmp_path)
    camera = Camera.orbit(200, -40, 2.0, resolution=64)
    view = Renderer(asset).render(camera)
    seen = view.face >= 0
    uv, depth = camera.project(view.points()[seen])
    rows, cols = np.nonzero(seen)
    np.testing.assert_allclose(uv[:, 0], cols + 0.5, atol=1e-3)
    np.testing.assert_allclose(uv[:, 1], rows + 0.5, atol=1e-3)
    np.testing.assert_allclose(depth, view.depth[seen], rtol=1e-4)


def test_reference_layout():
    cams = reference_cameras(RenderConfig(), diagonal=np.sqrt(3))
    assert len(cams) == 16
    pos = np.array([c.position for c in cams])
    np.testing.assert_allclose(np.linalg.norm(pos, axis=1), 1.39 * np.sqrt(3))
    elevation = np.degrees(np.arcsin(pos[:, 1] / np.linalg.norm(pos, axis=1)))
    np.testing.assert_allclose(sorted(np.round(elevation)), sorted([25, 40] * 4 + [-25, -40] * 4))
    azimuth = np.degrees(np.arctan2(pos[:, 0], pos[:, 2])) % 360
    np.testing.assert_allclose(sorted(np.round(azimuth[:8])), np.arange(0, 360, 45))
    # every camera looks at the origin: the image center ray passes through it
    for cam in cams:
        uv, _ = cam.project(np.zeros((1, 3)))
        np.testing.assert_allclose(uv[0], [cam.resolution / 2] * 2, atol=1e-6)


def test_textures_show_in_the_render(tmp_path):
    path = str(tmp_path / "toy.glb")
    textured_scene().export(path)
    asset = load_asset(path)
    view = Renderer(asset).render(Camera.orbit(0, 20, 2.5, resolution=128), shade=False)
    seen = view.face >= 0
    node = asset.face_node[view.face[seen]]
    colors = view.color[seen].astype(int)
    red_box = node == asset.node_names.index("box_0")
    ball = node == asset.node_names.index("ball")
    # the red box's texture is red with a cyan corner; the ball is green
    assert ((colors[red_box, 0] > 200) | (colors[red_box, 1] > 200)).all()
    assert (colors[ball].argmax(axis=1) == 1).all()
    assert (view.color[~seen] == 255).all()


def test_a_ray_goes_through_a_cut_out_texel(tmp_path):
    """A view of a leaf card before a box: where the card's texel is cut
    out (alphaMode MASK, alpha under the cutoff) the view sees the box
    behind it, its face, depth and colour, as the viewer draws it; where
    the texel is kept, the card. Before, the card hid the box whole."""
    path = str(tmp_path / "card.glb")
    card_before_a_box().export(path)
    asset = load_asset(path)
    card = np.nonzero(asset.face_material >= 0)[0]
    view = Renderer(asset).render(Camera.orbit(0, 0, 2.5, resolution=64))
    on_card = np.isin(view.face, card)
    whole = Renderer(asset)
    whole.cut_outs = []  # every texel kept: the card drawn whole
    seen_whole = np.isin(whole.render(Camera.orbit(0, 0, 2.5, resolution=64)).face, card)
    through = seen_whole & ~on_card
    assert 0.4 < through.sum() / seen_whole.sum() < 0.6
    assert (view.face[through] >= 0).all() and not np.isin(view.face[through], card).any()
    card_depth = view.depth[on_card].mean()
    assert (view.depth[through] > card_depth + 0.05).all()
    assert (view.color[on_card][:, 1] > view.color[on_card][:, 0] + 100).all()  # green card
    assert (np.abs(np.diff(view.color[through].astype(int), axis=1)) < 8).all()  # the grey box
