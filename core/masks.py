"""2D masks per view, from any source, turned into what the field trains on:
for every view, the sampled points it sees and which masks hold each of them,
with every mask's 3D scale (DESIGN.md steps 3-5).

A source yields, per view, a stack of label images ``(L, H, W) int32`` (-1 =
no mask). A label image can hold many disjoint masks (the default source
draws one layer per granularity) or one mask (SAM: one layer per mask).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from .config import MaskConfig
from .rendering import View
from .sampling import Points

log = logging.getLogger(__name__)


@dataclass
class ViewMasks:
    """The masks of one view, over the sampled points it sees.

    points : (n,) int32, sampled points visible in the view
    member : (n, M) bool, point i lies in mask j
    scales : (M,) float32, 3D scale of every mask
    """

    points: np.ndarray
    member: np.ndarray
    scales: np.ndarray


def mask_scale(xyz: np.ndarray) -> float:
    """DESIGN step 5: || 10 * std(xyz) ||, per-axis standard deviation.

    xyz : (n, 3) float, the mask's points
    """
    return float(np.linalg.norm(10.0 * np.asarray(xyz, np.float64).std(axis=0)))


def group_scales(xyz: np.ndarray, group: np.ndarray, n_groups: int = 0) -> np.ndarray:
    """(G,) float64 ``mask_scale`` of every group at once (0 for empty ones).

    xyz : (n, 3) float point positions; group : (n,) int group 0..G-1 of each
    """
    xyz = np.asarray(xyz, np.float64)
    count = np.bincount(group, minlength=n_groups)
    safe = np.maximum(count, 1)[:, None]
    mean = np.stack([np.bincount(group, xyz[:, c], len(count)) for c in range(3)], 1) / safe
    sq = np.stack([np.bincount(group, xyz[:, c] ** 2, len(count)) for c in range(3)], 1) / safe
    return np.linalg.norm(10.0 * np.sqrt(np.maximum(sq - mean ** 2, 0)), axis=1)


def group_table(member: np.ndarray, scales: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every point's group at every scale, at once: the one rule of groups,
    which the field is trained to follow (``pairs``) and the default masks'
    finest parts follow (``geomasks.MaskParts``). At scale s a point's group
    is the smallest mask holding it whose scale reaches s; past every mask,
    its largest (containment); -1 where no mask holds it.

    member : (n, M) bool; scales : (M,)
    returns ((M,) sorted mask scales, (n, M + 1) int32 table): at scale s,
    with k the number of masks below s, column k holds each point's group
    (a mask index)
    """
    order = np.argsort(scales, kind="stable")
    m = member[:, order]
    n, n_masks = m.shape
    table = np.empty((n, n_masks + 1), np.int32)
    held = m.any(axis=1)
    table[:, n_masks] = np.where(held, order[n_masks - 1 - np.argmax(m[:, ::-1], axis=1)] if n_masks else -1, -1)
    for k in range(n_masks - 1, -1, -1):
        table[:, k] = np.where(m[:, k], order[k], table[:, k + 1])
    return np.asarray(scales)[order], table


def pixel_points(view: View, tree: cKDTree, radius: float) -> np.ndarray:
    """(H, W) int32: nearest sampled point of the surface point each pixel
    sees, -1 for background or when none lies within ``radius``."""
    out = np.full(view.face.shape, -1, np.int32)
    valid = view.face >= 0
    if valid.any():
        xyz = view.points()[valid]
        dist, idx = tree.query(xyz, distance_upper_bound=radius, workers=-1)
        idx[~np.isfinite(dist)] = -1
        out[valid] = idx
    return out


def erode_labels(labels: np.ndarray) -> np.ndarray:
    """Keep a pixel's label where at least 5 of its 3x3 block share it (DESIGN
    step 3's 3x3 box sum >= 5). labels : (..., H, W) int, -1 none."""
    pad = np.pad(labels, [(0, 0)] * (labels.ndim - 2) + [(1, 1), (1, 1)], constant_values=-1)
    h, w = labels.shape[-2:]
    count = np.zeros(labels.shape, np.int8)
    for dy in range(3):
        for dx in range(3):
            count += pad[..., dy:dy + h, dx:dx + w] == labels
    return np.where((labels >= 0) & (count >= 5), labels, -1)


