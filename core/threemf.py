"""3MF files (3D printing: slicers, Windows' 3D Builder, CAD), read into
trimesh meshes.

A 3MF is a ZIP of XML model files: objects hold a mesh or components
(other objects, placed by a transform), and the build places objects on the
plate. Today's slicers (Bambu Studio, OrcaSlicer) keep the parts in model
files of their own, each component naming its file (``p:path``, the
production extension) and its object there; trimesh's reader loads every
object of that file for every component (a six-part car six times over),
so PartScope reads the package itself. Each placed mesh keeps its object's
name, else the nearest named object above it; base materials and colour
groups (``displaycolor``, sRGB) colour the triangles that use them.
"""

from __future__ import annotations

import posixpath
import zipfile

import numpy as np
import trimesh
from lxml import etree

CORE = "{http://schemas.microsoft.com/3dmanufacturing/core/2015/02}"
MATERIAL = "{http://schemas.microsoft.com/3dmanufacturing/material/2015/02}"
PRODUCTION = "{http://schemas.microsoft.com/3dmanufacturing/production/2015/06}"
RELATIONSHIPS = "{http://schemas.openxmlformats.org/package/2006/relationships}"
MODEL_TYPE = "http://schemas.microsoft.com/3dmanufacturing/2013/01/3dmodel"
#: The colour of a triangle no material colours (as PartScope shows any uncoloured face).
GREY = (200, 200, 200, 255)
#: Components nested deeper than this are a loop, not a model; more objects
#: placed than this, a file built to multiply (each object placing the next twice).
MAX_DEPTH = 32
MAX_PLACED = 200_000
PARSER = etree.XMLParser(resolve_entities=False, no_network=True, remove_comments=True)


def scene(path: str) -> list:
    """(name, mesh) of every mesh the build places, in the file's
    coordinates (Z up). ValueError (or lxml's, zipfile's) where the package
    is not a 3MF that parses."""
    with zipfile.ZipFile(path) as archive:
        names = {n.lower(): n for n in archive.namelist()}
        models: dict = {}

        def model(part: str) -> dict:
            key = part.lstrip("/").lower()
            if key not in models:
                if key not in names:
                    raise ValueError(f"names a model file '{part}' it does not hold")
                models[key] = _objects(etree.fromstring(archive.read(names[key]), PARSER))
            return models[key]

        root = _root_part(archive, names)
        document = etree.fromstring(archive.read(names[root.lower()]), PARSER)
        models[root.lower()] = _objects(document)
        out, placed = [], [0]
        for item in document.iter(f"{CORE}item"):  # an item may name another model file too
            part = item.get(f"{PRODUCTION}path")
            _place(model, posixpath.normpath("/" + part).lstrip("/") if part else root, item.get("objectid"),
                   _transform(item.get("transform")), "", out, 0, placed)
    return out


def _root_part(archive: zipfile.ZipFile, names: dict) -> str:
    """The package's root model file: as its relationships say, else 3D/3dmodel.model."""
    rels = names.get("_rels/.rels")
    if rels is not None:
        for rel in etree.fromstring(archive.read(rels), PARSER).iter(f"{RELATIONSHIPS}Relationship"):
            if rel.get("Type") == MODEL_TYPE and rel.get("Target", "").lstrip("/").lower() in names:
                return rel.get("Target").lstrip("/")
    if "3d/3dmodel.model" in names:
        return "3D/3dmodel.model"
    raise ValueError("holds no 3D model part")


