"""PLY files that trimesh reads wrongly, made into PLYs that it reads right.

trimesh's binary PLY reader refuses faces of mixed sizes (triangles with
quads, as Blender writes a modelled mesh), cuts polygons as fans
(``polygons``), and gives every face the last of several textures a PLY
names (MeshLab and OpenMVS write a scan's atlases so, each face's
``texnumber`` choosing its own). Such a file is read here with plyfile, its
polygons cut by ``polygons.triangulate``, and written again as one binary
PLY of triangles per texture, for trimesh. A PLY of triangle strips, which
trimesh reads as points, is cut into its triangles the same way, and a
text PLY with blank lines among its rows is read without them.
"""

from __future__ import annotations

import io
import logging
import os
import re
import tempfile

import numpy as np
import plyfile
import trimesh

from .polygons import triangulate


class _SaidElsewhere(logging.Filter):
    """Drops trimesh's traceback for a PLY texture that is missing or does not
    open: the loader says so in a sentence (``beside.BesideResolver``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.msg != "unable to load image!"


trimesh.util.log.addFilter(_SaidElsewhere())


def ply_scene(path: str, options: dict) -> trimesh.Scene:
    """A PLY as trimesh reads it, or, where trimesh would read it wrongly
    (faces of mixed sizes or polygons, several textures), as the meshes
    ``_meshes`` makes of it, one node per texture; a text PLY's blank rows
    and Assimp's colours put right first."""
    fixed = _without_blank_rows(path) or _colours_as_written(path)
    if fixed is not None:
        with tempfile.TemporaryDirectory(prefix="partscope-ply-") as folder:
            clean = os.path.join(folder, os.path.basename(path))
            with open(clean, "wb") as f:
                f.write(fixed)
            return ply_scene(clean, options)
    faces, textures = ply_header(path)
    if not faces and re.search(r"^element\s+tristrips\s+[1-9]", _head(path), re.M):
        scene = trimesh.Scene()
        for geom in trimesh.load_scene(_strips_as_faces(path), file_type="ply", **options).geometry.values():
            scene.add_geometry(geom, node_name=os.path.basename(path), geom_name=os.path.basename(path))
        return scene
    if textures < 2:
        try:
            scene = trimesh.load_scene(path, **options)
            if sum(len(getattr(g, "faces", ())) for g in scene.geometry.values()) <= faces:
                return scene
        except ValueError:  # "PLY is unexpected length!": faces of mixed sizes
            if faces == 0:
                raise
    try:
        meshes = _meshes(path)
    except plyfile.PlyParseError:  # rows that do not match the header (Assimp's text PLY): trimesh reads some
        meshes = None
    if meshes is None:
        return trimesh.load_scene(path, **options)
    scene = trimesh.Scene()
    stem = os.path.basename(path)
    for i, (name, data) in enumerate(meshes):
        label = f"{stem} {name}".strip()
        label = f"{label} {i}" if label in scene.graph.nodes else label  # a texture named twice
        for geom in trimesh.load_scene(data, file_type="ply", **options).geometry.values():
            scene.add_geometry(geom, node_name=label, geom_name=label)
    return scene


def _strips_as_faces(path: str) -> io.BytesIO:
    """A PLY of triangle strips (``element tristrips``, -1 ending a strip,
    as the Stanford scanning repository's older models are written) as a
    binary PLY of the triangles, every other one turned so that all wind
    alike; those with a repeated corner (the joins) left out."""
    data = plyfile.PlyData.read(path)
    strips = data["tristrips"].data
    index = next(name for name in strips.dtype.names if name in ("vertex_indices", "vertex_index"))
    run = np.concatenate([np.append(np.asarray(s, np.int64), -1) for s in strips[index]])
    k = np.flatnonzero((run[:-2] >= 0) & (run[1:-1] >= 0) & (run[2:] >= 0))
    start = np.maximum.accumulate(np.where(run < 0, np.arange(len(run)) + 1, 0))  # where each strip begins
    tris = np.stack([run[k], run[k + 1], run[k + 2]], axis=1)
    odd = (k - start[k]) % 2 == 1
    tris[odd] = tris[odd][:, [1, 0, 2]]
    tris = tris[(tris[:, 0] != tris[:, 1]) & (tris[:, 1] != tris[:, 2]) & (tris[:, 0] != tris[:, 2])]
    rows = np.empty(len(tris), np.dtype([("n", "u1"), ("vertex_indices", "<i4", (3,))]))
    rows["n"], rows["vertex_indices"] = 3, tris
    return _binary_ply(data.comments, data.obj_info, data["vertex"].data, rows)


