"""Surface structure the default masks are built from: the face adjacency
graph with concavity- and thickness-aware weights, its spectral
(commute-time) embedding, and connected pieces."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components
from scipy.sparse.linalg import ArpackNoConvergence, eigsh
from scipy.spatial import cKDTree

from .rays import cast, ray_scene
from .sampling import face_normals
from .topology import edge_pairs, first_seen, label_links, split_connected, surface_area, unique_rows, without_area

log = logging.getLogger(__name__)

#: Change of log thickness between neighbors that weakens their link by 1/e.
THICKNESS_SCALE = 0.05
#: A shape-diameter ray goes on through another piece's face this near its
#: start, in model diagonals: pieces that touch face to face overlap by up to
#: a quantization step once a file's positions are quantized (Draco's 11 bits
#: over the model's size: 5e-4), and that face is not the far side of the part.
TOUCH = 1e-3
#: Above this many faces, the shape diameter and the spectral embedding are
#: computed per patch of neighbouring faces (about PATCHES of them) and copied
#: to the patch's faces: on an 800k-face scan the embedding alone took 220 s
#: and 3.5 GB; the parts are found on 15,000 sampled points anyway.
MAX_FACES = 60_000
PATCHES = 40_000
#: The most patches a model is ever cut into (see ``face_patches``): the
#: embedding's cost grows with it, and a 1M-face scene of 11,000 separate
#: pieces had 187,000 patches that never span a crease.
MAX_PATCHES = 60_000
#: Shift-invert eigensolver tries (shift, restarts allowed), see
#: ``smallest_eigenpairs``: a few restarts do on one connected model; a scene
#: of 122 machines has eigenvalues of 3e-8 .. 1e-7 that only the second
#: separates (tried first where components were bridged).
SHIFTS = ((-1e-3, 30), (-1e-6, 100))
#: Two faces whose normals' cosine is below FOLD lie nearly back to back (a
#: fin, a card's two sides): their link is a concave crease only where the
#: corner off the edge stands FOLD_HEIGHT of the edge's length off the other
#: face's plane, so that rounding (a text file's digits, a rotation) does not
#: pick the side (a bearing written rotated had 240 of its 497 folds turned
#: concave, and every crease's scale halved).
FOLD = -0.99
FOLD_HEIGHT = 1e-4
#: Sampled points per atom whose segments judge how convex two atoms are
#: together (``concavity``), and the most points in all: the segments grow
#: with the square of their number (1,600 points: 1.3 million rays).
CONVEXITY_POINTS = 32
CONVEXITY_BUDGET = 1600
#: A segment may leave its point this far along the surface (cosine of the
#: angle to the tangent plane): points on one flat face see each other.
TANGENT_SLACK = 0.05
#: A segment's ray starts this far along it (in model sizes), past its own face.
RAY_START = 1e-4


@dataclass
class FaceGraph:
    """Faces as nodes, shared edges as links (vertices merged by position).

    pairs : (E, 2) int64, adjacent faces
    angle : (E,) float64, 1 - cos(dihedral angle), 0 flat .. 2 folded
    concave : (E,) bool, the crease between the two faces is concave
    length : (E,) float64, length of the shared edge (0 for proximity links)
    piece : (F,) int32, connected piece of each face over shared edges
    thickness : (F,) float64, log shape diameter, smoothed over neighbouring
        faces (above MAX_FACES over neighbouring patches, each one value)
    patch : (F,) int32, the patch of each face (``face_patches``)
    host : (F,) int64, for a face that adds no surface the face it goes with
        (``topology.extra_faces``; linked to it only, and in its patch), else -1
    """

    pairs: np.ndarray
    angle: np.ndarray
    concave: np.ndarray
    length: np.ndarray
    piece: np.ndarray
    thickness: np.ndarray
    patch: np.ndarray
    host: np.ndarray

    @property
    def extra(self) -> np.ndarray:
        """(F,) bool the faces that add no surface."""
        return self.host >= 0

    @property
    def n_faces(self) -> int:
        return len(self.piece)


def pieces(mesh, pairs: np.ndarray | None = None) -> np.ndarray:
    """(F,) int32 the connected piece of every face: faces joined by shared
    edges (vertices merged by position) or across seams (``pairs``,
    ``topology.edge_pairs``' links, when already found)."""
    pairs = edge_pairs(mesh)[2] if pairs is None else pairs
    return split_connected(np.zeros(len(mesh.faces), np.int32), pairs)


def surface_links(mesh, pairs: np.ndarray | None = None, piece: np.ndarray | None = None) -> np.ndarray:
    """(E, 2) int64 links between faces that touch: a shared edge (or seam),
    or, between separate pieces of the model, proximity (see
    ``proximity_links``), in that order (the edge links' rows first); from
    the edge links ``pairs`` (``topology.edge_pairs``) and ``piece``
    (``pieces``) when already found."""
    pairs = edge_pairs(mesh)[2] if pairs is None else pairs
    piece = pieces(mesh, pairs) if piece is None else piece
    return np.concatenate([pairs, proximity_links(np.asarray(mesh.triangles_center), piece)])


def face_graph(mesh, workers: int = 1, merged: tuple | None = None) -> FaceGraph:
    """Adjacency over shared (merged) edges, with dihedral angle and concavity
    (the shape diameter's rays cast on ``workers`` threads); ``merged``:
    ``topology.surface(mesh)`` when already found."""
    faces, verts, pairs, shared, host = edge_pairs(mesh, merged)
    n_faces = len(faces)
    extra = host >= 0
    cos, concave, scale = dihedral(faces, verts, pairs, shared, extra)
    piece = pieces(mesh, pairs)
    area = surface_area(mesh, extra)
    # a patch never spans a crease that alone would halve a link
    smooth_links = pairs[crease(1.0 - cos, concave) < np.log(2.0)]
    patch = face_patches(np.asarray(mesh.triangles_center), area, smooth_links, pairs)
    if extra.any():  # a face that adds no surface is its host's: no node, no rays of its own
        patch = patch.copy()
        patch[extra] = patch[host[extra]]
        patch = np.unique(patch, return_inverse=True)[1].astype(np.int32)
    # each patch's largest face that adds surface stands for it (every face, below MAX_FACES)
    order = np.lexsort((-area, patch))
    first = order[np.unique(patch[order], return_index=True)[1]]
    diameter = np.log(np.maximum(shape_diameter(mesh, faces=first, piece=piece, solid=~extra, workers=workers), 1e-6))
    if in_patches(area):  # smoothed over the patches, as over the faces below MAX_FACES
        thickness = smooth(diameter, label_links(patch, pairs), len(first))[patch]
    else:
        thickness = smooth(diameter[patch], pairs, n_faces, weight=~extra)
    return FaceGraph(pairs=pairs, angle=1.0 - cos, concave=concave, length=scale,
                     piece=piece, thickness=thickness, patch=patch, host=host)


def dihedral(faces: np.ndarray, verts: np.ndarray, pairs: np.ndarray, shared: np.ndarray,
             extra: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Across every link of ``topology.edge_pairs``: (E,) cos of the angle
    between the two face normals, (E,) bool concave crease, (E,) length of
    the shared edge. extra : (F,) bool faces that add no surface
    (``topology.extra_faces``; default: those without area): their links
    bend nothing, their normal being rounding, none, or their host's."""
    normals = face_normals(verts, faces)
    cos = np.clip(np.einsum("ij,ij->i", normals[pairs[:, 0]], normals[pairs[:, 1]]), -1, 1)
    still = (without_area(verts, faces) if extra is None else extra)[pairs].any(axis=1)
    cos[still] = 1.0
    # the corner of face b off the shared edge lies in front of face a's plane: concave
    fb = faces[pairs[:, 1]]
    off = np.where((fb != shared[:, :1]) & (fb != shared[:, 1:]), fb, -1).max(axis=1)
    height = np.einsum("ij,ij->i", verts[off] - verts[shared[:, 0]], normals[pairs[:, 0]])
    length = np.linalg.norm(verts[shared[:, 0]] - verts[shared[:, 1]], axis=1)
    # folded back to back, the off corner lies in the other plane up to rounding
    off_plane = np.where(cos < FOLD, FOLD_HEIGHT, 1e-9) * np.maximum(length, 1e-12)
    return cos, (height > off_plane) & ~still, length


def in_patches(area: np.ndarray) -> bool:
    """Whether the face graph works on patches (``face_patches``): more than
    MAX_FACES faces add surface (``area``, (F,) ``topology.surface_area``)."""
    return np.count_nonzero(area) > MAX_FACES


def face_patches(centroids: np.ndarray, area: np.ndarray, pairs: np.ndarray,
                 links: np.ndarray | None = None) -> np.ndarray:
    """(F,) int32 patch of every face, numbered from 0: every face its own
    patch up to MAX_FACES faces that add surface; above, faces that share a
    grid cell (sized for about PATCHES cells on the surface) and are joined
    by ``pairs``.
    Never more than MAX_PATCHES patches: where that gives more (thousands of
    small separate pieces, faceted surfaces, thin walls), pieces smaller than
    a cell are pooled per cell, then patches may span any of ``links``, then
    the cells grow (so patches span any link, cut where the surface parts),
    until it does not.

    centroids : (F, 3); area : (F,) the surface each face adds
    (``topology.surface_area``: a back's, an inner wall's none); pairs :
    (E, 2) links that a patch may span; links : (E', 2) all links between
    faces (default ``pairs``)
    """
    n_faces = len(centroids)
    if not in_patches(area):
        return np.arange(n_faces, dtype=np.int32)
    links = pairs if links is None else links
    cell = np.sqrt(area.sum() / PATCHES)
    piece = split_connected(np.zeros(n_faces, np.int32), links)
    while True:  # a cell as large as the model holds one patch
        cells = grid_cells(centroids, cell)
        small = np.nonzero((np.bincount(piece, area) < cell**2)[piece])[0]
        # each small piece's faces linked to the first small face of their cell
        first = np.full(cells.max() + 1, -1, np.int64)
        first[cells[small[::-1]]] = small[::-1]
        pooled = np.stack([small, first[cells[small]]], axis=1)
        for spans in (pairs, np.concatenate([pairs, pooled]), np.concatenate([links, pooled])):
            patch = split_connected(cells, spans)
            if patch.max() < MAX_PATCHES:
                log.info("%d faces in %d patches", n_faces, patch.max() + 1)
                return patch
        # larger cells, still cut where the surface parts: a plain cell would join a cup's two walls
        cell *= np.sqrt(2.0)


def grid_cells(centroids: np.ndarray, size: float) -> np.ndarray:
    """(F,) int32 grid cell of every centroid, cells of side ``size``, numbered from 0."""
    key = np.floor(centroids / max(size, 1e-12)).astype(np.int64)
    return unique_rows(key)[1].astype(np.int32)


def shape_diameter(mesh, n_rays: int = 32, cone_deg: float = 60.0, seed: int = 0,
                   faces: np.ndarray | None = None, piece: np.ndarray | None = None,
                   solid: np.ndarray | None = None, workers: int = 1) -> np.ndarray:
    """(F,) float64 shape diameter function (Shapira et al.): the median length
    of rays cast inward from each face's centroid, in a cone around the
    inverted normal. The rays are laid out in each face's own frame (its
    longest edge, in both directions), so the same face gets the same rays
    however the model is turned. Faces whose rays all miss (open or
    inside-out surfaces) get the median of the rest.

    faces : (F',) int, the faces to cast from (default: all); then (F',)
    piece : (F,) int, the connected piece of every face of the mesh; a ray
    goes on through another piece's face within ``TOUCH`` of its start
    solid : (F,) bool, the faces a ray stops at (default: all; not the faces
    that add no surface, ``topology.extra_faces``: a hollowed print's inner wall)
    """
    which = np.arange(len(mesh.faces)) if faces is None else np.asarray(faces)
    vertices, faces = np.asarray(mesh.vertices, np.float64), np.asarray(mesh.faces)[which]
    normals = face_normals(vertices, faces)
    n_faces = len(normals)
    rng = np.random.default_rng(seed)
    z = rng.uniform(np.cos(np.radians(cone_deg)), 1.0, n_rays // 2)
    phi = rng.uniform(0.0, 2 * np.pi, n_rays // 2)
    # each ray and its mirror across the cone's axis: an edge's two directions give one set
    z, phi = np.r_[z, z], np.r_[phi, phi + np.pi]
    r = np.sqrt(1.0 - z * z)
    # an orthonormal frame (u, w, inward) per face, u along its longest edge
    tri = vertices[faces]
    edges = tri[:, [1, 2, 0]] - tri
    u = edges[np.arange(n_faces), np.argmax(np.linalg.norm(edges, axis=2), axis=1)]
    u /= np.maximum(np.linalg.norm(u, axis=1, keepdims=True), 1e-12)
    inward = -normals
    w = np.cross(inward, u)
    dirs = ((r * np.cos(phi))[None, :, None] * u[:, None] + (r * np.sin(phi))[None, :, None] * w[:, None]
            + z[None, :, None] * inward[:, None]).reshape(-1, 3)
    origins = np.repeat(tri.mean(axis=1) - 1e-5 * normals, len(z), axis=0)
    scene, stops = solid_scene(mesh, solid)
    hit = cast(scene, origins.astype(np.float32), dirs.astype(np.float32), workers)
    length = np.where(hit["geomID"] >= 0, hit["tfar"], np.nan)
    if piece is not None:
        near = TOUCH * float(np.linalg.norm(np.ptp(vertices, axis=0)))
        start, face = np.repeat(piece[which], len(z)), stops[hit["primID"]]
        for _ in range(3):
            through = np.nonzero((length < near) & (piece[face] != start))[0]
            if not len(through):
                break
            step = length[through] + 1e-5
            again = cast(scene, (origins[through] + step[:, None] * dirs[through]).astype(np.float32),
                         dirs[through].astype(np.float32), workers)
            length[through] = np.where(again["geomID"] >= 0, again["tfar"] + step, np.nan)
            face[through] = stops[again["primID"]]
    length = length.reshape(n_faces, len(z))
    seen = ~np.isnan(length).all(axis=1)
    out = np.full(n_faces, 1.0)
    if seen.any():
        out[seen] = np.nanmedian(length[seen], axis=1)
        out[~seen] = np.median(out[seen])
    return out


def solid_scene(mesh, solid: np.ndarray | None = None):
    """The ray scene (``rays.ray_scene``) of ``mesh``'s faces ``solid`` ((F,)
    bool, default all) and (F'+1,) int64 each hit's face (a miss's -1 last)."""
    stops = np.arange(len(mesh.faces)) if solid is None else np.flatnonzero(solid)
    return ray_scene(mesh.vertices, np.asarray(mesh.faces)[stops]), np.append(stops, -1)


def concavity(mesh, xyz: np.ndarray, normal: np.ndarray, owner: np.ndarray, n: int, seed: int = 0,
              workers: int = 1, solid: np.ndarray | None = None) -> np.ndarray:
    """(n, n) float64, for every two atoms the share of segments between
    their points that do not run inside the shape (approximate convexity, as
    in Kaick et al., "Shape segmentation by approximate convexity analysis",
    2014): a segment runs inside when it leaves its first point into the
    surface (against the normal), reaches the second from inside, and meets
    no face on the way. Two halves of one convex part: near 0; a limb and
    the body it hangs from: well above. Up to CONVEXITY_POINTS points an atom,
    drawn in the order given.

    xyz, normal : (N, 3) surface points (``sampling.Points``) and their unit
    normals; owner : (N,) int atom of every point, 0..n-1; solid : (F,) bool
    the faces a segment meets (default all; see ``shape_diameter``)"""
    per = int(np.clip(CONVEXITY_BUDGET // max(n, 1), 4, CONVEXITY_POINTS))
    rng = np.random.default_rng(seed)
    by_atom = np.argsort(owner, kind="stable")
    starts = np.searchsorted(owner[by_atom], np.arange(n + 1))
    pick = np.concatenate([rng.permutation(by_atom[a:b])[:per] for a, b in zip(starts[:-1], starts[1:])])
    xyz, normal, who = np.asarray(xyz, np.float64)[pick], np.asarray(normal, np.float64)[pick], owner[pick]
    i, j = np.triu_indices(len(pick), 1)
    apart = who[i] != who[j]
    i, j = i[apart], j[apart]
    step = xyz[j] - xyz[i]
    length = np.linalg.norm(step, axis=1)
    dirs = step / np.maximum(length, 1e-12)[:, None]
    inward = ((np.einsum("nc,nc->n", dirs, normal[i]) < TANGENT_SLACK)
              & (np.einsum("nc,nc->n", dirs, normal[j]) > -TANGENT_SLACK))
    hit = cast(solid_scene(mesh, solid)[0], (xyz[i] + RAY_START * dirs).astype(np.float32),
               dirs.astype(np.float32), workers)
    clear = np.where(hit["geomID"] >= 0, hit["tfar"], np.inf) >= length - 3 * RAY_START
    outside = ~(inward & clear & (length > 1e-9))
    share, count = np.zeros((n, n)), np.zeros((n, n))
    np.add.at(share, (who[i], who[j]), outside)
    np.add.at(count, (who[i], who[j]), 1.0)
    return (share + share.T) / np.maximum(count + count.T, 1.0)


def link_matrix(pairs: np.ndarray, weight: np.ndarray, n_faces: int) -> sp.csr_matrix:
    """(F, F) symmetric sparse matrix with ``weight`` on both directions of each link."""
    a, b = pairs[:, 0], pairs[:, 1]
    return sp.coo_matrix((np.r_[weight, weight], (np.r_[a, b], np.r_[b, a])), shape=(n_faces, n_faces)).tocsr()


def smooth(values: np.ndarray, pairs: np.ndarray, n_faces: int, rounds: int = 5,
           weight: np.ndarray | None = None) -> np.ndarray:
    """Average each face's value with its neighbors', ``rounds`` times; faces
    of ``weight`` False ((F,) bool, default none) take the average of their
    neighbours that have weight and add nothing to it."""
    W = link_matrix(pairs, np.ones(len(pairs)), n_faces) + sp.eye(n_faces, format="csr")
    weight = np.ones(n_faces) if weight is None else np.asarray(weight, np.float64)
    degree = W @ weight
    for _ in range(rounds):
        values = np.where(degree > 0, (W @ (weight * values)) / np.maximum(degree, 1e-300), values)
    return values


def crease(angle: np.ndarray, concave: np.ndarray, convex_weight: float = 0.15) -> np.ndarray:
    """(E,) float64 how sharply each link bends, over how sharply the links of
    this mesh that bend at all do on average: the dihedral term (1 - cos),
    convex creases counting ``convex_weight`` as much as concave ones (Katz
    and Tal). Links inside a flat region do not enter the average, so a
    quad split in two, or a face cut in four, leaves every crease as it was."""
    d = np.where(concave, 1.0, convex_weight) * angle
    bends = d > 1e-9
    return d / (d[bends].mean() if bends.any() else 1.0)


def affinity(graph: FaceGraph, convex_weight: float = 0.15, floor: float = 1e-3) -> np.ndarray:
    """(E,) float64 link weights: exp(-crease) (see ``crease``), times
    exp(-|change of log thickness| / THICKNESS_SCALE) so a limb parts from
    the body where it thickens; floored so a sliver never cuts itself off."""
    t = np.abs(graph.thickness[graph.pairs[:, 0]] - graph.thickness[graph.pairs[:, 1]])
    return np.maximum(np.exp(-crease(graph.angle, graph.concave, convex_weight) - t / THICKNESS_SCALE), floor)


def proximity_links(centroids: np.ndarray, piece: np.ndarray, k: int = 4) -> np.ndarray:
    """(E', 2) int64 links from faces to the nearest faces of other pieces, so
    a model made of separate pieces still forms one graph."""
    n_pieces = piece.max() + 1
    if n_pieces < 2:
        return np.zeros((0, 2), np.int64)
    tree = cKDTree(centroids)
    _, nn = tree.query(centroids, k=min(len(centroids), 16))
    links = []
    for j in range(1, nn.shape[1]):
        other = piece[nn[:, j]] != piece
        links.append(np.stack([np.nonzero(other)[0], nn[other, j]], axis=1))
    links = np.concatenate(links)
    if not len(links):
        return np.zeros((0, 2), np.int64)
    # keep the k closest cross-piece links of each face
    dist = np.linalg.norm(centroids[links[:, 0]] - centroids[links[:, 1]], axis=1)
    order = np.lexsort((dist, links[:, 0]))
    links = links[order]
    rank = np.arange(len(links)) - np.searchsorted(links[:, 0], links[:, 0])
    return links[rank < k].astype(np.int64)


def component_bridges(points: np.ndarray, W: sp.csr_matrix) -> np.ndarray:
    """(B, 2) int64 links that join the connected components of the graph
    ``W`` into one, so its Laplacian has a single zero eigenvalue (pieces
    beyond each other's proximity links, such as the machines of a scene,
    otherwise leave a zero eigenvalue each, a cluster the eigensolver crawls
    through). Each round links every component, at the node nearest its
    centroid, to the nearest other component (Boruvka's rounds: at most
    log2 of the components). points : (N, 3) where each node lies."""
    n_comp, comp = connected_components(W, directed=False)
    links = []
    while n_comp > 1:
        size = np.bincount(comp)
        centers = np.stack([np.bincount(comp, points[:, c]) for c in range(3)], axis=1) / size[:, None]
        gap = np.linalg.norm(points - centers[comp], axis=1)
        order = np.lexsort((gap, comp))
        stand_in = order[np.searchsorted(comp[order], np.arange(n_comp))]
        _, nn = cKDTree(centers).query(centers, k=2)
        other = np.where(nn[:, 0] != np.arange(n_comp), nn[:, 0], nn[:, 1])
        links.append(np.stack([stand_in, stand_in[other]], axis=1))
        joined = sp.coo_matrix((np.ones(n_comp), (np.arange(n_comp), other)), shape=(n_comp, n_comp))
        n_comp, merged = connected_components(joined, directed=False)
        comp = merged[comp]
    return np.concatenate(links).astype(np.int64) if links else np.zeros((0, 2), np.int64)


def smallest_eigenpairs(L: sp.csc_matrix, k: int, v0: np.ndarray,
                        tiny: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` smallest eigenvalues (k,) and eigenvectors (n, k) of a
    normalized Laplacian ``L`` (spectrum in [0, 2]), at a bounded cost:
    shift-invert ARPACK at each of SHIFTS in turn, each with a bounded number
    of restarts (a shift far from a cluster of tiny eigenvalues crawls
    through it; one nearer zero separates them), then the largest of 2I - L
    by products alone, also bounded; what converged is returned (possibly
    fewer than k). tiny : the graph is known to have tiny eigenvalues (its
    components were bridged): start with the shift nearest zero. v0 :
    (n,) ARPACK's start vector (fixed numbers: the same input, the same output)."""
    for sigma, restarts in sorted(SHIFTS, key=lambda s: abs(s[0])) if tiny else SHIFTS:
        try:
            return eigsh(L, k=k, sigma=sigma, which="LM", v0=v0, maxiter=restarts)
        except ArpackNoConvergence:
            log.warning("eigensolver shifted by %g did not converge in %d restarts", sigma, restarts)
    flipped = (2.0 * sp.eye(L.shape[0]) - L).tocsr()
    try:
        vals, vecs = eigsh(flipped, k=k, which="LA", v0=v0, maxiter=SHIFTS[-1][1], tol=1e-4)
    except ArpackNoConvergence as exc:
        log.warning("eigensolver converged on %d of %d vectors", len(exc.eigenvalues), k)
        vals, vecs = exc.eigenvalues, exc.eigenvectors
    return 2.0 - vals, vecs


def spectral_embedding(mesh, graph: FaceGraph, n: int = 16, convex_weight: float = 0.15,
                       bridge: float = 0.05, order: np.ndarray | None = None,
                       proximity: np.ndarray | None = None) -> np.ndarray:
    """(F, n) float32 commute-time embedding of the faces: eigenvectors of the
    normalized Laplacian of the concavity-weighted face graph, each divided
    by the square root of its eigenvalue. Separate pieces are bridged by
    weak proximity links (weight ``bridge``). Over patches (``graph.patch``)
    it is the same problem restricted to one value per patch: links summed
    between patches, the links inside a patch kept as its self-loop. order :
    (F,) the faces in the order the eigensolver's fixed random start is handed
    out in (``sampling.node_order``; default by index). proximity : the
    ``proximity_links`` of the mesh's pieces, when already found."""
    n_faces = graph.n_faces
    w = affinity(graph, convex_weight)
    w[graph.extra[graph.pairs].any(axis=1)] = 0.0  # inside a patch: a face that adds no surface is no node
    pairs = graph.pairs
    centroids = np.asarray(mesh.triangles_center)
    links = proximity_links(centroids, graph.piece) if proximity is None else proximity
    if len(links):
        pairs = np.concatenate([pairs, links])
        w = np.concatenate([w, np.full(len(links), bridge)])
    W = link_matrix(pairs, w, n_faces)
    n_nodes = int(graph.patch.max()) + 1
    if n_nodes < n_faces:
        P = sp.csr_matrix((np.ones(n_faces), (np.arange(n_faces), graph.patch)), shape=(n_faces, n_nodes))
        W = (P.T @ W @ P).tocsr()
    count = np.bincount(graph.patch, minlength=n_nodes)[:, None]
    where = np.stack([np.bincount(graph.patch, centroids[:, c], n_nodes) for c in range(3)], axis=1) / count
    bridges = component_bridges(where, W)
    if len(bridges):
        W = W + link_matrix(bridges, np.full(len(bridges), bridge), n_nodes)
    deg = np.asarray(W.sum(axis=1)).ravel()
    isolated = deg <= 0
    deg[isolated] = 1.0
    d_inv = sp.diags(1.0 / np.sqrt(deg))
    L = (sp.eye(n_nodes) - d_inv @ W @ d_inv).tocsc()
    k = min(n + 1, n_nodes - 2)
    if k < 2:
        return np.zeros((n_faces, n), np.float32)
    ranked = first_seen(graph.patch, order)
    start = np.empty(n_nodes)
    start[ranked] = np.random.default_rng(0).random(n_nodes)
    vals, vecs = smallest_eigenpairs(L, k, start, tiny=len(bridges) > 0)
    if len(vals) < 2:
        log.warning("no spectral embedding: the eigensolver found nothing; the masks use pieces and nodes only")
        return np.zeros((n_faces, n), np.float32)
    by_value = np.argsort(vals)
    vals, vecs = vals[by_value][1:], (d_inv @ vecs[:, by_value])[:, 1:]
    # an eigenvector's sign is arbitrary: make its largest entry positive, of
    # entries as large to 1e-6 (a symmetric model's mirrored faces) the first in ``order``
    size = np.round(np.abs(vecs[ranked]) / np.maximum(np.abs(vecs).max(axis=0), 1e-300), 6)
    vecs *= np.sign(vecs[ranked[size.argmax(axis=0)], np.arange(vecs.shape[1])])
    emb = vecs / np.sqrt(np.maximum(vals, 1e-6))
    out = np.zeros((n_faces, n), np.float32)
    out[:, :emb.shape[1]] = emb[graph.patch]
    return out
