"""Part labels: the one rule a labelling of faces must follow, the names parts
take in files, and the labels written as JSON and NPY.

A labelling is (F,) integers, one per face in the contract order
(``core.loading``): a part id from 0, or -1 for a deleted face.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping, Sequence

import numpy as np

from .files import atomic_write

BASE_FRAME = "world"
"""Name of an exported scene's root frame; no part may take it."""
_MAX_NAME_BYTES = 56
_UNSAFE = re.compile(r"[^\w-]+")


def check_labels(face_labels, n_faces: int | None = None) -> np.ndarray:
    """(F,) int64 labels, or ValueError with a sentence: one integer per face
    (``n_faces`` of them when given), each a part id from 0 or -1."""
    labels = np.asarray(face_labels)
    if labels.ndim != 1 or (n_faces is not None and len(labels) != n_faces):
        wanted = "" if n_faces is None else f" for {n_faces} faces"
        raise ValueError(f"face_labels must be one label per face: got shape {labels.shape}{wanted}")
    if labels.dtype.kind not in "iu":
        raise ValueError(f"face_labels must be integers, got {labels.dtype}")
    labels = labels.astype(np.int64)
    if len(labels) and labels.min() < -1:
        raise ValueError("face_labels must be part ids from 0, or -1 for a deleted face")
    return labels


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
    given = given_names(n_parts, names)
    taken = {BASE_FRAME.casefold()}
    out = []
    for k, raw in enumerate(given):
        base = _safe_name(raw) if raw is not None else ""
        out.append(unique_name(base or f"part_{k:02d}", taken))
    return out


#: How much of a part must be one of the model's objects, and of that object the part, to take its name.
OWN_SHARE = 0.9
#: Words of the names programs give objects nobody named (Blender's, Maya's and 3ds Max's primitives,
#: exporters' and readers' stand-ins), which say nothing of a part.
_GENERIC = frozenset(
    "node mesh object obj geometry geom group model scene root world default defaultobject primitive prim shape "
    "submesh polysurface pcube psphere pcylinder pplane ptorus pcone cube sphere icosphere uvsphere cylinder "
    "plane cone torus circle box line empty untitled solid".split())


def with_model_names(asset, face_labels, names=None) -> list:
    """``names`` (see :func:`part_names`) with every part nobody named named
    as the model's own object it is (None where it is none): an artist's
    'wheel_front_left' in Blender after the round trip, not 'part_03'. A
    part takes an object's name where at least OWN_SHARE of its area lies
    on that object and that much of the object's area in the part; names
    made of generic words and numbers ('Cube.001', 'pCube1', 'Box001',
    'node_3') and the file's own name are not taken."""
    labels = check_labels(face_labels, asset.n_faces)
    n_parts = int(labels.max()) + 1 if (labels >= 0).any() else 0
    given = given_names(n_parts, names)
    kept = labels >= 0
    if not kept.any():
        return given
    objects, owner = np.unique([_object_name(asset, i) for i in range(len(asset.node_names))], return_inverse=True)
    part, thing = labels[kept], owner[asset.face_node[kept]]
    area = np.asarray(asset.mesh.area_faces, np.float64)[kept] + 1e-30
    # the area of each (part, object) that share faces, counted sparsely (5,000 bolts, 5,000 parts)
    pairs, pair = np.unique(part * len(objects) + thing, return_inverse=True)
    overlap, pair_part, pair_object = np.bincount(pair.ravel(), area), pairs // len(objects), pairs % len(objects)
    order = np.lexsort((-overlap, pair_part))
    first = order[np.r_[True, np.diff(pair_part[order]) > 0]]  # each part's largest object
    own = first[(overlap[first] >= OWN_SHARE * np.bincount(part, area, n_parts)[pair_part[first]])
                & (overlap[first] >= OWN_SHARE * np.bincount(thing, area, len(objects))[pair_object[first]])]
    file_names = {str(asset.name).casefold(), str(asset.name).rsplit(".", 1)[0].casefold()}
    for k, name in zip(pair_part[own], map(str, objects[pair_object[own]])):
        words = [w.rstrip("0123456789") for w in re.split(r"[\W_]+", name.casefold())]
        if given[k] is None and any(w and w not in _GENERIC for w in words) and name.casefold() not in file_names:
            given[k] = name
    return given


def _object_name(asset, node: int) -> str:
    """The name of the object a node of ``asset`` is, without what readers
    add when they split an object by material: the material's name (an
    OBJ's, 'wheel_DefaultMaterial') or a random tag (a glTF mesh's
    primitives, 'seat_66edbe'); an OBJ object's name once where its group
    repeats it (3ds Max writes 'o Box001' and 'g Box001': 'Box001_Box001');
    a glTF node's mesh's name where the node has none (trimesh names it by
    its index)."""
    name, mesh = str(asset.node_names[node]), asset.source_meshes[node]
    if name.isdigit() and mesh.metadata.get("node") == name and mesh.metadata.get("name"):
        name = str(mesh.metadata["name"])
    material = str(getattr(getattr(mesh.visual, "material", None), "name", None) or "")
    if material and name.endswith("_" + material) and len(name) > len(material) + 1:
        name = name[:-len(material) - 1]
    elif mesh.metadata.get("from_gltf_primitive"):
        name = re.sub(r"_[0-9a-f]{6}$", "", name)
    return re.sub(r"^(.+)_\1(?=_|$)", r"\1", name)


def given_names(n_parts: int, names) -> list:
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


def unique_name(base: str, taken: set) -> str:
    """``base``, or ``base_2``, ``base_3``... whichever is free (ignoring case); claims it."""
    name, i = base, 2
    while name.casefold() in taken:
        name, i = f"{base}_{i}", i + 1
    taken.add(name.casefold())
    return name


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
    labels = check_labels(face_labels).astype(np.int32)
    n_parts = int(labels.max()) + 1 if len(labels) else 0
    counts = np.bincount(labels[labels >= 0], minlength=n_parts)
    given = given_names(n_parts, names)
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
