"""A glTF as trimesh should read it (``prepare``): the file itself where
trimesh reads it right, else rewritten as a plain GLB in memory.

Geometry: Draco (``KHR_draco_mesh_compression``) and meshopt
(``EXT_meshopt_compression``, ``KHR_meshopt_compression``) data decoded;
triangle fans as triangle lists; sparse accessors filled in; a mesh drawn
at many places by one node (``EXT_mesh_gpu_instancing``) as one child node
per place; morph targets blended in by their default weights and a
skinned mesh moved by its joints, as viewers draw them; integer
positions, normals and texture coordinates (``KHR_mesh_quantization``, or
normalized integers, which core glTF allows for texture coordinates) and
16-bit colours as floats, dequantized where the accessor is normalized.
Looks: each material's base
colour ``KHR_texture_transform`` and texture coordinate set applied to the
coordinates, written as TEXCOORD_0 (the set trimesh reads); KTX2 images
(Basis Universal or plain formats, core/ktx2.py) as PNG; every image inside
the one buffer. Face order and primitives stay as the file has them.
"""

from __future__ import annotations

import io
import math
import os

import numpy as np
import trimesh

from . import glb, gltf, ktx2
from .inputs import MAX_TEXTURE_PIXELS
from .gltf import DRACO, DTYPES, FAN, INSTANCING, MESHOPT, TRANSFORM, GltfError


def prepare(path: str) -> tuple[str | io.BytesIO, list[str], bool]:
    """The file as trimesh should read it: ``path`` itself when trimesh reads
    it right, else a plain GLB in memory; the warnings, each the end of a
    sentence that starts with the file's name; and whether its positions
    were quantized (Draco, or integers), so that seams between primitives
    may have come apart by a grid step. Raises GltfError."""
    tree, buffers = gltf.read(path)
    library = gltf.scene_for_a_library(tree)
    gltf.check(tree)
    positions = [(prim, prim["attributes"]["POSITION"]) for prim in gltf.primitives(tree)
                 if "POSITION" in prim.get("attributes", {})]
    quantized = any(DRACO in prim.get("extensions", {}) or tree["accessors"][index].get("componentType") != 5126
                    for prim, index in positions)
    folder = os.path.dirname(os.path.abspath(path))
    warnings = gltf.drop_missing_maps(tree, folder) + gltf.drop_unreadable_maps(tree, buffers, folder)
    converted = gltf.metal_rough(tree)
    left_out = gltf.drop_non_triangles(tree)
    if left_out:
        warnings.append(f"also holds {left_out}, which PartScope leaves out: only faces are segmented")
    if warnings or library or converted or gltf.needs_decoding(tree) or gltf.renamed(tree, folder):
        return io.BytesIO(decode(tree, buffers, folder)), warnings, quantized
    return path, warnings, quantized


def decode(tree: dict, buffers: list, folder: str) -> bytes:
    """A plain GLB (one buffer) of ``tree`` (changed in place); folder :
    where the glTF's own files lie."""
    out = _Packer(tree, buffers)
    for i, view in enumerate(tree.get("bufferViews", [])):
        ext = next((view["extensions"][e] for e in MESHOPT if e in view.get("extensions", {})), None)
        if ext is not None:
            tree["bufferViews"][i] = out.view(_meshopt(ext, buffers), view.get("byteStride"))
    _instances(tree, out)
    for mesh in tree.get("meshes", []):
        for prim in mesh.get("primitives", []):
            if DRACO in prim.get("extensions", {}):
                _draco(prim, out)
            if prim.get("mode", 4) == FAN:
                _fan_to_list(prim, out)
            for name, index in prim.get("attributes", {}).items():
                if gltf.needs_float(name, tree["accessors"][index]):
                    _to_float(index, tree, out)
    _morphs(tree, out)
    _skins(tree, out)
    _bake_base_color_uv(tree, out)
    _images(tree, out, folder)
    for key in ("extensionsUsed", "extensionsRequired"):
        if key in tree:
            tree[key] = [e for e in tree[key] if e not in gltf.DECODED]
    return out.glb()


