"""Export parts: the model split into one named glTF node per part, either with
its original appearance (textures, materials, vertex colors) or painted one
flat color per part; one GLB per part in a ZIP; the face labels as JSON and NPY.

Everything is in the file's own coordinates (``Asset.source_meshes``), never
the normalized ones the engine works in.

How a part looks in the scenes and files written here:

- In the ``trimesh.Scene`` returned by :func:`segmented_scene` and
  :func:`colored_scene`, each part is a node named after the part, a child of
  the base frame with an identity transform and no geometry, and under it one
  child node per *piece*: the part's faces that came from one source mesh
  (one glTF primitive of the file, hence one material). The part node's
  ``metadata`` (glTF node ``extras``) holds ``part_id``, ``face_count`` and
  ``display_name`` (the name as given, before it was made glTF-safe).
- :func:`write_glb` folds every part node's pieces into ONE glTF mesh with one
  primitive per piece, held by the part node itself. A GLB written by it has
  exactly one node per part, named after the part. Blender imports each part
  as one mesh object with that name and one material slot per piece's
  material; three.js and Babylon load it as one node with one sub-mesh per
  primitive; trimesh loads a one-primitive part as a single named node with
  geometry and a several-primitive part as the named node with one child
  per primitive. Whoever reads it: a part is the named node and what hangs
  below it.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
import unicodedata
import zipfile
from collections.abc import Mapping, Sequence

import numpy as np
import PIL.Image
import trimesh
from trimesh.exchange.gltf import export_glb
from trimesh.visual.material import PBRMaterial, SimpleMaterial

from .files import atomic_write
from .imagefiles import ImageBank, one_entry_per_image, shared_textures

log = logging.getLogger(__name__)

BASE_FRAME = "world"
"""Name of the scene's root frame; no part may take it."""

_GOLDEN = 0.6180339887498949
_TONES = np.array([(0.62, 0.95), (0.85, 0.78), (0.45, 0.88)])
"""(saturation, value) pairs cycled by part id, so neighbours in hue differ in tone too."""

_MAX_NAME_BYTES = 56
_UNSAFE = re.compile(r"[^\w-]+")
_WINDOWS_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)),
                     *(f"lpt{i}" for i in range(10))}
_GLB_MAGIC, _JSON_CHUNK, _BIN_CHUNK = 0x46546C67, 0x4E4F534A, 0x004E4942


# ----------------------------------------------------------------- colors, names

def part_palette(n: int) -> np.ndarray:
    """Distinct, deterministic part colors.

    Hue steps by the golden ratio; saturation and value cycle through three
    tones. Part id k gets the same color whatever ``n`` is.

    Parameters
    ----------
    n : int
        Number of parts.

    Returns
    -------
    colors : (n, 3) uint8
        RGB color of part 0 .. n-1.
    """
    k = np.arange(int(n))
    hue = (0.02 + k * _GOLDEN) % 1.0
    sat, val = _TONES[k % len(_TONES)].T
    return np.round(_hsv_to_rgb(hue, sat, val) * 255).astype(np.uint8).reshape(-1, 3)


def inherited_colors(labels: np.ndarray, area: np.ndarray, parent=None) -> np.ndarray:
    """Palette indices (``part_palette``) that keep a part's color across
    scales, so a person sees what merged when the slider moves.

    Each part's parent is the coarser part that holds most of its area; the
    largest part of each parent keeps the parent's color, every other part
    takes the first palette color that no part here has. Without a parent,
    part k gets color k.

    labels : (F,) int part of every face, 0..P-1; area : (F,) face areas
    parent : None, or (parent labels (F,) int, (Q,) int their palette indices)
    returns (P,) int64 palette index of every part
    """
    labels = np.asarray(labels)
    n = int(labels.max()) + 1 if len(labels) else 0
    if parent is None:
        return np.arange(n, dtype=np.int64)
    parent_labels, parent_index = (np.asarray(a) for a in parent)
    key, inverse = np.unique(labels.astype(np.int64) * (len(parent_index) + 1) + parent_labels, return_inverse=True)
    overlap = np.bincount(inverse.ravel(), weights=area)
    part, owner = key // (len(parent_index) + 1), key % (len(parent_index) + 1)
    best = np.lexsort((-overlap, part))  # per part, its largest overlap first
    first = best[np.r_[True, part[best][1:] != part[best][:-1]]]
    parent_of = np.empty(n, np.int64)
    parent_of[part[first]] = owner[first]
    size = np.bincount(labels, weights=area, minlength=n)
    order = np.lexsort((np.arange(n), -size, parent_of))  # per parent, its largest part first
    keeps = order[np.r_[True, parent_of[order][1:] != parent_of[order][:-1]]]
    index = np.full(n, -1, np.int64)
    index[keeps] = parent_index[parent_of[keeps]]
    rest = np.nonzero(index < 0)[0]
    free = np.setdiff1d(np.arange(len(rest) + len(keeps)), index[keeps])
    index[rest] = free[:len(rest)]
    return index