def _without_blank_rows(path: str) -> bytes | None:
    """A text PLY with blank lines among its rows (some writers put one
    between its vertices and its faces; trimesh's and plyfile's text readers
    take one for a row) without them; None for any other PLY."""
    if not re.search(r"^format\s+ascii", _head(path), re.M):
        return None
    head, body = _halves(path)
    if re.search(rb"\n[ \t]*\r?\n", body.strip()) is None:
        return None
    return head + b"end_header\n" + b"\n".join(line for line in body.splitlines()[1:] if line.strip()) + b"\n"


def _colours_as_written(path: str) -> bytes | None:
    """A binary PLY by Assimp (5.0 to 5.4) that declares its vertex colours
    as bytes but writes each as a 4-byte float, the rest of the file then
    read out of step (a damaged file to every reader), with those colours
    declared as floats; None for any other PLY, and where the file's length
    does not come out exact so."""
    text = _head(path)
    if not (re.search(r"^format\s+binary", text, re.M) and "Open Asset Import Library" in text):
        return None
    colour = rb"(?m)^property\s+uchar\s+((?:red|green|blue|alpha)\d*)[ \t]*\r?$"
    head, body = _halves(path)
    fixed = re.sub(colour, rb"property float \1", head)
    if fixed == head:
        return None
    whole = fixed + b"end_header" + body
    try:
        data = _read(io.BytesIO(whole), fixed.decode("ascii", "replace"))
    except (plyfile.PlyParseError, ValueError):
        return None
    size = 0  # of the data, which begins after end_header's line
    for element in data.elements:
        for prop in element.properties:
            if isinstance(prop, plyfile.PlyListProperty):
                values = _lengths(element.data[prop.name]).sum()
                size += element.count * np.dtype(prop.len_dtype).itemsize + values * np.dtype(prop.val_dtype).itemsize
            else:
                size += element.count * np.dtype(prop.val_dtype).itemsize
    return whole if size == len(body) - body.find(b"\n") - 1 else None


def _halves(path: str) -> tuple[bytes, bytes]:
    """A PLY's bytes before its ``end_header`` and after it."""
    with open(path, "rb") as f:
        head, body = f.read().split(b"end_header", 1)
    return head, body


def _head(path: str) -> str:
    """A PLY's header (what comes before ``end_header``, at most 64 kB)."""
    with open(path, "rb") as f:
        return f.read(65536).split(b"end_header")[0].decode("ascii", "replace")


def ply_header(path: str) -> tuple[int, int]:
    """The face count a PLY's header gives (0 if none) and how many texture files it names."""
    head = _head(path)
    found = re.search(r"^element\s+face\s+(\d+)", head, re.M)
    return (int(found.group(1)) if found else 0), len(re.findall(r"^comment\s+TextureFile\b", head, re.M | re.I))


def ply_texture(path: str) -> bool:
    """Whether a PLY's header names a texture file."""
    return "TextureFile" in _head(path)


def _meshes(path: str) -> list[tuple[str, io.BytesIO]] | None:
    """A PLY that trimesh would read wrongly, as binary PLYs of triangles
    that it reads right, one per texture: faces of mixed sizes, each polygon
    cut by ``triangulate`` (a face's other values repeated on its triangles,
    its per-corner lists, such as MeshLab's texcoord, following the
    corners), and several textures (``comment TextureFile`` lines, a face's
    ``texnumber`` naming its own, as MeshLab and OpenMVS write a scan's
    atlases; trimesh gives every face the last). Each mesh keeps the
    vertices its faces use and the file's other comments, and is named by
    its texture. None when every face is a triangle under one texture, or
    there are no faces."""
    data = _read(path)
    names = [e.name for e in data.elements]
    if "vertex" not in names or "face" not in names:
        return None
    faces, vertex = data["face"], data["vertex"]
    index = next((p.name for p in faces.properties if p.name in ("vertex_indices", "vertex_index")), None)
    if index is None or not len(faces.data) or any(isinstance(p, plyfile.PlyListProperty) for p in vertex.properties):
        return None
    textures = [c.split(None, 1)[1].strip() for c in data.comments if c.lower().startswith("texturefile ")]
    sizes = _lengths(faces.data[index])
    several = len(textures) > 1 and "texnumber" in faces.data.dtype.names
    if (sizes == 3).all() and not several:
        return None
    table = faces.data[sizes >= 3]  # a face of one or two corners has no surface
    sizes = sizes[sizes >= 3]
    if not len(sizes):
        return None
    corners = _flat(table[index]).astype(np.int64)
    xyz = np.stack([vertex.data[c] for c in ("x", "y", "z")], axis=1).astype(np.float64)
    poly, corner = triangulate(sizes, corners, xyz)
    rows = _face_rows(faces, table, index, sizes, poly, corner, corners)
    kept = [c for c in data.comments if not c.lower().startswith("texturefile ")]
    texture = table["texnumber"][poly].astype(np.int64) if several else np.zeros(len(poly), np.int64)
    out = []
    for t in np.unique(texture):
        mine = rows[texture == t]
        used, local = np.unique(mine[index], return_inverse=True)
        mine[index] = local.reshape(-1, 3)
        named = textures[t] if 0 <= t < len(textures) else None
        comments = kept + ([f"TextureFile {named}"] if named else [])
        label = (named or "untextured") if several else ""
        out.append((label, _binary_ply(comments, data.obj_info, vertex.data[used], mine)))
    return out


