"""Every file of the corpus (benchmarks/corpus.py) loads to its face count,
the same shape and look as the plain file, or is refused with its sentence."""

import sys

import numpy as np
import pytest
from scipy.spatial import cKDTree

from benchmarks.corpus import build_cases, write_case
from core.loading import InputError, load_asset, surface_color

CASES = {case.name: case for case in build_cases()}


def load(tmp_path, name):
    return load_asset(write_case(CASES[name], str(tmp_path)))


@pytest.mark.parametrize("name", [n for n, c in CASES.items() if c.faces is not None])
def test_file_loads_with_every_face(tmp_path, name):
    assert load(tmp_path, name).n_faces == CASES[name].faces


@pytest.mark.parametrize("name", [n for n, c in CASES.items() if c.sentence is not None])
def test_file_is_refused_with_its_sentence(tmp_path, name):
    with pytest.raises(InputError) as err:
        load(tmp_path, name)
    assert str(err.value) == CASES[name].sentence


def corners(asset) -> np.ndarray:
    """(F, 9) each face's corners, in one order whatever the file's (meshopt may rotate them)."""
    tri = np.round(asset.mesh.vertices[asset.mesh.faces], 6)
    order = np.lexsort((tri[..., 2], tri[..., 1], tri[..., 0]), axis=1)
    return np.take_along_axis(tri, order[..., None], axis=1).reshape(len(tri), 9)


@pytest.mark.parametrize("name", ["separate.gltf", "draco.glb", "draco_separate.gltf", "meshopt.glb",
                                  "meshopt_khr.glb", "quantized.glb", "quantized_meshopt.glb", "ktx2.glb",
                                  "ktx2_draco.glb"])
def test_compressed_file_is_the_plain_one(tmp_path, name):
    """Decoded, the file has the plain file's surface (normalized: the
    quantized one is stored 1000 times larger) and the same colors."""
    (tmp_path / "plain").mkdir(), (tmp_path / "other").mkdir()
    ref = load(tmp_path / "plain", "textured.glb")
    got = load(tmp_path / "other", name)
    assert len(got.textures) == len(ref.textures) == 2
    assert sorted(got.node_names) == sorted(ref.node_names)
    dist, match = cKDTree(corners(ref)).query(corners(got))
    assert dist.max() < 2e-3  # the quantized file is in thousandths of its 1.6 units
    bary = np.full((got.n_faces, 3), 1 / 3)
    np.testing.assert_array_equal(surface_color(got, np.arange(got.n_faces), bary),
                                  surface_color(ref, match, bary[:len(match)]))


@pytest.mark.parametrize("name,module,sentence", [
    ("draco.glb", "DracoPy", "'draco.glb' uses Draco compression (KHR_draco_mesh_compression) and the package "
     "that decodes it is not installed: pip install DracoPy==2.2.0, or export the model again without it."),
    ("meshopt.glb", "meshopt", "'meshopt.glb' uses meshopt compression (EXT_meshopt_compression) and the package "
     "that decodes it is not installed: pip install meshopt==0.1.0, or export the model again without it."),
    ("ktx2.glb", "opengl_basisu", "'ktx2.glb' uses KTX2/Basis textures (KHR_texture_basisu) and the package "
     "that decodes it is not installed: pip install opengl-basisu==0.1.0a2, or export the model again without it."),
])
def test_a_missing_decoder_is_named(tmp_path, monkeypatch, name, module, sentence):
    monkeypatch.setitem(sys.modules, module, None)  # import fails as if not installed
    with pytest.raises(InputError) as err:
        load(tmp_path, name)
    assert str(err.value) == sentence
