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
groups (``displaycolor``, sRGB) colour the triangles that use them, corner
by corner, and texture2d groups texture them (coordinates from the image's
lower left, as trimesh's); a mesh is welded where place and look agree.

What a slicer's config says of the parts (names, kinds, filaments, painted
triangles) is read by ``core.slicers``.
"""

from __future__ import annotations

import io
import posixpath
import zipfile

import numpy as np
import PIL.Image
import trimesh
from lxml import etree

from . import slicers
from .inputs import MAX_TEXTURE_PIXELS
from .looks import GREY
from .topology import unique_rows

CORE = "{http://schemas.microsoft.com/3dmanufacturing/core/2015/02}"
MATERIAL = "{http://schemas.microsoft.com/3dmanufacturing/material/2015/02}"
PRODUCTION = "{http://schemas.microsoft.com/3dmanufacturing/production/2015/06}"
RELATIONSHIPS = "{http://schemas.openxmlformats.org/package/2006/relationships}"
MODEL_TYPE = "http://schemas.microsoft.com/3dmanufacturing/2013/01/3dmodel"
#: Components nested deeper than this are a loop, not a model; more objects
#: placed than this, a file built to multiply (each object placing the next twice).
MAX_DEPTH = 32
MAX_PLACED = 200_000
PARSER = etree.XMLParser(resolve_entities=False, no_network=True, remove_comments=True)


def scene(path: str) -> tuple[list, int, list]:
    """(name, mesh) of every mesh the build places, in the file's
    coordinates (Z up); how many slicer volumes that are not printed shape
    it left out; the textures it names but does not hold (or that do not
    open as images). ValueError (or lxml's, zipfile's) where the package is
    not a 3MF that parses."""
    with zipfile.ZipFile(path) as archive:
        names = {n.lower(): n for n in archive.namelist()}
        models: dict = {}

        def model(part: str) -> dict:
            key = part.lstrip("/").lower()
            if key not in models:
                if key not in names:
                    raise ValueError(f"names a model file '{part}' it does not hold")
                models[key] = _objects(*_parse(archive.read(names[key])))
            return models[key]

        root = _root_part(archive, names)
        document, painting = _parse(archive.read(names[root.lower()]))
        models[root.lower()] = _objects(document, painting)
        slicer = slicers.parts(archive, names, PARSER)
        filaments = [_color(c) for c in slicers.filament_colours(archive, names)]
        pictures: dict = {}
        decoded = [0]  # pixels: past the budget an image is left to the loader's count, undecoded

        def image(texture: str):
            if texture not in pictures:
                try:
                    pictures[texture] = PIL.Image.open(io.BytesIO(archive.read(names[texture.lstrip("/").lower()])))
                    decoded[0] += pictures[texture].width * pictures[texture].height
                    if decoded[0] <= MAX_TEXTURE_PIXELS:
                        pictures[texture].load()
                except Exception:  # not in the package, or not an image: drawn grey, named in a warning
                    pictures[texture] = None
            return pictures[texture]

        out, placed = [], [0, 0]
        for item in document.iter(f"{CORE}item"):  # an item may name another model file too
            part = item.get(f"{PRODUCTION}path")
            top = item.get("objectid")
            _place(model, posixpath.normpath("/" + part).lstrip("/") if part else root, top,
                   _transform(item.get("transform")), "", out, 0, placed,
                   {"filaments": filaments, **({} if part else slicer.get(top, {}))}, image)
    return out, placed[1], sorted(t for t, picture in pictures.items() if picture is None)


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


def _parse(data: bytes) -> tuple:
    """A model file's XML document, and whether any of its triangles may be painted."""
    return etree.fromstring(data, PARSER), b"paint_color" in data or b"mmu_segmentation" in data