def _images(tree: dict, out: "_Packer", folder: str) -> None:
    """Every image inside the buffer; KTX2 ones (also those a texture shows
    only through ``KHR_texture_basisu``) as PNG; an AVIF a texture shows only
    through ``EXT_texture_avif`` as its source (Pillow reads it)."""
    for texture in tree.get("textures", []):
        for name, mime in ((gltf.BASISU, "image/ktx2"), (gltf.AVIF, "image/avif")):
            ext = texture.get("extensions", {}).pop(name, None)
            if ext is not None and texture.get("source") is None:
                texture["source"] = ext["source"]
                tree["images"][ext["source"]]["mimeType"] = mime
    used = {t["source"] for t in tree.get("textures", []) if t.get("source") is not None}
    decoded = 0  # pixels of the KTX2 images so far: the model's budget holds before each is decoded
    for i, image in enumerate(tree.get("images", [])):
        if gltf.is_ktx2(image) and i not in used:  # a KTX2 copy beside a PNG or JPEG one
            image.pop("uri", None), image.pop("bufferView", None)
        elif gltf.is_ktx2(image):
            data = gltf.resource(image["uri"], folder) if "uri" in image else out.view_bytes(image["bufferView"])
            decoded += ktx2.pixels(data)
            if decoded > MAX_TEXTURE_PIXELS:
                raise GltfError(f"holds KTX2 textures of more pixels in all than PartScope decodes "
                                f"({MAX_TEXTURE_PIXELS / 1e6:.0f} million): export it with smaller textures")
            out.embed(image, _ktx2_png(data), "image/png")
        elif "uri" in image:
            out.embed(image, gltf.resource(image["uri"], folder), image.get("mimeType") or _mime(image["uri"]))


def _mime(uri: str) -> str:
    ext = uri.split("?")[0].rsplit(".", 1)[-1].lower()
    types = {"jpg": "image/jpeg", "jpeg": "image/jpeg", "webp": "image/webp", "avif": "image/avif"}
    return types.get(ext, "image/png")


def _meshopt(ext: dict, buffers: list) -> bytes:
    meshopt = gltf.optional_module("meshopt", MESHOPT[0], "meshopt compression", "meshopt==0.1.0")
    source = buffers[ext["buffer"]] if ext["buffer"] < len(buffers) else None
    if source is None:
        raise GltfError("has meshopt-compressed data that is missing from the file")
    start = ext.get("byteOffset", 0)
    try:
        rows = meshopt.decode_gltf_buffer(source[start:start + ext["byteLength"]], ext["count"], ext["byteStride"],
                                          ext.get("mode", "ATTRIBUTES"), ext.get("filter", "NONE"))
    except (ValueError, RuntimeError):
        raise GltfError("has meshopt-compressed geometry that does not decode: the file is damaged; "
                        "export it again") from None
    return rows.tobytes()


def _draco(prim: dict, out: "_Packer") -> None:
    DracoPy = gltf.optional_module("DracoPy", DRACO, "Draco compression", "DracoPy==2.2.0")
    ext = prim["extensions"].pop(DRACO)
    damaged = GltfError("has Draco-compressed geometry that does not decode: the file is damaged; export it again")
    try:
        mesh = DracoPy.decode(out.view_bytes(ext["bufferView"]))
    except Exception:  # DracoPy raises its own and ValueError/RuntimeError for damaged data
        raise damaged from None
    by_id = {a["unique_id"]: np.asarray(a["data"]) for a in mesh.attributes}
    for name, ident in ext.get("attributes", {}).items():
        if name in prim.get("attributes", {}) and ident in by_id:
            values = by_id[ident].reshape(len(by_id[ident]), -1)
            if values.shape[1] != gltf.COMPONENTS[out.tree["accessors"][prim["attributes"][name]]["type"]]:
                raise damaged  # another primitive's data, or none that fits
            prim["attributes"][name] = out.accessor(values)
    faces = np.asarray(getattr(mesh, "faces", np.zeros((0, 3))), np.uint32)
    if not len(faces):
        raise GltfError("has Draco-compressed data that holds no faces: it is a point cloud; "
                        "PartScope segments surface meshes")
    prim["indices"] = out.accessor(faces.reshape(-1))
    prim["mode"] = 4


