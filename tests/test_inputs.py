"""Every file of the corpus (tests/corpus.py) loads as its case says
(face count, warnings, names, colours, and the look of its plain sibling),
or is refused with its sentence; and a decoded file gives the engine the
cues the plain file gives it."""

import sys

import numpy as np
import pytest
import trimesh
from scipy.spatial import cKDTree

from tests.corpus import build_cases, compare, differences, write_case
from core.loading import InputError, load_asset
from core.looks import surface_color
from core.topology import merged_faces, shared_edges, split_connected, texture_islands

CASES = {case.name: case for case in build_cases()}


def load(tmp_path, name):
    folder = tmp_path / name.replace(".", "_")
    folder.mkdir()
    return load_asset(write_case(CASES[name], str(folder)))


@pytest.mark.parametrize("name", [n for n, c in CASES.items() if c.faces is not None])
def test_file_loads_as_its_case_says(tmp_path, name):
    case = CASES[name]
    asset = load(tmp_path, name)
    d = compare(asset, load(tmp_path, case.sibling)) if case.sibling else None
    assert differences(case, asset, d) == []


@pytest.mark.parametrize("name", ["toy_car_sketchup.zip", "toy_car_assimp_rigged.dae", "toy_car_bambu.3mf",
                                  "toy_car_prusa.3mf"])
def test_collada_and_3mf_stand_where_the_gltf_does(tmp_path, name):
    """Z up in inches (SketchUp) or millimetres (a slicer's parts, each in
    its own place or a range of one mesh's triangles, the slicer's modifier
    box left out), or skinned to an armature whose node turns the car and
    scales it by 0.01 (placed by its joints, as a viewer draws it): each
    normalized, the car's GLB to the vertex (as written, to six digits)."""
    asset, car = load(tmp_path, name), load(tmp_path, "toy_car.glb")
    assert np.abs(asset.mesh.bounds - car.mesh.bounds).max() < 1e-5
    distance, _ = cKDTree(car.mesh.vertices).query(asset.mesh.vertices)
    assert distance.max() < 1e-5


@pytest.mark.parametrize("name", ["toy_car_bambu.3mf", "toy_car_prusa.3mf"])
def test_a_slicers_parts_show_their_filaments_and_painted_triangles(tmp_path, name):
    """Each part in the colour of the filament the slicer prints it in
    (the body red, the cabin blue, the wheels black), ten of the body's
    triangles painted blue and two painted in four sub-triangles, three of
    them black: each face as the slicer shows it."""
    from tests.corpus_files import FILAMENTS

    asset = load(tmp_path, name)
    rgb = [tuple(int(f[i:i + 2], 16) for i in (1, 3, 5)) for f in FILAMENTS]
    shown = {}
    for node, part in enumerate(asset.node_names):
        colours, counts = np.unique(asset.corner_color[asset.face_node == node, 0, :3], axis=0, return_counts=True)
        shown[part] = {tuple(int(v) for v in c): int(n) for c, n in zip(colours, counts)}
    body = int((asset.face_node == asset.node_names.index("body")).sum())
    assert shown.pop("body") == {rgb[2]: body - 12, rgb[3]: 10, rgb[1]: 2}
    assert shown.pop("cabin") == {rgb[3]: int((asset.face_node == asset.node_names.index("cabin")).sum())}
    assert sorted(shown) == [f"wheel_{k}" for k in range(1, 5)] and all(list(c) == [rgb[1]] for c in shown.values())


@pytest.mark.parametrize("name", [n for n, c in CASES.items() if c.faces is not None])
def test_every_file_that_loads_downloads_as_it_looked(tmp_path, name):
    """Cut in two, the file's download (the GLB of its parts) loads as the
    same surface with the same look: Blender's RGB float vertex colours,
    skinned meshes, textures without Kd written back as they were read."""
    from core.export import write_downloads

    asset = load(tmp_path, name)
    labels = (asset.mesh.triangles_center[:, 0] > 0).astype(np.int64)
    parts = load_asset(write_downloads(asset, labels, str(tmp_path), stem="cut")["glb"])
    d = compare(parts, asset)
    assert d["faces"][0] == d["faces"][1] and d["area"] < 1e-3 and d["color"] < 3, d


@pytest.mark.parametrize("name", [n for n, c in CASES.items() if c.sentence is not None])
def test_file_is_refused_with_its_sentence(tmp_path, name):
    with pytest.raises(InputError) as err:
        load(tmp_path, name)
    assert str(err.value) == CASES[name].sentence


def test_the_sibling_check_sees_a_wrong_look(tmp_path):
    """The comparison the corpus relies on fails where it must: texture
    coordinates read wrong, a seam that came apart."""
    plain = load(tmp_path, "textured.glb")
    garbled = load(tmp_path, "uv_transform.glb")
    garbled.corner_uv = garbled.corner_uv * 2.0 + 0.3
    assert compare(garbled, plain)["color"] > 20
    ball = load(tmp_path, "split_ball.glb")
    cracked = load(tmp_path, "split_ball_draco.glb")
    half = np.unique(cracked.mesh.faces[cracked.face_node == 0])
    cracked.mesh.vertices[half] += 1e-4
    assert compare(cracked, ball)["pieces"] == (2, 1)