def palette_colors(index: np.ndarray) -> np.ndarray:
    """(P, 3) uint8 colors of palette indices (``inherited_colors``)."""
    index = np.asarray(index, np.int64)
    return part_palette(int(index.max()) + 1 if len(index) else 0)[index]


def ladder_colors(labels: np.ndarray, scales, area: np.ndarray) -> list:
    """(P_s, 3) uint8 colors of the parts at every scale, each part keeping
    the color of the part it came from at the next coarser scale
    (``inherited_colors``). labels : (S, F) int; scales : (S,); area : (F,)"""
    out: list = [None] * len(labels)
    parent = None
    for i in np.argsort(-np.asarray(scales, np.float64), kind="stable"):
        index = inherited_colors(labels[i], area, parent)
        out[i] = palette_colors(index)
        parent = (labels[i], index)
    return out


def _hsv_to_rgb(h: np.ndarray, s: np.ndarray, v: np.ndarray) -> np.ndarray:
    """(n,) hue, saturation, value in [0, 1] -> (n, 3) float RGB in [0, 1]."""
    i = np.floor(h * 6).astype(np.int64) % 6
    f = h * 6 - np.floor(h * 6)
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    table = np.stack([np.stack(c, axis=-1) for c in
                      ((v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q))])
    return table[i, np.arange(len(h))]


def part_names(n_parts: int, names=None) -> list:
    """Unique, glTF- and file-safe node names for parts 0 .. n_parts-1.

    A name keeps letters, digits (any script), ``_`` and ``-``; every other
    run of characters becomes ``_`` (``"left front wheel"`` ->
    ``"left_front_wheel"``), so three.js, Blender and file systems all keep
    it as is. Names are cut to 56 UTF-8 bytes and made unique ignoring case
    (``wheel``, ``wheel_2``), and never take the scene's root name
    ``world``. A missing or empty name becomes ``part_{k:02d}``.

    Parameters
    ----------
    n_parts : int
        Number of parts.
    names : None, sequence of (str or None) with at least ``n_parts`` entries,
        or mapping of part id (int or its string) to str
        The names people gave (an LLM's, or edited); extra entries are ignored.

    Returns
    -------
    names : list of str, length ``n_parts``
    """
    given = _given_names(n_parts, names)
    taken = {BASE_FRAME.casefold()}
    out = []
    for k, raw in enumerate(given):
        base = _safe_name(raw) if raw is not None else ""
        out.append(_unique(base or f"part_{k:02d}", taken))
    return out


def _given_names(n_parts: int, names) -> list:
    """The names as given, one per part (None where none was given)."""
    if names is None:
        return [None] * n_parts
    if isinstance(names, np.ndarray):
        names = names.tolist()
    if isinstance(names, Mapping):
        by_id = {int(key): value for key, value in names.items()}
        return [by_id.get(k) for k in range(n_parts)]
    if isinstance(names, (str, bytes)) or not isinstance(names, Sequence):
        raise TypeError("names must be a sequence of part names or a mapping from part id to name")
    if len(names) < n_parts:
        raise ValueError(f"{len(names)} names were given for {n_parts} parts: give one name per part")
    return [None if v is None else str(v) for v in names[:n_parts]]


def _safe_name(text: str) -> str:
    text = unicodedata.normalize("NFC", str(text)).strip()
    text = _UNSAFE.sub("_", text).strip("_-")
    return text.encode("utf-8")[:_MAX_NAME_BYTES].decode("utf-8", errors="ignore").strip("_-")


def _unique(base: str, taken: set) -> str:
    """``base``, or ``base_2``, ``base_3``... whichever is free (ignoring case); claims it."""
    name, i = base, 2
    while name.casefold() in taken:
        name, i = f"{base}_{i}", i + 1
    taken.add(name.casefold())
    return name


# ----------------------------------------------------------------- scenes