def _fan_to_list(prim: dict, out: "_Packer") -> None:
    """A triangle fan (0 1 2, 0 2 3, ...) rewritten as a triangle list, in order."""
    tree = out.tree
    if "indices" in prim:
        fan = out.accessor_values(tree["accessors"][prim["indices"]]).ravel()
    else:
        fan = np.arange(tree["accessors"][prim["attributes"]["POSITION"]]["count"])
    faces = np.stack([np.full(max(len(fan) - 2, 0), fan[0] if len(fan) else 0), fan[1:-1], fan[2:]], axis=1)
    prim["indices"] = out.accessor(faces.reshape(-1).astype(np.uint32))
    prim["mode"] = 4


def _to_float(index: int, tree: dict, out: "_Packer") -> None:
    """Rewrite a vertex attribute as float32: its sparse values put in,
    integers (quantized) dequantized where normalized."""
    acc = tree["accessors"][index]
    dtype = np.dtype(DTYPES[acc["componentType"]])
    if "bufferView" in acc:
        values = out.accessor_values(acc)
    else:  # all zeros but what the sparse part gives
        values = np.zeros((acc["count"], gltf.COMPONENTS[acc["type"]]), dtype)
    if "sparse" in acc:
        sparse = acc["sparse"]
        where = {"count": sparse["count"], "type": "SCALAR", **sparse["indices"]}
        what = {**acc, "count": sparse["count"], **sparse["values"]}
        what.pop("sparse")
        values = values.copy()
        values[out.accessor_values(where).ravel()] = out.accessor_values(what)
    values = values.astype(np.float32)
    if acc.get("normalized") and dtype.kind in "iu":
        values = np.maximum(values / np.iinfo(dtype).max, -1.0)
    tree["accessors"][index] = tree["accessors"][out.accessor(values)]


def _instances(tree: dict, out: "_Packer") -> None:
    """Every node that draws its mesh at many places (``EXT_mesh_gpu_instancing``:
    a translation, rotation and scale per place, each in the node's own
    space) becomes the parent of one node per place, each with the mesh."""
    nodes = tree.get("nodes", [])
    for i, node in enumerate(nodes[:]):
        ext = node.get("extensions", {}).pop(INSTANCING, None)
        places = {}
        for name, index in (ext or {}).get("attributes", {}).items():
            if name in ("TRANSLATION", "ROTATION", "SCALE"):
                _to_float(index, tree, out)  # quantized ones too
                places[name.lower()] = out.accessor_values(tree["accessors"][index]).tolist()
        if not places or "mesh" not in node:
            continue
        count, mesh, base = min(len(v) for v in places.values()), node.pop("mesh"), node.get("name", f"node {i}")
        node["children"] = node.get("children", []) + list(range(len(nodes), len(nodes) + count))
        nodes.extend({"name": f"{base} {k}", "mesh": mesh, **{key: v[k] for key, v in places.items()}}
                     for k in range(count))


def _morphs(tree: dict, out: "_Packer") -> None:
    """Every mesh with morph targets (Blender's shape keys) as viewers draw
    it without animation: its positions and normals plus each target's
    offsets times its default weight (the node's, else the mesh's); a mesh
    of its own for each node that draws it so."""
    for node in tree.get("nodes", []):
        weights = gltf.morph_weights(tree, node)
        if not any(weights):
            continue
        mesh = _own_mesh(tree, node["mesh"])
        for prim in mesh["primitives"]:
            for name in ("POSITION", "NORMAL"):
                offsets = [(w, target[name]) for w, target in zip(weights, prim.get("targets", []))
                           if w and name in target]
                if not offsets or name not in prim["attributes"]:
                    continue
                values = out.accessor_values(tree["accessors"][prim["attributes"][name]]).astype(np.float64)
                for weight, index in offsets:
                    _to_float(index, tree, out)  # quantized or sparse, as Blender writes them
                    values += weight * out.accessor_values(tree["accessors"][index])
                if name == "NORMAL":
                    values /= np.maximum(np.linalg.norm(values, axis=1, keepdims=True), 1e-12)
                prim["attributes"][name] = out.accessor(values)
        node["mesh"] = len(tree["meshes"]) - 1


