import numpy as np
import pytest

from core.config import FieldConfig, RenderConfig, SampleConfig, SegmentConfig
from core.loading import load_asset
from core.pipeline import Engine
from meshes import table, two_boxes


def fast_config(seed=0) -> SegmentConfig:
    """The real pipeline, smaller: fewer points, views and steps."""
    return SegmentConfig(sample=SampleConfig(n_points=6000), render=RenderConfig(n_views=16, resolution=256),
                         field=FieldConfig(steps=250), seed=seed)


@pytest.fixture(scope="module")
def table_fit(tmp_path_factory):
    mesh, human = table()
    path = str(tmp_path_factory.mktemp("table") / "table.ply")
    mesh.export(path)
    field = Engine(fast_config()).fit(load_asset(path))
    return field, human


def iou(a, b):
    return (a & b).sum() / (a | b).sum()


def test_each_leg_is_its_own_part_at_a_fine_scale(table_fit):
    field, human = table_fit
    labels = field.parts(0.1)
    assert labels.shape == human.shape and labels.min() == 0
    assert set(np.unique(labels)) == set(range(labels.max() + 1))  # contiguous
    leg_parts = set()
    for leg in range(1, 5):
        faces = human == leg
        part = np.bincount(labels[faces]).argmax()
        assert iou(labels == part, faces) > 0.7, f"leg {leg}"
        leg_parts.add(part)
    assert len(leg_parts) == 4
    top = np.bincount(labels[human == 0]).argmax()
    assert top not in leg_parts


def test_part_count_falls_as_the_scale_grows(table_fit):
    field, _ = table_fit
    counts = [int(l.max()) + 1 for l in field.ladder([0.0, 0.5, 1.0, 1.5, 2.0])]
    assert counts[0] >= 5
    assert counts[-1] < counts[0]
    assert all(b <= a + 1 for a, b in zip(counts, counts[1:])), counts


def test_same_seed_same_labels(tmp_path):
    path = str(tmp_path / "boxes.ply")
    two_boxes().export(path)
    asset = load_asset(path)
    first = Engine(fast_config(seed=5)).fit(asset).ladder([0.0, 1.0])
    second = Engine(fast_config(seed=5)).fit(asset).ladder([0.0, 1.0])
    np.testing.assert_array_equal(first, second)


def test_two_separate_boxes_are_two_parts_then_one(tmp_path):
    path = str(tmp_path / "boxes.ply")
    two_boxes(gap=1.5).export(path)  # each box small next to the pair: scale < 2
    asset = load_asset(path)
    field = Engine(fast_config()).fit(asset)
    fine, coarse = field.parts(0.0), field.parts(2.0)
    piece = (asset.mesh.triangles_center[:, 0] > asset.mesh.bounds.mean(axis=0)[0]).astype(int)
    for p in (0, 1):
        assert len(np.unique(fine[piece == p])) == 1
    assert fine[piece == 0][0] != fine[piece == 1][0]
    assert coarse.max() == 0


def test_packed_state_round_trip(table_fit):
    from core.pipeline import PartField

    field, _ = table_fit
    state = field.to_state()
    again = PartField.from_state(field.asset, state)
    np.testing.assert_allclose(again.features(0.7), field.features(0.7), atol=1e-6)
    np.testing.assert_array_equal(again.parts(0.1), field.parts(0.1))
