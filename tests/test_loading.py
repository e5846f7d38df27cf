import io
import json
import os

import numpy as np
import pytest
import trimesh
from PIL import Image, ImageFile

from core.export import write_downloads
from core.loading import InputError, load_asset
from core.looks import surface_color
from core.sampling import sample_points
from meshes import PSB, chair, textured_scene, two_boxes


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


@pytest.mark.psb
def test_psb_off_keeps_face_order():
    path = os.path.join(PSB, "off", "341.off")
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
    ("model.3ds", b"MM\x06\x00\x00\x00", "not a format PartScope reads"),
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


def test_a_gltf_whose_triangles_have_too_few_corners_says_so(tmp_path):
    """A triangle fan of two indices draws nothing: the file holds no faces
    (called a point cloud until 2026-12-06)."""
    from tests.corpus_files import FAN, hand_glb
    square = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0]], np.float32)
    path = write(tmp_path, "fan.glb", hand_glb([(square, np.array([0, 1]), FAN, 0)]))
    with pytest.raises(InputError, match="has fewer than three corners") as err:
        load_asset(path)
    assert "point cloud" not in str(err.value)
    assert load_asset(write(tmp_path, "fan3.glb", hand_glb([(square, np.array([0, 1, 2]), FAN, 0)]))).n_faces == 1


def test_texture_transform_follows_the_extensions_example():
    """KHR_texture_transform's example (offset 0 1, rotation pi/2, scale 0.5)
    shows the lower left quarter of the image (v runs down): the unit
    square's corners land in u 0..0.5, v 0.5..1."""
    from core.gltf_decode import uv_matrix

    m = uv_matrix({"offset": [0, 1], "rotation": np.pi / 2, "scale": [0.5, 0.5]})
    square = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], float)
    np.testing.assert_allclose(square @ m[:, :2].T + m[:, 2], [[0, 1], [0, 0.5], [0.5, 0.5], [0.5, 1]], atol=1e-12)
    np.testing.assert_allclose(uv_matrix({}), [[1, 0, 0], [0, 1, 0]])


@pytest.mark.parametrize("vk_format,scheme,tolerance", [
    (23, 0, 0), (43, 0, 0), (91, 0, 0), (97, 0, 1), (109, 0, 1), (43, 3, 0), (43, 2, 0)])
def test_plain_ktx2_decodes_to_its_pixels(vk_format, scheme, tolerance):
    from tests.corpus_files import pattern
    from tests.corpus_ktx2 import ktx2_bytes
    from core import ktx2

    rgba = np.asarray(pattern(1, size=12).convert("RGBA")).copy()
    rgba[..., 3] = np.arange(12)[None, :] * 20
    got = ktx2.rgba(ktx2_bytes(rgba, vk_format, scheme))
    channels = 3 if vk_format == 23 else 4
    assert got.shape == rgba.shape
    if channels == 3:
        assert (got[..., 3] == 255).all()
    assert np.abs(got[..., :channels].astype(int) - rgba[..., :channels]).max() <= tolerance


@pytest.mark.parametrize("vk_format,n", [(131, 1), (146, 7)])
def test_block_compressed_ktx2_decodes_as_its_blocks(vk_format, n):
    """BC1 and BC7 (10 x 6 pixels: blocks cut at the edge) decode to what
    their blocks hold, and that is near the image they were made from."""
    from PIL import Image

    from tests.corpus_files import pattern
    from tests.corpus_ktx2 import bc_blocks, ktx2_bytes
    from core import ktx2

    rgba = np.asarray(pattern(0, size=12).convert("RGBA"))[:6, :10].copy()
    got = ktx2.rgba(ktx2_bytes(rgba, vk_format))
    blocks = np.asarray(Image.frombytes("RGBA", (12, 8), bc_blocks(rgba, vk_format), "bcn", n))[:6, :10]
    assert got.shape == (6, 10, 4)
    np.testing.assert_array_equal(got[..., :3], blocks[..., :3])
    assert np.median(np.abs(got[..., :3].astype(int) - rgba[..., :3])) < 16


def test_ktx2_textures_past_their_limits_are_refused_before_they_are_decoded(tmp_path, monkeypatch):
    """A KTX2 image's data may be supercompressed: 1 MB of zlib once decoded
    an 8K image of floats in 12 GB. One image past MAX_PIXELS (here 15 for a
    4 x 4) is refused by its header; a glTF's KTX2 images past the model's
    budget (here one of the textured scene's two 16 x 16 images) are refused
    before the one that would pass it is decoded."""
    import core.gltf_decode
    from core import ktx2
    from core.gltf import GltfError
    from tests.corpus_files import glb, textured_scene
    from tests.corpus_ktx2 import ktx2_bytes, ktx2_glb

    image = ktx2_bytes(np.zeros((4, 4, 4), np.float32), 109, scheme=3)
    assert ktx2.rgba(image).shape == (4, 4, 4)
    monkeypatch.setattr(ktx2, "MAX_PIXELS", 15)
    with pytest.raises(GltfError, match="has a KTX2 texture of 4 x 4 pixels, more than PartScope decodes"):
        ktx2.rgba(image)
    monkeypatch.undo()

    path = tmp_path / "ktx2.glb"
    path.write_bytes(ktx2_glb(glb(textured_scene()), vk_format=43))
    assert len(load_asset(str(path)).textures) == 2
    decoded = []
    monkeypatch.setattr(core.gltf_decode, "MAX_TEXTURE_PIXELS", 16 * 16)
    monkeypatch.setattr(ktx2, "rgba", lambda data, _rgba=ktx2.rgba: decoded.append(data) or _rgba(data))
    with pytest.raises(InputError, match="'ktx2.glb' holds KTX2 textures of more pixels in all than PartScope decodes"):
        load_asset(str(path))
    assert len(decoded) == 1


def test_a_ktx2_format_it_cannot_decode_is_named():
    from tests.corpus_ktx2 import ktx2_bytes
    from core import ktx2
    from core.gltf import GltfError

    data = bytearray(ktx2_bytes(np.zeros((4, 4, 4), np.uint8), 43))
    data[12:16] = (157).to_bytes(4, "little")  # ASTC 4x4
    with pytest.raises(GltfError) as err:
        ktx2.rgba(bytes(data))
    assert str(err.value) == ("has a KTX2 texture in a format PartScope cannot decode (Vulkan format 157): export it "
                              "again with PNG, JPEG or Basis Universal textures")


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "cp1252", "latin-1"])
def test_model_text_is_read_in_its_encoding(encoding):
    from core.text import read_text

    text = "o Caña_à_façade\nusemtl Añil\n"
    if encoding == "cp1252":
        text += "# “quoted” – €\n"
    assert read_text(text.encode(encoding)) == text
    assert read_text(b"o \x81\x8d\n") == "o \x81\x8d\n"  # bytes Windows-1252 leaves unassigned: as Latin-1


def test_gltf_material_colours_follow_the_specification(tmp_path):
    """No baseColorFactor means white (glTF's default), not a grey; vertex
    colours (COLOR_0) are multiplied by the factor; both are linear light,
    shown through the sRGB curve (a factor of 0.5 is shown as 188, not 128)."""
    from tests.corpus_files import hand_glb
    from core import glb

    tree, binary = glb.split(hand_glb([(np.eye(3, dtype=np.float32), np.array([0, 1, 2]), 4, 0)] * 2))
    del tree["materials"][0]["pbrMetallicRoughness"]["baseColorFactor"]
    tree["materials"][1]["pbrMetallicRoughness"]["baseColorFactor"] = [0.5, 1.0, 1.0, 1.0]
    colours = np.array([[255, 0, 0, 255], [0, 255, 0, 255], [0, 0, 255, 255]], np.uint8)
    view = {"buffer": 0, "byteOffset": len(binary), "byteLength": colours.nbytes}
    tree["bufferViews"].append(view)
    tree["accessors"].append({"bufferView": len(tree["bufferViews"]) - 1, "componentType": 5121, "count": 3,
                              "type": "VEC4", "normalized": True})
    tree["meshes"][1]["primitives"][0]["attributes"]["COLOR_0"] = len(tree["accessors"]) - 1
    path = tmp_path / "colours.glb"
    path.write_bytes(glb.pack(tree, binary + colours.tobytes()))
    asset = load_asset(str(path))
    first = asset.face_node == asset.node_names.index("node_0")
    assert (asset.corner_color[first] == 255).all()
    np.testing.assert_array_equal(asset.corner_color[~first][0, :, :3], [[188, 0, 0], [0, 255, 0], [0, 0, 255]])


def test_a_skinned_model_lies_where_its_joints_put_it(tmp_path):
    """Blender's rig (tests/data/toy_car_blender_rigged.glb: the car skinned
    to one bone of an armature turned a quarter round and scaled by 0.01)
    draws the car as it was; with the bone turned a quarter round the
    vertical, the car turns with it: its length and width swap."""
    from core import glb

    data = open(os.path.join(os.path.dirname(__file__), "data", "toy_car_blender_rigged.glb"), "rb").read()
    car = load_asset(os.path.join(os.path.dirname(__file__), "..", "assets", "toy_car.glb"))
    rest = write(tmp_path, "rest.glb", data)
    np.testing.assert_allclose(load_asset(rest).mesh.extents, car.mesh.extents, atol=1e-5)
    tree, binary = glb.split(data)
    bone = next(node for node in tree["nodes"] if node["name"] == "Bone")
    bone["rotation"] = [0.0, 0.0, np.sqrt(0.5), np.sqrt(0.5)]  # the bone's z: the car's up, in the armature's frame
    posed = load_asset(write(tmp_path, "posed.glb", glb.pack(tree, binary)))
    np.testing.assert_allclose(posed.mesh.extents, car.mesh.extents[[2, 1, 0]], atol=1e-5)


@pytest.mark.parametrize("columns, values", [
    (["uchar diffuse_red", "uchar diffuse_green", "uchar diffuse_blue"], "128 64 255"),  # as some scanners name them
    (["float s", "float t", "uchar red", "uchar green", "uchar blue"], "0.5 0.5 128 64 255"),  # beside a UV map
])
def test_an_ascii_plys_vertex_colours_are_read(tmp_path, columns, values):
    """trimesh reads neither colours named diffuse_* nor, beside texture
    coordinates without a texture file, an ASCII PLY's colours."""
    header = ["ply", "format ascii 1.0", "element vertex 3", *(f"property float {c}" for c in "xyz"),
              *(f"property {c}" for c in columns), "element face 1", "property list uchar int vertex_indices",
              "end_header"]
    rows = [f"{xyz} {values}" for xyz in ("0 0 0", "1 0 0", "1 1 0")]
    (tmp_path / "scan.ply").write_text("\n".join(header + rows + ["3 0 1 2"]) + "\n")
    assert load_asset(str(tmp_path / "scan.ply")).corner_color[0].tolist() == [[128, 64, 255, 255]] * 3


@pytest.mark.parametrize("written", ["255 128 0", "1 0.501961 0"])
def test_an_objs_vertex_colours_are_read_as_bytes_or_fractions(tmp_path, written):
    """An OBJ's colours after each vertex's position, as fractions (as
    MeshLab writes them) or as bytes (as some scanners and converters do,
    which trimesh took past 1 as white): the same orange either way."""
    rows = [f"v {xyz} {written}" for xyz in ("0 0 0", "1 0 0", "1 1 0")]
    (tmp_path / "scan.obj").write_text("\n".join(rows + ["f 1 2 3"]) + "\n")
    assert load_asset(str(tmp_path / "scan.obj")).corner_color[0].tolist() == [[255, 128, 0, 255]] * 3