def _skins(tree: dict, out: "_Packer") -> None:
    """Every skinned mesh where viewers draw it: each vertex moved by its
    joints' world transforms times their inverse bind matrices, by its
    weights, in the pose the nodes give (a rig's rest pose, no animation),
    and drawn by a new node at the scene's root (glTF ignores the transform
    of a skinned mesh's own node and of those above it, which trimesh would
    apply). The skinned node keeps its children, without the mesh."""
    nodes = tree.get("nodes", [])
    skinned = [i for i, node in enumerate(nodes) if "skin" in node and "mesh" in node]
    if not skinned:
        return
    world = _world_matrices(nodes)
    reached = [_reached(nodes, scene.get("nodes", [])) for scene in tree.get("scenes", [])]
    for i in skinned:
        node = nodes[i]
        skin = tree["skins"][node.pop("skin")]
        bind = np.eye(4)[None] if "inverseBindMatrices" not in skin else (
            out.accessor_values(tree["accessors"][skin["inverseBindMatrices"]]).reshape(-1, 4, 4).transpose(0, 2, 1))
        joints = world[skin["joints"]] @ bind if skin.get("joints") else world[[i]]
        for prim in _own_mesh(tree, node.pop("mesh"))["primitives"]:
            _skin_primitive(prim["attributes"], joints, world[i], tree, out)
        nodes.append({"name": node.pop("name", f"node {i}"), "mesh": len(tree["meshes"]) - 1})
        for scene, below in zip(tree.get("scenes", []), reached):
            if i in below:
                scene["nodes"] = scene["nodes"] + [len(nodes) - 1]


def _skin_primitive(attributes: dict, joints: np.ndarray, fallback: np.ndarray, tree: dict, out: "_Packer") -> None:
    """A primitive's positions and normals moved by its skin (``joints``:
    (J, 4, 4) each joint's world transform times its inverse bind matrix;
    vertices without weights by ``fallback``, the node's world transform)."""
    def values(name):
        if name.startswith("WEIGHTS_"):  # normalized integers, or sparse
            _to_float(attributes[name], tree, out)
        return out.accessor_values(tree["accessors"][attributes[name]])

    blend = np.zeros((tree["accessors"][attributes["POSITION"]]["count"], 4, 4))
    for k in range(8):
        if f"JOINTS_{k}" in attributes and f"WEIGHTS_{k}" in attributes:
            index = np.clip(values(f"JOINTS_{k}").astype(np.int64), 0, len(joints) - 1)
            blend += np.einsum("vk,vkab->vab", values(f"WEIGHTS_{k}"), joints[index])
    total = blend[:, 3, 3]  # the weights' sum
    blend = np.where(total[:, None, None] > 1e-6, blend / np.maximum(total, 1e-6)[:, None, None], fallback)
    position = values("POSITION").astype(np.float64)
    attributes["POSITION"] = out.accessor(np.einsum("vab,vb->va", blend[:, :3, :3], position) + blend[:, :3, 3])
    if "NORMAL" in attributes:  # by the cofactors of each vertex's 3x3: the inverse transpose, up to scale
        a, b, c = blend[:, :3, 0], blend[:, :3, 1], blend[:, :3, 2]
        cofactor = np.stack([np.cross(b, c), np.cross(c, a), np.cross(a, b)], axis=2)
        sign = np.sign(np.einsum("vc,vc->v", a, np.cross(b, c)))[:, None]
        normal = np.einsum("vab,vb->va", cofactor, values("NORMAL")) * sign
        attributes["NORMAL"] = out.accessor(normal / np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-12))


