"""Segmentation metrics of the Princeton Segmentation Benchmark, over faces."""

from __future__ import annotations

import numpy as np


def _contingency(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(A, B) int64 counts of faces with predicted label i and human label j."""
    _, ai = np.unique(a, return_inverse=True)
    _, bi = np.unique(b, return_inverse=True)
    table = np.zeros((ai.max() + 1, bi.max() + 1), np.int64)
    np.add.at(table, (ai, bi), 1)
    return table


def rand_index_error(pred: np.ndarray, human: np.ndarray) -> float:
    """PSB Rand Index error: share of face pairs on which the two disagree
    about being in one segment. pred, human : (F,) int labels."""
    n = _contingency(pred, human)

    def pairs(x):
        x = x.astype(np.float64)
        return (x * (x - 1) / 2).sum()

    total = len(pred) * (len(pred) - 1) / 2
    return float((pairs(n.sum(1)) + pairs(n.sum(0)) - 2 * pairs(n)) / total)


def part_miou(pred: np.ndarray, human: np.ndarray) -> float:
    """Class-agnostic part mIoU: for each human part the best IoU over
    predicted parts, averaged over human parts."""
    n = _contingency(pred, human).astype(np.float64)
    union = n.sum(1)[:, None] + n.sum(0)[None, :] - n
    return float((n / union).max(0).mean())