def _read(path, head: str | None = None) -> plyfile.PlyData:
    """The PLY (a path, or a stream with its ``head``er's text) as plyfile
    reads it: its face lists read at once where every face is a triangle, or
    every face a quad (their lengths checked; other lists two values a
    corner, texture coordinates), else row by row (13 s for a million faces)."""
    head = _head(path) if head is None else head
    face = head.split("element face", 1)[1].split("element", 1)[0] if "element face" in head else ""
    lists = re.findall(r"^property\s+list\s+\S+\s+\S+\s+(\S+)", face, re.M)
    for corners in () if re.search(r"^format\s+ascii", head, re.M) else (3, 4):
        known = {name: corners if name in ("vertex_indices", "vertex_index") else 2 * corners for name in lists}
        try:
            return plyfile.PlyData.read(path, known_list_len={"face": known})
        except plyfile.PlyParseError:  # faces of other sizes
            if not isinstance(path, str):
                path.seek(0)
    return plyfile.PlyData.read(path)


def _lengths(column: np.ndarray) -> np.ndarray:
    """(n,) length of each row of a PLY list column (rows of arrays, or one 2D array)."""
    if column.dtype != object:
        return np.full(len(column), column.shape[1], np.int64)
    return np.fromiter((len(x) for x in column), np.int64, len(column))


def _flat(column: np.ndarray) -> np.ndarray:
    """A PLY list column's values one row after another (a 2D array as it lies)."""
    return column.ravel() if column.dtype != object else np.concatenate(column)


def _face_rows(faces, table: np.ndarray, index: str, sizes: np.ndarray, poly: np.ndarray, corner: np.ndarray,
               corners: np.ndarray) -> np.ndarray:
    """(T,) structured rows of the triangles: their corners (``n`` and
    ``index``), each of the face's other values, a per-corner list following
    the corners (its length as a field of its own, ``<name>_n``); lists that
    are not per corner are left out."""
    fields, values = [("n", "u1"), (index, "<i4", (3,))], [np.full(len(poly), 3, np.uint8), corners[corner]]
    for prop in faces.properties:
        column = table[prop.name]
        if prop.name == index:
            continue
        if isinstance(prop, plyfile.PlyListProperty):
            per = _lengths(column)
            k = int(per[0] // sizes[0])
            if k == 0 or (per != k * sizes).any():
                continue
            flat = _flat(column).reshape(-1, k)
            fields += [(prop.name + "_n", "u1"), (prop.name, "<" + flat.dtype.str[1:], (3 * k,))]
            values += [np.full(len(poly), 3 * k, np.uint8), flat[corner].reshape(len(poly), -1)]
        else:
            fields.append((prop.name, "<" + column.dtype.str[1:]))
            values.append(column[poly])
    rows = np.empty(len(poly), np.dtype(fields))
    for (name, *_), value in zip(fields, values):
        rows[name] = value
    return rows


def _binary_ply(comments: list, obj_info: list, verts: np.ndarray, rows: np.ndarray) -> io.BytesIO:
    """A little-endian binary PLY of the vertex and face rows (structured
    arrays; a face list's length a field of its own, ``_n``, before it)."""
    kinds = {"i1": "char", "u1": "uchar", "i2": "short", "u2": "ushort", "i4": "int", "u4": "uint",
             "f4": "float", "f8": "double"}
    head = ["ply", "format binary_little_endian 1.0"]
    head += [f"comment {c}" for c in comments] + [f"obj_info {c}" for c in obj_info]
    verts = verts.astype(verts.dtype.newbyteorder("<"))
    head.append(f"element vertex {len(verts)}")
    head += [f"property {kinds[verts.dtype[name].str[1:]]} {name}" for name in verts.dtype.names]
    head.append(f"element face {len(rows)}")
    lengths = {"n"} | {name + "_n" for name in rows.dtype.names if rows.dtype[name].shape}
    for name in rows.dtype.names:
        kind = kinds[rows.dtype[name].base.str[1:]]
        if name not in lengths:
            head.append(f"property list uchar {kind} {name}" if rows.dtype[name].shape else f"property {kind} {name}")
    out = io.BytesIO()
    out.write(("\n".join(head) + "\nend_header\n").encode("ascii"))
    out.write(verts.tobytes())
    out.write(rows.tobytes())
    out.seek(0)
    return out
