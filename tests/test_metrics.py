"""PartObjaverse-Tiny metrics on cases small enough to work out by hand."""

import numpy as np
import pytest

from core.metrics import average_precision, class_agnostic_miou, instance_map, semantic_miou


def a(*values):
    return np.array(values)


def test_class_agnostic_miou():
    assert class_agnostic_miou(a(0, 0, 1, 1), a(0, 0, 1, 1)) == 1.0
    assert class_agnostic_miou(a(5, 5, 3, 3), a(0, 0, 1, 1)) == 1.0  # ids need not agree
    assert class_agnostic_miou(a(0, 0, 0, 0), a(0, 0, 1, 1)) == 0.5  # one part over two: 2/4 each
    # unassigned ground truth is no part, but a predicted part that takes it pays for it
    assert class_agnostic_miou(a(0, 0, 0, 0), a(0, 0, -1, -1)) == 0.5
    assert class_agnostic_miou(a(0, 0, 1, 1), a(0, 0, -1, -1)) == 1.0
    # unassigned predictions match nothing
    assert class_agnostic_miou(a(-1, -1, 0, 0), a(0, 0, 1, 1)) == 0.5
    # each ground-truth part takes its best part: 3 of 4 faces, then 1 of 1
    assert class_agnostic_miou(a(0, 0, 0, 1, 1), a(0, 0, 0, 0, 1)) == pytest.approx((3 / 4 + 1 / 2) / 2)
    assert np.isnan(class_agnostic_miou(a(0, 1), a(-1, -1)))


def test_semantic_miou():
    # label 0: 1 of 2; label 1: faces 1..3 of 1..4 -> 2/4; label 2 only predicted: not counted
    assert semantic_miou(a(0, 1, 1, 1, 1), a(0, 0, 1, 1, -1)) == 0.5
    assert semantic_miou(a(1, 1, 0, 0), a(1, 1, 0, 0)) == 1.0
    assert semantic_miou(a(2, 2, 2, 2), a(0, 0, 1, 1)) == 0.0


def test_average_precision():
    assert average_precision([True], 1) == 1.0
    # a miss then a hit: precision 1 at recall 0, then 1/2 up to recall 1
    assert average_precision([False, True], 1) == pytest.approx((1 + 100 * 0.5) / 101)
    assert average_precision([False], 1) == pytest.approx(1 / 101)
    assert average_precision([True, True, False], 2) == 1.0


def test_instance_map50():
    gt_ins, gt_sem = a(0, 0, 1, 1, 2, 2), a(0, 0, 0, 0, 1, 1)  # two legs (label 0), a top (label 1)
    assert instance_map(gt_sem, gt_ins, gt_sem, gt_ins) == 1.0
    # the legs merged into one: IoU 2/4 with either leg is not above 0.5
    merged = a(0, 0, 0, 0, 1, 1)
    assert instance_map(gt_sem, merged, gt_sem, gt_ins) == pytest.approx((1 / 101 + 1) / 2)
    # the top called a leg: no prediction for label 1 (AP 0); the legs are still found
    wrong = a(0, 0, 0, 0, 0, 0)
    assert instance_map(wrong, gt_ins, gt_sem, gt_ins) == 0.5
    # a part with no name from the set is left out of the ranking
    unnamed = a(0, 0, 0, 0, -1, -1)
    assert instance_map(unnamed, gt_ins, gt_sem, gt_ins) == 0.5
    assert np.isnan(instance_map(gt_sem, gt_ins, a(-1, -1, -1, -1, -1, -1), gt_ins))
