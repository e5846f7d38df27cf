"""The files of an export: a GLB with one node per part, a ZIP of one GLB per
part sharing their texture files, each written atomically."""

from __future__ import annotations

import json
import logging
import os
import time
import zipfile

import trimesh
from trimesh.exchange.gltf import export_glb

from .. import glb
from ..files import atomic_write
from ..labels import with_model_names, write_labels
from .scenes import COLOR_16, segmented_scene
from .textures import ImageBank, one_entry_per_image, shared_textures

log = logging.getLogger(__name__)

_WINDOWS_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)),
                     *(f"lpt{i}" for i in range(10))}


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
    images : core.export.textures.ImageBank, optional (see :func:`segmented_scene`)

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
    names : None, sequence or mapping, optional (a part without one takes
        the name of the model's object it is, :func:`with_model_names`)
    stem : str
        File name stem: ``{stem}_parts.glb``, ``{stem}_parts.zip``,
        ``{stem}_labels.json``, ``{stem}_labels.npy``.
    images : core.export.textures.ImageBank, optional (see :func:`segmented_scene`)

    Returns
    -------
    paths : dict with keys ``glb``, ``zip``, ``json``, ``npy`` (str paths)
    """
    t0 = time.perf_counter()
    names = with_model_names(asset, face_labels, names)
    paths = {key: os.path.join(folder, f"{stem}_{name}") for key, name in (
        ("glb", "parts.glb"), ("zip", "parts.zip"), ("json", "labels.json"), ("npy", "labels.npy"))}
    data = _glb_bytes(segmented_scene(asset, face_labels, names, images))
    with atomic_write(paths["glb"]) as f:
        f.write(data)
    _write_zip(data, paths["zip"])
    write_labels(face_labels, paths["json"], paths["npy"], names)
    log.info("wrote downloads %s_* in %.3f s", os.path.join(folder, stem), time.perf_counter() - t0)
    return paths


def _write_zip(data: bytes, path) -> None:
    """The ZIP of one GLB per root node of ``data`` (a GLB written by _glb_bytes),
    its textures as files the part GLBs share."""
    tree, binary = glb.split(data)
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


def _glb_bytes(scene: trimesh.Scene) -> bytes:
    if not isinstance(scene, trimesh.Scene):
        scene = trimesh.Scene(scene)
    if not scene.geometry:
        raise ValueError("the scene holds no geometry: there is nothing to write")
    return export_glb(scene, tree_postprocessor=_tidy_tree)


def _tidy_tree(tree: dict) -> None:
    """trimesh's tree as PartScope writes it: one node per part, one entry per
    image, 16-bit vertex colors as COLOR_0 (``scenes._colored``)."""
    _merge_part_nodes(tree)
    one_entry_per_image(tree)
    for mesh in tree.get("meshes", []):
        for prim in mesh.get("primitives", []):
            if COLOR_16 in prim.get("attributes", {}):
                prim["attributes"]["COLOR_0"] = prim["attributes"].pop(COLOR_16)
                tree["accessors"][prim["attributes"]["COLOR_0"]]["normalized"] = True


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


def _subset_glb(tree: dict, binary: bytes, root: int) -> tuple:
    """(GLB bytes, whether it holds images): only node ``root`` and its
    subtree, with just the meshes, materials, textures, images, accessors
    and bytes they use."""
    sub = _Subset(tree, binary)
    out = {"asset": tree["asset"], "scene": 0, "nodes": sub.nodes(root)}
    for key, fix in (("meshes", sub.fix_mesh), ("materials", sub.fix_textures), ("textures", sub.fix_texture),
                     ("images", sub.fix_view), ("accessors", sub.fix_view)):
        out[key] = sub.copies(key, fix)
    out["bufferViews"], new_binary = sub.buffer_views()
    out["samplers"] = [tree["samplers"][old] for old in sub.remap["samplers"]]
    scene = {k: v for k, v in tree["scenes"][tree.get("scene", 0)].items() if k != "nodes"}
    out["scenes"] = [dict(scene, nodes=[0])]
    for key in ("extensionsUsed", "extensionsRequired"):
        if key in tree:
            out[key] = tree[key]
    if new_binary:
        out["buffers"] = [{"byteLength": len(new_binary)}]
    out = {k: v for k, v in out.items() if v != []}
    return glb.pack(out, new_binary), bool(out.get("images"))


class _Subset:
    """A glTF tree cut down to one node's subtree: each object it uses is
    copied and numbered anew in the order it is first used."""

    KEYS = ("meshes", "materials", "textures", "images", "samplers", "accessors", "bufferViews")

    def __init__(self, tree: dict, binary: bytes):
        self.tree, self.binary = tree, binary
        self.remap = {key: {} for key in self.KEYS}

    def take(self, key: str, old: int) -> int:
        """The new index of ``tree[key][old]``, given on first use."""
        return self.remap[key].setdefault(old, len(self.remap[key]))

    def nodes(self, root: int) -> list:
        order, stack = [], [root]
        while stack:
            order.append(stack.pop())
            stack.extend(self.tree["nodes"][order[-1]].get("children", []))
        index = {old: new for new, old in enumerate(order)}
        out = []
        for old in order:
            node = dict(self.tree["nodes"][old])
            if "children" in node:
                node["children"] = [index[c] for c in node["children"]]
            if "mesh" in node:
                node["mesh"] = self.take("meshes", node["mesh"])
            node.pop("camera", None)
            node.pop("skin", None)
            out.append(node)
        return out

    def copies(self, key: str, fix) -> list:
        """Copies of the objects of ``key`` taken so far, each renumbered by ``fix``."""
        out = []
        for old in list(self.remap[key]):
            item = json.loads(json.dumps(self.tree[key][old]))
            fix(item)
            out.append(item)
        return out

    def fix_mesh(self, mesh: dict) -> None:
        for prim in mesh["primitives"]:
            prim["attributes"] = {k: self.take("accessors", v) for k, v in prim["attributes"].items()}
            if "indices" in prim:
                prim["indices"] = self.take("accessors", prim["indices"])
            if "targets" in prim:
                prim["targets"] = [{k: self.take("accessors", v) for k, v in t.items()} for t in prim["targets"]]
            if "material" in prim:
                prim["material"] = self.take("materials", prim["material"])

    def fix_textures(self, value, key: str = "") -> None:
        """Every ``...Texture`` reference inside a material."""
        if isinstance(value, dict):
            if key.endswith("Texture") and isinstance(value.get("index"), int):
                value["index"] = self.take("textures", value["index"])
            for k, v in value.items():
                self.fix_textures(v, k)
        elif isinstance(value, list):
            for v in value:
                self.fix_textures(v)

    def fix_texture(self, texture: dict) -> None:
        if "source" in texture:
            texture["source"] = self.take("images", texture["source"])
        if "sampler" in texture:
            texture["sampler"] = self.take("samplers", texture["sampler"])
        for ext in texture.get("extensions", {}).values():
            if isinstance(ext, dict) and "source" in ext:
                ext["source"] = self.take("images", ext["source"])

    def fix_view(self, item: dict) -> None:
        if "bufferView" in item:
            item["bufferView"] = self.take("bufferViews", item["bufferView"])

    def buffer_views(self) -> tuple[list, bytes]:
        """The views taken, over one new buffer of just their bytes."""
        views, pieces, offset = [], [], 0
        for old in list(self.remap["bufferViews"]):
            view = dict(self.tree["bufferViews"][old])
            start = view.get("byteOffset", 0)
            chunk = self.binary[start:start + view["byteLength"]]
            view.update(buffer=0, byteOffset=offset)
            pad = b"\x00" * (-len(chunk) % 4)
            pieces.append(chunk + pad)
            offset += len(chunk) + len(pad)
            views.append(view)
        return views, b"".join(pieces)