@pytest.mark.parametrize("named", ["mtllib red.mtl blue.mtl gone.mtl", "mtllib red.mtl\nmtllib blue.mtl gone.mtl",
                                   "#mtllib gone.mtl\nmtllib red.mtl\nmtllib my blue.mtl gone.mtl"])
def test_an_obj_reads_every_material_library_it_names(tmp_path, named):
    """An OBJ naming several .mtl files, in one 'mtllib' or in several
    (trimesh reads the first statement only, its names as one file name, so
    both triangles were grey and the warning named 'red.mtl blue.mtl
    gone.mtl' until 2026-12-06), names with spaces among them (obj2gltf's
    test files), after a comment that names one (raylib's cube; trimesh
    took the comment's): each triangle its library's colour, a warning for
    the library that is not there."""
    blue = "my blue.mtl" if "my blue" in named else "blue.mtl"
    (tmp_path / "red.mtl").write_text("newmtl red\nKd 1 0 0\n")
    (tmp_path / blue).write_text("newmtl blue\nKd 0 0 1\n")
    (tmp_path / "two.obj").write_text(f"{named}\nv 0 0 0\nv 1 0 0\nv 0 1 0\nv 2 0 0\nv 3 0 0\nv 2 1 0\n"
                                      "usemtl red\nf 1 2 3\nusemtl blue\nf 4 5 6\n")
    asset = load_asset(str(tmp_path / "two.obj"))
    left = trimesh.transform_points(asset.mesh.triangles_center, asset.to_original)[:, 0] < 1.5
    colours = surface_color(asset, [0, 1], [[1 / 3] * 3] * 2)
    assert colours[left].tolist() == [[255, 0, 0]] and colours[~left].tolist() == [[0, 0, 255]]
    assert asset.warnings == [
        "'two.obj' refers to 'gone.mtl' (a library of its materials), which is not beside it: the model is loaded "
        "without the colours and textures it holds; keep the .obj with its .mtl and images (in the web app, drop "
        "them together, or one ZIP of them)."]


def test_texture_coordinates_without_a_texture_show_as_an_uncoloured_surface(tmp_path):
    """An OBJ with texture coordinates and no .mtl (trimesh gives it a dark
    grey stand-in texture, 100, shown so until 2026-12-06) shows as any
    surface without colours does; a warning says what is missing."""
    (tmp_path / "uv.obj").write_text("mtllib uv.mtl\nusemtl paint\nv 0 0 0\nv 1 0 0\nv 1 1 0\nvt 0 0\nvt 1 0\n"
                                     "vt 1 1\nf 1/1 2/2 3/3\n")
    asset = load_asset(str(tmp_path / "uv.obj"))
    assert asset.warnings and "uv.mtl" in asset.warnings[0]
    assert surface_color(asset, [0], [[1 / 3] * 3]).tolist() == [[200, 200, 200]]


def test_an_off_files_colours_are_read(tmp_path):
    """trimesh's OFF reader leaves colours out: a polygon's colour after its
    indices (bytes, or fractions), kept on each triangle it is cut into; a
    COFF's vertex colours, also after a normal (CNOFF)."""
    square = ["0 0 0", "1 0 0", "1 1 0", "0 1 0", "0.5 1.5 0"]
    (tmp_path / "faces.off").write_text("\n".join([
        "OFF", "# made by hand", "5 3 0", *square,
        "3 0 1 2 255 0 0", "4 0 2 4 3 0.0 0.5 1.0", "3 1 2 4 10 20 30 255"]) + "\n")
    faces = load_asset(str(tmp_path / "faces.off"))
    assert faces.n_faces == 4
    assert sorted(map(tuple, faces.corner_color[:, 0, :3].tolist())) == [
        (0, 128, 255), (0, 128, 255), (10, 20, 30), (255, 0, 0)]
    rows = [f"{v} 0 0 1 {c}" for v, c in zip(square, ["255 0 0 255"] * 2 + ["0 0 255 255"] * 3)]
    (tmp_path / "vertices.off").write_text("\n".join(["CNOFF 5 2 0", *rows, "3 0 1 2", "3 2 4 3"]) + "\n")
    corners = load_asset(str(tmp_path / "vertices.off")).corner_color[..., :3]
    assert sorted(map(tuple, corners.reshape(-1, 3).tolist())) == [(0, 0, 255)] * 4 + [(255, 0, 0)] * 2
    # the header run into its counts, as trimesh's own test file writes it (refused until 2026-12-06)
    (tmp_path / "run_in.off").write_text((tmp_path / "faces.off").read_text().replace("OFF\n# made by hand\n5", "OFF5"))
    assert load_asset(str(tmp_path / "run_in.off")).corner_color.tolist() == faces.corner_color.tolist()
    # a 4OFF's points are homogeneous, divided by w (read as x y z until 2026-12-06), its colours after w
    (tmp_path / "w.off").write_text("C4OFF 3 1 0\n0 0 0 1 255 0 0\n2 0 0 2 255 0 0\n0 4 0 2 255 0 0\n3 0 1 2\n")
    homogeneous = load_asset(str(tmp_path / "w.off"))
    placed = trimesh.transform_points(homogeneous.mesh.vertices, homogeneous.to_original)
    assert np.allclose(placed.max(axis=0), [1, 2, 0]) and (homogeneous.corner_color[..., :3] == [255, 0, 0]).all()
    # OpenSCAD colours some faces only, some with an alpha: those are kept, the others grey
    (tmp_path / "some.off").write_text("\n".join([
        "OFF 5 3 0", *square, "3 0 1 2", "4 0 2 4 3 0 0 255 68", "3 1 2 4 0 128 0"]) + "\n")
    some = load_asset(str(tmp_path / "some.off")).corner_color[:, 0]
    assert sorted(map(tuple, some.tolist())) == [
        (0, 0, 255, 68), (0, 0, 255, 68), (0, 128, 0, 255), (200, 200, 200, 255)]
    # colours written as whole numbers, none past 1, are fractions: '1 0 0' is red (black until 2026-12-06)
    (tmp_path / "whole.off").write_text("\n".join(["OFF 5 3 0", *square, "3 0 1 2 1 0 0", "4 0 2 4 3 0 0 1",
                                                    "3 1 2 4 1 1 1"]) + "\n")
    whole = load_asset(str(tmp_path / "whole.off")).corner_color[:, 0, :3]
    assert sorted(map(tuple, whole.tolist())) == [(0, 0, 255), (0, 0, 255), (255, 0, 0), (255, 255, 255)]
    # an nOFF gives its dimension before the counts (refused until 2026-12-06); of three, it is read
    (tmp_path / "sized.off").write_text((tmp_path / "faces.off").read_text().replace("OFF\n", "nOFF\n3\n"))
    assert load_asset(str(tmp_path / "sized.off")).corner_color.tolist() == faces.corner_color.tolist()
    (tmp_path / "four.off").write_text("nOFF 4\n3 1 0\n0 0 0 0\n1 0 0 0\n0 1 0 1\n3 0 1 2\n")
    with pytest.raises(InputError, match="could not be read as OFF"):
        load_asset(str(tmp_path / "four.off"))


def test_an_off_with_no_vertices_is_refused_as_empty(tmp_path):
    """CGAL writes an empty mesh as 'OFF' and '0 0 0': it holds no faces,
    and says so (until 2026-12-06: "looks damaged")."""
    (tmp_path / "empty.off").write_text("OFF\n0 0 0\n")
    with pytest.raises(InputError, match="holds no faces: it is empty"):
        load_asset(str(tmp_path / "empty.off"))


def test_the_files_a_model_names_are_found_as_exporters_name_them(tmp_path):
    """A Windows path, backslashes, another case, %-escapes, a folder below:
    found under the model's folder; a name that climbs out finds only what
    lies inside; one not there, nothing."""
    from core.beside import Beside

    (tmp_path / "model" / "maps").mkdir(parents=True)
    for name in ("model/Wood Grain.PNG", "model/maps/metal.png", "secret.png"):
        (tmp_path / name).write_bytes(b"image")
    beside = Beside(str(tmp_path / "model"))
    wood, metal = str(tmp_path / "model" / "Wood Grain.PNG"), str(tmp_path / "model" / "maps" / "metal.png")
    assert beside.find(r"C:\Users\Artist\Desktop\wood grain.png") == wood
    assert beside.find("wood%20grain.png") == beside.find("./WOOD GRAIN.png") == wood
    assert beside.find(r"textures\METAL.png") == beside.find("maps/metal.png") == metal
    assert beside.find("../secret.png") is None and beside.find("rust.png") is None


def test_a_file_copied_in_after_a_load_is_found_on_the_next(tmp_path):
    """A glTF's folder is listed once for all its files, but a listing never
    outlives the folder's entries: an image copied in after a load that
    missed it is found on the next load."""
    from core.beside import Beside

    assert Beside.of(str(tmp_path)).find("WOOD.PNG") is None
    (tmp_path / "wood.png").write_bytes(b"image")
    assert Beside.of(str(tmp_path)).find("WOOD.PNG") == str(tmp_path / "wood.png")


def test_an_obj_with_a_group_per_few_faces_has_a_node_per_material(tmp_path):
    """A converter's group per triangle (past MAX_OBJ_NODES) is no artist's
    object: the OBJ is read by material, as one node, not one per group."""
    from core.loading import MAX_OBJ_NODES

    n = MAX_OBJ_NODES + 1
    lines = [f"v {i} {i % 2} 0" for i in range(n + 2)]
    lines += [f"g facet_{i}\nf {i + 1} {i + 2} {i + 3}" for i in range(n)]
    (tmp_path / "facets.obj").write_text("\n".join(lines) + "\n")
    asset = load_asset(str(tmp_path / "facets.obj"))
    assert asset.n_faces == n and len(asset.node_names) == 1


@pytest.mark.parametrize("mode", ["I;16", "LA", "P", "CMYK"])
def test_a_texture_in_any_image_mode_is_shown_at_its_colour(tmp_path, mode):
    """16-bit grey (Pillow alone clips it to white), grey with alpha, a
    palette and CMYK textures show the colour they hold, not darkened by the
    Kd 3ds Max writes beside every map (its texture takes Kd's place)."""
    colour = (128, 128, 128) if mode in ("I;16", "LA") else (200, 100, 48)
    if mode == "I;16":
        image = Image.fromarray(np.full((8, 8), 128 * 257, np.uint16))
    else:
        image = Image.fromarray(np.full((8, 8, 3), colour, np.uint8)).convert(mode, palette=Image.Palette.ADAPTIVE)
    name = "map.jpg" if mode == "CMYK" else "map.png"
    image.save(tmp_path / name, **({"quality": 100} if mode == "CMYK" else {}))
    (tmp_path / "card.obj").write_text("mtllib card.mtl\nv 0 0 0\nv 1 0 0\nv 1 1 0\nvt 0 0\nvt 1 0\nvt 1 1\n"
                                       "usemtl m\nf 1/1 2/2 3/3\n")
    (tmp_path / "card.mtl").write_text(f"newmtl m\nKd 0.5880 0.5880 0.5880\nmap_Kd {name}\n")  # 3ds Max's Kd
    shown = surface_color(load_asset(str(tmp_path / "card.obj")), np.array([0]), np.full((1, 3), 1 / 3))[0]
    assert np.abs(shown.astype(int) - colour).max() <= 2, shown


