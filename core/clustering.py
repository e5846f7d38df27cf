"""Parts at one scale (DESIGN.md step 8): HDBSCAN over the point features,
noise to the nearest labelled point, faces vote, unvoted faces copy the
nearest voted face; then a part spread over separate regions of one surface
becomes one part per region."""

from __future__ import annotations

import heapq
import logging
import warnings

import numpy as np
from scipy.spatial import cKDTree

from .config import ClusterConfig
from .topology import first_seen, split_connected

log = logging.getLogger(__name__)

#: Features within one cell of this size (per axis) count as one place for the
#: clusterer, which keeps at most ``min_samples`` points per cell: a fitted
#: field packs a part's points into near-duplicates, and thousands of them
#: make HDBSCAN's neighbor search slow while adding nothing (every core
#: distance in a full cell stays within the cell's size).
FEATURE_CELL = 2e-3


def cluster_points(features: np.ndarray, xyz: np.ndarray, cfg: ClusterConfig) -> np.ndarray:
    """(N,) int32 point labels >= 0: HDBSCAN clusters, noise points taking the
    label of the nearest labelled point in space; all one cluster when no gap
    between the features reaches ``cfg.epsilon``.

    features : (N, D) float32; xyz : (N, 3) float32
    """
    import hdbscan

    n = len(features)
    if n <= cfg.min_cluster_size:
        return np.zeros(n, np.int32)
    keep, cell = thin_duplicates(features, FEATURE_CELL, cfg.min_samples)
    if keep.sum() <= cfg.min_cluster_size:  # every point in one cell: one part
        return np.zeros(n, np.int32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # hdbscan warns about sklearn internals it uses
        clusterer = hdbscan.HDBSCAN(
            min_cluster_size=cfg.min_cluster_size, min_samples=cfg.min_samples,
            cluster_selection_epsilon=cfg.epsilon,
            core_dist_n_jobs=1,  # hdbscan parallelizes only above 16,384 points, with processes
        ).fit(features[keep].astype(np.float64))
    # HDBSCAN never selects its root, so it splits even a blob that is all one
    # group: when every point links to the rest within epsilon, it is one part
    if clusterer.single_linkage_tree_.to_numpy()[-1, 2] < cfg.epsilon:
        return np.zeros(n, np.int32)
    kept = clusterer.labels_
    by_cell = np.full(cell.max() + 1, -1, np.int32)
    by_cell[cell[keep]] = kept
    labels = by_cell[cell]
    noise = labels < 0
    if noise.all():
        return np.zeros(n, np.int32)
    if noise.any():
        _, nn = cKDTree(xyz[~noise]).query(xyz[noise], workers=-1)
        labels[noise] = labels[~noise][nn]
    return labels


def thin_duplicates(features: np.ndarray, cell: float, cap: int) -> tuple[np.ndarray, np.ndarray]:
    """Keep the first ``cap`` points of every grid cell of size ``cell``.

    features : (N, D) float; returns ((N,) bool kept, (N,) int cell of each point)
    """
    key = np.floor(features / cell).astype(np.int64)
    order = np.lexsort(key.T[::-1])  # stable: a cell's points stay in index order
    ordered = key[order]
    starts = np.concatenate([[True], (ordered[1:] != ordered[:-1]).any(axis=1)])
    sorted_cell = np.cumsum(starts) - 1
    cell_id = np.empty(len(key), np.int64)
    cell_id[order] = sorted_cell
    rank = np.empty(len(key), np.int64)
    rank[order] = np.arange(len(key)) - np.flatnonzero(starts)[sorted_cell]
    return rank < cap, cell_id


def vote_faces(point_labels: np.ndarray, point_face: np.ndarray, donor: np.ndarray) -> np.ndarray:
    """(F,) int32 face labels: the point label most of a face's points carry,
    a face without points taking its donor's (``split_regions`` then numbers
    the parts by size).

    point_labels : (N,) int >= 0; point_face : (N,) int face of each point;
    donor : (F,) int from ``vote_donors``
    """
    votes = np.zeros((len(donor), int(point_labels.max()) + 1), np.int32)
    np.add.at(votes, (point_face, point_labels), 1)
    return votes.argmax(axis=1).astype(np.int32)[donor]


def vote_donors(point_face: np.ndarray, face_centers: np.ndarray) -> np.ndarray:
    """(F,) int: each face itself where it holds a sampled point, else the
    nearest face that does (the same at every scale, so found once).

    point_face : (N,) int face of each point; face_centers : (F, 3)
    """
    donor = np.arange(len(face_centers))
    voted = np.zeros(len(face_centers), bool)
    voted[point_face] = True
    return copy_nearest(donor, voted, face_centers)


def split_regions(labels: np.ndarray, links: np.ndarray, face_centers: np.ndarray, area: np.ndarray,
                  min_share: float) -> np.ndarray:
    """(F,) int32 face labels where a part the field spreads over several
    regions of one surface (a left and a right hand it cannot tell apart)
    becomes one part per region. Separate pieces that do not touch may still
    share a part (the coarse end stays the whole object). A region under
    ``min_share`` of the surface area that was split off is a fragment and
    joins the nearest region.

    labels : (F,) int; links : (E, 2) faces that touch (``geometry.surface_links``);
    face_centers : (F, 3); area : (F,) the surface each face adds (``topology.surface_area``)
    """
    labels = np.asarray(labels)
    regions = split_connected(labels, links)
    surface = split_connected(np.zeros_like(labels), links)
    first = np.unique(regions, return_index=True)[1]
    label, where = labels[first], surface[first]  # per region
    _, key, n_alike = np.unique(np.stack([label, where], axis=1), axis=0, return_inverse=True,
                                return_counts=True)
    split = n_alike[key.ravel()] > 1  # its label has other regions on the same surface
    part = np.where(split, label.max() + 1 + np.arange(len(first)), label)[regions]
    fragment = (split & (np.bincount(regions, weights=area) < min_share * area.sum()))[regions]
    if not fragment.all():
        part = copy_nearest(part, ~fragment, face_centers)
    return relabel_by_size(part, area)


def join_fragments(labels: np.ndarray, links: np.ndarray, weight: np.ndarray, area: np.ndarray,
                   min_share: float, order: np.ndarray | None = None) -> np.ndarray:
    """(F,) int32 connected parts numbered from 0: every connected region of
    ``labels`` is a part, and one under ``min_share`` of the surface area
    joins the neighbour it shares the most boundary ``weight`` with (the
    smallest first, until none is left that has a neighbour).

    labels : (F,) int; links : (E, 2) faces that touch; weight : (E,) boundary
    weight of each link (its length, or 1); area : (F,) face areas; order :
    (F,) faces, the regions numbered as their first faces come in it (ties
    fall to the lower number; default: the faces' own order)
    """
    region = split_connected(np.asarray(labels), links)
    region = np.argsort(first_seen(region, order))[region]
    n = int(region.max()) + 1
    size = np.bincount(region, area, n)
    a, b = region[links[:, 0]], region[links[:, 1]]
    cut = a != b
    border = [dict() for _ in range(n)]  # region -> {neighbour: shared boundary weight}
    for i, j, w in zip(a[cut].tolist(), b[cut].tolist(), np.asarray(weight, np.float64)[cut].tolist()):
        border[i][j] = border[i].get(j, 0.0) + w
        border[j][i] = border[j].get(i, 0.0) + w
    owner = np.arange(n)
    least = min_share * area.sum()
    heap = [(size[i], i) for i in range(n) if size[i] < least]
    heapq.heapify(heap)
    while heap:
        s, i = heapq.heappop(heap)
        if owner[i] != i or s != size[i] or not border[i]:
            continue  # joined already, grown since, or alone
        j = max(border[i], key=lambda r: (border[i][r], -r))
        owner[i] = j
        size[j] += size[i]
        for other, w in border[i].items():
            del border[other][i]
            if other != j:
                border[j][other] = border[j].get(other, 0.0) + w
                border[other][j] = border[other].get(j, 0.0) + w
        border[i] = {}
        if size[j] < least:
            heapq.heappush(heap, (size[j], j))
    while (owner[owner] != owner).any():  # follow joins made into regions that joined later
        owner = owner[owner]
    return np.unique(owner[region], return_inverse=True)[1].astype(np.int32)


def on_own_pieces(labels: np.ndarray, piece: np.ndarray, face_centers: np.ndarray, area: np.ndarray) -> np.ndarray:
    """(F,) ``labels`` where a label keeps only the connected piece that
    holds most of its area: on another piece its faces take the nearest
    label at home there. The field lends a wheel's label to the body faces
    beside it (its features follow position); those faces are the body's.
    A piece with no label of its own (a bolt) keeps the labels it has.

    labels, piece : (F,) int; face_centers : (F, 3); area : (F,)
    """
    cells, inverse = np.unique(np.stack([labels, piece], axis=1), axis=0, return_inverse=True)
    cell_area = np.bincount(inverse.ravel(), area)
    best = np.zeros(int(labels.max()) + 1)
    np.maximum.at(best, cells[:, 0], cell_area)
    native = (cell_area >= best[cells[:, 0]])[inverse.ravel()]
    mixed = np.nonzero((np.bincount(piece[native], minlength=piece.max() + 1) > 0)
                       & (np.bincount(piece[~native], minlength=piece.max() + 1) > 0))[0]
    if not len(mixed):
        return labels
    out = np.asarray(labels).copy()
    order = np.argsort(piece, kind="stable")  # each piece's faces, without a pass over all faces per piece
    bounds = np.searchsorted(piece[order], np.stack([mixed, mixed + 1]))
    for start, end in bounds.T:
        on = order[start:end]
        out[on] = copy_nearest(out[on], native[on], face_centers[on])
    return out


def copy_nearest(labels: np.ndarray, known: np.ndarray, face_centers: np.ndarray) -> np.ndarray:
    """``labels`` with every face not ``known`` taking the label of the nearest known face."""
    if not known.all():
        labels = labels.copy()
        _, nn = cKDTree(face_centers[known]).query(face_centers[~known], workers=-1)
        labels[~known] = labels[known][nn]
    return labels


def relabel_by_size(labels: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """(F,) int32 labels renumbered 0..P-1 by decreasing size: the number of
    faces, or the sum of their ``weights`` ((F,), their surface); ties by old id."""
    uniq, inverse = np.unique(labels, return_inverse=True)
    size = np.bincount(inverse, weights=weights, minlength=len(uniq))
    order = np.lexsort((uniq, -size))
    rank = np.empty(len(uniq), np.int32)
    rank[order] = np.arange(len(uniq), dtype=np.int32)
    return rank[inverse.ravel()]