def _objects(document, painting: bool) -> dict:
    """{object id: (name, vertices, faces, look, components, painted
    filaments or None)} of one model file; look is (corner colours (F, 3,
    4) uint8, corner texture coordinates (F, 3, 2), texture of each face
    (F,) str, '' none), None where the object has none; components are
    (model file or None, object id, (4, 4)); painted filaments (F,) int, 0
    where a triangle is not painted (read only where ``painting``)."""
    tables = {}  # property group id: (n, 4) colours, or (texture's path, (n, 2) coordinates)
    for group_tag, entry_tag, attribute in ((f"{CORE}basematerials", f"{CORE}base", "displaycolor"),
                                            (f"{MATERIAL}colorgroup", f"{MATERIAL}color", "color")):
        for group in document.iter(group_tag):
            tables[group.get("id")] = np.array([_color(e.get(attribute)) for e in group.iter(entry_tag)],
                                               np.uint8).reshape(-1, 4)
    images = {t.get("id"): t.get("path") or "" for t in document.iter(f"{MATERIAL}texture2d")}
    for group in document.iter(f"{MATERIAL}texture2dgroup"):
        tables[group.get("id")] = (images.get(group.get("texid"), ""),
                                   _columns(list(group.iter(f"{MATERIAL}tex2coord")), "uv", np.float64))
    objects = {}
    for obj in document.iter(f"{CORE}object"):
        vertices, faces, looks, painted = [np.zeros((0, 3))], [np.zeros((0, 3), np.int64)], [], []
        for mesh in obj.findall(f"{CORE}mesh"):  # one by the specification; Assimp writes one per material
            triangles = list(mesh.iter(f"{CORE}triangle"))
            corners = _columns(triangles, ("v1", "v2", "v3"), np.int64)
            points = _columns(list(mesh.iter(f"{CORE}vertex")), "xyz", np.float64)
            if len(corners) and (corners.min() < 0 or corners.max() >= len(points)):
                raise ValueError("has triangles that point at missing vertices")
            faces.append(corners + sum(map(len, vertices)))
            vertices.append(points)
            looks.append(_corner_looks(obj, triangles, tables))
            if painting:
                painted += [slicers.painted_filament(t.get(slicers.PAINTED[0]) or t.get(slicers.PAINTED[1]) or "")
                            for t in triangles]
        look = None
        if any(one is not None for one in looks):
            look = tuple(np.concatenate(column) for column in zip(*[one or _blank_look(len(f))
                                                                    for one, f in zip(looks, faces[1:])]))
        vertices, faces = np.concatenate(vertices), np.concatenate(faces)
        parts = [(c.get(f"{PRODUCTION}path"), c.get("objectid"), _transform(c.get("transform")))
                 for c in obj.iter(f"{CORE}component")]
        filaments = np.array(painted, np.int64) if any(painted) else None
        objects[obj.get("id")] = (obj.get("name") or "", vertices, faces, look, parts, filaments)
    return objects


def _columns(elements: list, names, dtype) -> np.ndarray:
    """(N, len(names)) the attributes ``names`` of ``elements``, read a
    column at a time (a million triangles in about a second); ValueError
    where an element lacks one."""
    columns = [[e.get(name) for e in elements] for name in names]
    if any(None in column for column in columns):
        raise ValueError("has a vertex or triangle without its coordinates or corners")
    return np.array(columns, dtype).T.reshape(-1, len(names))


def _corner_looks(obj, triangles: list, tables: dict) -> tuple | None:
    """(corner colours (F, 3, 4) uint8, corner texture coordinates (F, 3,
    2), each face's texture path (F,) str) of one mesh's triangles, by
    their own properties (``pid``, ``p1``..``p3``; p2 and p3 default to
    p1), else their object's (``pid``, ``pindex``); None where no triangle
    has one. Read a column at a time, as ``_columns``."""
    default = (obj.get("pid"), obj.get("pindex") or "0")
    own = [t.get("pid") for t in triangles]
    if not tables or (default[0] not in tables and not any(g in tables for g in own)):
        return None
    group = np.array([g or default[0] or "" for g in own], object)
    index = np.array([[t.get(k) or "-1" for t in triangles] for k in ("p1", "p2", "p3")], np.int64).T.reshape(-1, 3)
    index[:, 0] = np.where(index[:, 0] < 0, np.where([g is None for g in own], int(default[1]), -1), index[:, 0])
    index[:, 1:] = np.where(index[:, 1:] < 0, index[:, :1], index[:, 1:])  # p2, p3 default to p1
    colours, uv, texture = _blank_look(len(triangles))
    for name in set(group.tolist()) & set(tables):
        table = tables[name]
        rows = table if isinstance(table, np.ndarray) else table[1]
        pick = np.flatnonzero((group == name) & (index >= 0).all(axis=1) & (index < len(rows)).all(axis=1))
        if isinstance(table, np.ndarray):
            colours[pick] = rows[index[pick]]
        else:
            uv[pick], texture[pick], colours[pick] = rows[index[pick]], table[0], 255
    return colours, uv, texture


def _blank_look(n: int) -> tuple:
    """The look of ``n`` triangles that have none (``_corner_looks``): grey, untextured."""
    return np.full((n, 3, 4), GREY, np.uint8), np.full((n, 3, 2), np.nan), np.full(n, "", object)