@pytest.mark.parametrize("options,colour", [("", (0, 0, 255)), ("-bm 0.3 -s 1 1 1 ", (0, 0, 255)),
                                            ("-s 2 1 1 ", (255, 255, 255)), ("-o 0 0.5 0 ", (255, 0, 0)),
                                            ("-s 2 2 1 -o 0.25 0 ", (255, 255, 255)),
                                            ("-s -1 1 1 ", (255, 255, 255))])
def test_an_mtl_maps_scale_and_offset_place_its_texture(tmp_path, options, colour):
    """A map's -s and -o move the texture on the surface (u s + o, repeated),
    as Blender's importer places them; other options change nothing."""
    quarters = np.zeros((16, 16, 3), np.uint8)  # rows run down: red | green over blue | white
    quarters[:8, :8], quarters[:8, 8:], quarters[8:, :8], quarters[8:, 8:] = (255, 0, 0), (0, 255, 0), (0, 0, 255), 255
    Image.fromarray(quarters).save(tmp_path / "quarters.png")
    (tmp_path / "card.obj").write_text("mtllib card.mtl\nv 0 0 0\nv 1 0 0\nv 1 1 0\nvt 0 0\nvt 1 0\nvt 1 1\n"
                                       "usemtl m\nf 1/1 2/2 3/3\n")
    (tmp_path / "card.mtl").write_text(f"newmtl m\nmap_Kd {options}quarters.png\n")
    at = np.array([[0.7, 0.2, 0.1]])  # u 0.3, v 0.1: the blue quarter as it stands
    shown = surface_color(load_asset(str(tmp_path / "card.obj")), np.array([0]), at)[0]
    assert tuple(shown) == colour


@pytest.mark.parametrize("named,image", [("C:\\Scans\\RED.PNG", "red.png"), ("<this>_A.png", "scan_A.png")])
def test_a_ply_texture_named_by_a_windows_path_is_found_and_shown_as_it_is(tmp_path, caplog, named, image):
    """A scanner's PLY names its texture by the path it had on Windows, in
    other case, or as MeshLab does, '<this>' for the PLY's own name (left
    as written until 2026-12-06): the image beside it is its texture, shown
    as it is (not darkened by trimesh's default grey); without the image, a
    warning that names the file to put beside it, and no traceback of
    trimesh's in the log."""
    header = ["ply", "format ascii 1.0", f"comment TextureFile {named}", "element vertex 4",
              *(f"property float {p}" for p in "xyzst"), "element face 2", "property list uchar int vertex_indices",
              "end_header"]
    corners = ["0 0 0 0 0", "1 0 0 1 0", "1 1 0 1 1", "0 1 0 0 1", "3 0 1 2", "3 0 2 3"]
    (tmp_path / "scan.ply").write_text("\n".join(header + corners) + "\n")
    Image.fromarray(np.full((8, 8, 3), (200, 30, 10), np.uint8)).save(tmp_path / image)
    asset = load_asset(str(tmp_path / "scan.ply"))
    assert len(asset.textures) == 1 and not asset.warnings
    assert surface_color(asset, np.array([0, 1]), np.full((2, 3), 1 / 3)).tolist() == [[200, 30, 10]] * 2
    os.remove(tmp_path / image)
    shown = named.replace("<this>", "scan")
    assert load_asset(str(tmp_path / "scan.ply")).warnings == [
        f"'scan.ply' refers to '{shown}' (a texture), which is not beside it: the model is loaded "
        "without it; keep the .ply with its texture (in the web app, drop them together, or one ZIP of them)."]
    assert not [r for r in caplog.records if r.exc_info]


def test_a_ply_with_texture_coordinates_and_no_texture_keeps_its_vertex_colours():
    """Blender's PLY (tests/data/toy_car_blender.ply) writes its UV map and
    its colours per vertex, and names no texture: every corner takes its
    vertex's colour as the file writes it (read here straight from the
    bytes: x y z as floats, red green blue alpha as bytes, s t as floats,
    then each face as a count byte and three uint32)."""
    path = os.path.join(os.path.dirname(__file__), "data", "toy_car_blender.ply")
    data = open(path, "rb").read()
    header, body = data.split(b"end_header\n", 1)
    n_vertices = int(header.split(b"element vertex ")[1].split()[0])
    vertex = np.dtype([("xyz", "<f4", 3), ("rgba", "u1", 4), ("st", "<f4", 2)])
    face = np.dtype([("n", "u1"), ("corners", "<u4", 3)])
    colours = np.frombuffer(body, vertex, n_vertices)["rgba"]
    corners = np.frombuffer(body, face, offset=n_vertices * vertex.itemsize)["corners"]
    asset = load_asset(path)
    assert len(np.unique(colours[:, :3], axis=0)) > 1  # the file has colours to keep
    np.testing.assert_array_equal(asset.corner_color, colours[corners])


BLENDER_MEASURED = os.path.join(os.path.dirname(__file__), "data", "blender_measured.json")


@pytest.mark.parametrize("name", [pytest.param(name, marks=[pytest.mark.blender] if name.endswith(".blend") else [])
                                  for name in sorted(json.load(open(BLENDER_MEASURED)))])
def test_a_blender_scene_is_read_as_blender_holds_it(name):
    """Scenes made in Blender (tests/data/blender_exports.py: a chair with
    modifiers, a part parented, turned and scaled unevenly, one mirrored by
    a negative scale, two materials on one object; the car with a shape key
    at half its weight), written by Blender's glTF and OBJ exporters, or the
    chair's own .blend, its modifiers not applied (read through Blender):
    their triangles, area and bounds as Blender measures them."""
    with open(BLENDER_MEASURED) as f:
        truth = json.load(f)[name]
    asset = load_asset(os.path.join(os.path.dirname(BLENDER_MEASURED), name))
    placed = trimesh.Trimesh(trimesh.transform_points(asset.mesh.vertices, asset.to_original), asset.mesh.faces,
                             process=False)
    assert asset.n_faces == truth["triangles"]
    assert placed.area == pytest.approx(truth["area"], rel=1e-5)
    np.testing.assert_allclose(placed.bounds, [truth["low"], truth["high"]], atol=1e-5)


def test_meshlabs_polygonal_off_of_the_chair_is_read_as_blender_holds_the_chair():
    """MeshLab's OFF of Blender's chair, polygons kept (quads, and n-gons of
    12 and 24 corners, two a ring with its hole bridged): read with the
    chair's area and bounds as Blender measures them, with a warning that
    its header counts two faces more than it holds. Before, refused as
    damaged (trimesh's OFF reader fails on a polygon of five corners or
    more)."""
    with open(BLENDER_MEASURED) as f:
        truth = json.load(f)["chair_blender.glb"]
    asset = load_asset(os.path.join(os.path.dirname(BLENDER_MEASURED), "chair_meshlab.off"))
    placed = trimesh.Trimesh(trimesh.transform_points(asset.mesh.vertices, asset.to_original), asset.mesh.faces,
                             process=False)
    assert placed.area == pytest.approx(truth["area"], rel=1e-5)
    np.testing.assert_allclose(placed.bounds, [truth["low"], truth["high"]], atol=1e-5)
    assert asset.warnings == ["'chair_meshlab.off' says it has 234 faces but holds 232: the model is loaded with "
                              "those it holds; if some are missing, export it again."]


def test_an_stl_stands_as_blender_reads_it(tmp_path):
    """Blender writes an STL Z-up, as CAD tools and slicers read one: the toy
    car it read from its glTF and wrote as STL stands as that glTF does,
    wheels down, in the viewer and in the downloads, while ``to_original``
    still maps back to the file's own coordinates."""
    folder = os.path.dirname(BLENDER_MEASURED)
    path = os.path.join(folder, "toy_car_blender.stl")
    stl, gltf = load_asset(path), load_asset(os.path.join(folder, "toy_car_blender.glb"))
    np.testing.assert_allclose(stl.mesh.bounds, gltf.mesh.bounds, atol=1e-6)
    assert_contract(stl, path)
    glb = write_downloads(stl, np.zeros(stl.n_faces, np.int32), str(tmp_path), None, "car")["glb"]
    np.testing.assert_allclose(trimesh.load(glb, force="mesh").bounds,
                               trimesh.transform_points(gltf.mesh.bounds, gltf.to_original), atol=1e-5)


@pytest.mark.parametrize("ext", [".glb", ".obj"])
def test_a_game_assets_collision_shapes_and_coarser_levels_of_detail_are_left_out(tmp_path, ext):
    """A chair as a game engine imports it, with a coarser copy for the
    distance and a convex collision hull round it (Unreal's names): only
    the chair is segmented and downloaded, and a warning names what was
    left out; a file of nothing but collision shapes keeps them all."""
    model, _ = chair()
    hull = model.convex_hull

    def written(name, nodes):
        scene = trimesh.Scene()
        for node, mesh in nodes.items():
            scene.add_geometry(mesh, node_name=node, geom_name=node)
        scene.export(str(tmp_path / (name + ext)))
        return load_asset(str(tmp_path / (name + ext)))

    alone = written("alone", {"SM_Chair_LOD0": model})
    game = written("game", {"SM_Chair_LOD0": model, "SM_Chair_LOD1": hull.copy().apply_scale(1.001),
                            "UCX_SM_Chair_00": hull.copy().apply_scale(1.05)})
    assert game.node_names == ["SM_Chair_LOD0"] and game.n_faces == len(model.faces)
    np.testing.assert_array_equal(game.mesh.vertices[game.mesh.faces], alone.mesh.vertices[alone.mesh.faces])
    assert len(game.warnings) == 1 and "'UCX_SM_Chair_00'" in game.warnings[0] and "'SM_Chair_LOD1'" in game.warnings[0]
    glb = write_downloads(game, np.zeros(game.n_faces, np.int32), str(tmp_path), None, "chair")["glb"]
    assert len(trimesh.load(glb, force="mesh").faces) == len(model.faces)
    only = written("only", {"UCX_Box": trimesh.creation.box(), "USP_Ball": trimesh.creation.icosphere()})
    assert sorted(only.node_names) == ["UCX_Box", "USP_Ball"] and not only.warnings


def test_an_obj_object_is_a_node_of_its_own_as_in_the_same_scenes_gltf():
    """Blender's OBJ of the chair names its objects (``o``) and shares its
    materials between them: each object's faces of one material are a node,
    as the glTF of the same scene holds them (one primitive per material),
    not every face of one material in one node whatever object it is in."""
    folder = os.path.dirname(BLENDER_MEASURED)
    obj, gltf = (load_asset(os.path.join(folder, name)) for name in ("chair_blender_obj.zip", "chair_blender.glb"))

    def nodes(asset):
        return sorted(np.bincount(asset.face_node).tolist())

    assert len(obj.node_names) == 5 and nodes(obj) == nodes(gltf)
    assert {name.split("_")[0] for name in obj.node_names} == {"seat", "back", "leg", "cushion"}


@pytest.mark.parametrize("mode,cutoff,shown", [("MASK", 0.3, [0, 255, 255]), ("MASK", None, [0, 0, 255]),
                                                 ("OPAQUE", None, [255, 255, 255]), ("BLEND", None, [255, 255, 255])])