def _world_matrices(nodes: list) -> np.ndarray:
    """(N, 4, 4) every node's transform in the scene (its parents' applied;
    a node in a cycle of children, which glTF forbids, keeps the identity)."""
    world = np.repeat(np.eye(4)[None], len(nodes), axis=0)
    children = {child for node in nodes for child in node.get("children", [])}
    stack, seen = [(i, np.eye(4)) for i in range(len(nodes)) if i not in children], set()
    while stack:
        i, above = stack.pop()
        if i not in seen:
            seen.add(i)
            world[i] = above @ _local_matrix(nodes[i])
            stack.extend((child, world[i]) for child in nodes[i].get("children", []))
    return world


def _own_mesh(tree: dict, index: int) -> dict:
    """A copy of mesh ``index`` whose primitives' attributes can be replaced, added to the meshes."""
    mesh = {**tree["meshes"][index]}
    mesh["primitives"] = [{**prim, "attributes": {**prim["attributes"]}} for prim in mesh["primitives"]]
    tree["meshes"].append(mesh)
    return mesh


def _local_matrix(node: dict) -> np.ndarray:
    """A node's own 4x4 transform: its matrix (column-major) or translation, rotation, scale."""
    if "matrix" in node:
        return np.asarray(node["matrix"], np.float64).reshape(4, 4).T
    x, y, z, w = node.get("rotation", [0, 0, 0, 1])
    matrix = trimesh.transformations.quaternion_matrix([w, x, y, z])
    matrix[:3, :3] *= np.asarray(node.get("scale", [1, 1, 1]), np.float64)
    matrix[:3, 3] = node.get("translation", [0, 0, 0])
    return matrix


def _reached(nodes: list, roots: list) -> set:
    """The nodes at or below ``roots``."""
    seen, stack = set(), list(roots)
    while stack:
        i = stack.pop()
        if i not in seen:
            seen.add(i)
            stack.extend(nodes[i].get("children", []))
    return seen


def uv_matrix(transform: dict) -> np.ndarray:
    """(2, 3) affine map of KHR_texture_transform: offset, then rotation,
    then scale, applied to (u, v, 1). The rotation turns the UVs
    counter-clockwise in the texture's own frame (v down), so that the
    extension's example (offset 0 1, rotation pi/2, scale 0.5) picks the
    lower left quarter of the image."""
    (ox, oy), (sx, sy) = transform.get("offset", (0, 0)), transform.get("scale", (1, 1))
    c, s = math.cos(transform.get("rotation", 0.0)), math.sin(transform.get("rotation", 0.0))
    return np.array([[c * sx, s * sy, ox], [-s * sx, c * sy, oy]])


def _bake_base_color_uv(tree: dict, out: "_Packer") -> None:
    """Write each primitive's base colour texture coordinates, transformed as
    its material says, as TEXCOORD_0; then drop the transform and set from
    the material. (trimesh reads only TEXCOORD_0 and no transform; other
    maps follow the base colour's coordinates there anyway.)"""
    materials = tree.get("materials", [])
    wanted = {i: gltf.base_color_uv(m) for i, m in enumerate(materials)}
    wanted = {i: w for i, w in wanted.items() if w != (0, None)}
    for mesh in tree.get("meshes", []):
        for prim in mesh.get("primitives", []):
            texcoord, transform = wanted.get(prim.get("material"), (0, None))
            name = f"TEXCOORD_{texcoord}"
            if prim.get("material") not in wanted or name not in prim.get("attributes", {}):
                continue
            uv = out.accessor_values(tree["accessors"][prim["attributes"][name]]).astype(np.float64)
            if transform is not None:
                uv = uv @ uv_matrix(transform)[:, :2].T + uv_matrix(transform)[:, 2]
            prim["attributes"]["TEXCOORD_0"] = out.accessor(uv.astype(np.float32))
    for i in wanted:
        info = materials[i]["pbrMetallicRoughness"]["baseColorTexture"]
        info.pop("texCoord", None)
        info.get("extensions", {}).pop(TRANSFORM, None)