def same_grouping(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two labelings group the same items together (labels may differ)."""
    pairs = set(zip(a.tolist(), b.tolist()))
    return len(pairs) == len(set(a.tolist())) == len(set(b.tolist()))


DECODED = ["separate.gltf", "draco.glb", "draco_separate.gltf", "meshopt.glb", "meshopt_khr.glb", "quantized.glb",
           "quantized_meshopt.glb", "normalized_uv16.glb", "uv_transform.glb", "uv_transform_texcoord1.glb",
           "unpadded_json.glb", "ktx2_rgba8_srgb.glb", "split_ball_draco.glb", "split_ball_quantized.glb",
           "toy_car_gt_draco.glb", "toy_car_gt_meshopt.glb", "toy_car_gt_quantize.glb", "toy_car_gltfpack_kn.glb",
           "toy_car_blender.glb", "toy_car_blender_draco.glb", "toy_car_blender_rigged.glb",
           "toy_car_blender_shape_keys.glb"]


@pytest.mark.parametrize("name", DECODED)
def test_decoded_file_gives_the_engine_the_plain_files_cues(tmp_path, name):
    """Face for face, a compressed, quantized or otherwise encoded file has
    the plain file's node, material, texture island, connected piece and
    welded neighbours (the cues the masks and the clustering use), and the
    same colour at a point inside every face."""
    ref = load(tmp_path, CASES[name].sibling)
    got = load(tmp_path, name)
    dist, match = cKDTree(ref.mesh.triangles_center).query(got.mesh.triangles_center)
    assert dist.max() < 2e-3 and len(set(match)) == ref.n_faces == got.n_faces  # one plain face each
    if "gltfpack" not in name:  # gltfpack hangs each mesh in an unnamed node below the named one
        assert sorted(got.node_names) == sorted(ref.node_names)
    assert same_grouping(got.face_node, ref.face_node[match])
    assert same_grouping(got.face_material, ref.face_material[match])
    assert same_grouping(texture_islands(got.mesh, got.corner_uv), texture_islands(ref.mesh, ref.corner_uv)[match])
    got_pairs, ref_pairs = (shared_edges(merged_faces(a.mesh)[0])[0] for a in (got, ref))  # no seams bridged
    assert {tuple(sorted(p)) for p in match[got_pairs].tolist()} == {tuple(sorted(p)) for p in ref_pairs.tolist()}
    assert same_grouping(split_connected(np.zeros(got.n_faces, np.int32), got_pairs),
                         split_connected(np.zeros(ref.n_faces, np.int32), ref_pairs)[match])
    # (a face's centroid would do, but box-mapped UVs put centroids of the car on texel edges)
    inside = np.tile([0.21, 0.33, 0.46], (got.n_faces, 1))
    point = np.einsum("nk,nkc->nc", inside, ref.mesh.triangles[match])
    there = np.clip(trimesh.triangles.points_to_barycentric(got.mesh.triangles, point), 0, 1)
    diff = np.abs(surface_color(got, np.arange(got.n_faces), there).astype(int)
                  - surface_color(ref, match, inside).astype(int)).max(axis=1)
    assert np.median(diff) < 3 and (diff > 40).mean() < 0.01


@pytest.mark.parametrize("name,module,sentence", [
    ("draco.glb", "DracoPy", "'draco.glb' uses Draco compression (KHR_draco_mesh_compression) and the package "
     "that decodes it is not installed: pip install DracoPy==2.2.0, or export the model again without it."),
    ("meshopt.glb", "meshopt", "'meshopt.glb' uses meshopt compression (EXT_meshopt_compression) and the package "
     "that decodes it is not installed: pip install meshopt==0.1.0, or export the model again without it."),
    ("ktx2.glb", "opengl_basisu", "'ktx2.glb' uses KTX2/Basis textures (KHR_texture_basisu) and the package "
     "that decodes it is not installed: pip install opengl-basisu==0.1.0a2, or export the model again without it."),
    ("ktx2_rgba8_zstd.glb", "zstandard", "'ktx2_rgba8_zstd.glb' uses Zstandard-compressed textures (KTX2 "
     "supercompression) and the package that decodes it is not installed: pip install zstandard==0.25.0, or "
     "export the model again without it."),
])
def test_a_missing_decoder_is_named(tmp_path, monkeypatch, name, module, sentence):
    monkeypatch.setitem(sys.modules, module, None)  # import fails as if not installed
    with pytest.raises(InputError) as err:
        load(tmp_path, name)
    assert str(err.value) == sentence
