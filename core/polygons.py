"""Polygons cut into triangles that stay inside them, and PLY files whose
faces are polygons of mixed sizes.

trimesh cuts a polygon of five or more corners into a fan from its first
corner, which leaves the polygon where that corner cannot see all of it (a
star, a letter, an L-shaped floor): triangles outside it, overlapping ones
inside. Its binary PLY reader refuses faces of mixed sizes (triangles with
quads, as Blender writes a modelled mesh), and it cuts every quad along
0-2, outside the quad where corner 1 or 3 is reflex. Here a quad is cut
along the diagonal from its reflex corner, a larger polygon by ear clipping
(mapbox_earcut) in its plane.
"""

from __future__ import annotations

import io

import mapbox_earcut
import numpy as np
import plyfile


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
    normal = _normal(points)
    axis = int(np.abs(normal).argmax())
    flat = np.delete(points, axis, axis=1).astype(np.float64)
    tri = mapbox_earcut.triangulate_float64(flat, np.array([n], np.uint32)).reshape(-1, 3).astype(np.int64)
    if len(tri) != n - 2:
        return np.stack([np.zeros(n - 2, np.int64), np.arange(1, n - 1), np.arange(2, n)], axis=1)
    # keep the polygon's winding: a triangle turning against its normal is flipped
    a, b, c = (points[tri[:, i]] for i in range(3))
    backwards = np.einsum("ij,j->i", np.cross(b - a, c - a), normal) < 0
    tri[backwards] = tri[backwards][:, ::-1]
    return tri


def ply_triangles(path: str) -> io.BytesIO | None:
    """A PLY whose faces are not all triangles, as a binary PLY of triangles
    for trimesh: its vertices and comments as they are, each polygon cut by
    ``triangulate``, a face's other values repeated on its triangles (its
    per-corner lists, such as MeshLab's texcoord, following the corners);
    None when every face is a triangle or it has no faces."""
    data = plyfile.PlyData.read(path)
    names = [e.name for e in data.elements]
    if "vertex" not in names or "face" not in names:
        return None
    faces = data["face"]
    index = next((p.name for p in faces.properties if p.name in ("vertex_indices", "vertex_index")), None)
    if index is None or not len(faces.data):
        return None
    sizes = np.fromiter((len(x) for x in faces.data[index]), np.int64, len(faces.data))
    if (sizes == 3).all():
        return None
    table = faces.data[sizes >= 3]  # a face of one or two corners has no surface
    sizes = sizes[sizes >= 3]
    if not len(sizes):
        return None
    corners = np.concatenate(table[index]).astype(np.int64)
    vertex = data["vertex"]
    if any(isinstance(p, plyfile.PlyListProperty) for p in vertex.properties):
        return None
    xyz = np.stack([vertex.data[c] for c in ("x", "y", "z")], axis=1).astype(np.float64)
    poly, corner = triangulate(sizes, corners, xyz)
    fields, values = [("n", "u1"), (index, "<i4", (3,))], [np.full(len(poly), 3, np.uint8), corners[corner]]
    for prop in faces.properties:
        column = table[prop.name]
        if prop.name == index:
            continue
        if isinstance(prop, plyfile.PlyListProperty):
            per = np.fromiter((len(x) for x in column), np.int64, len(column))
            k = int(per[0] // sizes[0])
            if k == 0 or (per != k * sizes).any():
                continue  # not one value set per corner: left out
            flat = np.concatenate(column).reshape(-1, k)
            fields += [(prop.name + "_n", "u1"), (prop.name, "<" + flat.dtype.str[1:], (3 * k,))]
            values += [np.full(len(poly), 3 * k, np.uint8), flat[corner].reshape(len(poly), -1)]
        else:
            fields.append((prop.name, "<" + column.dtype.str[1:]))
            values.append(column[poly])
    rows = np.empty(len(poly), np.dtype(fields))
    for (name, *_), value in zip(fields, values):
        rows[name] = value
    return _binary_ply(data, vertex, rows)


def _binary_ply(data, vertex, rows: np.ndarray) -> io.BytesIO:
    """A little-endian binary PLY of ``vertex`` (a plyfile element) and the
    face ``rows`` (their list lengths as fields of their own, ``_n``)."""
    kinds = {"i1": "char", "u1": "uchar", "i2": "short", "u2": "ushort", "i4": "int", "u4": "uint",
             "f4": "float", "f8": "double"}
    head = ["ply", "format binary_little_endian 1.0"]
    head += [f"comment {c}" for c in data.comments] + [f"obj_info {c}" for c in data.obj_info]
    verts = vertex.data.astype(vertex.data.dtype.newbyteorder("<"))
    head.append(f"element vertex {len(verts)}")
    head += [f"property {kinds[verts.dtype[name].str[1:]]} {name}" for name in verts.dtype.names]
    head.append(f"element face {len(rows)}")
    lengths = {"n"} | {name + "_n" for name in rows.dtype.names if rows.dtype[name].shape}
    for name in rows.dtype.names:
        kind = kinds[rows.dtype[name].base.str[1:]]
        if name not in lengths:  # a list's length field comes before it, as in the file
            head.append(f"property list uchar {kind} {name}" if rows.dtype[name].shape else f"property {kind} {name}")
    out = io.BytesIO()
    out.write(("\n".join(head) + "\nend_header\n").encode("ascii"))
    out.write(verts.tobytes())
    out.write(rows.tobytes())
    out.seek(0)
    return out