def _place(model, part: str, object_id: str, transform: np.ndarray, name: str, out: list, depth: int,
           placed: list, slicer: dict, image):
    """Add the object ``object_id`` of the model file ``part`` to ``out``
    as (name, mesh), placed by ``transform``; ``placed`` counts the objects
    placed so far, meshes or not, and the slicer volumes left out;
    ``slicer``, what the slicer's config says of the build object's parts
    (``slicers.parts``), its filaments' colours and the filament above;
    ``image``, a texture's path to its PIL image or None."""
    placed[0] += 1
    if depth > MAX_DEPTH:
        raise ValueError("has components that hold each other")
    if placed[0] > MAX_PLACED:
        raise ValueError(f"places more than {MAX_PLACED:,} objects")
    found = model(part).get(object_id)
    if found is None:
        raise ValueError(f"places an object ({object_id}) it does not define")
    own, vertices, faces, look, parts, painted = found
    slicer_name, printed, filament = slicer.get("parts", {}).get(object_id, ("", True, 0))
    name = slicer_name or own or name
    if not printed:
        placed[1] += 1
        return
    slicer = {**slicer, "filament": filament or slicer.get("filament") or 1}
    volumes = slicer.get("volumes", []) if depth == 0 else []
    if not all(0 <= first <= last < len(faces) for first, last, *_ in volumes):
        volumes = []  # a config that does not fit the mesh says nothing of it
    colours, uv, texture = look or (None, None, None)
    if slicer.get("filaments"):  # as the slicer shows it: each face its filament's colour
        shown = np.full(len(faces), slicer["filament"])
        for first, last, *_, filament in volumes:
            shown[first:last + 1] = filament or shown[first]
        if painted is not None:
            shown = np.where(painted > 0, painted, shown)
        table = np.array([GREY] + slicer["filaments"], np.uint8)
        colours, texture = np.repeat(table[np.where(shown <= len(slicer["filaments"]), shown, 0)][:, None], 3, 1), None
    vertices = trimesh.transform_points(vertices, transform)
    for first, last, volume, printed, _ in volumes or [(0, len(faces) - 1, "", True, 0)]:
        placed[1] += not printed
        if printed and len(faces):
            cut = slice(first, last + 1)
            for mesh in _meshes(vertices, faces[cut],
                                None if colours is None else colours[cut], None if uv is None else uv[cut],
                                None if texture is None else texture[cut], image):
                out.append((volume or name or "object", mesh))
    for path, child, place in parts:
        target = posixpath.normpath("/" + path).lstrip("/") if path else part
        _place(model, target, child, transform @ place, name, out, depth + 1, placed, slicer, image)


def _meshes(vertices: np.ndarray, faces: np.ndarray, colours, uv, texture, image) -> list:
    """The faces of one object (or volume) as meshes of their own
    vertices: one per texture (its corners welded where place and texture
    coordinate agree), and one of the rest, coloured by face or, where a
    face's corners differ, by vertex (welded where place and colour agree).
    colours (F, 3, 4), uv (F, 3, 2), texture (F,) paths, each or None;
    image : a texture's path to its PIL image, or None where it is missing."""
    groups = {"": np.arange(len(faces))}
    if texture is not None:
        paths, which = np.unique(texture.astype(str), return_inverse=True)
        groups = {path: np.flatnonzero(which == k) for k, path in enumerate(paths)}
    out = []
    for path, rows in groups.items():
        picture = image(path) if path and image is not None else None
        corner = faces[rows].reshape(-1)
        if picture is not None:  # a textured mesh: PBR base colour texture, as a glTF's
            coords = uv[rows].reshape(-1, 2)
            first, inverse = unique_rows(np.column_stack([corner, coords.view(np.int64)]))
            mesh = trimesh.Trimesh(vertices[corner[first]], inverse.reshape(-1, 3), process=False)
            mesh.visual = trimesh.visual.TextureVisuals(uv=coords[first], material=trimesh.visual.material.PBRMaterial(
                baseColorTexture=picture, metallicFactor=0.0, roughnessFactor=1.0))
        elif colours is not None and path == "" and not (colours[rows] == colours[rows][:, :1]).all():
            rgba = colours[rows].reshape(-1, 4)
            first, inverse = unique_rows(np.column_stack([corner, rgba.copy().view(np.uint32).astype(np.int64)]))
            mesh = trimesh.Trimesh(vertices[corner[first]], inverse.reshape(-1, 3), process=False)
            mesh.visual = trimesh.visual.ColorVisuals(mesh, vertex_colors=rgba[first])
        else:
            used, corners = np.unique(faces[rows], return_inverse=True)
            mesh = trimesh.Trimesh(vertices[used], corners.reshape(-1, 3), process=False)
            if colours is not None:  # a missing texture's faces grey
                face = colours[rows][:, 0] if path == "" else np.full((len(rows), 4), GREY, np.uint8)
                mesh.visual = trimesh.visual.ColorVisuals(mesh, face_colors=face)
        out.append(mesh)
    return out


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