def _ktx2_png(data: bytes) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(ktx2.rgba(data), "RGBA").save(buf, format="PNG")
    return buf.getvalue()


class _Packer:
    """Lays out one GLB buffer: the file's buffers as they were, then new data."""

    def __init__(self, tree: dict, buffers: list):
        self.tree, self.old = tree, buffers
        self.base, size = [], 0
        for data in buffers:
            size += -size % 8
            self.base.append(size)
            size += len(data or b"")
        self.new_base = size + (-size % 8)
        self.new = bytearray()

    def view(self, data: bytes, stride=None) -> dict:
        """A bufferView over new data (buffer -1 until ``glb`` lays it out)."""
        self.new += b"\0" * (-len(self.new) % 8)
        view = {"buffer": -1, "byteOffset": len(self.new), "byteLength": len(data)}
        self.new += data
        if stride:
            view["byteStride"] = stride
        return view

    def _new_view(self, data: bytes) -> int:
        self.tree.setdefault("bufferViews", []).append(self.view(data))
        return len(self.tree["bufferViews"]) - 1

    def view_bytes(self, index: int) -> bytes:
        view = self.tree["bufferViews"][index]
        source = self.new if view["buffer"] < 0 else self.old[view["buffer"]]
        if source is None:
            raise GltfError("is missing data its geometry refers to: the file is damaged; export it again")
        start = view.get("byteOffset", 0)
        return bytes(source[start:start + view["byteLength"]])

    def accessor_values(self, acc: dict) -> np.ndarray:
        """(count, k) values of an accessor, its bufferView's stride followed."""
        dtype = np.dtype(DTYPES[acc["componentType"]])
        row = dtype.itemsize * gltf.COMPONENTS[acc["type"]]
        stride = self.tree["bufferViews"][acc["bufferView"]].get("byteStride") or row
        data = np.frombuffer(self.view_bytes(acc["bufferView"]), np.uint8)[acc.get("byteOffset", 0):]
        count = acc["count"]
        if count and len(data) < (count - 1) * stride + row:
            raise GltfError("has geometry that runs past the end of its data: the file is damaged; export it again")
        rows = np.lib.stride_tricks.as_strided(data, (count, row), (stride, 1))
        return rows.copy().view(dtype).reshape(count, -1)

    def accessor(self, values: np.ndarray) -> int:
        """A new accessor over ``values``, (n,) or (n, k): float32, or uint32 indices."""
        values = np.ascontiguousarray(values)
        kind = 5126 if values.dtype.kind == "f" else 5125
        values = values.astype(DTYPES[kind])
        width = 1 if values.ndim == 1 else values.shape[1]
        acc = {"bufferView": self._new_view(values.tobytes()), "componentType": kind, "count": len(values),
               "type": {1: "SCALAR", 2: "VEC2", 3: "VEC3", 4: "VEC4"}[width]}
        if width == 3 and len(values):  # glTF requires bounds on positions
            acc["min"], acc["max"] = values.min(axis=0).tolist(), values.max(axis=0).tolist()
        self.tree.setdefault("accessors", []).append(acc)
        return len(self.tree["accessors"]) - 1

    def embed(self, image: dict, data: bytes, mime: str) -> None:
        """Make ``image`` hold ``data`` in the buffer."""
        image.pop("uri", None)
        image["bufferView"], image["mimeType"] = self._new_view(data), mime

    def glb(self) -> bytes:
        """The tree and every byte as one GLB."""
        for view in self.tree.get("bufferViews", []):
            base = self.new_base if view["buffer"] < 0 else self.base[view["buffer"]]
            view["byteOffset"], view["buffer"] = view.get("byteOffset", 0) + base, 0
            view.pop("extensions", None)
        binary = bytearray()
        for base, data in zip(self.base, self.old):
            binary += b"\0" * (base - len(binary)) + (data or b"")
        binary += b"\0" * (self.new_base - len(binary)) + self.new
        self.tree["buffers"] = [{"byteLength": len(binary)}]
        return glb.pack(self.tree, bytes(binary))