def test_a_cut_out_texture_hides_its_clear_texels(tmp_path, mode, cutoff, shown):
    """A leaf card's texture (alpha 0, 0.4 and 1 in three bands) under a
    glTF material with alphaMode MASK: the viewer hides a texel whose alpha
    is under the cutoff (0.5 unless the material says), as glTF viewers do;
    under OPAQUE (which ignores alpha) and BLEND every texel is shown."""
    pixels = np.zeros((4, 6, 4), np.uint8)
    pixels[..., :3] = 120
    pixels[:, :, 3] = np.repeat([0, 102, 255], 2)
    square = trimesh.Trimesh([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]], [[0, 1, 2], [0, 2, 3]], process=False)
    square.visual = trimesh.visual.TextureVisuals(
        uv=[[0, 0], [1, 0], [1, 1], [0, 1]],
        material=trimesh.visual.material.PBRMaterial(baseColorTexture=Image.fromarray(pixels, "RGBA"),
                                                     alphaMode=mode, alphaCutoff=cutoff))
    path = tmp_path / "leaf.glb"
    path.write_bytes(trimesh.Scene(square).export(file_type="glb"))
    texture = load_asset(str(path)).textures[0]
    assert texture[..., 3].tolist() == [np.repeat(shown, 2).tolist()] * 4
    assert (texture[..., :3] == 120).all()


@pytest.mark.parametrize("shading", ["lambert", "constant", "unnamed", "unbound"])
def test_a_collada_material_shows_the_colour_its_shading_shows(tmp_path, shading):
    """A <lambert> material shows its diffuse colour, a <constant> one (lit
    by nothing, as an unlit or shadeless material is written) its emission
    (grey until 2026-12-06: the diffuse it does not have). Triangles that
    name no material show the one material their node binds (Gazebo writes
    them so; grey until 2026-12-06); with none bound, the grey of a surface
    without colour in every format (231 until then)."""
    from tests.corpus_files import _bound, _dae_geometry, collada

    card = trimesh.Trimesh([[0, 0, 0], [1, 0, 0], [1, 0, 1], [0, 0, 1]], [[0, 1, 2], [0, 2, 3]], process=False)
    colour = {"constant": "<emission><color>0 1 0 1</color></emission>"}.get(
        shading, "<diffuse><color>1 0 0 1</color></diffuse>")
    geometry = _dae_geometry("geo", card, "paint")
    if shading == "unnamed":
        geometry = geometry.replace(' material="paint"', "")
    node = '<instance_geometry url="#geo"/>' if shading == "unbound" else _bound("geo", "paint", "mat")
    tag = "constant" if shading == "constant" else "lambert"
    (tmp_path / "card.dae").write_bytes(collada(
        '<up_axis>Z_UP</up_axis>', f'<node name="card">{node}</node>',
        f'<library_geometries>{geometry}</library_geometries><library_materials>'
        '<material id="mat"><instance_effect url="#fx"/></material></library_materials><library_effects>'
        f'<effect id="fx"><profile_COMMON><technique sid="COMMON"><{tag}>{colour}</{tag}></technique>'
        '</profile_COMMON></effect></library_effects>'))
    asset = load_asset(str(tmp_path / "card.dae"))
    shown = {"constant": [0, 255, 0], "unbound": [200, 200, 200]}.get(shading, [255, 0, 0])
    assert surface_color(asset, [0, 1], [[1 / 3] * 3] * 2).tolist() == [shown, shown]


@pytest.mark.parametrize("transparent,shown", [(True, [0, 0, 255]), (False, [255, 255, 255])])
def test_a_sketchup_card_is_cut_out_where_its_texture_is_clear(tmp_path, transparent, shown):
    """A figure card as SketchUp writes it in Collada: the texture (alpha 0,
    0.4 and 1 in three bands) is the material's diffuse colour and, with
    ``opaque="A_ONE"``, its transparency: cut out under half its alpha, as
    a glTF MASK; the same card without the transparency is opaque."""
    from tests.corpus_files import _bound, _dae_geometry, collada

    pixels = np.zeros((4, 6, 4), np.uint8)
    pixels[..., :3] = 120
    pixels[:, :, 3] = np.repeat([0, 102, 255], 2)
    Image.fromarray(pixels, "RGBA").save(tmp_path / "figure.png")
    card = trimesh.Trimesh([[0, 0, 0], [1, 0, 0], [1, 0, 1], [0, 0, 1]], [[0, 1, 2], [0, 2, 3]], process=False)
    card.visual = trimesh.visual.TextureVisuals(uv=[[0, 0], [1, 0], [1, 1], [0, 1]])
    texture = '<texture texture="figure-sampler" texcoord="UVSET0"/>'
    clear = f'<transparent opaque="A_ONE">{texture}</transparent><transparency><float>1</float></transparency>'
    effect = ('<effect id="fx"><profile_COMMON><newparam sid="figure-surface"><surface type="2D"><init_from>img'
              '</init_from></surface></newparam><newparam sid="figure-sampler"><sampler2D><source>figure-surface'
              f'</source></sampler2D></newparam><technique sid="COMMON"><lambert><diffuse>{texture}</diffuse>'
              f'{clear if transparent else ""}</lambert></technique></profile_COMMON></effect>')
    (tmp_path / "figure.dae").write_bytes(collada(
        '<up_axis>Z_UP</up_axis>', f'<node name="figure">{_bound("geo", "paint", "mat")}</node>',
        f'<library_geometries>{_dae_geometry("geo", card, "paint")}</library_geometries><library_materials>'
        '<material id="mat"><instance_effect url="#fx"/></material></library_materials><library_effects>'
        f'{effect}</library_effects><library_images><image id="img"><init_from>figure.png</init_from></image>'
        '</library_images>'))
    texture = load_asset(str(tmp_path / "figure.dae")).textures[0]
    assert texture[..., 3].tolist() == [np.repeat(shown, 2).tolist()] * 4
    assert (texture[..., :3] == 120).all()


def test_collada_materials_that_show_one_image_share_its_texture(tmp_path):
    """SketchUp and 3ds Max write a material per use of an image (a lambert
    and a phong effect of one texture here): each opened the file again, a
    texture per material. One image per file, one texture: both cards show it."""
    from tests.corpus_files import _bound, _dae_geometry, collada

    Image.new("RGB", (4, 4), (120, 60, 30)).save(tmp_path / "wood.png")
    card = trimesh.Trimesh([[0, 0, 0], [1, 0, 0], [1, 0, 1], [0, 0, 1]], [[0, 1, 2], [0, 2, 3]], process=False)
    card.visual = trimesh.visual.TextureVisuals(uv=[[0, 0], [1, 0], [1, 1], [0, 1]])
    other = card.copy().apply_translation([2, 0, 0])
    effects = "".join(
        f'<effect id="fx{k}"><profile_COMMON><newparam sid="s{k}"><surface type="2D"><init_from>img</init_from>'
        f'</surface></newparam><newparam sid="t{k}"><sampler2D><source>s{k}</source></sampler2D></newparam>'
        f'<technique sid="COMMON"><{shading}><diffuse><texture texture="t{k}" texcoord="UVSET0"/></diffuse>'
        f'</{shading}></technique></profile_COMMON></effect>' for k, shading in ((1, "lambert"), (2, "phong")))
    (tmp_path / "cards.dae").write_bytes(collada(
        '<up_axis>Z_UP</up_axis>', f'<node name="one">{_bound("g1", "paint", "m1")}</node>'
                                   f'<node name="two">{_bound("g2", "paint", "m2")}</node>',
        f'<library_geometries>{_dae_geometry("g1", card, "paint")}{_dae_geometry("g2", other, "paint")}'
        '</library_geometries><library_materials><material id="m1"><instance_effect url="#fx1"/></material>'
        '<material id="m2"><instance_effect url="#fx2"/></material></library_materials><library_effects>'
        f'{effects}</library_effects><library_images><image id="img"><init_from>wood.png</init_from></image>'
        '</library_images>'))
    asset = load_asset(str(tmp_path / "cards.dae"))
    assert len(asset.textures) == 1 and (asset.face_material == 0).all()
    assert surface_color(asset, [0, 2], [[1 / 3] * 3] * 2)[:, :3].tolist() == [[120, 60, 30]] * 2


def _star_prism() -> tuple:
    """A ten-pointed star (points at radius 1, inner corners at 0.4, the
    first corner a point) raised 0.3: (20, 3) vertices, its two caps and ten
    side quads as polygons, its exact area and volume."""
    angle = np.arange(10) * np.pi / 5
    radius = np.where(np.arange(10) % 2 == 0, 1.0, 0.4)
    ring = np.stack([radius * np.cos(angle), radius * np.sin(angle), np.zeros(10)], axis=1)
    verts = np.vstack([ring, ring + [0, 0, 0.3]])
    faces = [list(range(9, -1, -1)), list(range(10, 20))] + [[i, (i + 1) % 10, 10 + (i + 1) % 10, 10 + i]
                                                            for i in range(10)]
    cap = 10 * 0.5 * 1.0 * 0.4 * np.sin(np.pi / 5)
    side = 0.3 * np.linalg.norm(ring - np.roll(ring, -1, axis=0), axis=1).sum()
    return verts, faces, 2 * cap + side, 0.3 * cap


def _ply_header(fmt: str, verts, faces, extra: str = "") -> str:
    return (f"ply\nformat {fmt} 1.0\n{extra}element vertex {len(verts)}\nproperty float x\nproperty float y\n"
            f"property float z\nelement face {len(faces)}\nproperty list uchar int vertex_indices\nend_header\n")


def _star_files(kind: str) -> bytes:
    verts, faces, _, _ = _star_prism()
    if kind == "obj":
        return ("".join(f"v {x} {y} {z}\n" for x, y, z in verts)
                + "".join("f " + " ".join(str(i + 1) for i in face) + "\n" for face in faces)).encode()
    if kind == "obj counted back":  # as some exporters write: negative indices, v//vn
        return ("".join(f"v {x} {y} {z}\n" for x, y, z in verts) + "vn 0 0 1\n"
                + "".join("f " + " ".join(f"{i - 20}//1" for i in face) + "\n" for face in faces)).encode()
    if kind == "obj counted back, then more":  # and another object's vertices after it, as verify.obj has them
        return _star_files("obj counted back") + b"v 5 5 5\nv 6 6 6\nl -2 -1\n"
    if kind == "obj continued":  # as Rhino writes long faces: a backslash goes on in the next line
        return ("".join(f"v {x} {y} {z}\r\n" for x, y, z in verts) + "".join(
            "f " + " \\\r\n".join(" ".join(str(i + 1) for i in face[k:k + 4]) for k in range(0, len(face), 4))
            + "\r\n" for face in faces)).encode()
    if kind.startswith("dae"):
        from tests.corpus_files import collada
        if kind == "dae polylist":  # as Blender and 3ds Max write polygons
            polygons = (f'<polylist count="{len(faces)}"><input semantic="VERTEX" source="#v" offset="0"/><vcount>'
                        f'{" ".join(str(len(face)) for face in faces)}</vcount><p>'
                        f'{" ".join(str(i) for face in faces for i in face)}</p></polylist>')
        else:  # <polygons>, a <p> each, as LightWave writes them
            polygons = (f'<polygons count="{len(faces)}"><input semantic="VERTEX" source="#v" offset="0"/>'
                        + "".join(f"<p>{' '.join(map(str, face))}</p>" for face in faces) + "</polygons>")
        return collada("<up_axis>Y_UP</up_axis>", '<node name="star"><instance_geometry url="#g"/></node>',
                       f'<library_geometries><geometry id="g"><mesh><source id="p"><float_array id="pa" '
                       f'count="{verts.size}">{" ".join(f"{c:g}" for c in verts.ravel())}</float_array>'
                       f'<technique_common><accessor source="#pa" count="{len(verts)}" stride="3"><param name="X" '
                       'type="float"/><param name="Y" type="float"/><param name="Z" type="float"/></accessor>'
                       '</technique_common></source><vertices id="v"><input semantic="POSITION" source="#p"/>'
                       f'</vertices>{polygons}</mesh></geometry></library_geometries>')
    if kind == "off":
        return (f"OFF\n{len(verts)} {len(faces)} 0\n" + "".join(f"{x} {y} {z}\n" for x, y, z in verts)
                + "".join(f"{len(face)} " + " ".join(map(str, face)) + "\n" for face in faces)).encode()
    if kind == "ply text":
        return (_ply_header("ascii", verts, faces) + "".join(f"{x} {y} {z}\n" for x, y, z in verts)
                + "".join(f"{len(face)} " + " ".join(map(str, face)) + "\n" for face in faces)).encode()
    return (_ply_header("binary_little_endian", verts, faces).encode() + verts.astype("<f4").tobytes()
            + b"".join(np.array([len(face)], np.uint8).tobytes() + np.array(face, "<i4").tobytes()
                       for face in faces))