def segmented_scene(asset, face_labels, names=None, images: ImageBank | None = None) -> trimesh.Scene:
    """The model split into parts, with its original appearance.

    Each source mesh's faces are cut by part; a piece keeps the source's
    vertex positions and normals, UVs and material (textures shared, not
    copied) and vertex colors. Face colors (PLY, OFF) are kept exactly by
    giving each face its own corners, since glTF only has vertex colors.
    Deleted faces (label -1) are dropped.

    Parameters
    ----------
    asset : core.loading.Asset
        The loaded object; its ``source_meshes`` (file coordinates) are used.
    face_labels : (F,) int
        Part id per face in the contract order, contiguous from 0; -1 deletes
        the face.
    names : None, sequence or mapping, optional
        Part names (see :func:`part_names`); default ``part_{k:02d}``.
    images : core.imagefiles.ImageBank, optional
        How the textures are encoded (default: a new bank, PNG unless an
        image is still known as a JPEG); one per asset reuses its encodings.

    Returns
    -------
    scene : trimesh.Scene
        One node per non-empty part named by :func:`part_names`, holding one
        child node per piece (see the module docstring). Pieces of the same
        source share one material object: treat them as read-only.
    """
    t0 = time.perf_counter()
    labels, n_parts = _check_labels(asset, face_labels)
    shared = {"images": images or ImageBank()}
    pieces = [[] for _ in range(n_parts)]
    for part, source, faces in _split(asset, labels, n_parts):
        pieces[part].append(_piece(asset.source_meshes[source], faces, shared))
    scene = _assemble(pieces, n_parts, names)
    log.debug("segmented scene: %d parts, %d pieces, %d faces in %.3f s",
             sum(map(bool, pieces)), len(scene.geometry), int((labels >= 0).sum()),
             time.perf_counter() - t0)
    return scene


def colored_scene(asset, face_labels, names=None, colors=None) -> trimesh.Scene:
    """The model split into parts, each painted one flat color.

    Parameters
    ----------
    asset : core.loading.Asset
        The loaded object; its ``source_meshes`` (file coordinates) are used.
    face_labels : (F,) int
        Part id per face in the contract order, contiguous from 0; -1 deletes
        the face.
    names : None, sequence or mapping, optional
        Part names (see :func:`part_names`); default ``part_{k:02d}``.
    colors : (P, 3) or (P, 4) uint8, optional
        Color of each part id (P at least the number of parts); default
        :func:`part_palette`.

    Returns
    -------
    scene : trimesh.Scene
        One node per non-empty part (see the module docstring), holding one
        mesh with all the part's faces and a PBR material whose base color is
        the part's color (named like the part, double-sided, not metallic).
        Vertex normals are kept where every source mesh has them.
    """
    t0 = time.perf_counter()
    labels, n_parts = _check_labels(asset, face_labels)
    colors = part_palette(n_parts) if colors is None else np.asarray(colors)
    if colors.ndim != 2 or colors.shape[1] not in (3, 4) or len(colors) < n_parts:
        raise ValueError(f"colors must be (P, 3) or (P, 4) with P >= {n_parts} (the number of parts)")
    rgba = np.full((len(colors), 4), 255, np.uint8)
    rgba[:, :colors.shape[1]] = np.clip(colors, 0, 255).astype(np.uint8)

    meshes = asset.source_meshes
    vertices = np.vstack([m.vertices for m in meshes])
    offsets = np.cumsum([0] + [len(m.vertices) for m in meshes])[:-1]
    faces = np.vstack([m.faces + o for m, o in zip(meshes, offsets)])
    normals = None
    if all(_has_normals(m) for m in meshes):
        normals = np.vstack([m.vertex_normals for m in meshes])

    node_names = part_names(n_parts, names)
    order, bounds = _sort_by_part(labels, n_parts)
    pieces = [[] for _ in range(n_parts)]
    for part in np.nonzero(np.diff(bounds))[0]:
        used, local = np.unique(faces[order[bounds[part]:bounds[part + 1]]], return_inverse=True)
        material = PBRMaterial(name=node_names[part], baseColorFactor=rgba[part], metallicFactor=0.0,
                               roughnessFactor=0.8, doubleSided=True)
        pieces[part].append(trimesh.Trimesh(
            vertices[used], local.reshape(-1, 3),
            vertex_normals=None if normals is None else normals[used],
            visual=trimesh.visual.TextureVisuals(material=material),
            process=False, validate=False))
    scene = _assemble(pieces, n_parts, names)
    log.debug("colored scene: %d parts, %d faces in %.3f s", len(scene.geometry),
             int((labels >= 0).sum()), time.perf_counter() - t0)
    return scene


