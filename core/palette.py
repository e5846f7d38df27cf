"""Part colors: distinct and deterministic, and kept across scales so that a
person sees what merged when the slider moves."""

from __future__ import annotations

import numpy as np

_GOLDEN = 0.6180339887498949
_TONES = np.array([(0.62, 0.95), (0.85, 0.78), (0.45, 0.88)])
"""(saturation, value) pairs cycled by part id, so neighbours in hue differ in tone too."""


def part_palette(n: int) -> np.ndarray:
    """Distinct, deterministic part colors.

    Hue steps by the golden ratio; saturation and value cycle through three
    tones. Part id k gets the same color whatever ``n`` is.

    Parameters
    ----------
    n : int
        Number of parts.

    Returns
    -------
    colors : (n, 3) uint8
        RGB color of part 0 .. n-1.
    """
    k = np.arange(int(n))
    hue = (0.02 + k * _GOLDEN) % 1.0
    sat, val = _TONES[k % len(_TONES)].T
    return np.round(_hsv_to_rgb(hue, sat, val) * 255).astype(np.uint8).reshape(-1, 3)


def inherited_colors(labels: np.ndarray, area: np.ndarray, parent=None) -> np.ndarray:
    """Palette indices (``part_palette``) that keep a part's color across
    scales, so a person sees what merged when the slider moves.

    Each part's parent is the coarser part that holds most of its area; the
    part holding the largest piece of each parent keeps the parent's color,
    every other part takes the first palette color that no part here has.
    Without a parent, part k gets color k.

    labels : (F,) int part of every face, 0..P-1; area : (F,) face areas
    parent : None, or (parent labels (F,) int, (Q,) int their palette indices)
    returns (P,) int64 palette index of every part
    """
    labels = np.asarray(labels)
    n = int(labels.max()) + 1 if len(labels) else 0
    if parent is None:
        return np.arange(n, dtype=np.int64)
    parent_labels, parent_index = (np.asarray(a) for a in parent)
    key, inverse = np.unique(labels.astype(np.int64) * (len(parent_index) + 1) + parent_labels, return_inverse=True)
    overlap = np.bincount(inverse.ravel(), weights=area)
    part, owner = key // (len(parent_index) + 1), key % (len(parent_index) + 1)
    best = np.lexsort((-overlap, part))  # per part, its largest overlap first
    first = best[np.r_[True, part[best][1:] != part[best][:-1]]]
    parent_of = np.empty(n, np.int64)
    parent_of[part[first]] = owner[first]
    piece = np.zeros(n)
    piece[part[first]] = overlap[first]  # each part's area inside its parent
    order = np.lexsort((np.arange(n), -piece, parent_of))  # per parent, its largest piece first
    keeps = order[np.r_[True, parent_of[order][1:] != parent_of[order][:-1]]]
    index = np.full(n, -1, np.int64)
    index[keeps] = parent_index[parent_of[keeps]]
    rest = np.nonzero(index < 0)[0]
    free = np.setdiff1d(np.arange(len(rest) + len(keeps)), index[keeps])
    index[rest] = free[:len(rest)]
    return index


def palette_colors(index: np.ndarray) -> np.ndarray:
    """(P, 3) uint8 colors of palette indices (``inherited_colors``)."""
    index = np.asarray(index, np.int64)
    return part_palette(int(index.max()) + 1 if len(index) else 0)[index]


def ladder_colors(labels: np.ndarray, scales, area: np.ndarray) -> list:
    """(P_s, 3) uint8 colors of the parts at every scale, each part keeping
    the color of the part it came from at the next coarser scale
    (``inherited_colors``). labels : (S, F) int; scales : (S,); area : (F,)"""
    out: list = [None] * len(labels)
    parent = None
    for i in np.argsort(-np.asarray(scales, np.float64), kind="stable"):
        index = inherited_colors(labels[i], area, parent)
        out[i] = palette_colors(index)
        parent = (labels[i], index)
    return out


def _hsv_to_rgb(h: np.ndarray, s: np.ndarray, v: np.ndarray) -> np.ndarray:
    """(n,) hue, saturation, value in [0, 1] -> (n, 3) float RGB in [0, 1]."""
    i = np.floor(h * 6).astype(np.int64) % 6
    f = h * 6 - np.floor(h * 6)
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    table = np.stack([np.stack(c, axis=-1) for c in
                      ((v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q))])
    return table[i, np.arange(len(h))]