def test_a_collada_polygon_with_a_hole_is_cut_round_it(tmp_path):
    """A Collada <polygons> holding a polygon with a hole (<ph>: a 4 by 4
    square outline, a 2 by 2 square hole) beside a plain one: the square's
    triangles cover it but the hole (pycollada leaves <ph> out: until
    2026-12-06 only the plain triangle was drawn, and a file of such
    polygons alone was refused as empty)."""
    from tests.corpus_files import collada

    ring = "0 0 0 4 0 0 4 4 0 0 4 0 1 1 0 3 1 0 3 3 0 1 3 0 5 0 0 6 0 0 5 1 0"
    (tmp_path / "holed.dae").write_bytes(collada(
        "<up_axis>Z_UP</up_axis>", '<node name="plate"><instance_geometry url="#g"/></node>',
        '<library_geometries><geometry id="g"><mesh><source id="p"><float_array id="pa" count="33">'
        f'{ring}</float_array><technique_common><accessor source="#pa" count="11" stride="3"><param name="X" '
        'type="float"/><param name="Y" type="float"/><param name="Z" type="float"/></accessor></technique_common>'
        '</source><vertices id="v"><input semantic="POSITION" source="#p"/></vertices><polygons count="2">'
        '<input semantic="VERTEX" source="#v" offset="0"/><p>8 9 10</p><ph><p>0 1 2 3</p><h>4 7 6 5</h></ph>'
        '</polygons></mesh></geometry></library_geometries>'))
    asset = load_asset(str(tmp_path / "holed.dae"))
    placed = trimesh.Trimesh(trimesh.transform_points(asset.mesh.vertices, asset.to_original), asset.mesh.faces)
    assert asset.n_faces == 1 + 8 and placed.area == pytest.approx(0.5 + 16 - 4)
    centre = placed.triangles_center
    assert not ((np.abs(centre[:, 0] - 2) < 1) & (np.abs(centre[:, 1] - 2) < 1)).any()


@pytest.mark.parametrize("kind", ["obj", "obj counted back", "obj counted back, then more", "obj continued",
                                  "ply text", "ply binary", "off", "dae polylist", "dae polygons"])
def test_a_concave_polygon_is_cut_into_triangles_inside_it(tmp_path, kind):
    """A star's caps (ten corners, concave) and its side quads, as OBJ (also
    with its faces' lines broken by backslashes, as Rhino writes them, and
    with indices counted back from the vertices read so far, trimesh counting
    them from the file's end until 2026-12-06, so wrong where more vertices
    follow), as
    PLY (text, and binary with faces of mixed sizes, as Blender writes a
    modelled mesh), as OFF and as Collada (<polylist> and <polygons>): the
    triangles cover the star exactly, closed and wound one way. Cut as a fan
    from the first corner they covered 21 % more area outside it (until
    2026-12-06 still so for the Collada files and the broken OBJ lines); the
    binary PLY and the OFF were refused (trimesh fails on an OFF polygon of
    five corners or more)."""
    verts, faces, area, volume = _star_prism()
    path = tmp_path / f"star.{kind.split()[0]}"
    path.write_bytes(_star_files(kind))
    asset = load_asset(str(path))
    placed = trimesh.Trimesh(trimesh.transform_points(asset.mesh.vertices, asset.to_original), asset.mesh.faces,
                             process=False)
    assert asset.n_faces == sum(len(face) - 2 for face in faces)
    assert placed.area == pytest.approx(area, rel=1e-6)
    placed.merge_vertices()  # a Collada file's corners are each a vertex of their own
    assert placed.is_watertight and placed.is_winding_consistent
    assert abs(placed.volume) == pytest.approx(volume, rel=1e-6)


@pytest.mark.parametrize("fmt", ["binary_little_endian", "ascii"])
def test_a_ply_with_several_textures_shows_each_face_its_own(tmp_path, fmt):
    """A scan as MeshLab and OpenMVS write it: two texture files named in
    comments, each face's ``texnumber`` choosing one, texture coordinates
    per face corner. Each half of a strip shows its own image, as a node of
    its own; trimesh gave every face the last image."""
    Image.new("RGB", (4, 4), (200, 30, 30)).save(tmp_path / "atlas_0.png")
    Image.new("RGB", (4, 4), (20, 40, 220)).save(tmp_path / "atlas_1.png")
    verts = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0], [2, 0, 0], [2, 1, 0]], float)
    faces = [[0, 1, 2], [0, 2, 3], [1, 4, 5], [1, 5, 2]]
    atlas = [0, 0, 1, 1]
    head = (f"ply\nformat {fmt} 1.0\ncomment TextureFile atlas_0.png\ncomment TextureFile atlas_1.png\n"
            f"element vertex {len(verts)}\nproperty float x\nproperty float y\nproperty float z\n"
            f"element face {len(faces)}\nproperty list uchar int vertex_indices\nproperty list uchar float texcoord\n"
            "property int texnumber\nend_header\n")
    uv = 0.25 + 0.5 * verts[:, :2] / verts[:, :2].max(axis=0)
    if fmt == "ascii":
        body = ("".join(f"{x} {y} {z}\n" for x, y, z in verts) + "".join(
            f"3 {' '.join(map(str, f))} 6 {' '.join(f'{c:g}' for c in uv[f].ravel())} {t}\n"
            for f, t in zip(faces, atlas))).encode()
    else:
        body = verts.astype("<f4").tobytes() + b"".join(
            np.array([3], np.uint8).tobytes() + np.array(f, "<i4").tobytes() + np.array([6], np.uint8).tobytes()
            + uv[f].astype("<f4").tobytes() + np.array([t], "<i4").tobytes() for f, t in zip(faces, atlas))
    (tmp_path / "scan.ply").write_bytes(head.encode() + body)
    asset = load_asset(str(tmp_path / "scan.ply"))
    assert asset.n_faces == 4 and len(asset.textures) == 2 and len(asset.node_names) == 2
    centre = np.full((4, 3), 1 / 3)
    colours = surface_color(asset, np.arange(4), centre)
    placed = trimesh.transform_points(asset.mesh.triangles_center, asset.to_original)
    right = placed[:, 0] > 1
    np.testing.assert_array_equal(colours[~right], [[200, 30, 30]] * 2)
    np.testing.assert_array_equal(colours[right], [[20, 40, 220]] * 2)


def test_a_ply_polygons_colour_is_on_each_of_its_triangles(tmp_path):
    """The star's polygons each with a colour of their own (red, green, blue
    per face) and a two-corner face among them, in a binary PLY of mixed
    sizes: every triangle shows its polygon's colour; the two-corner face,
    which has no surface, is left out."""
    verts, faces, _, _ = _star_prism()
    colours = np.array([[20 * i, 255 - 20 * i, 7 * i] for i in range(len(faces) + 1)], np.uint8)
    faces = faces + [[0, 1]]
    head = _ply_header("binary_little_endian", verts, faces).replace(
        "end_header", "property uchar red\nproperty uchar green\nproperty uchar blue\nend_header")
    body = verts.astype("<f4").tobytes() + b"".join(
        np.array([len(face)], np.uint8).tobytes() + np.array(face, "<i4").tobytes() + colours[i].tobytes()
        for i, face in enumerate(faces))
    (tmp_path / "star.ply").write_bytes(head.encode() + body)
    asset = load_asset(str(tmp_path / "star.ply"))
    polygon = np.repeat(np.arange(len(faces) - 1), [len(face) - 2 for face in faces[:-1]])
    assert asset.n_faces == len(polygon)
    np.testing.assert_array_equal(asset.corner_color[:, :, :3], np.repeat(colours[polygon][:, None], 3, axis=1))


def test_a_ply_polygons_texture_coordinates_follow_their_corners(tmp_path):
    """A PLY as MeshLab writes a textured mesh (a texture coordinate list per
    face, the image named in a comment) with a quad and a concave pentagon
    beside triangles: every triangle corner keeps its polygon corner's
    coordinates (here the corner's x and y)."""
    verts = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0], [2, 0, 0], [2, 1, 0], [1.5, 0.5, 0],
                      [3, 0, 0], [3, 1, 0]], float)
    faces = [[0, 1, 2, 3], [1, 4, 5, 6, 2], [4, 7, 8], [4, 8, 5]]
    Image.new("RGB", (4, 4), (200, 30, 30)).save(tmp_path / "skin.png")
    head = _ply_header("binary_little_endian", verts, faces, "comment TextureFile skin.png\n")
    head = head.replace("end_header", "property list uchar float texcoord\nend_header")
    body = verts.astype("<f4").tobytes() + b"".join(
        np.array([len(face)], np.uint8).tobytes() + np.array(face, "<i4").tobytes()
        + np.array([2 * len(face)], np.uint8).tobytes() + verts[face, :2].astype("<f4").tobytes() for face in faces)
    (tmp_path / "tiles.ply").write_bytes(head.encode() + body)
    asset = load_asset(str(tmp_path / "tiles.ply"))
    placed = trimesh.transform_points(asset.mesh.vertices, asset.to_original)
    assert asset.n_faces == 2 + 3 + 1 + 1 and len(asset.textures) == 1
    np.testing.assert_allclose(asset.corner_uv, placed[asset.mesh.faces][:, :, :2], atol=1e-6)
    # the pentagon's reflex corner (1.5, 0.5) lies inside: its triangles cover 1 - 0.25, no more
    assert trimesh.Trimesh(placed, asset.mesh.faces).area == pytest.approx(1 + 0.75 + 1, rel=1e-6)


def test_an_obj_group_is_a_node_of_its_own(tmp_path):
    """Maya and 3ds Max write an object as a group (``g``): two squares in
    groups of their own, one material, are two nodes."""
    square = ["v 0 0 0", "v 1 0 0", "v 1 1 0", "v 0 1 0"]
    lines = ["mtllib g.mtl", "g default", *square, *(v.replace("v 0", "v 3").replace("v 1", "v 4", 1) for v in square)]
    for name, first in (("Box001", 1), ("Box002", 5)):
        lines += [f"g {name}", "usemtl grey", f"f {first} {first + 1} {first + 2}",
                  f"f {first} {first + 2} {first + 3}"]
    (tmp_path / "g.obj").write_text("\n".join(lines) + "\n")
    (tmp_path / "g.mtl").write_text("newmtl grey\nKd 0.5 0.5 0.5\n")
    asset = load_asset(str(tmp_path / "g.obj"))
    assert sorted(asset.node_names) == ["Box001", "Box002"] and np.bincount(asset.face_node).tolist() == [2, 2]


