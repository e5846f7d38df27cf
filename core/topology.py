"""How the faces of a mesh hang together, over vertices merged by position
(a file that repeats a vertex at every UV seam, or writes a triangle soup,
still gives one surface): shared edges, connected patches, one consistent
outward winding, and texture islands."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from . import threads
from .rays import cast, ray_scene

#: A piece whose volume is under this share of its area times its reach
#: from its centre is flat (``outward_flips``): its winding stays as written.
FLAT = 1e-6
#: The most points ``seams`` lays along a model's open border edges.
SEAM_POINTS = 2_000_000
#: A face whose height over its longest edge is under this share of the
#: model's size has no side (its corners in a line, or one written twice, as
#: exporters leave them): its normal is rounding (a float32 file's positions
#: are off by about 1e-7 of the model), so it bends nothing and joins no edge
#: (``edge_pairs``). In PSB only a CAD-tessellated bearing has such faces (71,
#: 20 of them in a line; the next thinnest there stands at 1.5e-6).
AREALESS = 1e-6
#: Copies of a vertex closer than this (of a normalized model's size) are one
#: vertex (``merged_faces``): float32 positions are off by about 1e-7.
WELD = 1e-6
#: A piece that lies under another's surface, within LINING of its own
#: size, over LINED of its own surface or more (a print hollowed with an
#: inner wall, an outline hull's body) adds no surface (``extra_faces``).
LINING = 0.05
LINED = 0.9


def unique_rows(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Equal rows of ``keys`` ((n, k), finite) made one: each distinct row's
    first index, and (n,) int64 the distinct row of each, numbered in sorted
    order (as ``np.unique(axis=0)``, a few times faster)."""
    order = np.lexsort(keys.T[::-1])
    ranked = keys[order]
    new = np.ones(len(keys), bool)
    new[1:] = (ranked[1:] != ranked[:-1]).any(axis=1)
    inverse = np.empty(len(keys), np.int64)
    inverse[order] = np.cumsum(new) - 1
    return order[new], inverse


