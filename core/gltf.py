"""glTF checked and, where it is compressed, decoded before trimesh reads it.

trimesh reads plain glTF; web exports are often compressed. Here the file's
JSON is read first: a file that needs a part PartScope cannot read, refers to
files that are not there, or holds no triangles is refused with a sentence,
and Draco (``KHR_draco_mesh_compression``) and meshopt
(``EXT_meshopt_compression``, ``KHR_meshopt_compression``) geometry, KTX2/Basis
textures (``KHR_texture_basisu``) and quantized attributes
(``KHR_mesh_quantization``) are decoded into a plain GLB held in memory.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import os
import struct
from urllib.parse import unquote

import numpy as np

log = logging.getLogger(__name__)

DRACO = "KHR_draco_mesh_compression"
MESHOPT = ("EXT_meshopt_compression", "KHR_meshopt_compression")
BASISU = "KHR_texture_basisu"
QUANTIZATION = "KHR_mesh_quantization"
#: Required extensions trimesh reads, or that change only how a surface looks.
READ_AS_IS = {"KHR_texture_transform", "EXT_texture_webp", "KHR_lights_punctual", "KHR_materials_variants",
              "KHR_xmp_json_ld", "EXT_lights_image_based", "KHR_animation_pointer", "KHR_materials_emissive_strength"}
DECODED = {DRACO, *MESHOPT, BASISU, QUANTIZATION}

GLB_MAGIC, JSON_CHUNK, BIN_CHUNK = b"glTF", 0x4E4F534A, 0x004E4942
COMPONENTS = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT4": 16}
DTYPES = {5120: np.int8, 5121: np.uint8, 5122: np.int16, 5123: np.uint16, 5125: np.uint32, 5126: np.float32}
TRIANGLE_MODES = (4, 5, 6)


class GltfError(ValueError):
    """The glTF cannot be used; the message ends a sentence that starts with the file's name."""