def test_cracks_close_only_between_primitives():
    """Two halves of a square, each its own primitive, moved apart by a
    hundredth of an edge: their seam closes; the same gap inside one
    primitive, or a gap of half an edge, stays open."""
    from core.topology import close_cracks

    left = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]], float)
    right = left + [1.01, 0, 0]
    vertices = np.vstack([left, right])
    faces = np.array([[0, 1, 2], [0, 2, 3], [4, 5, 6], [4, 6, 7]])
    closed = close_cracks(vertices, faces, np.repeat([0, 1], 4))
    np.testing.assert_array_equal(closed[[4, 7]], closed[[1, 2]])
    np.testing.assert_array_equal(closed[[0, 3, 5, 6]], vertices[[0, 3, 5, 6]])
    np.testing.assert_array_equal(close_cracks(vertices, faces, np.zeros(8, int)), vertices)
    apart = np.vstack([left, left + [1.5, 0, 0]])
    np.testing.assert_array_equal(close_cracks(apart, faces, np.repeat([0, 1], 4)), apart)


def _collada_characters(characters: list) -> str:
    """A Collada document of characters (name, x, through a morph): each a
    triangle skinned to a joint named 'bone' that its rig (<skeleton>)
    places x along x, its skin's source a morph of it (a blend shape at no
    weight, as Maya and 3ds Max write characters with blend shapes) or the
    triangle itself."""
    def geometry(gid, z):
        return (f'<geometry id="{gid}"><mesh><source id="{gid}-p"><float_array id="{gid}-a" count="9">0 0 {z} 1 0 '
                f'{z} 0 1 {z}</float_array><technique_common><accessor source="#{gid}-a" count="3" stride="3"><param '
                'name="X" type="float"/><param name="Y" type="float"/><param name="Z" type="float"/></accessor>'
                f'</technique_common></source><vertices id="{gid}-v"><input semantic="POSITION" source="#{gid}-p"/>'
                f'</vertices><triangles count="1"><input semantic="VERTEX" source="#{gid}-v" offset="0"/><p>0 1 2</p>'
                '</triangles></mesh></geometry>')

    def source(sid, kind, values, param, stride=1):
        return (f'<source id="{sid}"><{kind} id="{sid}-a" count="{len(values.split())}">{values}</{kind}>'
                f'<technique_common><accessor source="#{sid}-a" count="{len(values.split()) // stride}" '
                f'stride="{stride}"><param name="{param[0]}" type="{param[1]}"/></accessor></technique_common>'
                '</source>')

    eye = "1 0 0 0 0 1 0 0 0 0 1 0 0 0 0 1"
    geometries, controllers, nodes = [], [], []
    for i, (name, x, morphed) in enumerate(characters):
        geometries += [geometry(f"base{i}", 0), geometry(f"smile{i}", 1)]
        if morphed:
            controllers.append(
                f'<controller id="morph{i}"><morph source="#base{i}" method="NORMALIZED">'
                f'{source(f"t{i}", "IDREF_array", f"smile{i}", ("IDREF", "IDREF"))}'
                f'{source(f"w{i}", "float_array", "0", ("W", "float"))}<targets><input semantic="MORPH_TARGET" '
                f'source="#t{i}"/><input semantic="MORPH_WEIGHT" source="#w{i}"/></targets></morph></controller>')
        controllers.append(
            f'<controller id="skin{i}"><skin source="#{"morph" if morphed else "base"}{i}"><bind_shape_matrix>{eye}'
            f'</bind_shape_matrix>{source(f"j{i}", "Name_array", "bone", ("JOINT", "name"))}'
            f'{source(f"b{i}", "float_array", eye, ("TRANSFORM", "float4x4"), 16)}'
            f'{source(f"k{i}", "float_array", "1", ("WEIGHT", "float"))}<joints><input semantic="JOINT" '
            f'source="#j{i}"/><input semantic="INV_BIND_MATRIX" source="#b{i}"/></joints><vertex_weights count="3">'
            f'<input semantic="JOINT" source="#j{i}" offset="0"/><input semantic="WEIGHT" source="#k{i}" offset="1"/>'
            '<vcount>1 1 1</vcount><v>0 0 0 0 0 0</v></vertex_weights></skin></controller>')
        nodes.append(f'<node id="rig{i}"><node id="bone{i}" sid="bone" name="bone" type="JOINT"><matrix>1 0 0 {x} '
                     f'0 1 0 0 0 0 1 0 0 0 0 1</matrix></node></node><node name="{name}"><instance_controller '
                     f'url="#skin{i}"><skeleton>#rig{i}</skeleton></instance_controller></node>')
    return ('<?xml version="1.0" encoding="utf-8"?><COLLADA xmlns="http://www.collada.org/2005/11/COLLADASchema" '
            f'version="1.4.1"><asset><up_axis>Y_UP</up_axis></asset><library_geometries>{"".join(geometries)}'
            f'</library_geometries><library_controllers>{"".join(controllers)}</library_controllers>'
            f'<library_visual_scenes><visual_scene id="s">{"".join(nodes)}</visual_scene></library_visual_scenes>'
            '<scene><instance_visual_scene url="#s"/></scene></COLLADA>')


def test_collada_skins_are_placed_by_their_own_rigs_joints(tmp_path):
    """Each character placed by the joint of its own rig, though both rigs
    name their joint 'bone' (until 2026-12-06 both by the first rig's), and
    a skin of a morph placed too (left out without a word until then:
    pycollada reads skins of geometries only)."""
    (tmp_path / "two.dae").write_text(_collada_characters([("left", 5, False), ("right", 9, True)]))
    asset = load_asset(str(tmp_path / "two.dae"))
    placed = trimesh.transform_points(asset.mesh.vertices, asset.to_original)
    for k, x in enumerate((5, 9)):
        mine = placed[asset.mesh.faces[asset.face_node == k].ravel()]
        assert asset.node_names[k] == ("left", "right")[k]
        assert np.allclose(mine.min(axis=0), [x, 0, 0]) and np.allclose(mine.max(axis=0), [x + 1, 1, 0])


@pytest.mark.parametrize("transforms,placed", [
    # the node at the eye, its -Z towards the point of interest: x to -z, z to x (pycollada's matrix read
    # its axes as rows and put the eye in the bottom row, until 2026-12-06)
    ('<translate>0 0 1</translate><lookat>2 0 0 0 0 0 0 1 0</lookat>', [[2, 0, 1], [2, 0, 0], [2, 1, 1]]),
    # RenderMan's skew: y turned by 45 degrees towards x, a shear (left out until 2026-12-06)
    ('<skew>45 0 1 0 1 0 0</skew><translate>0 0 3</translate>', [[0, 0, 3], [1, 0, 3], [1, 1, 3]]),
])
def test_a_collada_nodes_lookat_and_skew_place_it(tmp_path, transforms, placed):
    """A triangle (0 0 0), (1 0 0), (0 1 0) placed by a node's transforms,
    in their order."""
    from tests.corpus_files import _dae_geometry, collada
    triangle = trimesh.Trimesh([[0, 0, 0], [1, 0, 0], [0, 1, 0]], [[0, 1, 2]], process=False)
    libraries = f'<library_geometries>{_dae_geometry("g", triangle, "m")}</library_geometries>'
    (tmp_path / "placed.dae").write_bytes(collada(
        "<up_axis>Y_UP</up_axis>", f'<node name="n">{transforms}<instance_geometry url="#g"/></node>', libraries))
    asset = load_asset(str(tmp_path / "placed.dae"))
    corners = trimesh.transform_points(asset.mesh.vertices[asset.mesh.faces[0]], asset.to_original)
    assert sorted(map(tuple, np.round(corners, 6).tolist())) == sorted(map(tuple, np.array(placed, float).tolist()))


def test_an_empty_obj_is_not_said_to_need_its_missing_library(tmp_path):
    """A missing .mtl holds no faces: the refusal says the file is empty,
    then what is missing (until 2026-12-06 it said the faces were in the
    .mtl, as a USD stage's missing layer may hold them)."""
    (tmp_path / "empty.obj").write_text("mtllib gone.mtl\n# nothing else\n")
    with pytest.raises(InputError) as err:
        load_asset(str(tmp_path / "empty.obj"))
    assert str(err.value).startswith("'empty.obj' holds no faces: it is empty, damaged or not really OBJ")
    said = "Also, 'empty.obj' refers to 'gone.mtl' (a library of its materials), which is not beside it"
    assert said in str(err.value)


@pytest.mark.parametrize("fmt", ["ascii", "binary_little_endian"])
def test_a_ply_of_triangle_strips_is_read_as_its_triangles(tmp_path, fmt):
    """Triangle strips (-1 ending one, as the Stanford scanning repository's
    older models are written): every triangle, wound alike, its vertices'
    colours kept (read as 4 points until 2026-12-06)."""
    import plyfile
    grid = np.array([(x, y, 0, 200, 20 * x, 0) for x in range(4) for y in range(2)],
                    dtype=[("x", "f4"), ("y", "f4"), ("z", "f4"), ("red", "u1"), ("green", "u1"), ("blue", "u1")])
    # a strip over the first two squares, a restart, a strip over the third; and a strip of one triangle
    strips = np.array([([0, 1, 2, 3, 4, 5, -1, 4, 5, 6, 7],), ([0, 3, 4],)], dtype=[("vertex_indices", "O")])
    plyfile.PlyData([plyfile.PlyElement.describe(grid, "vertex"),
                     plyfile.PlyElement.describe(strips, "tristrips", val_types={"vertex_indices": "i4"})],
                    text=fmt == "ascii").write(str(tmp_path / "strips.ply"))
    asset = load_asset(str(tmp_path / "strips.ply"))
    placed = trimesh.Trimesh(trimesh.transform_points(asset.mesh.vertices, asset.to_original), asset.mesh.faces)
    assert asset.n_faces == 7 and np.isclose(placed.area, 3 + 1)  # six of the three squares, one across two
    assert len(np.unique(np.sign(placed.face_normals[:, 2]))) == 1
    assert sorted(np.unique(asset.corner_color[..., 1]).tolist()) == [0, 20, 40, 60]


@pytest.mark.parametrize("written", ["v\t0.5\t0\t0\nv\t1\t0\t0\nv\t0\t1\t0\nvt\t0\t0\nf\t1/1\t2/1\t3/1\n",
                                     "v 0,5 0 0\nv 1 0 0\nv 0 1,0 0\nvn 0 0 1,0\nf 1//1 2//1 3//1\n"])
def test_an_obj_written_with_tabs_or_decimal_commas_is_read(tmp_path, written):
    """Tabs between the values (trimesh found no faces) and decimal commas,
    as exporters set to some languages write numbers (refused as damaged),
    both until 2026-12-06."""
    (tmp_path / "odd.obj").write_text(written)
    asset = load_asset(str(tmp_path / "odd.obj"))
    placed = trimesh.transform_points(asset.mesh.vertices[asset.mesh.faces[0]], asset.to_original)
    assert asset.n_faces == 1 and sorted(map(tuple, placed.tolist())) == [(0, 1, 0), (0.5, 0, 0), (1, 0, 0)]


