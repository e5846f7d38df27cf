"""Parts at every count: a merge tree over the object's finest parts, cut
at any number of parts, so the ladder runs from one part to finer than
people draw with every count on the way, each count nested in the next.

Atoms. The finest parts of the field (its cut at scale 0) and of the
default masks' family, overlaid; each of those is cut again by the
geometry's k-means partition at ``ATOM_CLUSTERS``, so the fine end splits
further where the masks kept nothing finer, and no atom crosses from one
connected piece of the model to another. Fragments under one HDBSCAN
cluster's share of the surface join the neighbour they share the most
boundary with, in their own piece where they have one.

Merges. Average linkage over co-association (evidence accumulation, Fred
and Jain, "Combining multiple clusterings using evidence accumulation",
2005): two faces are alike by the share of an ensemble of partitions that
puts them in one cluster, two parts by the area-weighted average over their
faces' pairs; the most alike touching parts merge first. The ensemble is
the k-means of the spectral embedding at every k the default masks draw
their candidate parts from (``geomasks.kmeans_partitions``): the tree
weighs every candidate the masks were chosen among, not only the kept
ones. Two parts whose union is far from convex cost more to merge (the
share of segments between them that leave the shape,
``geometry.concavity``): parts people draw are nearly convex, so a limb
stays apart from the body while the two halves of a long body join. Atoms
of one group (a finest part of the masks' family) cost less to join than
atoms of two, and parts inside one connected piece of the model less than parts
of two: modellers build parts as pieces (a chair's legs, a mug's handle),
and pieces that touch or overlap are not one surface. Small pieces (eyes,
buttons, bolts) are rarely parts of their own: the cost of crossing to one
shrinks with its share of the surface below PIECE_SHARE.

The ladder (0, 0.1, ..., 2) shows the tree's cuts: 1, 2, ..., LINEAR_COUNTS
parts at the coarse end, then growing by at least one part a step up to
every atom at scale 0 (``ladder_count``).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np

from .clustering import join_fragments, relabel_by_size
from .scales import COARSEST, DEFAULT, STEP, default_scales, key, steps_from_coarse
from .topology import label_links

#: Clusters of the k-means partition that cuts the atoms finer.
ATOM_CLUSTERS = 20
#: Ladder steps from the coarse end that show 1, 2, ... parts, one more each.
LINEAR_COUNTS = 10
#: Merge cost added per unit of the union's concavity, and for crossing
#: from one atom group, or one connected piece, to another (a cost in units
#: of co-association).
CONVEXITY_WEIGHT = 0.75
GROUP_COST = 0.5
PIECE_COST = 0.5
#: A piece under this share of the surface costs PIECE_COST times its share
#: over this to cross to.
PIECE_SHARE = 0.05
#: A connected piece holding at least this share of the surface is one of the
#: model's objects (``opening_scale``); smaller ones are eyes, buttons, bolts.
OBJECT_SHARE = 0.01
#: Weight of a link between two pieces when a fragment picks the neighbour to
#: join, against 1 for a shared edge: a piece's fragment stays in its piece.
ACROSS_PIECES = 1e-3


def overlay(layers: list[np.ndarray], links: np.ndarray, area: np.ndarray, min_share: float,
            order: np.ndarray | None = None, piece: np.ndarray | None = None) -> np.ndarray:
    """(F,) int32 atoms: faces alike in every labeling of ``layers`` and
    connected form one, fragments under ``min_share`` of the area joined
    to a neighbour, of their own ``piece`` where they touch one. layers :
    (F,) int labelings; links : (E, 2) faces that touch; order : (F,) faces,
    ties go by it (``clustering.join_fragments``); piece : (F,) int
    connected piece of every face (``geometry.pieces``), or None."""
    key = np.zeros(len(area), np.int64)
    for layer in layers + ([] if piece is None else [piece]):
        key = key * (int(layer.max()) + 1) + layer
    combined = np.unique(key, return_inverse=True)[1].ravel()
    weight = np.ones(len(links)) if piece is None else np.where(
        piece[links[:, 0]] == piece[links[:, 1]], 1.0, ACROSS_PIECES)
    return join_fragments(combined, links, weight, area, min_share, order)


@dataclass
class MergeTree:
    """A binary merge tree over atoms.

    atoms : (F,) int32 atom of every face, 0..R-1
    merges : (R-1, 2) int32, in order: atom set ``j`` joins atom set ``i``
    size : (R,) float64 the surface of every atom (``topology.surface_area``):
        a cut's parts are numbered by it, largest first, so a part written
        double-sided or lined inside is numbered as it shows
    """

    atoms: np.ndarray
    merges: np.ndarray
    size: np.ndarray

    @property
    def n_atoms(self) -> int:
        return int(self.atoms.max()) + 1 if len(self.atoms) else 0

    def cut(self, count: int) -> np.ndarray:
        """(F,) int32 labels with ``count`` parts (1..n_atoms), numbered by
        their surface, largest first."""
        owner = np.arange(self.n_atoms)
        for i, j in self.merges[:self.n_atoms - int(np.clip(count, 1, self.n_atoms))]:
            owner[owner == j] = owner[i]
        return relabel_by_size(owner, self.size)[self.atoms]

    def at_scale(self, scale: float) -> np.ndarray:
        """(F,) int32 labels the ladder shows at ``scale``: the cut with
        ``ladder_count`` parts."""
        return self.cut(ladder_count(scale, self.n_atoms))


def merge_tree(atoms: np.ndarray, partitions: np.ndarray, area: np.ndarray, links: np.ndarray,
               group: np.ndarray | None = None, concave: np.ndarray | None = None,
               piece: np.ndarray | None = None) -> MergeTree:
    """Average-linkage merge tree of ``atoms`` over the co-association of
    ``partitions``: touching parts merge, the cheapest first; the cost is
    how rarely the partitions put them together, plus CONVEXITY_WEIGHT times
    their area-weighted mean ``concave``, plus GROUP_COST between two
    ``group`` s and PIECE_COST between two ``piece`` s (less to a piece
    under PIECE_SHARE of the area); parts that touch nothing merge last,
    the cheapest first.

    atoms : (F,) int 0..R-1; partitions : (K, F) int, cluster of every face
    in each of K partitions; area : (F,) face areas; links : (E, 2) faces
    that touch; group, piece : (R,) int group and connected piece of every
    atom, or None; concave : (R, R) concavity of every two atoms
    (``geometry.concavity``), or None
    """
    n = int(atoms.max()) + 1
    votes, size, k = _cluster_areas(atoms, n, partitions, area)
    surface = size.copy()  # ``size`` grows as atoms merge
    group = np.full(n, -1) if group is None else np.asarray(group).copy()
    piece = np.zeros(n, np.int64) if piece is None else np.asarray(piece).copy()
    # each piece's share of the area; a part of several pieces (-1) counts as large
    whole = np.append(np.bincount(piece, size) / size.sum(), 1.0)
    # summed over atom pairs weighted by both areas, so merged parts add up
    bent = np.zeros((n, n)) if concave is None else np.asarray(concave, np.float64) * np.outer(size, size)
    pairs = label_links(atoms, links)
    touch = [set() for _ in range(n)]
    for i, j in pairs.tolist():
        touch[i].add(j)
        touch[j].add(i)

    def cost(i, j, far=0.0):
        unlike = 1.0 - float(votes[i] @ votes[j]) / (size[i] * size[j] * k)
        crossing = 0.0 if group[i] >= 0 and group[i] == group[j] else GROUP_COST
        if piece[i] < 0 or piece[i] != piece[j]:
            crossing += PIECE_COST * min(1.0, whole[piece[i]] / PIECE_SHARE, whole[piece[j]] / PIECE_SHARE)
        return unlike + CONVEXITY_WEIGHT * bent[i, j] / (size[i] * size[j]) + crossing + far

    version = np.zeros(n, np.int64)
    heap = [(cost(i, j), i, j, 0, 0) for i, j in pairs.tolist()]
    heapq.heapify(heap)
    alive, merges = set(range(n)), []
    while len(alive) > 1:
        if not heap:  # parts that touch no other: join them too, last
            heap = [(cost(i, j, 4.0), i, j, version[i], version[j]) for i in alive for j in alive if i < j]
            heapq.heapify(heap)
        _, i, j, vi, vj = heapq.heappop(heap)
        if i not in alive or j not in alive or vi != version[i] or vj != version[j]:
            continue
        merges.append((i, j))
        alive.discard(j)
        votes[i] += votes[j]
        size[i] += size[j]
        bent[i] += bent[j]
        bent[:, i] += bent[:, j]
        version[i] += 1
        if group[i] != group[j]:
            group[i] = -1
        if piece[i] != piece[j]:
            piece[i] = -1
        touch[i] = (touch[i] | touch[j]) - {i, j}
        for other in touch[j]:
            touch[other].discard(j)
            if other != i:
                touch[other].add(i)
        touch[j] = set()
        for other in touch[i]:
            x, y = min(i, other), max(i, other)
            heapq.heappush(heap, (cost(x, y), x, y, version[x], version[y]))
    return MergeTree(np.asarray(atoms, np.int32), np.asarray(merges, np.int32).reshape(-1, 2), surface)


def _cluster_areas(atoms: np.ndarray, n: int, partitions: np.ndarray, area: np.ndarray) -> tuple:
    """(n, C) area of every atom in every cluster of every partition, side by
    side; (n,) each atom's area; the number of partitions (at least 1)."""
    blocks = []
    for part in np.asarray(partitions):
        ids = np.unique(part, return_inverse=True)[1].ravel()
        block = np.zeros((n, int(ids.max()) + 1))
        np.add.at(block, (atoms, ids), area)
        blocks.append(block)
    size = np.maximum(blocks[0].sum(axis=1), 1e-300)
    return np.concatenate(blocks, axis=1), size, max(len(blocks), 1)


