import os

import numpy as np
import pytest
import trimesh

from core.loading import InputError, load_asset, surface_color
from core.sampling import sample_points
from meshes import PSB, textured_scene, two_boxes


def contract_faces(path):
    """The face order contract: positions of every face's corners."""
    ref = trimesh.load(path, force="mesh", process=False)
    return ref.vertices[ref.faces]


def assert_contract(asset, path):
    expected = contract_faces(path)
    got = asset.mesh.vertices[asset.mesh.faces]
    assert got.shape == expected.shape
    back = got @ asset.to_original[:3, :3].T + asset.to_original[:3, 3]
    np.testing.assert_allclose(back, expected, atol=1e-5)


def test_textured_multinode_glb(tmp_path):
    path = str(tmp_path / "toy.glb")
    textured_scene().export(path)
    asset = load_asset(path)
    assert_contract(asset, path)
    assert sorted(asset.node_names) == ["ball", "box_0", "box_1"]
    assert len(asset.textures) == 2 and asset.has_texture
    # normalized: largest side 1, centered
    np.testing.assert_allclose(asset.mesh.extents.max(), 1.0, atol=1e-9)
    np.testing.assert_allclose(asset.mesh.bounds.mean(axis=0), 0.0, atol=1e-9)
    # each node's faces keep their look: red/blue textures, green vertex colors
    for node, channel in (("box_0", 0), ("box_1", 2), ("ball", 1)):
        faces = np.nonzero(asset.face_node == asset.node_names.index(node))[0]
        color = surface_color(asset, faces, np.full((len(faces), 3), 1 / 3))
        assert (color.argmax(axis=1) == channel).mean() > 0.5, node


def test_gltf_with_resources(tmp_path):
    files = textured_scene().export(file_type="gltf")
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    path = str(tmp_path / "model.gltf")
    asset = load_asset(path)
    assert_contract(asset, path)
    assert len(asset.textures) == 2


@pytest.mark.parametrize("ext", ["obj", "ply", "stl", "off"])
def test_single_mesh_formats(tmp_path, ext):
    path = str(tmp_path / f"boxes.{ext}")
    two_boxes().export(path)
    asset = load_asset(path)
    assert_contract(asset, path)
    assert asset.n_faces == len(two_boxes().faces)


def test_psb_off_keeps_face_order():
    path = os.path.join(PSB, "off", "341.off")
    if not os.path.exists(path):
        pytest.skip("PSB meshes not found (set PARTSCOPE_PSB)")
    asset = load_asset(path)
    assert_contract(asset, path)
    labels = np.loadtxt(os.path.join(PSB, "seg", "341", "341_0.seg"))
    assert len(labels) == asset.n_faces


def test_faces_wound_inward_are_turned_and_keep_their_colors(tmp_path):
    # a ball wound inward everywhere, a box with every other face reversed;
    # every vertex has a color of its own
    ball = trimesh.creation.icosphere(subdivisions=2, radius=0.3)
    box = trimesh.creation.box(extents=[0.4, 0.4, 0.4])
    box.apply_translation([1.0, 0, 0])
    mesh = trimesh.util.concatenate([ball, box])
    faces = mesh.faces.copy()
    wrong = np.zeros(len(faces), bool)
    wrong[:len(ball.faces)] = True
    wrong[len(ball.faces)::2] = True
    faces[wrong] = faces[wrong, ::-1]
    colors = np.random.default_rng(0).integers(0, 255, (len(mesh.vertices), 4), dtype=np.uint8)
    colors[:, 3] = 255
    path = str(tmp_path / "mixed.ply")
    trimesh.Trimesh(mesh.vertices, faces, vertex_colors=colors, process=False).export(path)
    asset = load_asset(path)
    assert asset.mesh.is_winding_consistent
    for piece in asset.mesh.split(only_watertight=True):
        assert piece.volume > 0  # facing out
    # the same corners in the same face order, reversed exactly where they were wrong
    file_corners = asset.mesh.vertices[faces]
    turned = ~np.all(np.isclose(asset.mesh.vertices[asset.mesh.faces], file_corners), axis=(1, 2))
    np.testing.assert_array_equal(turned, wrong)
    np.testing.assert_allclose(asset.mesh.vertices[asset.mesh.faces][wrong], file_corners[wrong][:, ::-1])
    # each corner keeps its vertex's color
    np.testing.assert_array_equal(asset.corner_color, colors[asset.mesh.faces])


def test_digest_is_content_identity(tmp_path):
    a, b = str(tmp_path / "a.glb"), str(tmp_path / "b.glb")
    textured_scene().export(a)
    textured_scene().export(b)
    moved = textured_scene()
    moved.apply_translation([0.1, 0, 0])
    c = str(tmp_path / "c.glb")
    moved.export(c)
    assert load_asset(a).digest == load_asset(b).digest != load_asset(c).digest


def test_samples_lie_on_their_faces(tmp_path):
    path = str(tmp_path / "boxes.ply")
    two_boxes().export(path)
    asset = load_asset(path)
    pts = sample_points(asset, 2000, seed=3)
    # every sample is its own closest point on its face: on the plane, inside
    closest = trimesh.triangles.closest_point(asset.mesh.triangles[pts.face], pts.xyz)
    np.testing.assert_allclose(closest, pts.xyz, atol=1e-5)
    assert np.all(np.abs(np.linalg.norm(pts.normal, axis=1) - 1) < 1e-5)
    again = sample_points(asset, 2000, seed=3)
    np.testing.assert_array_equal(pts.xyz, again.xyz)


def write(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return str(path)


BAD_INPUTS = [
    ("missing", None, "no file"),
    ("model.fbx", b"Kaydara FBX Binary", "not a format PartScope reads"),
    ("broken.glb", b"glTF\x02\x00\x00\x00garbage that is not a real glb file", "not a complete GLB"),
    ("points.ply", "ply\nformat ascii 1.0\nelement vertex 3\nproperty float x\nproperty float y\n"
     "property float z\nend_header\n0 0 0\n1 0 0\n0 1 0\n", "point cloud"),
    ("nan.off", "OFF\n3 1 0\n0 0 0\nnan 0 0\n0 1 0\n3 0 1 2\n", "NaN"),
    ("empty.obj", "# nothing here\n", "no faces"),
]


@pytest.mark.parametrize("name,data,phrase", BAD_INPUTS)
def test_bad_inputs_give_one_clear_sentence(tmp_path, name, data, phrase):
    path = str(tmp_path / "absent.glb") if data is None else write(tmp_path, name, data)
    with pytest.raises(InputError) as err:
        load_asset(path)
    message = str(err.value)
    assert phrase.lower() in message.lower()
    assert "\n" not in message and message.endswith(".")