def read(path: str) -> tuple[dict, list]:
    """The JSON tree and the bytes of every buffer (None where a buffer has no
    data: a meshopt fallback, or the missing BIN chunk of a damaged GLB)."""
    with open(path, "rb") as f:
        data = f.read()
    folder = os.path.dirname(os.path.abspath(path))
    binary = None
    if data[:4] == GLB_MAGIC:
        tree, binary = split_glb(data)
    else:
        try:
            tree = json.loads(data.decode("utf-8-sig"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise GltfError("is not valid glTF: its text is not JSON") from None
    if not isinstance(tree, dict) or not isinstance(tree.get("asset", {}), dict):
        raise GltfError("is not valid glTF: its JSON is not a glTF document")
    buffers = []
    for i, buf in enumerate(tree.get("buffers", [])):
        uri = buf.get("uri")
        if uri is None:
            buffers.append(binary if i == 0 else None)
        else:
            buffers.append(_resource(uri, folder))
    for image in tree.get("images", []):
        if "uri" in image and not image["uri"].startswith("data:"):
            _resource(image["uri"], folder)  # there, and inside the folder
    return tree, buffers


def split_glb(data: bytes) -> tuple[dict, bytes | None]:
    """The JSON tree of a GLB and its BIN chunk (None without one)."""
    if len(data) < 20:
        raise GltfError("is not a complete GLB: the file is cut short")
    version, length = struct.unpack_from("<II", data, 4)
    if version == 1:
        raise GltfError("is GLB version 1 (glTF 1.0); PartScope reads glTF 2.0: export it again as glTF 2.0")
    if version != 2:
        raise GltfError("is not valid GLB: its header is damaged")
    pos, tree, binary = 12, None, None
    while pos + 8 <= min(length, len(data)):
        size, kind = struct.unpack_from("<II", data, pos)
        chunk = data[pos + 8:pos + 8 + size]
        if len(chunk) < size:
            raise GltfError("is not a complete GLB: the file is cut short")
        if kind == JSON_CHUNK and tree is None:
            try:
                tree = json.loads(chunk.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError):
                raise GltfError("is not valid GLB: its JSON part is damaged") from None
        elif kind == BIN_CHUNK and binary is None:
            binary = chunk
        pos += 8 + size + (-size % 4)
    if tree is None:
        raise GltfError("is not valid GLB: it has no JSON part")
    return tree, binary


def _resource(uri: str, folder: str) -> bytes:
    """Bytes of a buffer or image uri: embedded (data:) or a file beside the glTF."""
    if uri.startswith("data:"):
        try:
            return base64.b64decode(uri.split(",", 1)[1])
        except (IndexError, ValueError):
            raise GltfError("has damaged embedded data") from None
    if "://" in uri:
        raise GltfError(f"refers to '{uri}' on the web; PartScope reads only files beside the glTF")
    path = os.path.normpath(os.path.join(folder, unquote(uri)))
    if not path.startswith(os.path.join(folder, "")):
        raise GltfError(f"refers to '{unquote(uri)}', outside its own folder; PartScope reads only files "
                        "beside the glTF")
    if not os.path.isfile(path):
        raise GltfError(f"refers to '{unquote(uri)}', which is not beside it: keep the .gltf with its .bin "
                        "and images (in the web app, upload the three as one ZIP)")
    with open(path, "rb") as f:
        return f.read()


def check(tree: dict) -> None:
    """Refuse a tree with no triangles, or one that needs an extension PartScope cannot read."""
    needed = set(tree.get("extensionsRequired", [])) - READ_AS_IS - DECODED
    needed = {e for e in needed if not e.startswith("KHR_materials_")}
    if needed:
        names = ", ".join(sorted(needed))
        raise GltfError(f"needs the glTF extension {names}, which PartScope cannot read: "
                        "export the model again without it")
    prims = [p for m in tree.get("meshes", []) for p in m.get("primitives", [])]
    if not any(p.get("mode", 4) in TRIANGLE_MODES for p in prims):
        if prims and all(p.get("mode", 4) == 0 for p in prims):
            raise GltfError("is a point cloud (no faces): PartScope segments surface meshes; "
                            "export the model with its faces")
        if prims:
            raise GltfError("holds only lines, no faces: export a model with surfaces")
        what = "only images" if tree.get("images") else "no geometry"
        raise GltfError(f"holds no faces ({what}): export a model with its meshes")


def needs_decoding(tree: dict) -> bool:
    return bool(DECODED & set(tree.get("extensionsUsed", [])))


def decode(tree: dict, buffers: list, folder: str) -> bytes:
    """A plain GLB (one buffer) with every compressed part of ``tree`` decoded
    and every image inside it. tree is changed in place; folder : where the
    glTF's own files lie."""
    out = _Packer(tree, buffers)
    for i, view in enumerate(tree.get("bufferViews", [])):
        ext = next((view["extensions"][e] for e in MESHOPT if e in view.get("extensions", {})), None)
        if ext is not None:
            tree["bufferViews"][i] = out.view(_meshopt(ext, buffers), view.get("byteStride"))
    for mesh in tree.get("meshes", []):
        for prim in mesh.get("primitives", []):
            if DRACO in prim.get("extensions", {}):
                _draco(prim, out)
            for name, index in prim.get("attributes", {}).items():
                if name in ("POSITION", "NORMAL") or name.startswith("TEXCOORD_"):
                    _to_float(index, tree, out)
    ktx2 = set()
    for texture in tree.get("textures", []):
        ext = texture.get("extensions", {}).pop(BASISU, None)
        if ext is not None and texture.get("source") is None:
            texture["source"] = ext["source"]
            ktx2.add(ext["source"])
    for i, image in enumerate(tree.get("images", [])):
        if i in ktx2:
            data = image["uri"] if "uri" in image else None
            data = _resource(data, folder) if data else out.view_bytes(image["bufferView"])
            out.embed(image, _ktx2_png(data), "image/png")
        elif "uri" in image:
            out.embed(image, _resource(image["uri"], folder), image.get("mimeType") or _mime(image["uri"]))
    for key in ("extensionsUsed", "extensionsRequired"):
        if key in tree:
            tree[key] = [e for e in tree[key] if e not in DECODED]
    return out.glb()


def _mime(uri: str) -> str:
    ext = os.path.splitext(uri.split("?")[0])[1].lower()
    return {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp", ".ktx2": "image/ktx2"}.get(ext, "image/png")


def _module(name: str, extension: str, what: str, pin: str):
    """An optional decoder, or a sentence that says what to install."""
    import importlib

    try:
        return importlib.import_module(name)
    except ImportError:
        raise GltfError(f"uses {what} ({extension}) and the package that decodes it is not installed: "
                        f"pip install {pin}, or export the model again without it") from None


def _meshopt(ext: dict, buffers: list) -> bytes:
    meshopt = _module("meshopt", MESHOPT[0], "meshopt compression", "meshopt==0.1.0")
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
    DracoPy = _module("DracoPy", DRACO, "Draco compression", "DracoPy==2.2.0")
    ext = prim["extensions"].pop(DRACO)
    try:
        mesh = DracoPy.decode(out.view_bytes(ext["bufferView"]))
    except Exception:  # DracoPy raises its own and ValueError/RuntimeError for damaged data
        raise GltfError("has Draco-compressed geometry that does not decode: the file is damaged; "
                        "export it again") from None
    by_id = {a["unique_id"]: np.asarray(a["data"]) for a in mesh.attributes}
    for name, ident in ext.get("attributes", {}).items():
        if name in prim.get("attributes", {}) and ident in by_id:
            prim["attributes"][name] = out.accessor(by_id[ident])
    faces = np.asarray(getattr(mesh, "faces", np.zeros((0, 3))), np.uint32)
    if not len(faces):
        raise GltfError("has Draco-compressed data that holds no faces: it is a point cloud; "
                        "PartScope segments surface meshes")
    prim["indices"] = out.accessor(faces.reshape(-1))
    prim["mode"] = 4


def _to_float(index: int, tree: dict, out: "_Packer") -> None:
    """Rewrite an integer (quantized) vertex attribute as float32, dequantized if normalized."""
    acc = tree["accessors"][index]
    dtype = np.dtype(DTYPES[acc["componentType"]])
    if dtype == np.float32 or "bufferView" not in acc:
        return
    values = out.accessor_values(acc).astype(np.float32)
    if acc.get("normalized"):
        values = np.maximum(values / np.iinfo(dtype).max, -1.0)
    tree["accessors"][index] = tree["accessors"][out.accessor(values)]


def _ktx2_png(data: bytes) -> bytes:
    from PIL import Image

    opengl_basisu = _module("opengl_basisu", BASISU, "KTX2/Basis textures", "opengl-basisu==0.1.0a2")

    try:
        rgba = np.asarray(opengl_basisu.open(data).transcode(opengl_basisu.Target.RGBA8).data, np.uint8)
    except (ValueError, IndexError):
        raise GltfError("has a KTX2 texture that does not decode: the file is damaged; "
                        "export it again, or with PNG or JPEG textures") from None
    buf = io.BytesIO()
    Image.fromarray(rgba.reshape(rgba.shape[0], rgba.shape[1], 4), "RGBA").save(buf, format="PNG")
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
        row = dtype.itemsize * COMPONENTS[acc["type"]]
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
        return glb_bytes(self.tree, bytes(binary))


def glb_bytes(tree: dict, binary: bytes) -> bytes:
    """A GLB file of a JSON tree and its BIN chunk (buffer 0)."""
    text = json.dumps(tree, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 4)
    binary = binary + b"\0" * (-len(binary) % 4)
    body = struct.pack("<II", len(text), JSON_CHUNK) + text
    if binary:
        body += struct.pack("<II", len(binary), BIN_CHUNK) + binary
    return GLB_MAGIC + struct.pack("<II", 2, 12 + len(body)) + body