def _check_labels(asset, face_labels) -> tuple:
    """Validated (F,) int64 labels and the number of parts (max label + 1)."""
    labels = np.asarray(face_labels)
    if labels.ndim != 1 or len(labels) != asset.n_faces:
        raise ValueError(f"face_labels must be one label per face: got shape {labels.shape} "
                         f"for {asset.n_faces} faces")
    if labels.dtype.kind not in "iu":
        raise ValueError(f"face_labels must be integers, got {labels.dtype}")
    labels = labels.astype(np.int64)
    if len(labels) and labels.min() < -1:
        raise ValueError("face_labels must be part ids from 0, or -1 for a deleted face")
    n_faces = sum(len(m.faces) for m in asset.source_meshes)
    if n_faces != len(labels):
        raise ValueError(f"the asset's source meshes hold {n_faces} faces but the asset has "
                         f"{len(labels)}: the asset is inconsistent")
    if not (labels >= 0).any():
        raise ValueError("every face is deleted: there is nothing to export")
    return labels, int(labels.max()) + 1


def _sort_by_part(labels: np.ndarray, n_parts: int) -> tuple:
    """(F,) face order grouped by part (face order kept inside a part) and
    (n_parts + 1,) bounds: part k is ``order[bounds[k]:bounds[k + 1]]``."""
    order = np.argsort(labels, kind="stable")
    bounds = np.searchsorted(labels[order], np.arange(n_parts + 1), side="left")
    return order, bounds


def _split(asset, labels: np.ndarray, n_parts: int):
    """Yield (part, source mesh index, (n,) face indices into that source mesh)."""
    counts = [len(m.faces) for m in asset.source_meshes]
    starts = np.cumsum([0] + counts)
    order, bounds = _sort_by_part(labels, n_parts)
    for part in np.nonzero(np.diff(bounds))[0]:
        faces = order[bounds[part]:bounds[part + 1]]  # ascending, so grouped by source
        source = np.searchsorted(starts, faces, side="right") - 1
        edges = np.concatenate([[0], np.flatnonzero(np.diff(source)) + 1, [len(faces)]])
        for lo, hi in zip(edges[:-1], edges[1:]):
            s = int(source[lo])
            yield int(part), s, faces[lo:hi] - starts[s]


def _piece(mesh: trimesh.Trimesh, faces: np.ndarray, shared: dict) -> trimesh.Trimesh:
    """The given faces of ``mesh`` as a new mesh with only the vertices they use,
    keeping normals and visuals. ``shared`` maps id(material) to the one
    material object every piece of that source uses, and "images" to the
    ImageBank that encodes their textures."""
    corners = mesh.faces[faces]
    if isinstance(mesh.visual, trimesh.visual.ColorVisuals) and mesh.visual.kind == "face":
        # glTF has no face colors: give every face its own three corners
        # carrying the face's color, so each face keeps its exact color
        used, local = corners.reshape(-1), np.arange(corners.size)
        visual = trimesh.visual.ColorVisuals(
            vertex_colors=np.repeat(mesh.visual.face_colors[faces], 3, axis=0))
    else:
        used, local = np.unique(corners, return_inverse=True)
        visual = _visual_subset(mesh, used, shared)
    normals = mesh.vertex_normals[used] if _has_normals(mesh) else None
    return trimesh.Trimesh(mesh.vertices[used], local.reshape(-1, 3), vertex_normals=normals,
                           visual=visual, process=False, validate=False)


def _has_normals(mesh: trimesh.Trimesh) -> bool:
    """Whether the mesh carries vertex normals (from its file, or computed
    earlier by someone), without computing them.

    Reads trimesh's cache, as trimesh's own glTF exporter does to decide
    whether to write normals."""
    return "vertex_normals" in mesh._cache


def _visual_subset(mesh: trimesh.Trimesh, used: np.ndarray, shared: dict):
    """The visual of ``mesh`` (texture, vertex colors or none) restricted to vertices ``used``."""
    visual = mesh.visual
    n_vertices = len(mesh.vertices)
    if isinstance(visual, trimesh.visual.TextureVisuals):
        uv = visual.uv
        uv = uv[used] if uv is not None and len(uv) == n_vertices else None
        material = visual.material
        if material is not None:
            if id(material) not in shared:
                shared[id(material)] = _shared_material(material, shared["images"])
            material = shared[id(material)]
        out = trimesh.visual.TextureVisuals(uv=uv, material=material)
        for key, value in visual.vertex_attributes.items():
            if key != "uv" and len(value) == n_vertices:
                out.vertex_attributes[key] = value[used]
        return out
    if isinstance(visual, trimesh.visual.ColorVisuals) and visual.kind == "vertex":
        return trimesh.visual.ColorVisuals(vertex_colors=visual.vertex_colors[used])
    return trimesh.visual.ColorVisuals()


