"""Polygons cut into triangles that stay inside them.

trimesh cuts a polygon of five or more corners into a fan from its first
corner, which leaves the polygon where that corner cannot see all of it (a
star, a letter, an L-shaped floor): triangles outside it, overlapping ones
inside; and every quad along 0-2, outside the quad where corner 1 or 3 is
reflex. Here a quad is cut along the diagonal from its reflex corner, a
larger polygon by ear clipping (mapbox_earcut) in its plane.
"""

from __future__ import annotations

import mapbox_earcut
import numpy as np


def triangulate(sizes: np.ndarray, corners: np.ndarray, verts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every polygon cut into triangles, wound as the polygon is.

    sizes : (P,) corners of each polygon (3 or more); corners : (sum sizes,)
    their vertex indices one polygon after another; verts : (V, 3) positions
    returns (T,) polygon of each triangle and (T, 3) its corners as
    positions in ``corners``, polygons in order.
    """
    sizes = np.asarray(sizes, np.int64)
    start = np.cumsum(sizes) - sizes
    out_poly, out_corner = [], []
    for n in np.unique(sizes):
        which = np.nonzero(sizes == n)[0]
        if n == 3:
            local = np.broadcast_to(np.arange(3), (len(which), 1, 3))
        elif n == 4:
            local = _quads(verts[corners[start[which, None] + np.arange(4)]])
        else:
            local = np.stack([_ear_clipped(verts[corners[start[p] + np.arange(n)]]) for p in which])
        out_poly.append(np.repeat(which, local.shape[1]))
        out_corner.append((start[which, None, None] + local).reshape(-1, 3))
    poly, corner = np.concatenate(out_poly), np.concatenate(out_corner)
    order = np.argsort(poly, kind="stable")
    return poly[order], corner[order]


def _normal(points: np.ndarray) -> np.ndarray:
    """(..., 3) Newell normal of polygons (..., n, 3): their area's direction."""
    nxt = np.roll(points, -1, axis=-2)
    return np.cross(points, nxt).sum(axis=-2)


def _quads(points: np.ndarray) -> np.ndarray:
    """(Q, 2, 3) corners of two triangles per quad (Q, 4, 3): along 0-2, or
    along 1-3 where corner 1 or 3 is reflex (0-2 would leave the quad)."""
    normal = _normal(points)
    turn = np.cross(points - np.roll(points, 1, axis=1), np.roll(points, -1, axis=1) - points)
    reflex = np.einsum("qij,qj->qi", turn, normal) < 0
    other = reflex[:, 1] | reflex[:, 3]
    return np.where(other[:, None, None], [[1, 2, 3], [1, 3, 0]], [[0, 1, 2], [0, 2, 3]])


def _ear_clipped(points: np.ndarray) -> np.ndarray:
    """(n - 2, 3) corners of the triangles of one polygon (n, 3): ear clipping
    in the plane across its normal's largest axis; a fan where that finds
    nothing (a polygon with no area)."""
    n = len(points)
    tri = with_holes([points])
    if len(tri) != n - 2:
        return np.stack([np.zeros(n - 2, np.int64), np.arange(1, n - 1), np.arange(2, n)], axis=1)
    return tri


def with_holes(rings: list[np.ndarray]) -> np.ndarray:
    """(T, 3) corners, counted over the rings joined, of the triangles of a
    polygon (``rings[0]``, (n, 3) points) with holes (``rings[1:]``), by ear
    clipping in the plane across its outline's normal's largest axis, wound
    as its outline."""
    points = np.concatenate(rings).astype(np.float64)
    normal = _normal(rings[0])
    flat = np.delete(points, int(np.abs(normal).argmax()), axis=1)
    ends = np.cumsum([len(ring) for ring in rings]).astype(np.uint32)
    tri = mapbox_earcut.triangulate_float64(flat, ends).reshape(-1, 3).astype(np.int64)
    a, b, c = (points[tri[:, i]] for i in range(3))
    backwards = np.einsum("ij,j->i", np.cross(b - a, c - a), normal) < 0
    tri[backwards] = tri[backwards][:, ::-1]
    return tri