def _objects(document) -> dict:
    """{object id: (name, vertices, faces, face colours or None, components)}
    of one model file; components are (model file or None, object id, (4, 4))."""
    colors = {}
    for group_tag, entry_tag, attribute in ((f"{CORE}basematerials", f"{CORE}base", "displaycolor"),
                                            (f"{MATERIAL}colorgroup", f"{MATERIAL}color", "color")):
        for group in document.iter(group_tag):
            colors[group.get("id")] = np.array([_color(e.get(attribute)) for e in group.iter(entry_tag)],
                                               np.uint8).reshape(-1, 4)
    objects = {}
    for obj in document.iter(f"{CORE}object"):
        vertices, faces, paints = [np.zeros((0, 3))], [np.zeros((0, 3), np.int64)], []
        for mesh in obj.findall(f"{CORE}mesh"):  # one by the specification; Assimp writes one per material
            triangles = list(mesh.iter(f"{CORE}triangle"))
            corners = _columns(triangles, ("v1", "v2", "v3"), np.int64)
            points = _columns(list(mesh.iter(f"{CORE}vertex")), "xyz", np.float64)
            if len(corners) and (corners.min() < 0 or corners.max() >= len(points)):
                raise ValueError("has triangles that point at missing vertices")
            faces.append(corners + sum(map(len, vertices)))
            vertices.append(points)
            paints.append(_face_colors(obj, triangles, colors))
        paint = None
        if any(p is not None for p in paints):
            paint = np.concatenate([np.full((len(f), 4), GREY, np.uint8) if p is None else p
                                    for p, f in zip(paints, faces[1:])])
        vertices, faces = np.concatenate(vertices), np.concatenate(faces)
        parts = [(c.get(f"{PRODUCTION}path"), c.get("objectid"), _transform(c.get("transform")))
                 for c in obj.iter(f"{CORE}component")]
        objects[obj.get("id")] = (obj.get("name") or "", vertices, faces, paint, parts)
    return objects


def _columns(elements: list, names, dtype) -> np.ndarray:
    """(N, len(names)) the attributes ``names`` of ``elements``, read a
    column at a time (a million triangles in about a second); ValueError
    where an element lacks one."""
    columns = [[e.get(name) for e in elements] for name in names]
    if any(None in column for column in columns):
        raise ValueError("has a vertex or triangle without its coordinates or corners")
    return np.array(columns, dtype).T.reshape(-1, len(names))


def _face_colors(obj, triangles: list, colors: dict) -> np.ndarray | None:
    """(F, 4) uint8 each triangle's colour (its own property, else its
    object's), or None where the object has none."""
    default = (obj.get("pid"), obj.get("pindex") or "0")
    if not colors or (default[0] not in colors and not any(t.get("pid") in colors for t in triangles)):
        return None
    out = np.full((len(triangles), 4), GREY, np.uint8)
    for k, t in enumerate(triangles):
        group, index = (t.get("pid"), t.get("p1")) if t.get("pid") else (default[0], t.get("p1") or default[1])
        table = colors.get(group)
        if table is not None and index is not None and 0 <= int(index) < len(table):
            out[k] = table[int(index)]
    return out


def _place(model, part: str, object_id: str, transform: np.ndarray, name: str, out: list, depth: int,
           placed: list | None = None):
    """Add the object ``object_id`` of the model file ``part`` to ``out``
    as (name, mesh), placed by ``transform``; ``placed`` counts the objects
    placed so far, meshes or not."""
    placed = [0] if placed is None else placed
    placed[0] += 1
    if depth > MAX_DEPTH:
        raise ValueError("has components that hold each other")
    if placed[0] > MAX_PLACED:
        raise ValueError(f"places more than {MAX_PLACED:,} objects")
    found = model(part).get(object_id)
    if found is None:
        raise ValueError(f"places an object ({object_id}) it does not define")
    own, vertices, faces, paint, parts = found
    name = own or name
    if len(faces):
        mesh = trimesh.Trimesh(trimesh.transform_points(vertices, transform), faces, process=False)
        if paint is not None:
            mesh.visual = trimesh.visual.ColorVisuals(mesh, face_colors=paint)
        out.append((name or "object", mesh))
    for path, child, place in parts:
        target = posixpath.normpath("/" + path).lstrip("/") if path else part
        _place(model, target, child, transform @ place, name, out, depth + 1, placed)


def _transform(text: str | None) -> np.ndarray:
    """(4, 4) of a 3MF transform: twelve numbers, the rows of a 4 x 3 matrix
    that points (as rows, a 1 after them) are multiplied by."""
    out = np.eye(4)
    if text:
        values = np.array(text.split(), np.float64)
        if values.size != 12:
            raise ValueError("has a transform that is not twelve numbers")
        out[:3, :] = values.reshape(4, 3).T
    return out


def _color(text: str | None) -> tuple:
    """RGBA bytes of a 3MF colour, '#RRGGBB' or '#RRGGBBAA' (sRGB)."""
    text = (text or "").lstrip("#")
    text = text + "FF" if len(text) == 6 else text
    try:
        return tuple(int(text[i:i + 2], 16) for i in range(0, 8, 2)) if len(text) == 8 else GREY
    except ValueError:  # not hexadecimal
        return GREY
