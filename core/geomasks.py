"""The default mask source: no download, no GPU.

It proposes candidate parts at many granularities (k-means of the
commute-time embedding of the face graph, each cluster split into connected
patches), keeps those whose boundary is a real part boundary (short for the
part's size, or running along concave creases), and arranges the kept ones
into a nested family, so that every scale of the field has one clean
partition to learn. The asset's own structure enters first: connected
pieces, scene nodes and materials as parts that are always kept, texture
islands as candidates judged like the rest. Each 3D part
is then drawn into every view as a 2D mask, as SAM's masks would be, and
carries the scale of all its points (DESIGN.md step 5), seen or not.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from sklearn.cluster import KMeans

from .clustering import relabel_by_size
from .geometry import FaceGraph, face_graph, spectral_embedding
from .sampling import node_order
from .topology import first_seen, split_connected, surface_area, texture_islands
from .loading import Asset
from .config import MaskConfig
from .masks import ViewMasks, group_scales, object_box
from .rendering import View
from .sampling import Points

log = logging.getLogger(__name__)

#: Cluster counts of the candidate partitions.
GRANULARITIES = tuple(range(2, 31))
EMBEDDING_SIZE = 16
#: Keep a candidate when its boundary cost is below this (see ``boundary_costs``).
MAX_BOUNDARY_COST = 2.0
#: Dihedral scale of concave creases in the boundary weight.
CREASE_SCALE = 0.05
#: Faces (one per patch) fed to k-means; the rest are assigned to the nearest center.
KMEANS_SAMPLE = 40000
#: k-means starts per k, the best kept: one start lands in a poor local
#: optimum often enough that the family changed with the face order alone.
KMEANS_STARTS = 3
#: Texture islands holding less of the surface than this are not candidates.
MIN_ISLAND_SHARE = 0.01
#: No part holds less of the surface than this: the area of one HDBSCAN
#: cluster (30 of 15,000 points), so nothing smaller can be a part at any
#: scale. Without it a model of thousands of separate leaves or bolts makes
#: a candidate of each, and the masks take minutes.
MIN_PART_SHARE = 0.002


def crease_weight(graph: FaceGraph) -> np.ndarray:
    """(E,) link weight for boundary costs: 1 on smooth or convex links, near 0
    across concave creases (the minima rule: parts meet at concave creases)."""
    return np.exp(-np.where(graph.concave, graph.angle, 0.0) / CREASE_SCALE)


def boundary_costs(labels: np.ndarray, graph: FaceGraph, weighted_length: np.ndarray,
                   area: np.ndarray) -> np.ndarray:
    """(L,) float64 cost of every label's part: crease-weighted boundary
    length over the square root of the smaller side's area, the sides being
    the part and the rest of its connected piece (other pieces are parts
    already): small for a limb behind a narrow neck or a part behind a
    concave crease, large for an arbitrary patch of a smooth surface. All
    labels of a labeling at once, in one pass over the links.

    labels : (F,) int, parts numbered from 0 (-1: in none), each a connected patch
    """
    n = int(labels.max()) + 1
    a, b = labels[graph.pairs[:, 0]], labels[graph.pairs[:, 1]]
    cut = a != b
    length = np.zeros(n)
    for side in (a, b):
        inside = cut & (side >= 0)
        length += np.bincount(side[inside], weighted_length[inside], n)
    on = labels >= 0
    inside = np.bincount(labels[on], area[on], n)
    first = np.full(n, len(labels), np.int64)
    np.minimum.at(first, labels[on], np.nonzero(on)[0])
    piece_area = np.bincount(graph.piece, area)[graph.piece[np.minimum(first, len(labels) - 1)]]
    smaller = np.minimum(inside, piece_area - inside)
    return np.where(smaller > 0, length / np.sqrt(np.maximum(smaller, 1e-300)), 0.0)


def kmeans_partitions(embedding: np.ndarray, graph: FaceGraph, seed: int = 0,
                      order: np.ndarray | None = None) -> np.ndarray:
    """(K, F) int8 cluster of every face in the k-means of the embedding for
    every k in GRANULARITIES (fewer where the patches run out): the
    partitions the candidate parts are cut from, and the ensemble the part
    hierarchy weighs (``hierarchy.merge_tree``). order : (F,) the faces in
    the order k-means sees them (``sampling.node_order``; default by index)."""
    rng = np.random.default_rng(seed)
    nodes = np.unique(graph.patch, return_index=True)[1]  # a patch's faces share their embedding
    nodes = nodes[first_seen(graph.patch, order)]
    fit_on = embedding[nodes if len(nodes) <= KMEANS_SAMPLE else rng.choice(nodes, KMEANS_SAMPLE, replace=False)]
    out = []
    for k in GRANULARITIES:
        if k >= len(fit_on):
            break
        # a start of its own per k, so one unlucky start cannot miss a part at every k
        km = KMeans(k, n_init=KMEANS_STARTS, max_iter=60, random_state=seed * 1000 + k).fit(fit_on)
        out.append(km.predict(embedding).astype(np.int8))
    return np.stack(out) if out else np.zeros((0, len(embedding)), np.int8)


def candidate_parts(partitions: np.ndarray, graph: FaceGraph, area: np.ndarray,
                    weighted_length: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """Connected patches of every cluster of ``partitions`` ((K, F), see
    ``kmeans_partitions``) holding at least MIN_PART_SHARE of the surface: a
    list of (n,) int32 face indices (duplicates included) and their (P,)
    boundary costs. area : (F,) face areas; weighted_length : (E,)
    crease-weighted link lengths."""
    parts, costs = [], []
    for clusters in partitions:
        labels = split_connected(clusters.astype(np.int32), graph.pairs)
        found, which = label_parts(labels, area, MIN_PART_SHARE)
        parts += found
        costs.append(boundary_costs(labels, graph, weighted_length, area)[which])
    return parts, np.concatenate(costs) if costs else np.zeros(0)


def label_parts(labels: np.ndarray, area: np.ndarray, min_share: float) -> tuple[list[np.ndarray], np.ndarray]:
    """(n,) int32 face indices of every label >= 0 that holds at least
    ``min_share`` of the surface, in label order, and those labels.
    labels : (F,) int; area : (F,) face areas."""
    on = np.nonzero(labels >= 0)[0]
    share = np.bincount(labels[on], weights=area[on]) / area.sum()
    order = on[np.argsort(labels[on], kind="stable")].astype(np.int32)
    groups = np.split(order, np.cumsum(np.bincount(labels[on]))[:-1])
    which = np.nonzero(share >= min_share)[0]
    return [groups[lab] for lab in which], which


def nested_family(candidates: list[np.ndarray], costs: np.ndarray, max_cost: float, n_faces: int,
                  tolerance: float = 0.02) -> list[np.ndarray]:
    """Greedily keep the cheapest candidates ((n,) face indices) that nest
    with every kept one: two parts may be disjoint or one inside the other
    (up to ``tolerance`` of the smaller), and a near copy (IoU > 0.9) of a
    kept part is skipped. Returns the kept parts as (F,) bool masks."""
    kept: list[np.ndarray] = []
    sizes: list[int] = []
    for j in np.argsort(costs, kind="stable"):
        if costs[j] > max_cost:
            break
        m = candidates[j]
        n = len(m)
        ok = n > 0
        for other, size in zip(kept, sizes):
            inter = int(np.count_nonzero(other[m]))
            small = min(n, size)
            if inter >= 0.9 * max(n, size):
                ok = False
            elif tolerance * small < inter < (1 - tolerance) * small:
                ok = False
            if not ok:
                break
        if ok:
            mask = np.zeros(n_faces, bool)
            mask[m] = True
            kept.append(mask)
            sizes.append(n)
    return kept


def geometry_segments(asset: Asset, seed: int = 0, graph: FaceGraph | None = None,
                      embedding: np.ndarray | None = None, partitions: np.ndarray | None = None) -> np.ndarray:
    """(L, F) int32 face label layers (-1 = not in a part of that layer): a
    nested family of parts, one layer per nesting depth, the whole object first.
    The asset's own structure enters first: connected pieces, scene nodes and
    materials as parts that are always kept; then texture islands (an
    artist's UV seams often run along part boundaries, but seams also cut
    smooth surfaces, and generated atlases cut anywhere, so an island holding
    MIN_ISLAND_SHARE of the surface is judged by its boundary like any
    candidate), then the embedding's candidates (from ``partitions``, its
    k-means, made here when not given)."""
    mesh = asset.mesh
    order = node_order(asset) if embedding is None or partitions is None else None  # only they use it
    graph = graph or face_graph(mesh)
    if embedding is None:
        embedding = spectral_embedding(mesh, graph, EMBEDDING_SIZE, order=order)
    area = surface_area(mesh, graph.extra)
    weighted_length = crease_weight(graph) * graph.length

    structural = []
    for cue in (graph.piece, asset.face_node, asset.face_material):
        values, which = np.unique(cue, return_inverse=True)
        if len(values) > 1:  # every value a group, -1 (no material) too
            structural += label_parts(which.ravel(), area, MIN_PART_SHARE)[0]
    candidates, costs = [], []
    if asset.has_texture:  # islands first: a tie in cost goes to the boundary two cues agree on
        islands = texture_islands(mesh, asset.corner_uv)
        candidates, which = label_parts(islands, area, MIN_ISLAND_SHARE)
        costs = [boundary_costs(islands, graph, weighted_length, area)[which]]
    if partitions is None:
        partitions = kmeans_partitions(embedding, graph, seed, order)
    found, found_costs = candidate_parts(partitions, graph, area, weighted_length)
    candidates += found
    costs = np.concatenate(costs + [found_costs])
    # nested among the faces that add surface (a part written double-sided is
    # not twice its size there); a face that adds none takes its host's layers
    own = np.flatnonzero(~graph.extra)
    index = np.full(asset.n_faces, -1)
    index[own] = np.arange(len(own))
    surface = [faces[faces >= 0] for faces in (index[m] for m in structural + candidates)]
    parts = nested_family(surface, np.concatenate([np.full(len(structural), -1.0), costs]), MAX_BOUNDARY_COST,
                          len(own))
    log.info("default masks: %d of %d candidate parts kept", len(parts), len(candidates) + len(structural))
    own_layers = nested_layers(parts, len(own))
    layers = np.empty((len(own_layers), asset.n_faces), np.int32)
    layers[:, own] = own_layers
    layers[:, graph.extra] = layers[:, graph.host[graph.extra]]
    return layers


def nested_layers(parts: list[np.ndarray], n_faces: int) -> np.ndarray:
    """Pack a nested family into (L, F) int32 layers by depth; layer 0 is the
    whole object. A part's depth is the number of kept parts holding it
    (more than half of it): its parent's depth plus one, the parent being
    the smallest larger part that holds most of its faces."""
    parts = sorted(parts, key=lambda m: -int(m.sum()))
    owner = np.full(n_faces, -1)  # the smallest part so far holding each face
    depth = []
    for i, m in enumerate(parts):
        faces = np.nonzero(m)[0]
        held = owner[faces]
        held = held[held >= 0]
        parent = np.bincount(held).argmax() if len(held) else -1
        depth.append(depth[parent] + 1 if parent >= 0 and np.count_nonzero(held == parent) > 0.5 * len(faces)
                     else 0)
        owner[faces] = i
    n_layers = 1 + (max(depth) + 1 if depth else 0)
    layers = np.full((n_layers, n_faces), -1, np.int32)
    layers[0] = 0
    count = np.zeros(n_layers, np.int32)
    for m, d in zip(parts, depth):
        layer = layers[d + 1]
        layer[m & (layer < 0)] = count[d + 1]
        count[d + 1] += 1
    return layers


def segment_scales(segments: np.ndarray, points: Points) -> list[np.ndarray]:
    """Per layer, (labels,) float64 3D scale of every segment over all its
    sampled points, seen or not (DESIGN step 5's formula)."""
    out = []
    for layer in segments:
        lab = layer[points.face]
        sel = lab >= 0
        out.append(group_scales(points.xyz[sel], lab[sel], int(layer.max()) + 1))
    return out


def object_view(segments: np.ndarray, scales: list, points: Points, cfg: MaskConfig) -> ViewMasks:
    """The parts over every sampled point at once, as one extra 'view' that
    sees the whole object: parts whose pieces no single rendered view shows
    together (a leg half hidden by a table top) still pull together."""
    columns, kept = [], []
    for layer, scale in zip(segments, scales):
        lab = layer[points.face]
        for label in np.unique(lab[lab >= 0]):
            col = lab == label
            if col.sum() >= cfg.min_points:
                columns.append(col)
                kept.append(scale[label])
    member = np.stack(columns, axis=1) if columns else np.zeros((len(points), 0), bool)
    return ViewMasks(np.arange(len(points), dtype=np.int32), member, np.asarray(kept, np.float32))


def default_layers(views: list[View], segments: np.ndarray) -> list[np.ndarray]:
    """Per view, (L, H, W) int32 label layers: each 3D segment's visible pixels."""
    out = []
    for view in views:
        layers = np.full((len(segments),) + view.face.shape, -1, np.int32)
        box = object_box(view.face >= 0)
        face = view.face[box]
        layers[:, box[0], box[1]] = np.where(face >= 0, segments[:, np.maximum(face, 0)], -1)
        out.append(layers)
    return out


@dataclass
class MaskParts:
    """The default masks' nested family, kept with the fit: its finest parts
    are atoms of the part tree, before the field is fitted and after
    (``partfield.part_tree``).

    segments : (L, F) int32 label layers (``geometry_segments``), -1 = none
    scales : per layer, (labels,) float 3D scale of each segment (``segment_scales``)
    """

    segments: np.ndarray
    scales: list

    def finest(self) -> np.ndarray:
        """(F,) int32 every face in the smallest segment holding it (the one
        rule of groups, ``masks.group_table``, below every scale; of equal
        ones, the first layer's), contiguous from 0, largest first."""
        smallest = np.full(self.segments.shape[1], np.inf)
        pick = np.zeros(self.segments.shape[1], np.int64)
        first = 0  # segments are numbered layer by layer
        for layer, scale in zip(self.segments, self.scales):
            here = np.where(layer >= 0, np.asarray(scale, np.float64)[np.maximum(layer, 0)], np.inf)
            finer = here < smallest
            smallest[finer], pick[finer] = here[finer], first + layer[finer]
            first += len(scale)
        return relabel_by_size(pick)