def label_links(labels: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """(n, 2) the distinct pairs of different ``labels`` ((F,) int) that the
    links ``pairs`` ((E, 2) faces) join, each as (smaller, larger), in
    sorted order: which atoms or patches touch."""
    ends = np.sort(labels[pairs], axis=1)
    ends = ends[ends[:, 0] != ends[:, 1]]
    return ends[unique_rows(ends)[0]]


def merged_faces(mesh) -> tuple[np.ndarray, np.ndarray]:
    """Faces over vertices merged by position: (F, 3) int64 faces, (V', 3)
    positions. Copies of a vertex merge when they round to the same WELD
    grid point or lie within WELD of each other (copies computed apart, each
    off by float32 rounding, fall on both sides of a grid line)."""
    from scipy.spatial import cKDTree

    vertices = np.asarray(mesh.vertices)
    first, inverse = unique_rows(np.round(vertices / WELD))
    near = cKDTree(vertices[first], balanced_tree=False).query_pairs(WELD, output_type="ndarray")
    if len(near):
        n = len(first)
        group = connected_components(sp.coo_matrix((np.ones(len(near)), (near[:, 0], near[:, 1])), shape=(n, n)),
                                     directed=False)[1]
        lead = np.full(group.max() + 1, n)
        np.minimum.at(lead, group, np.arange(n))
        first, inverse = first[lead], group[inverse]
    return inverse[np.asarray(mesh.faces)], vertices[first]


def without_area(verts: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(F,) bool the faces whose height over their longest edge is under
    AREALESS of the model's size (its bounding box's largest side)."""
    if not len(faces):
        return np.zeros(0, bool)
    size = float(np.ptp(verts, axis=0).max())
    tri = verts[faces]
    a, b, c = (tri[:, 1] - tri[:, 0]).T, (tri[:, 2] - tri[:, 1]).T, (tri[:, 0] - tri[:, 2]).T
    span = (a[1] * c[2] - a[2] * c[1]) ** 2 + (a[2] * c[0] - a[0] * c[2]) ** 2 + (a[0] * c[1] - a[1] * c[0]) ** 2
    longest = np.maximum(np.maximum((a * a).sum(axis=0), (b * b).sum(axis=0)), (c * c).sum(axis=0))
    return span <= (AREALESS * size) ** 2 * longest  # (twice the area)^2 = height^2 * longest^2


def extra_faces(verts: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(F,) int64 for every face that adds no surface of its own the face it
    goes with, else -1: a face without area (``without_area``) goes with the
    face with area whose centre is nearest its own; a face on the same corners
    as an earlier one, where at most one face without a twin shares each of
    its edges (the back of a surface, or of a part of it, written twice; not
    two pieces glued over a whole face, where a side of each meets the
    edge), with the first of them; a face of a lining (``_linings``: a
    hollowed print's inner wall) with the face it lies under.

    faces : (F, 3) int merged vertex ids (``merged_faces``); verts : (V, 3)"""
    twins = _twins(faces, np.arange(len(faces)))[0]
    flat = without_area(verts, faces)
    host = np.full(len(faces), -1, np.int64)
    if len(twins):
        # a back where at most one face that is not doubled meets it at each
        # edge (the surface goes on written once there); where two do (two
        # boxes glued face to face, a side of each), each box keeps its own
        doubled = np.zeros(len(faces), bool)
        doubled[twins.ravel()] = True
        edge = np.unique(_edge_keys(faces, len(verts)), return_inverse=True)[1]
        branches = np.bincount(edge, np.repeat(~doubled & ~flat, 3)) > 1
        back = twins[~branches[edge].reshape(-1, 3).any(axis=1)[twins[:, 1]]]
        host[back[:, 1]] = back[:, 0]
    ok = np.flatnonzero(~flat & (host < 0))  # the faces that make the surface
    if flat.any() and len(ok):
        from scipy.spatial import cKDTree

        center = verts[faces].mean(axis=1)
        host[flat] = ok[cKDTree(center[ok]).query(center[flat])[1]]
    return _linings(verts, faces, host)


def _linings(verts: np.ndarray, faces: np.ndarray, host: np.ndarray) -> np.ndarray:
    """``host`` (``extra_faces``) with the faces of every lining taken as
    adding no surface: a piece (faces joined by vertices) whose faces mostly
    (LINED of its surface) look out, along their normals, at the back of
    another piece's face within LINING of its own size, as the inner
    wall of a print hollowed (wound inward in the file, turned out by the
    loader) looks at the outer one. Each such face goes with the face it
    looks at; the piece's other faces within LINING of one of them with
    that one's (where the wall's offset folded), the rest stay surface (a
    body under clothes keeps the hands and the head that show)."""
    from scipy.spatial import cKDTree

    n = len(verts)
    corners = faces[:, [0, 1, 1, 2]].reshape(-1, 2)
    n_pieces, of_vertex = connected_components(
        sp.coo_matrix((np.ones(len(corners)), (corners[:, 0], corners[:, 1])), shape=(n, n)), directed=False)
    own = np.flatnonzero(host < 0)
    if n_pieces < 2 or not len(own):
        return host
    piece = of_vertex[faces[own, 0]]
    tri = verts[faces[own]]
    normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    area = np.linalg.norm(normal, axis=1)
    normal /= np.maximum(area, 1e-300)[:, None]
    low, high = np.full((n_pieces, 3), np.inf), np.full((n_pieces, 3), -np.inf)
    np.minimum.at(low, of_vertex, verts)
    np.maximum.at(high, of_vertex, verts)
    reach = LINING * (high - low).max(axis=1)[piece]  # of the piece's own size: a leaf's, not its tree's
    size = float(np.ptp(verts, axis=0).max())
    hit = cast(ray_scene(verts, faces[own]), (tri.mean(axis=1) + 1e-5 * size * normal).astype(np.float32),
               normal.astype(np.float32), threads.count())
    seen = np.flatnonzero((hit["geomID"] >= 0) & (hit["tfar"] < reach))
    at = hit["primID"][seen]
    keep = (piece[at] != piece[seen]) & (np.einsum("ij,ij->i", normal[seen], normal[at]) > 0.5)
    under, above = seen[keep], at[keep]  # rows of ``own``
    share = np.bincount(piece[under], area[under], n_pieces) / np.maximum(np.bincount(piece, area, n_pieces), 1e-300)
    lining = np.zeros(len(faces), bool)
    lining[own] = share[piece] >= LINED
    take = lining[own[under]]
    if not take.any():
        return host
    looked = own[under[take]]
    host[looked] = own[above[take]]
    rest = np.flatnonzero(lining & (host < 0))
    center = verts[faces].mean(axis=1)
    off, near = cKDTree(center[looked]).query(center[rest])
    close = off < reach[np.searchsorted(own, rest)]
    host[rest[close]] = host[looked[near[close]]]
    for _ in range(8):  # a face goes with one that adds surface (a lining in a lining: with the outer face)
        up = np.flatnonzero(host >= 0)
        deeper = up[host[host[up]] >= 0]
        if not len(deeper):
            break
        host[deeper] = host[host[deeper]]
    host[(host >= 0) & (host[np.maximum(host, 0)] >= 0)] = -1  # linings round each other keep their own
    return host


def surface_area(mesh, extra: np.ndarray) -> np.ndarray:
    """(F,) float64 the surface each face adds: its area, none where ``extra``
    ((F,) bool, ``extra_faces``), so a surface written with both
    sides counts once."""
    return np.where(extra, 0.0, np.asarray(mesh.area_faces, np.float64))


def surface(mesh) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``mesh``'s faces over vertices merged by position (``merged_faces``)
    and the host of every face (``extra_faces``): (F, 3) int64, (V', 3),
    (F,) int64. A fit finds it once and hands it on (``edge_pairs``,
    ``sampling.sample_points``): on a million faces it takes seconds."""
    faces, verts = merged_faces(mesh)
    return faces, verts, extra_faces(verts, faces)


def edge_pairs(mesh, merged: tuple | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Faces that share an edge (vertices merged by position) or lie across a
    seam (see ``seams``): (F, 3) merged faces, (V', 3) positions, (E, 2) int64
    face pairs, (E, 2) their shared edge (across a seam, the second face's),
    and (F,) int64 the host of every face (``extra_faces``); ``merged``:
    ``surface(mesh)`` when already found.

    A face that adds no surface (``extra_faces``) stands between no two
    faces: it is linked to the face it goes with, that one first, by one of
    its edges, and to nothing else."""
    faces, verts, host = surface(mesh) if merged is None else merged
    extra = host >= 0
    pairs, shared, seam, _, seam_edge = _links_among(faces, np.asarray(mesh.faces), verts, ~extra)
    stand = np.stack([host[extra], np.flatnonzero(extra)], axis=1)
    return (faces, verts, np.concatenate([pairs, seam, stand]),
            np.concatenate([shared, seam_edge, np.sort(faces[extra, :2], axis=1)]), host)


def _links_among(faces: np.ndarray, written: np.ndarray, verts: np.ndarray, among: np.ndarray) -> tuple:
    """``shared_edges`` and ``seams`` among the faces ``among`` ((F,) bool),
    numbered as in ``faces``: pairs, their shared edges, seam pairs and each
    side's edge."""
    if among.all():  # no copies of a million faces where every face takes part
        return (*shared_edges(faces, written, verts), *seams(faces, verts))
    keep = np.flatnonzero(among)
    pairs, shared = shared_edges(faces[keep], written[keep], verts)
    seam, seam_a, seam_b = seams(faces[keep], verts)
    return keep[pairs], shared, keep[seam], seam_a, seam_b


def shared_edges(faces: np.ndarray, written: np.ndarray | None = None,
                 verts: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(E, 2) int64 pairs of faces that share an edge and (E, 2) that edge,
    its vertex ids sorted. faces : (F, 3) int vertex ids; written : (F, 3)
    int the file's own vertex ids of the same faces, or None; verts : (V, 3)
    positions of ``faces``' vertices, or None.

    An edge of more than two faces (non-manifold: two closed pieces that
    touch along it, as a chair's back box standing on the seat's rear edge)
    links the faces that share it in ``written`` too where some do; else,
    with ``verts``, each face to its neighbour round the edge across the
    solid between them (``_round_edges``); else, or where the windings do not
    tell, all of them in a chain. Faces on the same three vertices (both
    sides of a surface written as two faces) are linked as well."""
    if not len(faces):
        return np.zeros((0, 2), np.int64), np.zeros((0, 2), np.int64)
    n = int(faces.max()) + 1
    key = _edge_keys(faces, n)  # one number an edge, in the order of its sorted vertex ids
    own = key if written is None else _edge_keys(np.asarray(written), int(np.max(written)) + 1)
    order = np.argsort(key, kind="stable") if written is None else np.lexsort((own, key))
    key, own, owner = key[order], own[order], order // 3
    same = key[1:] == key[:-1]
    as_written = same & (own[1:] == own[:-1])
    edges = _edge_ends(key, n).astype(faces.dtype, copy=False)
    row_edge = np.cumsum(np.concatenate([[0], ~same]))
    faces_at = np.bincount(row_edge)
    first_row = np.cumsum(faces_at) - faces_at
    edge = row_edge[:-1]  # the first row's of each two consecutive
    held = np.bincount(edge[as_written], minlength=len(faces_at)) > 0
    link = same & (as_written | (faces_at[edge] == 2) | ~held[edge])
    extra = [np.zeros((0, 2), np.int64)]
    undecided = np.flatnonzero((faces_at > 2) & ~held) if verts is not None else np.zeros(0, np.int64)
    for m in np.unique(faces_at[undecided]):  # the edges of m faces at once
        rows = first_row[undecided[faces_at[undecided] == m]][:, None] + np.arange(m)
        ring, ok = _round_edges(faces[owner[rows]], edges[rows[:, 0]], verts)
        link[rows[ok][:, :-1]] = False
        extra.append(np.take_along_axis(rows[ok], ring[ok], axis=1).reshape(-1, 2))
    idx = np.flatnonzero(link)
    rows = np.concatenate([np.stack([idx, idx + 1], axis=1)] + extra)
    pairs = owner[rows]
    keep = pairs[:, 0] != pairs[:, 1]
    twins, twin_edge = _twins(faces, np.unique(owner[faces_at[row_edge] > 2]))  # others share edges of two
    return (np.concatenate([pairs[keep], twins]).astype(np.int64),
            np.concatenate([edges[rows[keep, 0]], twin_edge]))


def _edge_keys(faces: np.ndarray, n: int) -> np.ndarray:
    """(3F,) int64 each face's edges (corners 0-1, 1-2, 2-0) as one number:
    the smaller vertex id times ``n`` (above every id) plus the larger."""
    start = faces.astype(np.int64, copy=False)
    end = start[:, [1, 2, 0]]
    return (np.minimum(start, end) * n + np.maximum(start, end)).ravel()


def _edge_ends(key: np.ndarray, n: int) -> np.ndarray:
    """(E, 2) int64 the vertex ids of edges numbered by ``_edge_keys``, smaller first."""
    return np.stack(np.divmod(key, n), axis=1)


def _twins(faces: np.ndarray, among: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Faces of ``among`` ((n,) int) on the same three corners as an earlier
    one there, one surface (a face written twice, for its two sides, or two
    pieces glued over a whole face): (T, 2) int64 the earlier face and the
    twin, (T, 2) an edge of both."""
    corners = np.sort(faces[among], axis=1)
    first, same = unique_rows(corners)
    earlier = first[same]
    copies = np.flatnonzero(earlier != np.arange(len(among)))
    return np.stack([among[earlier[copies]], among[copies]], axis=1).astype(np.int64), corners[copies, :2]


def _round_edges(faces: np.ndarray, edge: np.ndarray, verts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Faces paired round edges of M faces each, each face with the next one
    counterclockwise across the solid their windings put between them.

    faces : (G, M, 3) int, the faces of each edge; edge : (G, 2) int its
    vertex ids; verts : (V, 3) positions. Returns (G, M) int the faces'
    indices, two by two a pair, and (G,) bool where that holds: the windings
    alternate round the edge (M even, no face with a repeated vertex).

    A face that walks the edge from ``edge[0]`` to ``edge[1]`` has the solid
    on its clockwise side (seen down the edge), one that walks it back on
    its counterclockwise side; at equal angles (faces that lie on each other,
    as where one box stands on another) a solid's last face comes first."""
    start = verts[edge[:, 0]]
    axis = verts[edge[:, 1]] - start
    axis /= np.maximum(np.linalg.norm(axis, axis=1, keepdims=True), 1e-300)
    other = (faces != edge[:, :1, None]) & (faces != edge[:, 1:, None])
    ok = np.all(other.sum(axis=2) == 1, axis=1) & (faces.shape[1] % 2 == 0)
    out = verts[np.take_along_axis(faces, other.argmax(axis=2)[..., None], axis=2)[..., 0]] - start[:, None]
    out -= np.einsum("gmc,gc->gm", out, axis)[..., None] * axis[:, None]
    x = out[:, 0] / np.maximum(np.linalg.norm(out[:, 0], axis=1, keepdims=True), 1e-300)
    y = np.cross(axis, x)
    angle = np.mod(np.arctan2(np.einsum("gmc,gc->gm", out, y), np.einsum("gmc,gc->gm", out, x)), 2 * np.pi)
    angle = np.where(angle > 2 * np.pi - 1e-9, 0.0, np.round(angle, 9))
    forward = _runs_forward(faces.reshape(-1, 3), np.repeat(edge, faces.shape[1], axis=0)).reshape(ok.shape[0], -1)
    ring = np.lexsort((~forward, angle))  # counterclockwise; at a tie the solid that ends first
    opens = ~np.take_along_axis(forward, ring, axis=1)
    ok &= (opens[:, 0] != opens[:, 1]) & np.all(opens[:, 2:] == opens[:, :-2], axis=1)
    # start each ring at a face whose solid lies counterclockwise
    return np.where(opens[:, :1], ring, np.roll(ring, -1, axis=1)), ok


def seams(faces: np.ndarray, verts: np.ndarray, share: float = 0.25) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Faces across a seam: open border edges that lie along another open
    border edge without sharing its vertices, as where one side of a seam
    is cut finer than the other (a T-junction: a vertex in the middle of the
    other side's edge, as tessellators of CAD faces and many modellers
    leave) or its vertices moved off the other's by a little. The middle of
    the shorter edge lies within ``share`` of its length of the longer one,
    and the two run side by side.

    faces : (F, 3) int merged vertex ids, verts : (V, 3) positions
    returns (S, 2) int64 face pairs, the second owning the shorter edge,
    (S, 2) the first face's edge and (S, 2) the second's, vertex ids
    """
    from scipy.spatial import cKDTree

    empty = np.zeros((0, 2), np.int64)
    key = _edge_keys(faces, len(verts))
    _, first, count = np.unique(key, return_index=True, return_counts=True)
    border = first[count == 1]  # rows of ``key``: face row // 3
    if len(border) < 2:
        return empty, empty, empty
    start, end = verts[_edge_ends(key[border], len(verts))].transpose(1, 0, 2)
    length = np.linalg.norm(end - start, axis=1)
    # points every ``step`` along each edge, so the nearest lies within step / 2 of any spot on it;
    # the step of the edges that have a length, and at most SEAM_POINTS in all (degenerate faces along a
    # border, zero-length edges in the majority, made it 1e-12 and asked for two terabytes)
    positive = length[length > 0]
    step = max(float(np.median(positive)) if len(positive) else 0.0, float(length.sum()) / SEAM_POINTS, 1e-12)
    n_points = np.maximum(np.ceil(length / step), 1).astype(np.int64) + 1
    owner = np.repeat(np.arange(len(border)), n_points)
    t = (np.arange(len(owner)) - np.repeat(np.cumsum(n_points) - n_points, n_points)) / (n_points[owner] - 1)
    points = start[owner] + t[:, None] * (end - start)[owner]
    middle = (start + end) / 2
    hits = cKDTree(points).query_ball_point(middle, share * length + step / 2)
    a = np.repeat(np.arange(len(border)), [len(h) for h in hits])
    b = np.unique(np.stack([a, owner[np.concatenate(hits).astype(np.int64)]], 1), axis=0)
    a, b = b[b[:, 0] != b[:, 1]].T
    # the shorter edge (a) runs along the longer (b), its middle within share of its length
    shorter = (length[a] < length[b]) | ((length[a] == length[b]) & (a < b))  # once for equal ones
    a, b = a[shorter], b[shorter]
    direction = (end - start) / np.maximum(length, 1e-12)[:, None]
    along = np.clip(np.einsum("ij,ij->i", middle[a] - start[b], direction[b]), 0, length[b])
    off = np.linalg.norm(middle[a] - start[b] - along[:, None] * direction[b], axis=1)
    keep = (off <= share * length[a]) & (np.abs(np.einsum("ij,ij->i", direction[a], direction[b])) > 0.9)
    keep &= border[a] // 3 != border[b] // 3
    a, b = a[keep], b[keep]
    pairs = np.stack([border[b] // 3, border[a] // 3], axis=1).astype(np.int64)
    return pairs, _edge_ends(key[border[b]], len(verts)), _edge_ends(key[border[a]], len(verts))


def texture_islands(mesh, corner_uv: np.ndarray) -> np.ndarray:
    """(F,) int32 texture island of every face: faces joined by edges they
    share both on the surface and in the texture (the same UVs at both
    ends), so an island ends at every UV seam; -1 for faces without UVs.

    corner_uv : (F, 3, 2) float texture coordinates, NaN without texture
    """
    faces, _ = merged_faces(mesh)
    textured = ~np.isnan(corner_uv).any(axis=(1, 2))
    corner = np.concatenate([faces[..., None].astype(np.float64), np.round(np.nan_to_num(corner_uv), 5)], axis=2)
    corner_id = unique_rows(corner.reshape(-1, 3))[1].reshape(-1, 3)
    pairs = shared_edges(corner_id)[0]
    pairs = pairs[textured[pairs[:, 0]] & textured[pairs[:, 1]]]
    islands = split_connected(np.zeros(len(faces), np.int32), pairs)
    return np.where(textured, islands, -1).astype(np.int32)


def split_connected(labels: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """(F,) int32 labels where every label is one connected patch of faces.

    pairs : (E, 2) int links between faces (see ``edge_pairs``)
    """
    a, b = pairs[:, 0], pairs[:, 1]
    same = labels[a] == labels[b]
    n = len(labels)
    adj = sp.coo_matrix((np.ones(same.sum()), (a[same], b[same])), shape=(n, n))
    return connected_components(adj, directed=False)[1].astype(np.int32)


def first_seen(labels: np.ndarray, order: np.ndarray | None) -> np.ndarray:
    """(L,) int64 the labels 0..L-1 of ``labels`` ((F,) per face) in the order
    their first faces come in ``order`` ((F,) faces; None: by label)."""
    n_labels = int(labels.max()) + 1
    if order is None:
        return np.arange(n_labels)
    first = np.full(n_labels, len(order))
    np.minimum.at(first, labels[order], np.arange(len(order)))
    return np.argsort(first, kind="stable")


def _runs_forward(faces: np.ndarray, edge: np.ndarray) -> np.ndarray:
    """(E,) bool: each face walks its ``edge`` (a, b) from a to b.
    faces : (E, 3) int, edge : (E, 2) int, an edge of each face."""
    at = np.argmax(faces == edge[:, :1], axis=1)
    return faces[np.arange(len(faces)), (at + 1) % 3] == edge[:, 1]


def outward_flips(mesh) -> np.ndarray:
    """(F,) bool faces to wind the other way round so that every connected
    piece is wound one way, facing out.

    Two faces across an edge (or a seam, see ``seams``) agree when they walk
    it in opposite directions; two on the same corners (a surface's two
    sides) when they walk them the same way round.
    Over the graph of faces-in-either-winding, joined as their edges demand,
    a face's two windings fall apart for an orientable piece: the one that
    shares a component with the piece's first face, as written, is kept.
    A piece whose signed volume (about its centre) comes out negative is
    then turned inside out (a flat one, none either way, is not); a
    non-orientable piece is left as it is.
    """
    faces, verts = merged_faces(mesh)
    # a face without area has no side: its own piece, of no volume, kept as written
    pairs, shared, seam, seam_a, seam_b = _links_among(faces, np.asarray(mesh.faces), verts,
                                                       ~without_area(verts, faces))
    n = len(faces)
    agree = _runs_forward(faces[pairs[:, 0]], shared) != _runs_forward(faces[pairs[:, 1]], shared)
    # a face on the same corners as another (its other side) faces the same way; linked faces hold their shared
    # edge and no repeated corner (faces without area are left out), so the same sum is the same third corner
    twins = faces[pairs[:, 0]].sum(axis=1) == faces[pairs[:, 1]].sum(axis=1)
    agree ^= twins

    def walked(face, edge):  # the direction a face walks its edge in
        return (verts[edge[:, 1]] - verts[edge[:, 0]]) * np.where(_runs_forward(faces[face], edge), 1, -1)[:, None]
    agree = np.concatenate([agree, np.einsum("ij,ij->i", walked(seam[:, 0], seam_a), walked(seam[:, 1], seam_b)) < 0])
    pairs = np.concatenate([pairs, seam])
    a, b = pairs[:, 0], pairs[:, 1]
    # node f: face f as written; node n + f: face f reversed
    src = np.concatenate([a, a + n])
    dst = np.concatenate([np.where(agree, b, b + n), np.where(agree, b + n, b)])
    both = connected_components(sp.coo_matrix((np.ones(len(src)), (src, dst)), shape=(2 * n, 2 * n)),
                                directed=False)[1]
    piece = split_connected(np.zeros(n, np.int32), pairs)
    first = np.unique(piece, return_index=True)[1]
    flip = both[:n] != both[first][piece]
    tri = verts[faces]
    center = np.stack([np.bincount(piece, tri[:, :, c].mean(axis=1)) for c in range(3)], 1)
    center /= np.bincount(piece)[:, None]
    rel = tri - center[piece][:, None]
    volume = np.einsum("ij,ij->i", rel[:, 0], np.cross(rel[:, 1], rel[:, 2]))
    volume = np.bincount(piece, np.where(flip, -volume, volume))  # six times the volume
    # against (twice) its area times its reach from the centre: a flat
    # piece's volume is rounding, a thin closed one's (a pair of glasses) is not
    area = np.bincount(piece, np.linalg.norm(np.cross(rel[:, 1] - rel[:, 0], rel[:, 2] - rel[:, 0]), axis=1))
    reach = np.zeros(len(first))
    np.maximum.at(reach, piece, np.sqrt(np.einsum("fcx,fcx->fc", rel, rel).max(axis=1)))
    return flip != (volume < -FLAT * area * reach)[piece]  # a flat piece stays as written


def close_cracks(vertices: np.ndarray, faces: np.ndarray, group: np.ndarray, share: float = 0.25) -> np.ndarray:
    """Vertices with the cracks between groups closed: open-border vertices
    of different groups (glTF primitives) that lie closer together than
    ``share`` of the shortest border edge at either are moved onto one spot.

    A compressed glTF quantizes each primitive on a grid of its own (Draco,
    per-mesh quantization), so a seam the uncompressed file shares between
    two primitives comes apart by a grid step, far less than an edge. Closed
    again, the faces hang together as in the uncompressed file.

    vertices : (V, 3) float, faces : (F, 3) int, group : (V,) int group of each vertex
    returns (V, 3) float, a copy
    """
    from scipy.spatial import cKDTree

    if len(np.unique(group)) < 2:
        return vertices.copy()
    first, same = unique_rows(vertices)
    merged = same[faces]
    key, count = np.unique(_edge_keys(merged, len(first)), return_counts=True)
    border = _edge_ends(key[count == 1], len(first))
    if not len(border):
        return vertices.copy()
    spot = vertices[first]
    length = np.linalg.norm(spot[border[:, 0]] - spot[border[:, 1]], axis=1)
    shortest = np.full(len(spot), np.inf)
    np.minimum.at(shortest, border.ravel(), np.repeat(length, 2))
    ends = np.unique(border)
    hits = cKDTree(spot[ends]).query_ball_point(spot[ends], share * shortest[ends])
    a = np.repeat(ends, [len(h) for h in hits])
    b = ends[np.concatenate(hits).astype(np.int64)]
    near = np.linalg.norm(spot[a] - spot[b], axis=1) < share * np.minimum(shortest[a], shortest[b])
    near &= group[first[a]] != group[first[b]]
    if not near.any():
        return vertices.copy()
    n = len(spot)
    joined = connected_components(sp.coo_matrix((np.ones(near.sum()), (a[near], b[near])), shape=(n, n)),
                                  directed=False)[1]
    leader = np.unique(joined, return_index=True)[1]
    return spot[leader[joined]][same.ravel()]
