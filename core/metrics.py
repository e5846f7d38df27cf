"""Part segmentation scores, over faces: the Princeton Segmentation
Benchmark's (with its files' readers) and PartObjaverse-Tiny's. Shared by
the benchmarks and the tests."""

from __future__ import annotations

import glob
import os

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


# ------------------------------------------- PartObjaverse-Tiny (SAMPart3D's)
# Ground truth and predictions are (F,) int per face, -1 unassigned. IoUs are
# over all faces (a predicted part that takes unassigned faces pays for them),
# as in the evaluation published with the dataset, so scores compare.


def part_ious(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """(G, P) IoU of every ground-truth part (gt >= 0, ids ascending) with
    every predicted part (pred >= 0, ids ascending)."""
    gt_ids, gi = np.unique(gt, return_inverse=True)
    pred_ids, pi = np.unique(pred, return_inverse=True)
    n = np.zeros((len(gt_ids), len(pred_ids)), np.int64)
    np.add.at(n, (gi, pi), 1)
    inter = n[gt_ids >= 0][:, pred_ids >= 0].astype(np.float64)
    union = n.sum(1)[gt_ids >= 0][:, None] + n.sum(0)[pred_ids >= 0][None, :] - inter
    return inter / np.maximum(union, 1)


def class_agnostic_miou(pred: np.ndarray, gt: np.ndarray) -> float:
    """Per ground-truth part the best IoU over predicted parts, averaged over
    the ground-truth parts; NaN when nothing is assigned."""
    ious = part_ious(pred, gt)
    if not len(ious):
        return float("nan")
    return float(ious.max(axis=1, initial=0.0).mean())


def semantic_miou(pred: np.ndarray, gt: np.ndarray) -> float:
    """Mean over the labels present in ``gt`` of IoU(pred == label, gt == label);
    pred, gt : (F,) int label index per face, -1 none. NaN without labels."""
    labels = np.unique(gt[gt >= 0])
    if not len(labels):
        return float("nan")
    return float(np.mean([((pred == c) & (gt == c)).sum() / ((pred == c) | (gt == c)).sum() for c in labels]))


def _majority(values: np.ndarray) -> int:
    ids, counts = np.unique(values, return_counts=True)
    return int(ids[np.argmax(counts)])


def average_precision(hits: list, n_gt: int) -> float:
    """101-point interpolated AP of predictions in rank order (``hits``:
    True for a true positive) against ``n_gt`` ground-truth instances. The
    curve starts at recall 0, precision 1, as in the published evaluation."""
    hits = np.asarray(hits, bool)
    tp, fp = np.cumsum(hits), np.cumsum(~hits)
    recall = np.concatenate([[0.0], tp / n_gt])
    precision = np.concatenate([[1.0], tp / np.maximum(tp + fp, 1)])
    return float(np.mean([precision[recall >= t].max(initial=0.0) for t in np.linspace(0, 1, 101)]))


def instance_map(pred_sem: np.ndarray, pred_ins: np.ndarray, gt_sem: np.ndarray, gt_ins: np.ndarray,
                 threshold: float = 0.5) -> float:
    """Mean over labels with ground-truth instances of the AP at IoU >
    ``threshold`` (mAP50 by default).

    An instance's label is the most common label of its faces (-1 ones are
    left out of the ranking). Predicted instances are ranked by id (PartScope
    numbers parts largest first); each is matched to the unmatched
    ground-truth instance of its label it overlaps most, a true positive when
    that IoU is above the threshold. NaN when no ground-truth instance.
    """
    gt_ids = [i for i in np.unique(gt_ins) if i >= 0]
    gt_label = {i: _majority(gt_sem[gt_ins == i]) for i in gt_ids}
    gt_label = {i: c for i, c in gt_label.items() if c >= 0}
    if not gt_label:
        return float("nan")
    hits = {c: [] for c in set(gt_label.values())}
    used = set()
    for k in (i for i in np.unique(pred_ins) if i >= 0):
        mask = pred_ins == k
        c = _majority(pred_sem[mask])
        if c < 0:
            continue
        best, best_iou = None, 0.0
        for i, ci in gt_label.items():
            if ci == c and i not in used:
                other = gt_ins == i
                iou = (mask & other).sum() / (mask | other).sum()
                if iou > best_iou:
                    best, best_iou = i, iou
        hit = best is not None and best_iou > threshold
        if hit:
            used.add(best)
        hits.setdefault(c, []).append(hit)
    n_gt = {c: sum(ci == c for ci in gt_label.values()) for c in set(gt_label.values())}
    return float(np.mean([average_precision(hits[c], n_gt[c]) if hits[c] else 0.0 for c in n_gt]))


# ------------------------------------------------- the Princeton benchmark

def human_segmentations(root: str, model: int) -> list[np.ndarray]:
    """Every human segmentation of PSB mesh ``model`` under ``root``: (F,) int64 each."""
    files = sorted(glob.glob(os.path.join(root, "seg", str(model), f"{model}_*.seg")))
    return [np.loadtxt(f, dtype=np.int64) for f in files]


def human_counts(root: str) -> list[int]:
    """nSeg-ByModel.txt: the part count people chose most, per mesh (model id - 1)."""
    with open(os.path.join(root, "nSeg-ByModel.txt")) as f:
        return [int(x) for x in f.read().split()]


#: PSB's categories, by the first id of their 20 models
CATEGORIES = {1: "human", 21: "cup", 41: "glasses", 61: "airplane", 81: "ant", 101: "chair", 121: "octopus",
              141: "table", 161: "teddy", 181: "hand", 201: "plier", 221: "fish", 241: "bird", 261: "spring",
              281: "armadillo", 301: "bust", 321: "mech", 341: "bearing", 361: "vase", 381: "fourleg"}


def category(model: int) -> str:
    """The PSB category of mesh ``model``."""
    return CATEGORIES[(model - 1) // 20 * 20 + 1]