def ladder_count(scale: float, n_atoms: int) -> int:
    """Parts the ladder shows at ``scale`` (snapped to the nearest of 0, 0.1,
    ..., 2): 1 at 2, one more each step down for LINEAR_COUNTS steps, then
    growing geometrically, by at least one a step, to ``n_atoms`` at 0."""
    steps = len(default_scales())
    step = steps_from_coarse(scale)
    count = 0
    for j in range(step + 1):
        if j < LINEAR_COUNTS or n_atoms <= steps:
            count = j + 1
        else:
            ratio = (n_atoms / LINEAR_COUNTS) ** ((j - LINEAR_COUNTS + 1) / (steps - LINEAR_COUNTS))
            count = max(count + 1, round(LINEAR_COUNTS * ratio))
    return int(min(count, n_atoms))


def opening_scale(piece: np.ndarray, area: np.ndarray) -> float:
    """The scale the app opens an object at: for one built of 2 to
    LINEAR_COUNTS objects (connected pieces of OBJECT_SHARE of its surface
    or more), the step with as many parts, which the piece cost makes its
    objects (a mug's cup and handle, the toy car's body, cabin and four
    wheels, where DEFAULT's 8 parts cut the cup in two and the handle in
    three); else DEFAULT. piece, area : (F,) of every face."""
    share = np.bincount(piece, area) / max(float(np.sum(area)), 1e-300)
    count = int((share >= OBJECT_SHARE).sum())
    return key(COARSEST - STEP * (count - 1)) if 2 <= count <= LINEAR_COUNTS else DEFAULT