def object_box(on: np.ndarray) -> tuple[slice, slice]:
    """Rows and columns of the box around the True pixels of ``on`` (H, W),
    one pixel wider on every side: all a 3x3 erosion of them reads."""
    rows, cols = np.nonzero(on.any(axis=1))[0], np.nonzero(on.any(axis=0))[0]
    if not len(rows):
        return slice(0, 0), slice(0, 0)
    return slice(max(rows[0] - 1, 0), rows[-1] + 2), slice(max(cols[0] - 1, 0), cols[-1] + 2)


def view_masks(layers: np.ndarray, pix: np.ndarray, xyz: np.ndarray, cfg: MaskConfig,
               label_scales: list | None = None) -> ViewMasks:
    """Turn one view's label layers into masks over sampled points.

    layers : (L, H, W) int32 label images, -1 = none
    pix : (H, W) int32 pixel -> sampled point (-1 none)
    xyz : (N, 3) float32 sampled point positions
    label_scales : per layer a (labels,) float array of known 3D scales (a
        source that knows its masks' whole 3D extent), or None: the scale
        then comes from the points the view sees, and masks reaching
        ``cfg.max_scale`` are dropped (the paper's rule for SAM masks)
    """
    box = object_box(pix >= 0)  # the object fills a part of the view: erode that part only
    layers, pix = erode_labels(layers[:, box[0], box[1]]), pix[box]
    seen = pix >= 0
    pts = pix[seen]
    visible = np.unique(pts)
    local = np.searchsorted(visible, pts)
    n = len(visible)
    pos = xyz[visible].astype(np.float64)
    columns, scales = [], []
    for i, layer in enumerate(layers):
        lab = layer[seen]
        ok = lab >= 0
        if not ok.any():
            continue
        # unique (mask, point) pairs, as one int64 key each
        key = np.unique(lab[ok].astype(np.int64) * n + local[ok])
        label, mask_of = np.unique(key // n, return_inverse=True)
        point = key % n
        count = np.bincount(mask_of)
        if label_scales is not None:
            scale = np.asarray(label_scales[i], np.float64)[label]
            keep = count >= cfg.min_points
        else:
            scale = group_scales(pos[point], mask_of)
            keep = (count >= cfg.min_points) & (scale < cfg.max_scale)
        col = np.zeros((n, len(count)), bool)
        col[point, mask_of] = True
        columns.append(col[:, keep])
        scales.append(scale[keep])
    member = np.concatenate(columns, axis=1) if columns else np.zeros((n, 0), bool)
    scales = np.concatenate(scales) if scales else np.zeros(0)
    return ViewMasks(visible.astype(np.int32), member, scales.astype(np.float32))


def drop_background_masks(masks: np.ndarray, face: np.ndarray, max_background: float) -> np.ndarray:
    """Keep masks that cover an object pixel and at most ``max_background``
    of the background. masks : (M, H, W) bool, face : (H, W) int32."""
    obj = face >= 0
    bg = max(int((~obj).sum()), 1)
    on_obj = (masks & obj).reshape(len(masks), -1).any(axis=1)
    on_bg = (masks & ~obj).reshape(len(masks), -1).sum(axis=1) / bg
    return masks[on_obj & (on_bg <= max_background)]


def masks_to_layers(masks: np.ndarray) -> np.ndarray:
    """(M, H, W) bool -> (M, H, W) int32 label layers, one mask per layer."""
    return np.where(masks, 0, -1).astype(np.int32)


def build_view_masks(views: list[View], layers_per_view: list[np.ndarray], points: Points,
                     cfg: MaskConfig, label_scales: list | None = None) -> list[ViewMasks]:
    """Masks of every view over the sampled points (DESIGN steps 3-5)."""
    tree = cKDTree(points.xyz)
    out = []
    for view, layers in zip(views, layers_per_view):
        pix = pixel_points(view, tree, cfg.pixel_radius)
        out.append(view_masks(layers, pix, points.xyz, cfg, label_scales))
    n = sum(v.member.shape[1] for v in out)
    log.info("masks: %d over %d views", n, len(out))
    return out
