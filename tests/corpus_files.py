"""The files of the input corpus (benchmarks/corpus.py), made here: scenes,
and the same scenes written the ways other tools write them (Draco and
meshopt by those libraries' own encoders, quantized and normalized
attributes, texture transforms, every primitive mode, lines beside
triangles, unpadded GLB chunks, separate files with a map missing,
Windows-1252 text; KTX2 textures are in corpus_ktx2.py), plus the damaged
files people upload by mistake.

Each builder takes the bytes of a plain GLB (or a scene) and returns bytes.
"""

from __future__ import annotations

import io
import json
import struct
import zipfile

import numpy as np
import trimesh
from PIL import Image

from core import glb as container, gltf

STRIP, FAN = 5, 6
TRANSFORM, BASISU = "KHR_texture_transform", "KHR_texture_basisu"


# ------------------------------------------------------------------ scenes
def pattern(i: int, size: int = 16) -> Image.Image:
    """A texture whose colour changes across it (a gradient, a checker and a
    channel of its own per ``i``), so a coordinate read wrong shows."""
    y, x = np.mgrid[:size, :size]
    image = np.zeros((size, size, 3), np.uint8)
    image[..., 0] = x * 255 // (size - 1)
    image[..., 1] = y * 255 // (size - 1)
    image[..., 2] = np.where((x // 4 + y // 4 + i) % 2 == 0, 230, 30)
    return Image.fromarray(image)


def textured_scene(n_nodes: int = 3) -> trimesh.Scene:
    """Textured boxes (an image each; the first white, the others tinted)
    and vertex-colored balls, ``n_nodes`` nodes apart."""
    scene = trimesh.Scene()
    rng = np.random.default_rng(0)
    for i in range(n_nodes):
        if i % 3 == 2:
            mesh = trimesh.creation.icosphere(subdivisions=2, radius=0.2)
            mesh.visual.vertex_colors = [0, 200, 0, 255]
        else:
            mesh = trimesh.creation.box(extents=[0.4, 0.4, 0.4])
            uv = rng.uniform(0.05, 0.95, (len(mesh.vertices), 2))
            tint = [255, 255, 255, 255] if i == 0 else [255, 210, 170, 255]
            material = trimesh.visual.material.PBRMaterial(baseColorTexture=pattern(i), baseColorFactor=tint)
            mesh.visual = trimesh.visual.TextureVisuals(uv=uv, material=material)
        mesh.apply_translation([0.6 * (i % 10), 0.6 * (i // 10), 0])
        scene.add_geometry(mesh, geom_name=f"part_{i}")
    return scene


def split_ball() -> trimesh.Scene:
    """One closed ball cut into two primitives (two textures) that share the
    seam's vertex positions, as a model split by material is."""
    ball = trimesh.creation.icosphere(subdivisions=3, radius=0.37)
    ball.apply_translation([0.123, 0.0457, -0.31])
    top = ball.triangles_center[:, 2] > ball.centroid[2]
    scene = trimesh.Scene()
    for i, keep in enumerate((top, ~top)):
        half = ball.submesh([np.nonzero(keep)[0]], append=True)
        uv = (half.vertices[:, :2] - half.bounds[0, :2]) / np.ptp(half.vertices[:, :2], axis=0)
        half.visual = trimesh.visual.TextureVisuals(uv=uv, image=pattern(i))
        scene.add_geometry(half, geom_name=f"half_{i}")
    return scene


def legs_scene() -> trimesh.Scene:
    """A seat and one leg mesh that four nodes place, each turned and
    scaled its own way (a mesh many nodes share, as exporters write a
    repeated part)."""
    scene = trimesh.Scene()
    seat = trimesh.creation.box([1.0, 1.0, 0.1])
    seat.visual.vertex_colors = [200, 120, 40, 255]
    scene.add_geometry(seat, geom_name="seat", node_name="seat",
                       transform=trimesh.transformations.translation_matrix([0, 0, 0.5]))
    leg = trimesh.creation.cylinder(0.05, 0.5, sections=8)
    leg.visual.vertex_colors = [40, 40, 40, 255]
    scene.add_geometry(leg, geom_name="leg", node_name="leg 0")
    for k, (x, y) in enumerate([(-0.4, -0.4), (0.4, -0.4), (-0.4, 0.4), (0.4, 0.4)]):
        place = trimesh.transformations.compose_matrix(scale=[1 + 0.1 * k] * 3, angles=[0, 0, 0.4 * k],
                                                       translate=[x, y, 0.25])
        scene.graph.update(frame_to=f"leg {k}", frame_from=scene.graph.base_frame, matrix=place, geometry="leg")
    return scene


def instanced_glb(data: bytes) -> bytes:
    """The GLB with every mesh that several nodes place drawn by one node
    instead (``EXT_mesh_gpu_instancing``: a translation, a rotation as
    normalized int16, and a scale per place); the other nodes keep no mesh."""
    tree, binary = container.split(data)
    out = bytearray(binary)
    nodes = tree["nodes"]
    for mesh in {n["mesh"] for n in nodes if "mesh" in n}:
        users = [n for n in nodes if n.get("mesh") == mesh]
        if len(users) < 2:
            continue
        matrices = [np.array(n.get("matrix", np.eye(4).ravel()), np.float64).reshape(4, 4).T for n in users]
        parts = [trimesh.transformations.decompose_matrix(m) for m in matrices]  # scale, shear, angles, move, ...
        turn = np.array([np.roll(trimesh.transformations.quaternion_from_euler(*p[2]), -1) for p in parts])
        places = {"TRANSLATION": np.array([p[3] for p in parts], np.float32),
                  "ROTATION": np.round(turn * 32767).astype(np.int16),
                  "SCALE": np.array([p[0] for p in parts], np.float32)}
        attributes = {}
        for name, values in places.items():
            attributes[name] = len(tree["accessors"])
            tree["accessors"].append({"bufferView": append_view(tree, out, values), "count": len(values),
                                      "componentType": 5122 if values.dtype == np.int16 else 5126,
                                      "type": "VEC4" if name == "ROTATION" else "VEC3",
                                      **({"normalized": True} if name == "ROTATION" else {})})
        for n in users:
            n.pop("mesh")
        instancing = {"EXT_mesh_gpu_instancing": {"attributes": attributes}}
        nodes.append({"name": "legs", "mesh": mesh, "extensions": instancing})
        tree["scenes"][0]["nodes"].append(len(nodes) - 1)
    require(tree, "EXT_mesh_gpu_instancing")
    return container.pack(tree, bytes(out))


def scene_faces(scene: trimesh.Scene) -> int:
    return sum(len(g.faces) for g in scene.dump())


def glb(scene: trimesh.Scene) -> bytes:
    return scene.export(file_type="glb")


# ------------------------------------------------------------------ compressed
def draco_glb(scene: trimesh.Scene) -> bytes:
    """Every primitive Draco-compressed (trimesh's exporter, with DracoPy)."""
    return scene.export(file_type="glb", extension_draco=True)


def _index_views(tree: dict) -> set:
    return {tree["accessors"][p["indices"]]["bufferView"]
            for m in tree["meshes"] for p in m["primitives"] if "indices" in p}


def meshopt_glb(data: bytes, extension: str = "EXT_meshopt_compression", version: int = 0) -> bytes:
    """A plain GLB with every geometry bufferView meshopt-compressed (meshopt's
    encoder), the uncompressed data left out: its fallback buffer is empty,
    as gltfpack writes it."""
    import meshopt

    tree, binary = container.split(data)
    indices = _index_views(tree)
    rows = {a["bufferView"]: a for a in tree["accessors"] if "bufferView" in a}
    out, fallback = bytearray(), 0
    for i, view in enumerate(tree["bufferViews"]):
        start = view.get("byteOffset", 0)
        chunk = binary[start:start + view["byteLength"]]
        out += b"\0" * (-len(out) % 4)
        if i not in rows:  # images stay as they are
            view["byteOffset"] = len(out)
            out += chunk
            continue
        acc = rows[i]
        if i in indices:
            values, mode = np.frombuffer(chunk, gltf.DTYPES[acc["componentType"]]), "TRIANGLES"
        else:
            stride = view.get("byteStride") or len(chunk) // acc["count"]
            values, mode = np.frombuffer(chunk, np.uint8).reshape(acc["count"], stride), "ATTRIBUTES"
        packed = meshopt.encode_gltf_buffer(values, mode, version)
        stride = values.itemsize if mode == "TRIANGLES" else values.shape[1]
        ext = {"buffer": 0, "byteOffset": len(out), "byteLength": len(packed), "byteStride": stride,
               "count": len(values), "mode": mode}
        out += packed
        tree["bufferViews"][i] = {"buffer": 1, "byteOffset": fallback, "byteLength": len(chunk),
                                  "extensions": {extension: ext}}
        if mode == "ATTRIBUTES":
            tree["bufferViews"][i]["byteStride"] = stride
        fallback += len(chunk) + (-len(chunk) % 4)
    tree["buffers"] = [{"byteLength": len(out)},
                       {"byteLength": fallback, "extensions": {extension: {"fallback": True}}}]
    require(tree, extension)
    return container.pack(tree, bytes(out))


def require(tree: dict, extension: str, required: bool = True) -> None:
    tree["extensionsUsed"] = tree.get("extensionsUsed", []) + [extension]
    if required:
        tree["extensionsRequired"] = tree.get("extensionsRequired", []) + [extension]


def _attributes(tree: dict, prefix: str, shared_once: bool = True) -> list:
    """(primitive, attribute name, accessor) of every float attribute whose
    name starts with ``prefix``; an accessor primitives share, once (else
    once per primitive)."""
    seen, out = set(), []
    for mesh in tree["meshes"]:
        for prim in mesh["primitives"]:
            for name, index in prim["attributes"].items():
                acc = tree["accessors"][index]
                if name.startswith(prefix) and acc["componentType"] == 5126 and index not in seen:
                    seen.update([index] if shared_once else [])
                    out.append((prim, name, acc))
    return out


def _read(tree: dict, binary: bytes, acc: dict) -> np.ndarray:
    view = tree["bufferViews"][acc["bufferView"]]
    width = gltf.COMPONENTS[acc["type"]]
    start = view.get("byteOffset", 0) + acc.get("byteOffset", 0)
    return np.frombuffer(binary, np.float32, acc["count"] * width, start).reshape(-1, width)


def append_view(tree: dict, out: bytearray, values: np.ndarray, stride: int | None = None) -> int:
    """A new bufferView over ``values`` at the end of ``out``; its index."""
    out += b"\0" * (-len(out) % 4)
    view = {"buffer": 0, "byteOffset": len(out), "byteLength": values.nbytes}
    if stride:
        view["byteStride"] = stride
    tree["bufferViews"].append(view)
    out += values.tobytes()
    tree["buffers"] = [{"byteLength": len(out)}]
    return len(tree["bufferViews"]) - 1


def quantized_glb(data: bytes) -> bytes:
    """Positions as int16 in thousandths (padded to 8 bytes a vertex: the same
    shape, 1000 times larger) and texture coordinates as normalized uint16,
    as KHR_mesh_quantization allows."""
    tree, binary = container.split(data)
    out = bytearray(binary)
    for prim, name, acc in [*_attributes(tree, "POSITION"), *_attributes(tree, "TEXCOORD")]:
        values = _read(tree, binary, acc)
        if name == "POSITION":
            q = np.zeros((len(values), 4), np.int16)
            q[:, :3] = np.round(values * 1000)
            acc.update(componentType=5122, min=q[:, :3].min(0).tolist(), max=q[:, :3].max(0).tolist())
        else:
            q = np.round(np.clip(values, 0, 1) * 65535).astype(np.uint16)
            acc.update(componentType=5123, normalized=True)
        acc.update(byteOffset=0, bufferView=append_view(tree, out, q, stride=q.shape[1] * q.itemsize))
    require(tree, "KHR_mesh_quantization")
    return container.pack(tree, bytes(out))


def sparse_glb(data: bytes) -> bytes:
    """The first primitive's positions as a sparse accessor: the stored
    positions with the first half of the vertices at the origin, and the
    true ones for those vertices in its sparse part."""
    tree, binary = container.split(data)
    out = bytearray(binary)
    acc = tree["accessors"][tree["meshes"][0]["primitives"][0]["attributes"]["POSITION"]]
    positions = _read(tree, binary, acc)
    half = np.arange(len(positions) // 2, dtype=np.uint16)
    base = positions.copy()
    base[half] = 0
    acc.update(bufferView=append_view(tree, out, base), byteOffset=0, sparse={
        "count": len(half), "indices": {"bufferView": append_view(tree, out, half), "componentType": 5123},
        "values": {"bufferView": append_view(tree, out, positions[half])}})
    return container.pack(tree, bytes(out))


def normalized_uv_glb(data: bytes, dtype=np.uint8) -> bytes:
    """Texture coordinates as normalized unsigned integers, which core glTF
    allows without any extension."""
    tree, binary = container.split(data)
    out = bytearray(binary)
    top = np.iinfo(dtype).max
    for _, _, acc in _attributes(tree, "TEXCOORD"):
        q = np.round(np.clip(_read(tree, binary, acc), 0, 1) * top).astype(dtype)
        q = np.pad(q, ((0, 0), (0, (-q.shape[1] * q.itemsize % 4) // q.itemsize)))  # rows of 4 bytes
        acc.update(componentType={np.uint8: 5121, np.uint16: 5123}[dtype], normalized=True, byteOffset=0,
                   bufferView=append_view(tree, out, q, stride=q.shape[1] * q.itemsize))
    return container.pack(tree, bytes(out))


def transformed_uv_glb(data: bytes, transform: dict, texcoord: int = 0) -> bytes:
    """Texture coordinates stored before a KHR_texture_transform that brings
    them back (and, with ``texcoord`` 1, in TEXCOORD_1, with TEXCOORD_0 left
    as zeros): the look is the plain file's only if the transform and the
    coordinate set are applied."""
    tree, binary = container.split(data)
    out = bytearray(binary)
    matrix = _uv_matrix(transform)
    for prim, name, acc in _attributes(tree, "TEXCOORD_0", shared_once=False):
        uv = _read(tree, binary, acc).astype(np.float64)
        stored = (np.linalg.inv(matrix) @ np.c_[uv, np.ones(len(uv))].T).T[:, :2].astype(np.float32)
        view = append_view(tree, out, stored)
        tree["accessors"].append({**acc, "bufferView": view, "byteOffset": 0})
        prim["attributes"][f"TEXCOORD_{texcoord}"] = len(tree["accessors"]) - 1
        if texcoord:
            tree["accessors"].append({**acc, "bufferView": append_view(tree, out, np.zeros_like(stored)), "byteOffset": 0})
            prim["attributes"]["TEXCOORD_0"] = len(tree["accessors"]) - 1
    for material in tree["materials"]:
        info = material.get("pbrMetallicRoughness", {}).get("baseColorTexture")
        if info is not None:
            info["extensions"] = {TRANSFORM: transform}
            if texcoord:
                info["texCoord"] = texcoord
    require(tree, TRANSFORM, required=False)
    return container.pack(tree, bytes(out))


def _uv_matrix(transform: dict) -> np.ndarray:
    """(3, 3) KHR_texture_transform as the extension's text gives it:
    translation @ rotation @ scale, the rotation counter-clockwise in UV
    space with v down (its example: offset 0 1, rotation pi/2, scale 0.5
    shows the lower left quarter of the image). Written here apart from the
    loader's own, so that the two check each other."""
    (ox, oy), (sx, sy), r = transform["offset"], transform["scale"], transform["rotation"]
    translation = np.array([[1, 0, ox], [0, 1, oy], [0, 0, 1]])
    rotation = np.array([[np.cos(r), np.sin(r), 0], [-np.sin(r), np.cos(r), 0], [0, 0, 1]])
    return translation @ rotation @ np.diag([sx, sy, 1])


def no_factor_glb(data: bytes) -> bytes:
    """The GLB without the baseColorFactor its materials state as white,
    glTF's default, as many exporters write it (glTF-Transform drops it)."""
    tree, binary = container.split(data)
    dropped = 0
    for material in tree["materials"]:
        pbr = material.setdefault("pbrMetallicRoughness", {})
        if pbr.get("baseColorFactor", [1, 1, 1, 1]) == [1, 1, 1, 1]:
            dropped += pbr.pop("baseColorFactor", None) is not None
    assert dropped, "no white baseColorFactor to leave out"
    return container.pack(tree, binary)


def spec_gloss_glb(data: bytes) -> bytes:
    """The GLB's materials in the specular-glossiness model, as Sketchfab
    exported them and obj2gltf writes them (``--specularGlossiness``: the
    diffuse texture and factor, specular 0.5, its glossiness 40 out of the
    0-1 range)."""
    tree, binary = container.split(data)
    for material in tree["materials"]:
        pbr = material.pop("pbrMetallicRoughness", {})
        gloss = {"diffuseFactor": pbr.get("baseColorFactor", [1, 1, 1, 1]), "specularFactor": [0.5, 0.5, 0.5],
                 "glossinessFactor": 39.999996}
        if "baseColorTexture" in pbr:
            gloss["diffuseTexture"] = pbr["baseColorTexture"]
        material.setdefault("extensions", {})["KHR_materials_pbrSpecularGlossiness"] = gloss
    tree["extensionsUsed"] = tree.get("extensionsUsed", []) + ["KHR_materials_pbrSpecularGlossiness"]
    return container.pack(tree, binary)


def vrm(data: bytes) -> bytes:
    """The GLB as a VRM 1.0 avatar file: the VRMC_vrm extension (its meta,
    humanoid bones) at the root, its MToon material extension on each material."""
    tree, binary = container.split(data)
    tree["extensions"] = {"VRMC_vrm": {"specVersion": "1.0", "meta": {"name": "test", "authors": ["PartScope"],
                                       "licenseUrl": "https://vrm.dev/licenses/1.0/"},
                                       "humanoid": {"humanBones": {"hips": {"node": 0}}}}}
    for material in tree["materials"]:
        mtoon = {"specVersion": "1.0", "shadeColorFactor": [1, 1, 1]}
        material.setdefault("extensions", {})["VRMC_materials_mtoon"] = mtoon
    tree["extensionsUsed"] = tree.get("extensionsUsed", []) + ["VRMC_vrm", "VRMC_materials_mtoon"]
    return container.pack(tree, binary)


def unpadded_glb(data: bytes) -> bytes:
    """The GLB with its JSON chunk not padded to 4 bytes and the BIN chunk
    right after it, as trimesh's own cube.glb and pins.glb are written."""
    tree, binary = container.split(data)
    text = json.dumps(tree, separators=(",", ":")).encode()
    if len(text) % 4 == 0:
        text = json.dumps({**tree, "extras": {"pad": "x"}}, separators=(",", ":")).encode()
    assert len(text) % 4
    body = struct.pack("<II", len(text), container.JSON_CHUNK) + text
    body += struct.pack("<II", len(binary), container.BIN_CHUNK) + binary
    return container.MAGIC + struct.pack("<II", 2, 12 + len(body)) + body


# ------------------------------------------------------------------ primitive modes
def modes_glb(every_mode: bool) -> bytes:
    """A hexagon drawn as a triangle fan, a ribbon as a triangle strip and a
    quad as a triangle list, each its own node and colour; with
    ``every_mode`` also a point, a line, a line loop and a line strip
    primitive over the same vertices (as Khronos MeshPrimitiveModes); else
    the same triangles written as triangle lists."""
    ring = np.c_[np.cos(np.arange(6) * np.pi / 3), np.sin(np.arange(6) * np.pi / 3), np.zeros(6)]
    hexagon = np.vstack([[0, 0, 0], ring]).astype(np.float32)
    fan = np.array([0, 1, 2, 3, 4, 5, 6, 1])
    ribbon = np.array([[x, y, 0] for x in range(5) for y in (0, 1)], np.float32) + [3, -0.5, 0]
    strip = np.arange(10)
    quad = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]], np.float32) + [-3, -0.5, 0]
    shapes = [(hexagon, fan, FAN), (ribbon, strip, STRIP), (quad, np.array([0, 1, 2, 0, 2, 3]), 4)]
    if not every_mode:
        shapes = [(v, _as_list(i, mode), 4) for v, i, mode in shapes]
    prims = [(v, i, mode, k) for k, (v, i, mode) in enumerate(shapes)]
    if every_mode:
        prims += [(hexagon, None, mode, 0) for mode in (0, 1, 2, 3)]
    return hand_glb(prims)


def _as_list(indices: np.ndarray, mode: int) -> np.ndarray:
    if mode == FAN:
        return np.stack([np.full(len(indices) - 2, indices[0]), indices[1:-1], indices[2:]], 1).ravel()
    if mode == STRIP:
        return np.concatenate([indices[[k + k % 2, k + 1 - k % 2, k + 2]] for k in range(len(indices) - 2)])
    return indices


def hand_glb(prims) -> bytes:
    """A GLB written by hand: one node and mesh per (positions, indices or
    None, mode, colour number) primitive, each with its own material."""
    tree = {"asset": {"version": "2.0"}, "scene": 0, "scenes": [{"nodes": list(range(len(prims)))}],
            "nodes": [], "meshes": [], "accessors": [], "bufferViews": [], "materials": []}
    out = bytearray()
    colours = [[0.9, 0.2, 0.1, 1], [0.1, 0.3, 0.9, 1], [0.2, 0.8, 0.2, 1]]
    for k, (positions, indices, mode, colour) in enumerate(prims):
        attrs = {"POSITION": _accessor(tree, out, np.asarray(positions, np.float32))}
        prim = {"attributes": attrs, "mode": mode, "material": k}
        if indices is not None:
            prim["indices"] = _accessor(tree, out, indices.astype(np.uint16))
        tree["materials"].append({"pbrMetallicRoughness": {"baseColorFactor": colours[colour]}})
        tree["meshes"].append({"name": f"mesh_{k}", "primitives": [prim]})
        tree["nodes"].append({"name": f"node_{k}", "mesh": k})
    return container.pack(tree, bytes(out))


def _accessor(tree: dict, out: bytearray, values: np.ndarray) -> int:
    kind = {np.dtype(np.float32): 5126, np.dtype(np.uint16): 5123}[values.dtype]
    acc = {"bufferView": append_view(tree, out, values), "componentType": kind, "count": len(values),
           "type": "VEC3" if values.ndim == 2 else "SCALAR"}
    if values.ndim == 2:
        acc.update(min=values.min(0).tolist(), max=values.max(0).tolist())
    tree["accessors"].append(acc)
    return len(tree["accessors"]) - 1


def with_lines(data: bytes) -> bytes:
    """The GLB with a line primitive added beside the triangles of its first
    mesh and a line-strip-only mesh in a node of its own."""
    tree, binary = container.split(data)
    out = bytearray(binary)
    first = tree["meshes"][0]["primitives"][0]
    lines = np.arange(4, dtype=np.uint16)
    tree["accessors"].append({"bufferView": append_view(tree, out, lines), "componentType": 5123,
                              "count": len(lines), "type": "SCALAR"})
    tree["meshes"][0]["primitives"].append({"attributes": {"POSITION": first["attributes"]["POSITION"]},
                                            "indices": len(tree["accessors"]) - 1, "mode": 1})
    outline = {"attributes": {"POSITION": first["attributes"]["POSITION"]}, "mode": 3}
    tree["meshes"].append({"name": "outline", "primitives": [outline]})
    tree["nodes"].append({"name": "outline", "mesh": len(tree["meshes"]) - 1})
    tree["scenes"][tree.get("scene", 0)]["nodes"].append(len(tree["nodes"]) - 1)
    return container.pack(tree, bytes(out))


def replace_images(data: bytes, encode) -> bytes:
    """The GLB with each image's bytes and type replaced by ``encode(rgba) -> (bytes, mime type)``."""
    tree, binary = container.split(data)
    out = bytearray(binary)
    for image in tree["images"]:
        view = tree["bufferViews"][image["bufferView"]]
        png = binary[view["byteOffset"]:view["byteOffset"] + view["byteLength"]]
        rgba = np.ascontiguousarray(np.asarray(Image.open(io.BytesIO(png)).convert("RGBA")))
        encoded, mime = encode(rgba)
        image.update(bufferView=append_view(tree, out, np.frombuffer(encoded, np.uint8)), mimeType=mime)
    return container.pack(tree, bytes(out))


def avif_glb(data: bytes) -> bytes:
    """Every image as AVIF (Pillow's encoder), shown only through
    EXT_texture_avif (required), as glTF-Transform's ``avif`` writes it
    without a fallback."""
    def encode(rgba):
        out = io.BytesIO()
        Image.fromarray(rgba).save(out, format="AVIF", quality=95, subsampling="4:4:4")
        return out.getvalue(), "image/avif"
    tree, binary = container.split(replace_images(data, encode))
    for texture in tree["textures"]:
        texture["extensions"] = {"EXT_texture_avif": {"source": texture.pop("source")}}
    require(tree, "EXT_texture_avif")
    return container.pack(tree, binary)


# ------------------------------------------------------------------ separate files
def gltf_files(scene: trimesh.Scene, stem: str, draco: bool = False) -> dict:
    """A .gltf with its .bin and images as separate files (the .gltf first)."""
    files = scene.export(file_type="gltf", extension_draco=draco)
    tree = json.loads(files.pop("model.gltf"))
    for i, image in enumerate(tree.get("images", [])):  # trimesh writes them into a .bin: take them out
        view = tree["bufferViews"][image.pop("bufferView")]
        data = files[tree["buffers"][view["buffer"]]["uri"]]
        image["uri"] = f"image_{i}.png"
        files[image["uri"]] = data[view.get("byteOffset", 0):view.get("byteOffset", 0) + view["byteLength"]]
    renamed = {}
    for key in ("buffers", "images"):
        for item in tree.get(key, []):
            if "uri" in item:
                new = f"{stem}_{item['uri']}"
                renamed[new] = files[item["uri"]]
                item["uri"] = new
    return {f"{stem}.gltf": json.dumps(tree).encode(), **renamed}


def missing_map_files(scene: trimesh.Scene, stem: str) -> dict:
    """The separate glTF with a roughness map whose image is not among the
    files (and a normal map whose image is)."""
    files = gltf_files(scene, stem)
    tree = json.loads(files[f"{stem}.gltf"])
    tree["images"] += [{"uri": f"{stem}_roughness.png"}, {"uri": f"{stem}_normal.png"}]
    tree["textures"] += [{"source": len(tree["images"]) - 2}, {"source": len(tree["images"]) - 1}]
    pbr = tree["materials"][0].setdefault("pbrMetallicRoughness", {})
    pbr["metallicRoughnessTexture"] = {"index": len(tree["textures"]) - 2}
    tree["materials"][0]["normalTexture"] = {"index": len(tree["textures"]) - 1}
    normal = io.BytesIO()
    Image.new("RGB", (4, 4), (128, 128, 255)).save(normal, format="PNG")
    return {**files, f"{stem}.gltf": json.dumps(tree).encode(), f"{stem}_normal.png": normal.getvalue()}


def windows_gltf_files(scene: trimesh.Scene, stem: str) -> dict:
    """The separate glTF naming its .bin and images as a Windows exporter
    may: in capitals, an image by a path with backslashes into a folder it
    was not copied to, another by a file: URI on the maker's disk."""
    files = gltf_files(scene, stem)
    tree = json.loads(files[f"{stem}.gltf"])
    tree["buffers"][0]["uri"] = tree["buffers"][0]["uri"].upper()
    first, *others = tree.get("images", [])
    first["uri"] = "file:///C:/Users/Artist/My%20Export/" + first["uri"]
    for image in others:
        image["uri"] = "Textures\\" + image["uri"].upper()
    files[f"{stem}.gltf"] = json.dumps(tree).encode()
    return files


def library_glb(data: bytes) -> bytes:
    """The GLB with its nodes and no scene: a library of meshes, as some
    tools write one."""
    tree, binary = container.split(data)
    del tree["scenes"], tree["scene"]
    return container.pack(tree, binary)


def without_images(files: dict) -> dict:
    """The separate glTF's files without its images."""
    return {name: data for name, data in files.items() if not name.endswith(".png")}


def zipped(files: dict, folder: str = "") -> bytes:
    """The files as one ZIP (inside ``folder``), with the clutter a Mac adds."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(folder + name, data)
            archive.writestr(f"__MACOSX/{folder}._{name}", b"\0\5\26\7")
    return buf.getvalue()


def zip_changed(data: bytes, scramble: bool = False, flag: int = 0, method: int | None = None) -> bytes:
    """A ZIP with its first member's compressed bytes scrambled, or its
    headers saying it is encrypted (``flag`` 1) or packed by ``method``."""
    data = bytearray(data)
    local = data.index(b"PK\x03\x04")
    start = local + 30 + int.from_bytes(data[local + 26:local + 28], "little") + int.from_bytes(
        data[local + 28:local + 30], "little")
    if scramble:
        data[start + 10:start + 60] = np.random.default_rng(2).integers(0, 256, 50, dtype=np.uint8).tobytes()
    for header, at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        where = data.index(header) + at
        data[where] |= flag
        if method is not None:
            data[where + 2:where + 4] = method.to_bytes(2, "little")
    return bytes(data)


def windows_obj(blender_zip: bytes, images: bool = True) -> bytes:
    """Blender's OBJ of the toy car as a Windows exporter (3ds Max) names its
    textures: an absolute path with backslashes, the name in other case,
    map options before it, the images in a folder of their own; without the
    images when not ``images``."""
    with zipfile.ZipFile(io.BytesIO(blender_zip)) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    mtl = files["toy_car.mtl"].decode()
    for image in (n for n in list(files) if n.endswith(".png")):
        windows = f"C:\\Users\\Artist\\3ds Max\\maps\\{image.upper()}"
        mtl = mtl.replace(f"map_Kd {image}", f"map_Kd -bm 1.0 -s 1 1 1 {windows}")
        data = files.pop(image)
        files.update({f"maps/{image}": data} if images else {})
    files["toy_car.mtl"] = mtl.encode()
    return zipped(files)


def windows_zip(files: dict) -> bytes:
    """The separate glTF with its images in a folder, zipped as old Windows
    tools zip: the folder named with a backslash in the member names, and
    accented names in UTF-8 without the flag that says so."""
    tree = json.loads(files[next(iter(files))])
    renamed = {}
    for image in tree.get("images", []):
        accented = image["uri"].replace("image", "texturé")
        renamed[image["uri"]], image["uri"] = "maps\\" + accented, "maps/" + accented
    members = {renamed.get(name, name): data for name, data in files.items()}
    members[next(iter(files))] = json.dumps(tree).encode()
    stand_in = {name.replace("texturé", "texturXX"): data for name, data in members.items()}  # ASCII: no UTF-8 flag
    return zipped(stand_in).replace(b"texturXX", "texturé".encode("utf-8"))  # names are stored uncompressed


def climbing_gltf(scene: trimesh.Scene) -> bytes:
    tree = json.loads(gltf_files(scene, "climbs")["climbs.gltf"])
    tree["buffers"][0]["uri"] = "../secret.bin"
    return json.dumps(tree).encode()


# ------------------------------------------------------------------ text files
def box_obj_lines(name: str) -> list:
    box = trimesh.creation.box()
    return ([f"o {name}"] + [f"v {x} {y} {z}" for x, y, z in box.vertices]
            + [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in box.faces])


def latin1_obj() -> bytes:
    lines = ["# modèle exporté par Caféteria"] + box_obj_lines("boîte")
    return ("\n".join(lines) + "\n").encode("latin-1")


def cp1252_obj_files(stem: str) -> dict:
    """An OBJ and its .mtl in Windows-1252, two boxes with a material each:
    names with letters a guessing decoder reads as others ('ñ', 'à'), a
    colour per material (each box a node named after its object and
    material)."""
    obj = [f"mtllib {stem}.mtl", "# “Piñata” exportée – n°2"] + box_obj_lines("Caña")
    obj.insert(3, "usemtl Caña_roja")
    top = box_obj_lines("Pièce_à_façade")
    top[1:9] = [f"v {x} {y + 2} {z}" for x, y, z in trimesh.creation.box().vertices]
    top[9:] = [f"f {a + 9} {b + 9} {c + 9}" for a, b, c in trimesh.creation.box().faces]
    obj += [top[0], "usemtl Añil_à_façade"] + top[1:]
    mtl = ["# matériaux", "newmtl Caña_roja", "Kd 0.9 0.1 0.1", "newmtl Añil_à_façade", "Kd 0.1 0.2 0.9"]
    return {f"{stem}.obj": ("\n".join(obj) + "\n").encode("cp1252"),
            f"{stem}.mtl": ("\n".join(mtl) + "\n").encode("cp1252")}


def latin1_stl() -> bytes:
    return trimesh.creation.box().export(file_type="stl_ascii").replace("solid ", "solid pièce ", 1).encode("latin-1")


def latin1_binary_stl() -> bytes:
    data = bytearray(trimesh.creation.box().export(file_type="stl"))
    data[:80] = "Pièce usinée, exportée".encode("latin-1").ljust(80, b" ")
    return bytes(data)


def counted_stl(count: int, after: bytes = b"") -> bytes:
    """The box as a binary STL whose header counts ``count`` faces (it holds
    12), with ``after`` after its last face."""
    data = bytearray(trimesh.creation.box().export(file_type="stl"))
    data[80:84] = count.to_bytes(4, "little")
    return bytes(data) + after


def utf16_obj() -> bytes:
    return latin1_obj().decode("latin-1").encode("utf-16")


def lines_obj() -> bytes:
    return b"# a wire\nv 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\nl 1 2 3 4 1\n"


def zero_area_obj() -> bytes:
    lines = [f"v {i} {2 * i} {3 * i}" for i in range(6)] + ["f 1 2 3", "f 4 5 6", "f 1 3 5"]
    return ("\n".join(lines) + "\n").encode()


def lines_glb() -> bytes:
    return trimesh.Scene(trimesh.load_path(np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0]]))).export(file_type="glb")


def points_ply() -> bytes:
    return ("ply\nformat ascii 1.0\nelement vertex 3\nproperty float x\nproperty float y\n"
            "property float z\nend_header\n0 0 0\n1 0 0\n0 1 0\n").encode()


def point_cloud_glb() -> bytes:
    points = np.random.default_rng(0).uniform(-1, 1, (200, 3))
    return trimesh.Scene(trimesh.PointCloud(points)).export(file_type="glb")


# ------------------------------------------------------------------ damaged
def edit_glb(data: bytes, edit) -> bytes:
    """The GLB with ``edit(tree, binary) -> binary`` applied."""
    tree, binary = container.split(data)
    binary = edit(tree, binary)
    return container.pack(tree, binary)


def damage_view(view_index: int):
    """An edit that scrambles one bufferView's bytes."""
    def edit(tree, binary):
        view = tree["bufferViews"][view_index]
        start = view.get("byteOffset", 0)
        junk = np.random.default_rng(1).integers(0, 256, view["byteLength"], dtype=np.uint8).tobytes()
        return binary[:start] + junk + binary[start + view["byteLength"]:]
    return edit


def only_images(tree, binary):
    for key in ("meshes", "accessors", "materials", "textures", "samplers"):
        tree.pop(key, None)
    tree["nodes"] = [{"name": "empty"}]
    tree["bufferViews"] = [v for i, v in enumerate(tree["bufferViews"])
                           if i in {im["bufferView"] for im in tree["images"]}]
    for i, image in enumerate(tree["images"]):
        image["bufferView"] = i
    return binary


def unknown_extension(tree, binary):
    tree["extensionsUsed"] = tree["extensionsRequired"] = ["EXT_lights_area"]
    return binary


def dangling(tree, binary):
    tree["meshes"][0]["primitives"][0]["attributes"]["POSITION"] = 999
    return binary


def damaged_image(tree, binary):
    """The first image's compressed pixels scrambled, its header kept."""
    view = tree["bufferViews"][tree["images"][0]["bufferView"]]
    start = view.get("byteOffset", 0) + view["byteLength"] // 2
    junk = np.random.default_rng(3).integers(0, 256, 64, dtype=np.uint8).tobytes()
    return binary[:start] + junk + binary[start + 64:]


def unknown_image(tree, binary):
    """The first image's header replaced: no format Pillow knows."""
    start = tree["bufferViews"][tree["images"][0]["bufferView"]].get("byteOffset", 0)
    return binary[:start] + b"not an image" + binary[start + 12:]


def with_member(zip_data: bytes, name: str, edit) -> bytes:
    """A ZIP with its file ``name`` replaced by ``edit(its bytes)``."""
    with zipfile.ZipFile(io.BytesIO(zip_data)) as archive:
        files = {m.filename: archive.read(m) for m in archive.infolist() if not m.is_dir()}
    files[name] = edit(files[name])
    return zipped(files)


def draco_elsewhere(tree, binary):
    """The first primitive pointing at another primitive's Draco data, whose
    decoded attributes do not fit its accessors."""
    tree["meshes"][0]["primitives"][0]["extensions"]["KHR_draco_mesh_compression"]["bufferView"] = 5
    return binary


def uv_from_positions(tree, binary):
    """The first primitive's texture coordinates pointing at its positions (VEC3)."""
    attributes = tree["meshes"][0]["primitives"][0]["attributes"]
    attributes["TEXCOORD_0"] = attributes["POSITION"]
    return binary


def longer_uv(tree, binary):
    """The first primitive's texture coordinates counting one more than its positions."""
    tree["accessors"][tree["meshes"][0]["primitives"][0]["attributes"]["TEXCOORD_0"]]["count"] += 1
    return binary


def doubles(tree, binary):
    """The first primitive's positions declared as doubles (component type
    5130, not in glTF 2.0), as CGAL writes them."""
    tree["accessors"][tree["meshes"][0]["primitives"][0]["attributes"]["POSITION"]]["componentType"] = 5130
    return binary


def far_index(tree, binary):
    """A face of the vertex-colored ball pointing past its last vertex."""
    prim = next(p for m in tree["meshes"] for p in m["primitives"] if "COLOR_0" in p["attributes"])
    acc = tree["accessors"][prim["indices"]]
    start = tree["bufferViews"][acc["bufferView"]].get("byteOffset", 0) + acc.get("byteOffset", 0)
    dtype = {5121: np.uint8, 5123: np.uint16, 5125: np.uint32}[acc["componentType"]]
    return binary[:start] + np.array([np.iinfo(dtype).max], dtype).tobytes() + binary[start + np.dtype(dtype).itemsize:]


def web_uri(tree, binary):
    tree["buffers"][0]["uri"] = "https://example.com/model.bin"
    return binary


def meshopt_damaged(plain: bytes) -> bytes:
    data = meshopt_glb(plain)
    tree, binary = container.split(data)
    ext = tree["bufferViews"][1]["extensions"]["EXT_meshopt_compression"]
    start = ext["byteOffset"]
    binary = binary[:start] + b"\xff" * ext["byteLength"] + binary[start + ext["byteLength"]:]
    return container.pack(tree, binary)


# ------------------------------------------------------------------ Collada and 3MF
INCH = 0.0254


def _floats(values) -> str:
    return " ".join(f"{v:.6g}" for v in np.asarray(values, np.float64).ravel())


def _dae_geometry(gid: str, mesh: trimesh.Trimesh, symbol: str, colors=None) -> str:
    """One <geometry> in SketchUp's layout: positions, texture coordinates
    or vertex colours, <triangles>, and a <lines> of its first edges (the
    edges SketchUp draws)."""
    inputs = [f'<input semantic="VERTEX" source="#{gid}-vtx" offset="0"/>']
    sources = [f'<source id="{gid}-pos"><float_array id="{gid}-pos-a" count="{mesh.vertices.size}">'
               f'{_floats(mesh.vertices)}</float_array><technique_common><accessor source="#{gid}-pos-a" '
               f'count="{len(mesh.vertices)}" stride="3"><param name="X" type="float"/><param name="Y" type="float"/>'
               '<param name="Z" type="float"/></accessor></technique_common></source>']
    extra = None
    if colors is not None:
        extra, semantic, width, names = colors, "COLOR", 4, "RGBA"
    elif getattr(mesh.visual, "uv", None) is not None:
        extra, semantic, width, names = mesh.visual.uv, "TEXCOORD", 2, "ST"
    if extra is not None:
        sources.append(f'<source id="{gid}-x"><float_array id="{gid}-x-a" count="{np.asarray(extra).size}">'
                       f'{_floats(extra)}</float_array><technique_common><accessor source="#{gid}-x-a" '
                       f'count="{len(extra)}" stride="{width}">'
                       + "".join(f'<param name="{n}" type="float"/>' for n in names)
                       + '</accessor></technique_common></source>')
        inputs.append(f'<input semantic="{semantic}" source="#{gid}-x" offset="1" set="0"/>')
    corners = np.repeat(mesh.faces.ravel(), len(inputs))
    edges = mesh.edges_unique[:4]
    return (f'<geometry id="{gid}"><mesh>{"".join(sources)}<vertices id="{gid}-vtx"><input semantic="POSITION" '
            f'source="#{gid}-pos"/></vertices><triangles count="{len(mesh.faces)}" material="{symbol}">'
            f'{"".join(inputs)}<p>{" ".join(map(str, corners))}</p></triangles><lines count="{len(edges)}" '
            f'material="edge"><input semantic="VERTEX" source="#{gid}-vtx" offset="0"/><p>'
            f'{" ".join(map(str, edges.ravel()))}</p></lines></mesh></geometry>')


def collada(asset: str, scene: str, libraries: str = "") -> bytes:
    """A Collada 1.4.1 document: its <asset>'s content, its one visual
    scene's nodes and the libraries (geometries, nodes, materials...)."""
    return ('<?xml version="1.0" encoding="utf-8"?>\n<COLLADA xmlns="http://www.collada.org/2005/11/COLLADASchema" '
            f'version="1.4.1"><asset>{asset}</asset><library_visual_scenes><visual_scene id="s">{scene}'
            f'</visual_scene></library_visual_scenes>{libraries}<scene><instance_visual_scene url="#s"/></scene>'
            '</COLLADA>\n').encode()


def _bound(gid: str, symbol: str, material: str) -> str:
    return (f'<instance_geometry url="#{gid}"><bind_material><technique_common><instance_material '
            f'symbol="{symbol}" target="#{material}"><bind_vertex_input semantic="UVSET0" input_semantic="TEXCOORD" '
            'input_set="0"/></instance_material></technique_common></bind_material></instance_geometry>')


def _matrix(m: np.ndarray) -> str:
    return f"<matrix>{_floats(m)}</matrix>"


KML = (b'<?xml version="1.0" encoding="UTF-8"?>\n<kml xmlns="http://www.opengis.net/kml/2.2"><Placemark><name>toy_car'
       b'</name><Model><altitudeMode>relativeToGround</altitudeMode><Location><longitude>6.6</longitude><latitude>'
       b'46.5</latitude><altitude>0</altitude></Location><Link><href>models/toy_car_sketchup.dae</href></Link>'
       b'</Model></Placemark></kml>\n')


def sketchup_dae(car_glb: bytes, stem: str) -> dict:
    """The toy car as SketchUp writes a Collada file: Z up in inches, the
    body and cabin as groups (nodes with their geometry, textured from
    images in a folder named after the model), one wheel component in
    <library_nodes> placed four times by <instance_node> (with the glTF's
    vertex colours, linear light), and each geometry's edges as <lines>.
    {name: bytes}, the .dae first."""
    from core.loading import Z_UP

    scene = trimesh.load_scene(io.BytesIO(car_glb), file_type="glb", process=False)
    to_file = np.diag([1 / INCH] * 3 + [1.0]) @ Z_UP.T  # glTF's Y up, metres -> Z up, inches
    geometries, nodes, effects, materials, images, files = [], [], [], [], [], {}
    wheel_placed = False
    for name in sorted(scene.graph.nodes_geometry):
        mesh = scene.geometry[scene.graph[name][1]].copy()
        mesh.apply_transform(to_file @ scene.graph[name][0])
        if name.startswith("wheel"):
            center = mesh.bounds.mean(axis=0)
            place = np.eye(4)
            place[:3, 3] = center
            nodes.append(f'<node name="{name}">{_matrix(place)}<instance_node url="#wheel-def"/></node>')
            if wheel_placed:
                continue
            wheel_placed = True
            mesh.apply_translation(-center)
            colors = np.asarray(mesh.visual.vertex_colors, np.float64) / 255
            geometries.append(_dae_geometry("wheel-geo", mesh, "wheel-paint", colors))
            effects.append('<effect id="wheel-fx"><profile_COMMON><technique sid="COMMON"><lambert><diffuse>'
                           '<color>1 1 1 1</color></diffuse></lambert></technique></profile_COMMON></effect>')
            materials.append('<material id="wheel-mat" name="wheel_paint"><instance_effect url="#wheel-fx"/>'
                             '</material>')
            library = (f'<library_nodes><node id="wheel-def" name="wheel">'
                       f'{_bound("wheel-geo", "wheel-paint", "wheel-mat")}</node></library_nodes>')
            continue
        image = f"{stem}/{name}_skin.png"
        material = mesh.visual.material
        buf = io.BytesIO()
        material.baseColorTexture.save(buf, format="PNG")
        files[image] = buf.getvalue()
        images.append(f'<image id="{name}-img"><init_from>{image}</init_from></image>')
        effects.append(f'<effect id="{name}-fx"><profile_COMMON><newparam sid="{name}-surface"><surface type="2D">'
                       f'<init_from>{name}-img</init_from></surface></newparam><newparam sid="{name}-sampler">'
                       f'<sampler2D><source>{name}-surface</source></sampler2D></newparam><technique sid="COMMON">'
                       f'<lambert><diffuse><texture texture="{name}-sampler" texcoord="UVSET0"/></diffuse></lambert>'
                       '</technique></profile_COMMON></effect>')
        materials.append(f'<material id="{name}-mat" name="{name}_skin"><instance_effect url="#{name}-fx"/></material>')
        geometries.append(_dae_geometry(f"{name}-geo", mesh, f"{name}-paint"))
        bound = _bound(f"{name}-geo", f"{name}-paint", f"{name}-mat")
        nodes.append(f'<node name="{name}">{_matrix(np.eye(4))}{bound}</node>')
    dae = collada('<contributor><authoring_tool>SketchUp 23.1.340</authoring_tool></contributor>'
                  '<unit meter="0.0254" name="inch"/><up_axis>Z_UP</up_axis>',
                  f'<node name="SketchUp">{"".join(nodes)}</node>',
                  f'{library}<library_geometries>{"".join(geometries)}</library_geometries>'
                  f'<library_materials>{"".join(materials)}</library_materials>'
                  f'<library_effects>{"".join(effects)}</library_effects>'
                  f'<library_images>{"".join(images)}</library_images>')
    return {f"{stem}.dae": dae, **files}


CORE_3MF = "http://schemas.microsoft.com/3dmanufacturing/core/2015/02"


def model_3mf(resources: str, build: str, namespaces: str = "", head: str = "") -> str:
    """A 3MF model file: ``namespaces`` (attributes of <model>), ``head``
    (its metadata), its resources and its build items."""
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<model unit="millimeter" xml:lang="en-US" xmlns="{CORE_3MF}"'
            f'{namespaces}>{head}<resources>{resources}</resources><build>{build}</build></model>\n')


def mesh_3mf(mesh: trimesh.Trimesh, paint: dict | None = None, attribute: str = "paint_color") -> str:
    """A 3MF <mesh> of ``mesh``'s vertices and triangles, ``paint`` {triangle: a slicer's painted code}
    written as ``attribute``."""
    paint = paint or {}
    vertices = "".join(f'<vertex x="{x:.6g}" y="{y:.6g}" z="{z:.6g}"/>' for x, y, z in mesh.vertices)
    triangles = "".join(f'<triangle v1="{a}" v2="{b}" v3="{c}"'
                        + (f' {attribute}="{paint[k]}"' if k in paint else "") + "/>"
                        for k, (a, b, c) in enumerate(mesh.faces))
    return f"<mesh><vertices>{vertices}</vertices><triangles>{triangles}</triangles></mesh>"


def package_3mf(parts: dict) -> bytes:
    """A 3MF package (a ZIP) of ``parts`` ({name in the package: text})."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in parts.items():
            archive.writestr(name, text)
    return buf.getvalue()


def _car_in_millimetres(car_glb: bytes) -> list:
    """(name, mesh) of the toy car's parts as a slicer holds them: Z up, in
    millimetres."""
    from core.loading import Z_UP

    scene = trimesh.load_scene(io.BytesIO(car_glb), file_type="glb", process=False)
    to_file = np.diag([1000.0] * 3 + [1.0]) @ Z_UP.T
    out = []
    for name in sorted(scene.graph.nodes_geometry):
        mesh = scene.geometry[scene.graph[name][1]].copy()
        mesh.apply_transform(to_file @ scene.graph[name][0])
        out.append((name, mesh))
    return out


#: A slicer's modifier: a box through the car's body (settings for the print inside it, not printed shape).
MODIFIER = trimesh.creation.box((60.0, 60.0, 60.0))
#: The slicers' filaments (white, black, red, blue) and which the car's parts print in.
FILAMENTS = ("#F2F2F2", "#1A1A1A", "#D32F2F", "#1E88E5")
CAR_FILAMENTS = {"body": 3, "cabin": 4, "infill": 1}  # the wheels black (2)
#: Triangles of the body painted in the slicer: ten blue (filament 4: a leaf, state 3 + 1), two cut in four
#: sub-triangles, three of them black (filament 2) and one white.
BODY_PAINT = {**{k: "1C" for k in range(10)}, 10: "48883", 11: "48883"}
_TYPES = ('<?xml version="1.0" encoding="UTF-8"?>\n<Types xmlns="http://schemas.openxmlformats.org/package/2006/'
          'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
          'relationships+xml"/><Default Extension="model" ContentType="application/vnd.ms-package.3dmanufacturing-'
          '3dmodel+xml"/></Types>\n')
_RELS = ('<?xml version="1.0" encoding="UTF-8"?>\n<Relationships xmlns="http://schemas.openxmlformats.org/package/'
         '2006/relationships"><Relationship Target="/3D/3dmodel.model" Id="rel-1" Type="http://schemas.microsoft.'
         'com/3dmanufacturing/2013/01/3dmodel"/></Relationships>\n')


def printer_3mf(car_glb: bytes) -> bytes:
    """The toy car as Bambu Studio and OrcaSlicer write a 3MF: Z up in
    millimetres, the root model holding one object whose components (the
    production extension, ``p:path``) are the car's parts and a modifier,
    each an unnamed object in a model file of its own, placed by
    transforms; the parts' names, kinds and filaments in
    Metadata/model_settings.config, the filaments' colours in
    Metadata/project_settings.config, some of the body's triangles painted."""
    objects, components, parts = [], [], []
    for k, (name, mesh) in enumerate(_car_in_millimetres(car_glb) + [("infill", MODIFIER.copy())], start=1):
        center = mesh.bounds.mean(axis=0)
        mesh.apply_translation(-center)
        paint = BODY_PAINT if name == "body" else None
        objects.append(f'<object id="{k}" p:UUID="0000000{k}-81cb-4c03-9d28-80fed5dfa1dc" type="model">'
                       f'{mesh_3mf(mesh, paint)}</object>')
        components.append(f'<component p:path="/3D/Objects/object_1.model" objectid="{k}" '
                          f'transform="1 0 0 0 1 0 0 0 1 {center[0]:.6g} {center[1]:.6g} {center[2]:.6g}"/>')
        kind = "modifier_part" if name == "infill" else "normal_part"
        parts.append(f'<part id="{k}" subtype="{kind}"><metadata key="name" value="{name}"/>'
                     '<metadata key="matrix" value="1 0 0 0 0 1 0 0 0 0 1 0 0 0 0 1"/>'
                     f'<metadata key="extruder" value="{CAR_FILAMENTS.get(name, 2)}"/></part>')
    car = len(objects) + 1
    production = ' xmlns:p="http://schemas.microsoft.com/3dmanufacturing/production/2015/06" requiredextensions="p"'
    root = model_3mf(f'<object id="{car}" p:UUID="00000001-61cb-4c03-9d28-80fed5dfa1dc" type="model">'
                     f'<components>{"".join(components)}</components></object>',
                     f'<item objectid="{car}" transform="1 0 0 0 1 0 0 0 1 128 128 0" printable="1"/>',
                     production, '<metadata name="Application">BambuStudio-02.01.00.59</metadata>')
    settings = (f'<?xml version="1.0" encoding="UTF-8"?>\n<config>\n  <object id="{car}">\n    <metadata key="name" '
                f'value="toy_car"/>\n    <metadata key="extruder" value="1"/>\n    {"".join(parts)}\n  </object>\n'
                '</config>\n')
    project = json.dumps({"filament_colour": list(FILAMENTS), "filament_type": ["PLA"] * len(FILAMENTS)})
    return package_3mf({"[Content_Types].xml": _TYPES, "_rels/.rels": _RELS, "3D/3dmodel.model": root,
                        "3D/_rels/3dmodel.model.rels": _RELS.replace("/3D/3dmodel.model", "/3D/Objects/object_1.model"),
                        "3D/Objects/object_1.model": model_3mf("".join(objects), "", production),
                        "Metadata/model_settings.config": settings, "Metadata/project_settings.config": project})


def prusa_3mf(car_glb: bytes) -> bytes:
    """The toy car as PrusaSlicer writes a 3MF: one object of one mesh, its
    volumes (the car's parts and a modifier) ranges of its triangles, named
    typed and given their filaments in Metadata/Slic3r_PE_model.config, the
    filaments' colours in Metadata/Slic3r_PE.config, some of the body's
    triangles painted."""
    meshes = _car_in_millimetres(car_glb) + [("infill", MODIFIER.copy())]
    whole = trimesh.util.concatenate([mesh for _, mesh in meshes])
    volumes, paint, first = [], {}, 0
    for name, mesh in meshes:
        kind = "ParameterModifier" if name == "infill" else "ModelPart"
        volumes.append(f' <volume firstid="{first}" lastid="{first + len(mesh.faces) - 1}">\n  <metadata '
                       f'type="volume" key="name" value="{name}"/>\n  <metadata type="volume" key="volume_type" '
                       f'value="{kind}"/>\n  <metadata type="volume" key="extruder" '
                       f'value="{CAR_FILAMENTS.get(name, 2)}"/>\n </volume>\n')
        paint.update({first + k: code for k, code in BODY_PAINT.items()} if name == "body" else {})
        first += len(mesh.faces)
    painted = mesh_3mf(whole, paint, "slic3rpe:mmu_segmentation")
    root = model_3mf(f'<object id="1" type="model">{painted}</object>',
                     '<item objectid="1" transform="1 0 0 0 1 0 0 0 1 125 105 0" printable="1"/>',
                     ' xmlns:slic3rpe="http://schemas.slic3r.org/3mf/2017/06"',
                     '<metadata name="Application">PrusaSlicer-2.7.1</metadata>')
    colours = ('; generated by PrusaSlicer 2.7.1\n; extruder_colour = ' + ";".join(['""'] * len(FILAMENTS))
               + "\n; filament_colour = " + ";".join(FILAMENTS) + "\n")
    config = ('<?xml version="1.0" encoding="UTF-8"?>\n<config>\n <object id="1" instances_count="1">\n  <metadata '
              f'type="object" key="name" value="toy_car"/>\n{"".join(volumes)} </object>\n</config>\n')
    return package_3mf({"[Content_Types].xml": _TYPES, "_rels/.rels": _RELS, "3D/3dmodel.model": root,
                        "Metadata/Slic3r_PE_model.config": config, "Metadata/Slic3r_PE.config": colours})


def textured_3mf(car_glb: bytes, missing: tuple = ()) -> bytes:
    """The toy car as a 3MF with the materials extension's looks, as 3D
    Builder writes a coloured model: the body and cabin textured (a
    texture2dgroup of coordinates into a PNG in 3D/Textures/, the parts
    named in ``missing`` without theirs), the wheels coloured corner by
    corner (a colorgroup, a colour for every vertex, sRGB), each part an
    object of its own placed by the build."""
    from core.colorspace import srgb_bytes

    objects, items, files, resources = [], [], {}, []
    for k, (name, mesh) in enumerate(_car_in_millimetres(car_glb), start=1):
        vertices = "".join(f'<vertex x="{x:.6g}" y="{y:.6g}" z="{z:.6g}"/>' for x, y, z in mesh.vertices)
        group = 100 + k
        if isinstance(mesh.visual, trimesh.visual.TextureVisuals):
            buf = io.BytesIO()
            mesh.visual.material.baseColorTexture.save(buf, format="PNG")
            if name not in missing:
                files[f"3D/Textures/{name}.png"] = buf.getvalue()
            resources.append(f'<m:texture2d id="{200 + k}" path="/3D/Textures/{name}.png" contenttype="image/png"/>'
                             f'<m:texture2dgroup id="{group}" texid="{200 + k}">'
                             + "".join(f'<m:tex2coord u="{u:.6g}" v="{v:.6g}"/>' for u, v in mesh.visual.uv)
                             + "</m:texture2dgroup>")
        else:
            colours = srgb_bytes(np.asarray(mesh.visual.vertex_colors, np.float64)[:, :3] / 255)
            resources.append(f'<m:colorgroup id="{group}">' + "".join(
                f'<m:color color="#{r:02X}{g:02X}{b:02X}"/>' for r, g, b in colours) + "</m:colorgroup>")
        triangles = "".join(f'<triangle v1="{a}" v2="{b}" v3="{c}" pid="{group}" p1="{a}" p2="{b}" p3="{c}"/>'
                            for a, b, c in mesh.faces)
        objects.append(f'<object id="{k}" name="{name}" type="model"><mesh><vertices>{vertices}</vertices>'
                       f'<triangles>{triangles}</triangles></mesh></object>')
        items.append(f'<item objectid="{k}"/>')
    root = model_3mf("".join(resources + objects), "".join(items),
                     ' xmlns:m="http://schemas.microsoft.com/3dmanufacturing/material/2015/02"',
                     '<metadata name="Application">3D Builder</metadata>')
    types = _TYPES.replace("</Types>", '<Default Extension="png" ContentType="image/png"/></Types>')
    return package_3mf({"[Content_Types].xml": types, "_rels/.rels": _RELS, "3D/3dmodel.model": root, **files})


def lines_dae() -> bytes:
    """A Collada file of edges only (a SketchUp sketch with no faces)."""
    points = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0]], np.float64)
    return collada("<up_axis>Z_UP</up_axis>", '<node name="sketch"><instance_geometry url="#g"/></node>',
                   '<library_geometries><geometry id="g"><mesh><source id="p"><float_array id="pa" count="9">'
                   f'{_floats(points)}</float_array><technique_common><accessor source="#pa" count="3" stride="3">'
                   '<param name="X" type="float"/><param name="Y" type="float"/><param name="Z" type="float"/>'
                   '</accessor></technique_common></source><vertices id="v"><input semantic="POSITION" source="#p"/>'
                   '</vertices><lines count="2"><input semantic="VERTEX" source="#v" offset="0"/><p>0 1 1 2</p>'
                   '</lines></mesh></geometry></library_geometries>')


def looping_3mf(multiply: bool = False) -> bytes:
    """A 3MF whose two objects hold each other as components (a damaged
    file), or (``multiply``) whose 30 objects each place the next twice: a
    billion placements of nothing."""
    if multiply:
        objects = "".join(f'<object id="{i}" type="model"><components><component objectid="{i + 1}"/><component '
                          f'objectid="{i + 1}"/></components></object>' for i in range(1, 31))
        objects += '<object id="31" type="model"><components/></object>'
    else:
        objects = ('<object id="1" type="model"><components><component objectid="2"/></components></object>'
                   '<object id="2" type="model"><components><component objectid="1"/></components></object>')
    return package_3mf({"3D/3dmodel.model": model_3mf(objects, '<item objectid="1"/>')})


def multiplying_dae() -> bytes:
    """A Collada file whose 30 library nodes each place the next twice by
    <instance_node>: a billion nodes from 3 KB."""
    nodes = "".join(f'<node id="n{i}" name="n{i}"><instance_node url="#n{i + 1}"/><instance_node url="#n{i + 1}"/>'
                    '</node>' for i in range(1, 31))
    return collada("", '<node name="root"><instance_node url="#n1"/></node>',
                   f'<library_nodes>{nodes}<node id="n31" name="leaf"/></library_nodes>')
