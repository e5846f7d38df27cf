import numpy as np

from core.config import MaskConfig
from core.masks import (drop_background_masks, erode_labels, group_scales, mask_scale,
                        masks_to_layers, view_masks)


def test_mask_scale_formula():
    rng = np.random.default_rng(0)
    xyz = rng.normal(size=(500, 3)) * [0.1, 0.02, 0.05]
    expected = np.sqrt(sum((10 * xyz[:, c].std()) ** 2 for c in range(3)))
    assert np.isclose(mask_scale(xyz), expected)
    # a segment of length L along x: std = L / sqrt(12)
    line = np.stack([np.linspace(0, 0.3, 10001), np.zeros(10001), np.zeros(10001)], 1)
    assert np.isclose(mask_scale(line), 10 * 0.3 / np.sqrt(12), rtol=1e-3)


def test_group_scales_match_the_formula():
    rng = np.random.default_rng(1)
    xyz = rng.random((300, 3))
    group = rng.integers(0, 4, 300)
    got = group_scales(xyz, group, 6)
    for g in range(4):
        assert np.isclose(got[g], mask_scale(xyz[group == g]))
    assert got[4] == got[5] == 0


def test_erosion_keeps_pixels_with_five_of_nine():
    labels = np.full((7, 7), -1)
    labels[1:6, 1:6] = 3
    out = erode_labels(labels)
    assert out[3, 3] == 3 and out[1, 3] == 3  # an edge pixel sees 6 of 9
    assert out[1, 1] == -1  # a corner pixel sees 4 of 9
    lone = np.full((5, 5), -1)
    lone[2, 2] = 0
    assert (erode_labels(lone) == -1).all()


def test_view_masks_over_points():
    # a 4x8 view: left half label 0, right half label 1, each pixel its own point
    layer = np.zeros((1, 4, 8), np.int32)
    layer[0, :, 4:] = 1
    pix = np.arange(32, dtype=np.int32).reshape(4, 8)
    xyz = np.stack([np.tile(np.arange(8), 4) * 0.01, np.repeat(np.arange(4), 8) * 0.01, np.zeros(32)], 1)
    vm = view_masks(layer, pix, xyz.astype(np.float32), MaskConfig(min_points=2))
    assert vm.member.shape == (32, 2)
    left = vm.member[:, 0] | vm.member[:, 1]
    assert left.sum() < 32  # the eroded border is gone
    for j in range(2):
        pts = vm.points[vm.member[:, j]]
        assert np.isclose(vm.scales[j], mask_scale(xyz[pts]))
    # a known 3D scale replaces the visible one, and is never dropped
    vm3 = view_masks(layer, pix, xyz.astype(np.float32), MaskConfig(min_points=2), [np.array([5.0, 0.5])])
    assert sorted(vm3.scales.tolist()) == [0.5, 5.0]


def test_view_masks_read_the_erosion_of_the_whole_view():
    # a SAM-like mask spilling past the pixels that see points: the pixels at
    # the edge of the seen ones keep their label from neighbours outside them
    rng = np.random.default_rng(2)
    layer = np.full((1, 12, 12), -1, np.int32)
    layer[0, 0:7, 0:9] = 0
    pix = np.full((12, 12), -1, np.int32)
    pix[0:5, 2:6] = np.arange(20).reshape(5, 4)  # touches the top border
    xyz = (0.01 * rng.random((20, 3))).astype(np.float32)
    vm = view_masks(layer, pix, xyz, MaskConfig(min_points=1))
    kept = erode_labels(layer[0])[pix >= 0] == 0
    assert kept.all()  # the mask beyond the seen pixels keeps their edge
    assert vm.member.shape == (20, 1) and vm.member[:, 0].all()
    layer[0] = -1
    layer[0, 0:5, 2:6] = 0  # now the mask ends with the seen pixels: its corners erode
    vm = view_masks(layer, pix, xyz, MaskConfig(min_points=1))
    expect = np.zeros(20, bool)
    expect[pix[erode_labels(layer[0]) == 0]] = True
    assert 0 < expect.sum() < 20
    assert (vm.member[:, 0] == expect[vm.points]).all() and len(vm.points) == 20


def test_background_rule():
    face = np.full((10, 10), -1)
    face[2:8, 2:8] = 7
    on_object = np.zeros((10, 10), bool)
    on_object[3:6, 3:6] = True
    spills = on_object.copy()
    spills[0:2, :] = True  # 20 of 64 background pixels
    outside = np.zeros((10, 10), bool)
    outside[0, 0] = True
    kept = drop_background_masks(np.stack([on_object, spills, outside]), face, 0.10)
    assert len(kept) == 1 and (kept[0] == on_object).all()
    layers = masks_to_layers(kept)
    assert layers.dtype == np.int32 and set(np.unique(layers)) == {-1, 0}
