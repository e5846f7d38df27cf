"""How the faces of a mesh hang together, over vertices merged by position
(a file that repeats a vertex at every UV seam, or writes a triangle soup,
still gives one surface): shared edges, connected patches, one consistent
outward winding, and texture islands."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components


def merged_faces(mesh, decimals: int = 6) -> tuple[np.ndarray, np.ndarray]:
    """Faces over vertices merged by rounded position: (F, 3) int64 faces, (V', 3) positions."""
    vertices = np.asarray(mesh.vertices)
    _, first, inverse = np.unique(np.round(vertices, decimals), axis=0,
                                  return_index=True, return_inverse=True)
    return inverse.ravel()[np.asarray(mesh.faces)], vertices[first]


def edge_pairs(mesh) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Faces that share an edge (vertices merged by position): (F, 3) merged
    faces, (V', 3) positions, (E, 2) int64 face pairs, (E, 2) their shared edge."""
    faces, verts = merged_faces(mesh)
    return (faces, verts, *shared_edges(faces))


def shared_edges(faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(E, 2) int64 pairs of faces that share an edge and (E, 2) that edge,
    its vertex ids sorted. faces : (F, 3) int vertex ids."""
    edges = np.sort(faces[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2), axis=1)
    owner = np.repeat(np.arange(len(faces)), 3)
    order = np.lexsort((edges[:, 1], edges[:, 0]))
    edges, owner = edges[order], owner[order]
    same = np.all(edges[1:] == edges[:-1], axis=1)
    # link consecutive owners of the same edge (non-manifold edges chain up)
    idx = np.nonzero(same)[0]
    pairs = np.stack([owner[idx], owner[idx + 1]], axis=1)
    keep = pairs[:, 0] != pairs[:, 1]
    return pairs[keep].astype(np.int64), edges[idx][keep]


def texture_islands(mesh, corner_uv: np.ndarray) -> np.ndarray:
    """(F,) int32 texture island of every face: faces joined by edges they
    share both on the surface and in the texture (the same UVs at both
    ends), so an island ends at every UV seam; -1 for faces without UVs.

    corner_uv : (F, 3, 2) float texture coordinates, NaN without texture
    """
    faces, _ = merged_faces(mesh)
    textured = ~np.isnan(corner_uv).any(axis=(1, 2))
    corner = np.concatenate([faces[..., None].astype(np.float64), np.round(np.nan_to_num(corner_uv), 5)], axis=2)
    corner_id = np.unique(corner.reshape(-1, 3), axis=0, return_inverse=True)[1].reshape(-1, 3)
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

    Two faces across an edge agree when they walk it in opposite directions.
    Over the graph of faces-in-either-winding, joined as their edges demand,
    a face's two windings fall apart for an orientable piece: the one that
    shares a component with the piece's first face, as written, is kept.
    A piece whose signed volume (about its centre) comes out negative is
    then turned inside out; a non-orientable piece is left as it is.
    """
    faces, verts, pairs, shared = edge_pairs(mesh)
    n = len(faces)
    a, b = pairs[:, 0], pairs[:, 1]
    agree = _runs_forward(faces[a], shared) != _runs_forward(faces[b], shared)
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
    volume = np.bincount(piece, np.where(flip, -volume, volume))
    return flip != (volume < 0)[piece]


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
    _, first, same = np.unique(vertices, axis=0, return_index=True, return_inverse=True)
    merged = same.ravel()[faces].astype(np.int64)
    edges = np.sort(merged[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2), axis=1)
    key, count = np.unique(edges[:, 0] * len(first) + edges[:, 1], return_counts=True)  # one number an edge
    border = np.stack(np.divmod(key[count == 1], len(first)), axis=1)
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
