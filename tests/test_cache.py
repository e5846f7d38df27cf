"""The fit cache on a real (small) fit: an entry comes back as the fit it
was; an entry whose bytes changed on disk, flipped or cut short, is dropped
and the object fitted again, never served."""

import glob
import os

import numpy as np
import pytest

from core.cache import FitCache, fit_cached, pack, unpack
from core.config import FieldConfig, RenderConfig, SampleConfig, SegmentConfig
from core.loading import load_asset
from core.pipeline import Engine
from meshes import two_boxes


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """(engine, asset, field): two boxes fitted with a small config (a few seconds)."""
    path = str(tmp_path_factory.mktemp("boxes") / "boxes.ply")
    two_boxes().export(path)
    config = SegmentConfig(sample=SampleConfig(n_points=2000), render=RenderConfig(n_views=8, resolution=128),
                           field=FieldConfig(steps=40), seed=0)
    engine = Engine(config)
    asset = load_asset(path)
    return engine, asset, engine.fit(asset)


def stored(tmp_path, engine, field) -> str:
    """Put ``field`` in a cache at ``tmp_path``; the file diskcache keeps its value in."""
    cache = FitCache(str(tmp_path))
    cache.put(engine, field)
    cache.close()
    (value,) = glob.glob(os.path.join(str(tmp_path), "**", "*.val"), recursive=True)
    return value


def test_an_entry_comes_back_as_the_fit_it_was(fitted, tmp_path):
    engine, asset, field = fitted
    stored(tmp_path, engine, field)
    again = FitCache(str(tmp_path)).get(engine, asset)
    # two boxes, two objects: it opens at two parts, read from the entry without finding its pieces again
    assert again.opening == field.opening == 1.9 and again._piece is None
    for scale in (0.5, 1.0):
        np.testing.assert_array_equal(again.parts(scale), field.parts(scale))


@pytest.mark.parametrize("damage", ["flipped", "truncated"])
def test_a_damaged_entry_is_refitted_not_served(fitted, tmp_path, monkeypatch, damage):
    engine, asset, field = fitted
    path = stored(tmp_path, engine, field)
    data = np.fromfile(path, np.uint8)
    if damage == "flipped":  # 2,000 random bytes changed, the length kept
        rng = np.random.default_rng(7)
        data[rng.choice(len(data), 2000, replace=False)] ^= rng.integers(1, 256, 2000).astype(np.uint8)
    else:
        data = data[:len(data) // 2]
    data.tofile(path)
    cache = FitCache(str(tmp_path))
    fits = []
    monkeypatch.setattr(engine, "fit", lambda asset, **kw: fits.append(asset.name) or field)
    assert fit_cached(engine, asset, cache) is field and fits == [asset.name]  # fitted again
    assert cache.get(engine, asset) is not None  # and the new fit cached in its place


def test_a_changed_byte_anywhere_fails_the_checksum():
    state = {"weights": {"w": np.arange(1000, dtype=np.float32)}, "seconds": {"fit": 1.5}}
    value = pack(state)
    np.testing.assert_array_equal(unpack(value)["weights"]["w"], state["weights"]["w"])
    for at in (0, 31, 32, len(value) // 2, len(value) - 1):
        changed = bytearray(value)
        changed[at] ^= 0x01
        assert unpack(bytes(changed)) is None
    assert unpack(value[:-1]) is None and unpack({"old": "entry"}) is None