class _HashOnce:
    """Mixin for a material shared by many pieces: its hash is computed once.

    trimesh's glTF exporter hashes every mesh's material (all texture bytes)
    to find duplicates: about 20 ms per piece for a 2048^2 texture, half a
    second for 20 parts. Setting any attribute drops the cached hash; changing
    an image's pixels in place does not (the pieces treat images as
    read-only)."""

    def __hash__(self):
        cached = self.__dict__.get("_partscope_hash")
        if cached is None:
            cached = self.__dict__["_partscope_hash"] = super().__hash__()
        return cached

    def __setattr__(self, name, value):
        self.__dict__.pop("_partscope_hash", None)
        super().__setattr__(name, value)


class _SharedPBRMaterial(_HashOnce, PBRMaterial):
    """A PBRMaterial shared by the pieces of one source mesh."""


class _SharedSimpleMaterial(_HashOnce, SimpleMaterial):
    """A SimpleMaterial shared by the pieces of one source mesh."""


def _shared_material(material, images: ImageBank):
    """A copy of ``material`` for the pieces of one source mesh: it caches its
    hash, and its textures are ``images``' encoded views of the original
    images (same pixels, not copied)."""
    cls = {PBRMaterial: _SharedPBRMaterial, SimpleMaterial: _SharedSimpleMaterial}.get(type(material))
    if cls is None:
        return material
    copy = cls.__new__(cls)
    for key, value in material.__dict__.items():
        if isinstance(value, dict):
            value = {k: images.view(v) if isinstance(v, PIL.Image.Image) else v for k, v in value.items()}
        elif isinstance(value, PIL.Image.Image):
            value = images.view(value)
        copy.__dict__[key] = value
    return copy


def _assemble(pieces: list, n_parts: int, names) -> trimesh.Scene:
    """A scene with one node per non-empty part (named) and its pieces as children."""
    given = _given_names(n_parts, names)
    node_names = part_names(n_parts, names)
    taken = {BASE_FRAME.casefold(), *(n.casefold() for n in node_names)}
    scene = trimesh.Scene(base_frame=BASE_FRAME)
    for part, meshes in enumerate(pieces):
        if not meshes:
            continue
        node = node_names[part]
        scene.graph.update(frame_to=node, frame_from=BASE_FRAME, matrix=np.eye(4), metadata={
            "part_id": part,
            "face_count": int(sum(len(m.faces) for m in meshes)),
            "display_name": given[part] if given[part] else node})
        for j, mesh in enumerate(meshes):
            child = _unique(f"{node}_{j}", taken)
            scene.add_geometry(mesh, node_name=child, geom_name=child, parent_node_name=node)
    return scene


# ----------------------------------------------------------------- files

def write_glb(scene: trimesh.Scene, path) -> str:
    """Write a scene as a binary glTF, one node per part.

    Part nodes (those with a ``part_id`` in their metadata, as built by
    :func:`segmented_scene` and :func:`colored_scene`) get their pieces folded
    into one mesh with one primitive per piece; any other scene is written as
    trimesh writes it. The file appears atomically (written beside, then
    renamed).

    Parameters
    ----------
    scene : trimesh.Scene
    path : str or os.PathLike
        Where to write; the folder must exist.

    Returns
    -------
    path : str
    """
    t0 = time.perf_counter()
    data = _glb_bytes(scene)
    with atomic_write(path) as f:
        f.write(data)
    log.debug("wrote %s (%d bytes) in %.3f s", path, len(data), time.perf_counter() - t0)
    return str(path)