@pytest.mark.parametrize("maker", ["magics", "meshlab", "viscam"])
def test_a_binary_stls_face_colours_are_shown(tmp_path, maker):
    """Five bits a channel in a face's spare bytes: Materialise Magics' (the
    header's COLOR= for faces with bit 15 set, red in the low bits), MeshLab's
    (Magics' header and order, bit 15 set on every face it colours; its
    header's alpha a space) and VisCAM's (a colour where bit 15 is set, blue
    in the low bits; the others grey). Every face was grey until 2026-12-06."""
    data = bytearray(trimesh.creation.box().export(file_type="stl"))
    red, blue = 31, 31 << 10  # as Magics writes them; VisCAM's the other way round
    if maker == "magics":
        data[:80] = b"COLOR=\x00\xff\x00\xff".ljust(80, b" ")  # the whole model green
        spare = [red] * 2 + [blue] * 2 + [0x8000] * 8
    elif maker == "meshlab":
        data[:80] = b"COLOR=\x7f\x7f\x7f MATERIAL=\x7f\x7f\x7f \x7f\x7f\x7f \x7f\x7f\x7f ".ljust(80, b" ")
        spare = [0x8000 | red] * 2 + [0x8000 | blue] * 2 + [0x8000 | 31 << 5] * 8
    else:
        spare = [0x8000 | blue] * 2 + [0x8000 | red] * 2 + [0] * 8
    for k, value in enumerate(spare):
        data[84 + 50 * k + 48:84 + 50 * k + 50] = value.to_bytes(2, "little")
    (tmp_path / "coloured.stl").write_bytes(bytes(data))
    shown = load_asset(str(tmp_path / "coloured.stl")).corner_color[:, 0, :3].tolist()
    other = {"magics": [0, 255, 0], "meshlab": [0, 255, 0], "viscam": [200, 200, 200]}[maker]
    assert shown == [[255, 0, 0]] * 2 + [[0, 0, 255]] * 2 + [other] * 8


def test_a_stray_corner_far_away_is_named_as_such(tmp_path):
    """One number of a binary STL damaged into 3e30 makes every real face
    vanishingly small after scaling: said as that corner (until 2026-12-06
    'only faces of zero area')."""
    data = bytearray(trimesh.creation.icosphere(3).export(file_type="stl"))
    data[84 + 12:84 + 16] = np.float32(3e30).tobytes()  # the first face's first corner's x
    (tmp_path / "stray.stl").write_bytes(bytes(data))
    with pytest.raises(InputError, match=r"has a corner 3e\+30 away where most lie within 1.98: the file is damaged"):
        load_asset(str(tmp_path / "stray.stl"))


def test_zbrushs_polypaint_is_shown(tmp_path):
    """ZBrush writes a sculpt's polypaint as '#MRGB' comments after every 64
    vertices (MMRRGGBB each, MM its mask), which other readers skip: read as
    the vertices' colours (white until 2026-12-06)."""
    box = trimesh.creation.box()
    colours = [(255, 0, 0)] * 4 + [(0, 0, 255)] * 4
    lines = [f"v {x} {y} {z}" for x, y, z in box.vertices]
    lines.append("#MRGB " + "".join(f"ff{r:02x}{g:02x}{b:02x}" for r, g, b in colours))
    lines += [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in box.faces]
    (tmp_path / "sculpt.obj").write_text("\n".join(lines) + "\n")
    asset = load_asset(str(tmp_path / "sculpt.obj"))
    placed = trimesh.transform_points(asset.mesh.vertices, asset.to_original)
    corner = placed[asset.mesh.faces]  # each corner's colour is its vertex's, red for the first four
    first = np.isclose(corner[..., None, :], box.vertices[:4]).all(-1).any(-1)
    assert (asset.corner_color[..., :3][first] == [255, 0, 0]).all()
    assert (asset.corner_color[..., :3][~first] == [0, 0, 255]).all() and first.any() and (~first).any()


def test_a_text_ply_with_blank_lines_among_its_rows_is_read(tmp_path):
    """A blank line between the vertices and the faces, as some writers put
    one, and after them: read, colours and all (refused as damaged until
    2026-12-06: trimesh's reader takes the blank line for a row)."""
    (tmp_path / "spaced.ply").write_text(
        "ply\nformat ascii 1.0\nelement vertex 4\nproperty float x\nproperty float y\nproperty float z\n"
        "property uchar red\nproperty uchar green\nproperty uchar blue\nelement face 2\n"
        "property list uchar int vertex_indices\nend_header\n0 0 0 255 0 0\n1 0 0 255 0 0\n1 1 0 255 0 0\n"
        "0 1 0 255 0 0\n\n3 0 1 2\n3 0 2 3\n\n")
    asset = load_asset(str(tmp_path / "spaced.ply"))
    assert asset.n_faces == 2 and (asset.corner_color[..., :3] == [255, 0, 0]).all()


@pytest.mark.parametrize("colour", ["<f4", "u1"])
def test_a_binary_ply_by_assimp_is_read_with_its_colours(tmp_path, colour):
    """Assimp's binary PLY exporter (5.0 to 5.4) declares the vertex colours
    as bytes and writes each as a float, so every reader took the file for
    damaged (refused until 2026-12-07); later versions write bytes. Both
    give the ball as a plain PLY of it does, red."""
    ball = trimesh.creation.icosphere(subdivisions=2)
    ball.visual.vertex_colors = np.tile([200, 30, 30, 255], (len(ball.vertices), 1))
    rows = np.empty(len(ball.vertices), np.dtype([("xyz", "<f4", 3), ("normal", "<f4", 3), ("rgba", colour, 4)]))
    rows["xyz"], rows["normal"] = ball.vertices, ball.vertex_normals
    rows["rgba"] = ball.visual.vertex_colors / (255.0 if colour == "<f4" else 1)
    faces = np.empty(len(ball.faces), np.dtype([("n", "u1"), ("corners", "<i4", 3)]))
    faces["n"], faces["corners"] = 3, ball.faces
    header = ["ply", "format binary_little_endian 1.0",
              "comment Created by Open Asset Import Library - http://assimp.sf.net (v5.2.5)",
              f"element vertex {len(rows)}", *(f"property float {c}" for c in ("x", "y", "z", "nx", "ny", "nz")),
              *(f"property uchar {c}" for c in ("red", "green", "blue", "alpha")),
              f"element face {len(faces)}", "property list uchar int vertex_indices", "end_header\n"]
    (tmp_path / "ball.ply").write_bytes("\n".join(header).encode() + rows.tobytes() + faces.tobytes())
    ball.export(tmp_path / "plain.ply")
    asset, plain = load_asset(str(tmp_path / "ball.ply")), load_asset(str(tmp_path / "plain.ply"))
    assert asset.n_faces == plain.n_faces == 320
    np.testing.assert_allclose(asset.mesh.vertices, plain.mesh.vertices, atol=1e-6)
    assert (asset.corner_color == [200, 30, 30, 255]).all()


def _balls_with_maps(path, colour_side, normal_side, n=3):
    """A GLB of ``n`` balls, each with a colour texture of its own and a
    normal map of its own, PNGs of one colour (a few hundred bytes each,
    however wide)."""
    scene = trimesh.Scene()
    for i in range(n):
        ball = trimesh.creation.icosphere(subdivisions=2, radius=0.3).apply_translation([i, 0, 0])
        uv = (ball.vertices[:, :2] + 0.3) / 0.6
        material = trimesh.visual.material.PBRMaterial(
            baseColorTexture=Image.new("RGB", (colour_side, colour_side), (200, 40 * i, 30)),
            normalTexture=Image.new("RGB", (normal_side, normal_side), (128, 128, 255)))
        ball.visual = trimesh.visual.TextureVisuals(uv=uv, material=material)
        scene.add_geometry(ball, geom_name=f"ball{i}")
    scene.export(path)
    return path


def test_textures_past_the_pixel_budget_are_refused_before_they_are_decoded(tmp_path, monkeypatch):
    """A PNG of one colour 8,000 pixels wide is 0.2 MB in the file and 200 MB
    decoded: a model's images may hold MAX_TEXTURE_PIXELS in all (here 3 x
    64 x 64). Past it the maps that are not colour go first, with a
    warning; colour textures alone past it refuse the model with a sentence,
    nothing decoded."""
    import core.loading

    monkeypatch.setattr(core.loading, "MAX_TEXTURE_PIXELS", 3 * 64 * 64 + 32 * 32)
    asset = load_asset(_balls_with_maps(str(tmp_path / "maps.glb"), 64, 32))
    assert len(asset.warnings) == 1 and "normal, roughness and other maps" in asset.warnings[0]
    materials = [m.visual.material for m in asset.source_meshes]
    normals = [m.normalTexture for m in materials]
    assert normals.count(None) == 2 and np.asarray(max(normals, key=bool)).shape == (32, 32, 3)  # one fits
    assert [np.asarray(m.baseColorTexture).shape for m in materials] == [(64, 64, 3)] * 3
    first = [np.flatnonzero(asset.face_node == node)[0] for node in range(3)]
    colours = surface_color(asset, np.array(first), np.full((3, 3), 1 / 3))[:, :3]
    assert sorted(map(tuple, colours.tolist())) == [(200, 0, 30), (200, 40, 30), (200, 80, 30)]

    opened = []
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda image: opened.append(image))
    with pytest.raises(InputError, match="colour textures of .* pixels in all, more than PartScope decodes"):
        load_asset(_balls_with_maps(str(tmp_path / "colours.glb"), 67, 8))
    assert not opened


def test_meshes_that_share_an_image_share_one_texture(tmp_path):
    """Sixty boxes sharing one 4K atlas (a GLB of 0.1 MB) took 22 s and 4.2
    GB to load: each mesh's look held a texture of its own. Meshes whose
    materials show one image share its texture (here three boxes); a
    material that cuts the image out (MASK) has its own, as does another
    image; each box shows its colour."""
    atlas = Image.new("RGBA", (16, 16), (200, 40, 30, 255))
    atlas.paste((200, 40, 30, 0), (0, 0, 8, 16))  # the left half clear
    other = Image.new("RGB", (8, 8), (30, 160, 90))
    looks = [trimesh.visual.material.PBRMaterial(baseColorTexture=atlas)] * 3 + [
        trimesh.visual.material.PBRMaterial(baseColorTexture=atlas, alphaMode="MASK"),
        trimesh.visual.material.PBRMaterial(baseColorTexture=other)]
    scene = trimesh.Scene()
    for i, material in enumerate(looks):
        box = trimesh.creation.box().apply_translation([2 * i, 0, 0])
        box.visual = trimesh.visual.TextureVisuals(uv=np.full((8, 2), 0.75), material=material)
        scene.add_geometry(box, geom_name=f"box{i}")
    scene.export(tmp_path / "atlas.glb")
    asset = load_asset(str(tmp_path / "atlas.glb"))
    shown = [int(asset.face_material[asset.face_node == asset.node_names.index(f"box{i}")][0]) for i in range(5)]
    assert len(asset.textures) == 3 and shown[0] == shown[1] == shown[2] and len(set(shown)) == 3
    assert (asset.textures[shown[3]][..., 3] == 0).any() and (asset.textures[shown[0]][..., 3] == 255).all()
    faces = [np.flatnonzero(asset.face_node == asset.node_names.index(f"box{i}"))[0] for i in (0, 4)]
    colours = surface_color(asset, np.array(faces), np.full((2, 3), 1 / 3))[:, :3]
    assert colours.tolist() == [[200, 40, 30], [30, 160, 90]]


def test_obj_materials_that_map_one_image_share_its_texture(tmp_path):
    """An OBJ's materials each open the image their map names, one file
    named by three materials gave three textures of the same pixels: one
    texture, which the three cards show."""
    Image.new("RGB", (64, 64), (120, 60, 30)).save(tmp_path / "wood.png")
    (tmp_path / "cards.mtl").write_text("".join(f"newmtl m{k}\nKd 1 1 1\nmap_Kd wood.png\n" for k in range(3)))
    lines = ["mtllib cards.mtl"]
    for k in range(3):
        lines += [f"v {2 * k} 0 0", f"v {2 * k + 1} 0 0", f"v {2 * k + 1} 0 1", f"v {2 * k} 0 1",
                  "vt 0 0", "vt 1 0", "vt 1 1", "vt 0 1", f"o card{k}", f"usemtl m{k}"]
        lines += [" ".join(["f"] + [f"{4 * k + c}/{4 * k + c}" for c in face]) for face in ((1, 2, 3), (1, 3, 4))]
    (tmp_path / "cards.obj").write_text("\n".join(lines) + "\n")
    asset = load_asset(str(tmp_path / "cards.obj"))
    assert len(asset.textures) == 1 and (asset.face_material == 0).all() and len(asset.node_names) == 3
    assert surface_color(asset, [0, 2, 4], [[1 / 3] * 3] * 3)[:, :3].tolist() == [[120, 60, 30]] * 3


def test_a_3mf_decodes_its_textures_only_within_the_pixel_budget(tmp_path, monkeypatch):
    """A 3MF's reader decodes each texture it names as it builds the looks
    (a damaged one drawn grey, named in a warning): six one-colour 11K PNGs
    in a 26 kB 3MF took 3 GB before the budget refused them. It stops
    decoding past the budget (here two 64 x 64 images), and the loader
    refuses the model by the headers as it does a GLB's."""
    import core.loading
    import core.threemf
    import corpus_files as make

    box, objects, items, files = trimesh.creation.box(), [], [], {}
    for k in range(1, 4):
        buf = io.BytesIO()
        Image.new("RGB", (64, 64), (60 * k, 30, 30)).save(buf, "PNG")
        files[f"3D/Textures/t{k}.png"] = buf.getvalue()
        group = (f'<m:texture2d id="{200 + k}" path="/3D/Textures/t{k}.png" contenttype="image/png"/>'
                 f'<m:texture2dgroup id="{100 + k}" texid="{200 + k}"><m:tex2coord u="0" v="0"/>'
                 '<m:tex2coord u="1" v="0"/><m:tex2coord u="0" v="1"/></m:texture2dgroup>')
        vertices = "".join(f'<vertex x="{x + 3 * k}" y="{y}" z="{z}"/>' for x, y, z in box.vertices)
        triangles = "".join(f'<triangle v1="{a}" v2="{b}" v3="{c}" pid="{100 + k}" p1="0" p2="1" p3="2"/>'
                            for a, b, c in box.faces)
        objects.append(group + f'<object id="{k}" type="model"><mesh><vertices>{vertices}</vertices>'
                               f'<triangles>{triangles}</triangles></mesh></object>')
        items.append(f'<item objectid="{k}"/>')
    model = make.model_3mf("".join(objects), "".join(items),
                           ' xmlns:m="http://schemas.microsoft.com/3dmanufacturing/material/2015/02"')
    types = make._TYPES.replace("</Types>", '<Default Extension="png" ContentType="image/png"/></Types>')
    path = tmp_path / "three_textures.3mf"
    path.write_bytes(make.package_3mf({"[Content_Types].xml": types, "_rels/.rels": make._RELS,
                                       "3D/3dmodel.model": model, **files}))
    assert len(load_asset(str(path)).textures) == 3
    for module in (core.loading, core.threemf):
        monkeypatch.setattr(module, "MAX_TEXTURE_PIXELS", 2 * 64 * 64)
    opened = []
    load = ImageFile.ImageFile.load
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda image: opened.append(image) or load(image))
    with pytest.raises(InputError, match="'three_textures.3mf' holds colour textures of 0 million pixels in all"):
        load_asset(str(path))
    assert len(opened) == 2


def test_a_mesh_placed_past_the_face_limit_is_refused_before_it_is_copied(tmp_path, monkeypatch):
    """A mesh drawn at many places costs its faces at each: 80,000 faces
    placed by 200 nodes (1.5 MB) took 11 GB. The faces are counted where the
    build places them (a 3MF: here past 1,000, a 320-face ball four times;
    three times loads) and the model refused with a sentence before any is copied."""
    import corpus_files as make

    monkeypatch.setenv("PARTSCOPE_MAX_FACES", "1000")
    ball = make.mesh_3mf(trimesh.creation.icosphere(subdivisions=2))
    for copies in (3, 4):
        items = "".join(f'<item objectid="1" transform="1 0 0 0 1 0 0 0 1 {3 * i} 0 0"/>' for i in range(copies))
        model = make.model_3mf(f'<object id="1" type="model">{ball}</object>', items)
        (tmp_path / f"balls{copies}.3mf").write_bytes(make.package_3mf(
            {"[Content_Types].xml": make._TYPES, "_rels/.rels": make._RELS, "3D/3dmodel.model": model}))
    assert load_asset(str(tmp_path / "balls3.3mf")).n_faces == 960
    monkeypatch.setattr(trimesh.Scene, "dump", lambda *_: pytest.fail("copied"))
    with pytest.raises(InputError, match="holds 1,280 faces once its meshes are placed, more than PartScope"):
        load_asset(str(tmp_path / "balls4.3mf"))


def test_a_gltf_past_the_face_limit_is_refused_by_its_counts_before_draco_unpacks_it(tmp_path, monkeypatch):
    """Draco packs 21 million faces in 5 MB, which took 2 GB and 9 s to
    decode before the faces were counted. A glTF's accessors say how many
    corners each primitive has, and its nodes (and their GPU instances)
    where it is drawn: the legs' GLB, Draco-compressed (its four legs drawn
    by one node, as instances), holds 36 faces placed; refused past 35
    before any primitive is decoded, read at 36."""
    import DracoPy
    import corpus_files as make

    legs = make.legs_scene()
    path = tmp_path / "legs_draco_instanced.glb"
    path.write_bytes(make.instanced_glb(make.draco_glb(legs)))
    faces = make.scene_faces(legs)
    monkeypatch.setenv("PARTSCOPE_MAX_FACES", str(faces))
    assert load_asset(str(path)).n_faces == faces
    monkeypatch.setenv("PARTSCOPE_MAX_FACES", str(faces - 1))
    monkeypatch.setattr(DracoPy, "decode", lambda *_: pytest.fail("decoded"))
    with pytest.raises(InputError, match=f"'legs_draco_instanced.glb' holds {faces:,} faces once its meshes are "
                                         "placed, more than PartScope segments"):
        load_asset(str(path))


def test_a_model_past_the_face_limit_is_refused_by_its_count_before_it_is_read(tmp_path, monkeypatch):
    """Text packs faces small: a zipped OBJ of 12.5 million faces (100 MB,
    0.15 MB zipped) took 2.2 GB and 20 s to read before its faces were
    counted, a 3MF of 3 million triangles (100 MB, 0.3 MB) 3.6 GB, a zipped
    text PLY of 5.2 million (a scan) 3.5 GB. Their faces are counted first
    (OBJ's 'f' statements and 3MF's <triangle> elements in the bytes, a
    PLY's and an OFF's header) and the model refused past the limit before
    it is parsed. A header that counts more faces than the file could hold
    (4 bytes a face) is not believed: the reader reads the faces it holds,
    and says so."""
    import core.loading
    import corpus_files as make

    ball = trimesh.creation.icosphere(subdivisions=2)  # 320 faces
    for ext in ("obj", "ply", "off"):
        ball.export(tmp_path / f"ball.{ext}")
    model = make.model_3mf(f'<object id="1" type="model">{make.mesh_3mf(ball)}</object>', '<item objectid="1"/>')
    (tmp_path / "ball.3mf").write_bytes(make.package_3mf(
        {"[Content_Types].xml": make._TYPES, "_rels/.rels": make._RELS, "3D/3dmodel.model": model}))
    readers = {"obj": "obj_source", "3mf": "threemf_scene", "ply": "ply_scene", "off": "off_mesh"}
    monkeypatch.setenv("PARTSCOPE_MAX_FACES", "320")
    assert [load_asset(str(tmp_path / f"ball.{ext}")).n_faces for ext in readers] == [320] * 4
    monkeypatch.setenv("PARTSCOPE_MAX_FACES", "319")
    for ext, reader in readers.items():
        monkeypatch.setattr(core.loading, reader, lambda *_: pytest.fail("read"))
        with pytest.raises(InputError, match=f"'ball.{ext}' holds 320 faces once its meshes are placed, more than"):
            load_asset(str(tmp_path / f"ball.{ext}"))
    monkeypatch.undo()
    (tmp_path / "lying.off").write_text("OFF\n3 99999999 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 2\n")
    lying = load_asset(str(tmp_path / "lying.off"))
    assert lying.n_faces == 1 and "says it has 99,999,999 faces but holds 1" in lying.warnings[0]


def test_a_model_that_unpacks_past_its_limit_is_refused(tmp_path, monkeypatch):
    """A ZIP may unpack to 1 GB (a glTF's images), but its model file, or a
    3MF's model parts, only to 90 bytes a face the face limit allows (270
    MB): text takes 10 to 35 times its size in memory as it is read, and 1
    GB of faces packs into a few MB. Here the limit is set just under the
    ball's OBJ and 3MF model: refused with the sentence; at their size they load."""
    import zipfile

    import core.inputs
    import corpus_files as make

    ball = trimesh.creation.icosphere(subdivisions=2)
    obj = trimesh.exchange.obj.export_obj(ball)
    with zipfile.ZipFile(tmp_path / "ball.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("ball.obj", obj)
    model = make.model_3mf(f'<object id="1" type="model">{make.mesh_3mf(ball)}</object>', '<item objectid="1"/>')
    (tmp_path / "ball.3mf").write_bytes(make.package_3mf(
        {"[Content_Types].xml": make._TYPES, "_rels/.rels": make._RELS, "3D/3dmodel.model": model}))
    monkeypatch.setattr(core.inputs, "BYTES_A_FACE", 1)  # the limit: as many bytes as PARTSCOPE_MAX_FACES says faces
    for name, size in (("ball.zip", len(obj)), ("ball.3mf", len(model))):
        monkeypatch.setenv("PARTSCOPE_MAX_FACES", str(size))
        assert load_asset(str(tmp_path / name)).n_faces == 320
        monkeypatch.setenv("PARTSCOPE_MAX_FACES", str(size - 1))
        with pytest.raises(InputError, match=f"'{name}' unpacks to a model of 0 MB, more than PartScope reads"):
            load_asset(str(tmp_path / name))


def test_a_gltf_drawing_its_meshes_at_more_places_than_the_limit_is_refused_before_it_is_read(tmp_path, monkeypatch):
    """Each place of EXT_mesh_gpu_instancing becomes a node: a 1.2 MB GLB
    placing a box at 100,000 places took 28 s to read, a 50 MB one could
    place it at 4 million. The legs' GLB, its four legs drawn by one node,
    has 6 nodes and 4 places: refused past 9 places, read at 10."""
    import core.gltf
    import corpus_files as make

    path = tmp_path / "legs_instanced.glb"
    path.write_bytes(make.instanced_glb(make.glb(make.legs_scene())))
    monkeypatch.setattr(core.gltf, "MAX_PLACES", 9)
    with pytest.raises(InputError, match="'legs_instanced.glb' draws its meshes at 10 places, more than PartScope"):
        load_asset(str(path))
    monkeypatch.setattr(core.gltf, "MAX_PLACES", 10)
    assert load_asset(str(path)).n_faces == make.scene_faces(make.legs_scene())