def write_parts_zip(asset, face_labels, names, path, images: ImageBank | None = None) -> str:
    """Write a ZIP with one GLB per part, appearance kept.

    Each member is ``{name}.glb`` (names from :func:`part_names`; a name
    Windows reserves, such as ``con``, gets a trailing ``_``) and holds that
    part alone as one named node, in the file's coordinates. Textures are
    files of their own, ``textures/texture_{n}.jpg`` (or ``.png``), stored
    once and shared by the part GLBs that use them (their images refer to
    them by relative URI, as glTF allows). The GLB of the whole model is
    built once and cut per part.

    Parameters
    ----------
    asset : core.loading.Asset
    face_labels : (F,) int
        Part id per face, -1 for deleted faces.
    names : None, sequence or mapping
        Part names (see :func:`part_names`).
    path : str or os.PathLike
        Where to write the ZIP.
    images : core.imagefiles.ImageBank, optional (see :func:`segmented_scene`)

    Returns
    -------
    path : str
    """
    t0 = time.perf_counter()
    _write_zip(_glb_bytes(segmented_scene(asset, face_labels, names, images)), path)
    log.debug("wrote %s in %.3f s", path, time.perf_counter() - t0)
    return str(path)


def write_downloads(asset, face_labels, folder, names=None, stem="model", images: ImageBank | None = None) -> dict:
    """Write every download for one granularity, encoding the textures once.

    Same files as :func:`write_glb` of :func:`segmented_scene`,
    :func:`write_parts_zip` and :func:`write_labels`, but the segmented GLB
    is built once and the ZIP cut from it, which halves the time on a
    textured model.

    Parameters
    ----------
    asset : core.loading.Asset
    face_labels : (F,) int
        Part id per face, -1 for deleted faces.
    folder : str or os.PathLike
        Existing folder to write into.
    names : None, sequence or mapping, optional
    stem : str
        File name stem: ``{stem}_parts.glb``, ``{stem}_parts.zip``,
        ``{stem}_labels.json``, ``{stem}_labels.npy``.
    images : core.imagefiles.ImageBank, optional (see :func:`segmented_scene`)

    Returns
    -------
    paths : dict with keys ``glb``, ``zip``, ``json``, ``npy`` (str paths)
    """
    t0 = time.perf_counter()
    paths = {key: os.path.join(folder, f"{stem}_{name}") for key, name in (
        ("glb", "parts.glb"), ("zip", "parts.zip"), ("json", "labels.json"), ("npy", "labels.npy"))}
    data = _glb_bytes(segmented_scene(asset, face_labels, names, images))
    with atomic_write(paths["glb"]) as f:
        f.write(data)
    _write_zip(data, paths["zip"])
    write_labels(face_labels, paths["json"], paths["npy"], names)
    log.info("wrote downloads %s_* in %.3f s", os.path.join(folder, stem), time.perf_counter() - t0)
    return paths


def _write_zip(glb: bytes, path) -> None:
    """The ZIP of one GLB per root node of ``glb`` (a GLB written by _glb_bytes),
    its textures as files the part GLBs share."""
    tree, binary = _read_glb(glb)
    textures = shared_textures(tree, binary)
    with atomic_write(path) as f, zipfile.ZipFile(f, "w") as archive:
        for root in tree["scenes"][tree.get("scene", 0)]["nodes"]:
            name = tree["nodes"][root]["name"]
            if name.casefold() in _WINDOWS_RESERVED:
                name += "_"
            archive.writestr(f"{name}.glb", _subset_glb(tree, binary, root)[0], compress_type=zipfile.ZIP_DEFLATED,
                             compresslevel=1)
        for name, data in textures.items():  # compressed already
            archive.writestr(name, data, compress_type=zipfile.ZIP_STORED)


def write_labels(face_labels, json_path, npy_path, names=None) -> tuple:
    """Write per-face part labels as JSON (with a part table) and NPY.

    JSON layout::

        {"format": "partscope-labels", "version": 1,
         "n_faces": F, "n_parts": P, "n_deleted": D,
         "parts": [{"id": 0, "name": "lid", "display_name": "lid", "faces": 1234}, ...],
         "face_labels": [0, 0, 3, -1, ...]}

    ``name`` is the node name used in the GLB downloads and the ZIP's file
    names (:func:`part_names`); ``display_name`` is the name as given.
    Part ids without faces are listed with ``faces`` 0.

    Parameters
    ----------
    face_labels : (F,) int
        Part id per face in the contract order; -1 for a deleted face.
    json_path, npy_path : str or os.PathLike
    names : None, sequence or mapping, optional

    Returns
    -------
    (json_path, npy_path) : tuple of str
        The NPY holds (F,) int32.
    """
    labels = np.asarray(face_labels)
    if labels.ndim != 1 or labels.dtype.kind not in "iu":
        raise ValueError(f"face_labels must be a 1-D integer array, got {labels.dtype} {labels.shape}")
    labels = labels.astype(np.int32)
    if len(labels) and labels.min() < -1:
        raise ValueError("face_labels must be part ids from 0, or -1 for a deleted face")
    n_parts = int(labels.max()) + 1 if len(labels) else 0
    counts = np.bincount(labels[labels >= 0], minlength=n_parts)
    given = _given_names(n_parts, names)
    node_names = part_names(n_parts, names)
    table = {
        "format": "partscope-labels", "version": 1,
        "n_faces": int(len(labels)), "n_parts": n_parts, "n_deleted": int((labels < 0).sum()),
        "parts": [{"id": k, "name": node_names[k], "display_name": given[k] or node_names[k],
                   "faces": int(counts[k])} for k in range(n_parts)],
        "face_labels": labels.tolist(),
    }
    with atomic_write(json_path) as f:
        f.write(json.dumps(table, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
    with atomic_write(npy_path) as f:
        np.save(f, labels)
    return str(json_path), str(npy_path)


# ----------------------------------------------------------------- glTF plumbing

def _glb_bytes(scene: trimesh.Scene) -> bytes:
    if not isinstance(scene, trimesh.Scene):
        scene = trimesh.Scene(scene)
    if not scene.geometry:
        raise ValueError("the scene holds no geometry: there is nothing to write")
    return export_glb(scene, tree_postprocessor=_tidy_tree)


def _tidy_tree(tree: dict) -> None:
    """trimesh's tree as PartScope writes it: one node per part, one entry per image."""
    _merge_part_nodes(tree)
    one_entry_per_image(tree)


def _merge_part_nodes(tree: dict) -> None:
    """In a glTF tree: give every part node one mesh holding its pieces'
    primitives, drop the piece nodes and the meshes left unused. In place."""
    nodes, meshes = tree.get("nodes", []), tree.get("meshes", [])
    dropped = set()
    for node in nodes:
        kids = node.get("children", [])
        if ("part_id" not in (node.get("extras") or {}) or "mesh" in node or not kids
                or any(set(nodes[c]) - {"name", "mesh", "extras"} or "mesh" not in nodes[c]
                       for c in kids)):
            continue
        node["mesh"] = len(meshes)
        meshes.append({"name": node["name"],
                       "primitives": [p for c in kids for p in meshes[nodes[c]["mesh"]]["primitives"]]})
        del node["children"]
        dropped.update(kids)
    if not dropped:
        return
    keep = [i for i in range(len(nodes)) if i not in dropped]
    new_index = {old: new for new, old in enumerate(keep)}
    tree["nodes"] = [nodes[i] for i in keep]
    for node in tree["nodes"]:
        if "children" in node:
            node["children"] = [new_index[c] for c in node["children"]]
    for scene in tree.get("scenes", []):
        scene["nodes"] = [new_index[i] for i in scene.get("nodes", []) if i in new_index]
    used = sorted({node["mesh"] for node in tree["nodes"] if "mesh" in node})
    mesh_index = {old: new for new, old in enumerate(used)}
    tree["meshes"] = [meshes[i] for i in used]
    for node in tree["nodes"]:
        if "mesh" in node:
            node["mesh"] = mesh_index[node["mesh"]]


def _read_glb(data: bytes) -> tuple:
    """(glTF JSON dict, binary chunk bytes) of a GLB."""
    magic, version, _ = np.frombuffer(data[:12], "<u4")
    if magic != _GLB_MAGIC or version != 2:
        raise ValueError("not a glTF 2.0 binary")
    length, kind = np.frombuffer(data[12:20], "<u4")
    if kind != _JSON_CHUNK:
        raise ValueError("GLB without a JSON chunk first")
    tree = json.loads(data[20:20 + length])
    binary = b""
    at = 20 + int(length)
    if at + 8 <= len(data):
        blen, kind = np.frombuffer(data[at:at + 8], "<u4")
        if kind == _BIN_CHUNK:
            binary = data[at + 8:at + 8 + int(blen)]
    return tree, binary


def _pack_glb(tree: dict, binary: bytes) -> bytes:
    content = json.dumps(tree, separators=(",", ":")).encode("utf-8")
    content += b" " * (-len(content) % 4)
    binary += b"\x00" * (-len(binary) % 4)
    chunks = [np.array([len(content), _JSON_CHUNK], "<u4").tobytes(), content]
    if binary:
        chunks += [np.array([len(binary), _BIN_CHUNK], "<u4").tobytes(), binary]
    body = b"".join(chunks)
    return np.array([_GLB_MAGIC, 2, 12 + len(body)], "<u4").tobytes() + body


def _subset_glb(tree: dict, binary: bytes, root: int) -> tuple:
    """(GLB bytes, whether it holds images): only node ``root`` and its
    subtree, with just the meshes, materials, textures, images, accessors
    and bytes they use."""
    nodes, stack = [], [root]
    while stack:
        nodes.append(stack.pop())
        stack.extend(tree["nodes"][nodes[-1]].get("children", []))
    node_index = {old: new for new, old in enumerate(nodes)}
    remap = {key: {} for key in ("meshes", "materials", "textures", "images",
                                 "samplers", "accessors", "bufferViews")}

    def take(key: str, old: int) -> int:
        return remap[key].setdefault(old, len(remap[key]))

    out_nodes = []
    for old in nodes:
        node = dict(tree["nodes"][old])
        if "children" in node:
            node["children"] = [node_index[c] for c in node["children"]]
        if "mesh" in node:
            node["mesh"] = take("meshes", node["mesh"])
        node.pop("camera", None)
        node.pop("skin", None)
        out_nodes.append(node)

    out_meshes = []
    for old in list(remap["meshes"]):
        mesh = json.loads(json.dumps(tree["meshes"][old]))
        for prim in mesh["primitives"]:
            prim["attributes"] = {k: take("accessors", v) for k, v in prim["attributes"].items()}
            if "indices" in prim:
                prim["indices"] = take("accessors", prim["indices"])
            if "targets" in prim:
                prim["targets"] = [{k: take("accessors", v) for k, v in t.items()} for t in prim["targets"]]
            if "material" in prim:
                prim["material"] = take("materials", prim["material"])
        out_meshes.append(mesh)

    def retexture(value, key=""):
        if isinstance(value, dict):
            if key.endswith("Texture") and isinstance(value.get("index"), int):
                value["index"] = take("textures", value["index"])
            for k, v in value.items():
                retexture(v, k)
        elif isinstance(value, list):
            for v in value:
                retexture(v)

    out_materials = []
    for old in list(remap["materials"]):
        material = json.loads(json.dumps(tree["materials"][old]))
        retexture(material)
        out_materials.append(material)

    out_textures = []
    for old in list(remap["textures"]):
        texture = json.loads(json.dumps(tree["textures"][old]))
        if "source" in texture:
            texture["source"] = take("images", texture["source"])
        if "sampler" in texture:
            texture["sampler"] = take("samplers", texture["sampler"])
        for ext in texture.get("extensions", {}).values():
            if isinstance(ext, dict) and "source" in ext:
                ext["source"] = take("images", ext["source"])
        out_textures.append(texture)

    out_images = []
    for old in list(remap["images"]):
        image = dict(tree["images"][old])
        if "bufferView" in image:
            image["bufferView"] = take("bufferViews", image["bufferView"])
        out_images.append(image)

    out_accessors = []
    for old in list(remap["accessors"]):
        accessor = dict(tree["accessors"][old])
        if "bufferView" in accessor:
            accessor["bufferView"] = take("bufferViews", accessor["bufferView"])
        out_accessors.append(accessor)

    out_views, pieces, offset = [], [], 0
    for old in list(remap["bufferViews"]):
        view = dict(tree["bufferViews"][old])
        start = view.get("byteOffset", 0)
        chunk = binary[start:start + view["byteLength"]]
        view.update(buffer=0, byteOffset=offset)
        pad = b"\x00" * (-len(chunk) % 4)
        pieces.append(chunk + pad)
        offset += len(chunk) + len(pad)
        out_views.append(view)
    new_binary = b"".join(pieces)

    scene = {k: v for k, v in tree["scenes"][tree.get("scene", 0)].items() if k != "nodes"}
    out = {"asset": tree["asset"], "scene": 0, "scenes": [dict(scene, nodes=[0])], "nodes": out_nodes}
    for key in ("extensionsUsed", "extensionsRequired"):
        if key in tree:
            out[key] = tree[key]
    for key, values in (("meshes", out_meshes), ("materials", out_materials),
                        ("textures", out_textures), ("images", out_images),
                        ("accessors", out_accessors), ("bufferViews", out_views)):
        if values:
            out[key] = values
    if remap["samplers"]:
        out["samplers"] = [tree["samplers"][old] for old in remap["samplers"]]
    if new_binary:
        out["buffers"] = [{"byteLength": len(new_binary)}]
    return _pack_glb(out, new_binary), bool(out_images)
