"""glTF read as its specification says, before trimesh sees it.

trimesh reads plain glTF, and not all of it: it skips triangle fans, takes
integer texture coordinates raw, ignores ``KHR_texture_transform`` and a
texture's ``texCoord``, and cannot read compressed data. Here the file's JSON
is read first. A file that needs a part PartScope cannot read, refers to
files that are not there, or holds no triangles is refused with a sentence;
what can be used without a missing piece (a roughness map that is not beside
the file, line primitives next to the triangles) is left out with a warning.
``core.gltf_decode`` then rewrites a file trimesh would misread into a plain
GLB held in memory: Draco and meshopt geometry decoded, quantized and
normalized attributes as floats, texture transforms applied, KTX2 images as
PNG.
"""

from __future__ import annotations

import base64
import json
import logging
import os
from urllib.parse import unquote

import numpy as np

from . import glb
from .beside import Beside
from .glb import GltfError  # noqa: F401  (raised by every reader of a glTF)
from .inputs import UNREADABLE_IMAGE, opens_as_image, past_face_limit

log = logging.getLogger(__name__)

DRACO = "KHR_draco_mesh_compression"
MESHOPT = ("EXT_meshopt_compression", "KHR_meshopt_compression")
BASISU = "KHR_texture_basisu"
AVIF = "EXT_texture_avif"
QUANTIZATION = "KHR_mesh_quantization"
TRANSFORM = "KHR_texture_transform"
INSTANCING = "EXT_mesh_gpu_instancing"
SPEC_GLOSS = "KHR_materials_pbrSpecularGlossiness"
#: Required extensions trimesh reads, or that change only how a surface looks.
READ_AS_IS = {TRANSFORM, "EXT_texture_webp", "KHR_lights_punctual", "KHR_materials_variants",
              "KHR_xmp_json_ld", "EXT_lights_image_based", "KHR_animation_pointer", "KHR_materials_emissive_strength"}
DECODED = {DRACO, *MESHOPT, BASISU, AVIF, QUANTIZATION, INSTANCING}

#: Most nodes a glTF may have once each place a node draws its mesh at
#: (``EXT_mesh_gpu_instancing``) is a node of its own: a 1.2 MB GLB placing a
#: box at 100,000 places took 28 s to read; a 50 MB one would place it at 4
#: million (as Collada's and 3MF's readers limit their placements).
MAX_PLACES = 200_000
COMPONENTS = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT4": 16}
DTYPES = {5120: np.int8, 5121: np.uint8, 5122: np.int16, 5123: np.uint16, 5125: np.uint32, 5126: np.float32}
POINTS, TRIANGLES, STRIP, FAN = 0, 4, 5, 6
TRIANGLE_MODES = (TRIANGLES, STRIP, FAN)
#: Texture slots that give a surface its colour: without their image the look is lost.
COLOR_MAPS = ("baseColorTexture", "diffuseTexture")
MAP_NAMES = {"metallicRoughnessTexture": "metal and roughness map", "normalTexture": "normal map",
             "occlusionTexture": "occlusion map", "emissiveTexture": "emission map",
             "specularGlossinessTexture": "specular map", "baseColorTexture": "colour texture",
             "diffuseTexture": "colour texture"}


def primitives(tree: dict) -> list:
    return [p for m in tree.get("meshes", []) for p in m.get("primitives", [])]


def read(path: str) -> tuple[dict, list]:
    """The JSON tree and the bytes of every buffer (None where a buffer has no
    data: a meshopt fallback, or the missing BIN chunk of a damaged GLB)."""
    with open(path, "rb") as f:
        data = f.read()
    folder = os.path.dirname(os.path.abspath(path))
    binary = None
    if data[:4] == glb.MAGIC:
        tree, binary = glb.split(data)
    else:
        try:
            tree = json.loads(data.decode("utf-8-sig"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise GltfError("is not valid glTF: its text is not JSON") from None
    if not isinstance(tree, dict) or not isinstance(tree.get("asset", {}), dict):
        raise GltfError("is not valid glTF: its JSON is not a glTF document")
    if str(tree.get("asset", {}).get("version", "")).startswith("1") or isinstance(tree.get("buffers"), dict):
        raise GltfError("is glTF 1.0; PartScope reads glTF 2.0: export it again as glTF 2.0")
    buffers = []
    for i, buf in enumerate(tree.get("buffers", [])):
        uri = buf.get("uri")
        if uri is None:
            buffers.append(binary if i == 0 else None)
        else:
            buffers.append(resource(uri, folder))
    return tree, buffers


def resource(uri: str, folder: str) -> bytes:
    """Bytes of a buffer or image uri: embedded (data:) or a file beside the glTF."""
    if uri.startswith("data:"):
        try:
            return base64.b64decode(uri.split(",", 1)[1])
        except (IndexError, ValueError):
            raise GltfError("has damaged embedded data") from None
    path = _beside(uri, folder)
    if not os.path.isfile(path):
        raise GltfError(f"refers to '{unquote(uri)}', which is not beside it: keep the .gltf with its .bin "
                        "and images (in the web app, drop them together, or one ZIP of them)")
    with open(path, "rb") as f:
        return f.read()


def _beside(uri: str, folder: str) -> str:
    """The path of a file uri inside ``folder``, found as a Windows exporter
    may name it (``beside.Beside``) where it is not as written, a file: URI
    on the maker's disk by its name there; refused on the web or outside."""
    if uri.lower().startswith("file:"):  # the maker's own disk: the file beside the glTF, if it was copied there
        local = unquote(uri[5:]).lstrip("/")
        return Beside.of(folder).find(local) or os.path.join(folder, os.path.basename(local.replace("\\", "/")))
    if "://" in uri:
        raise GltfError(f"refers to '{uri}' on the web; PartScope reads only files beside the glTF")
    path = os.path.normpath(os.path.join(folder, unquote(uri)))
    if not path.startswith(os.path.join(folder, "")):
        raise GltfError(f"refers to '{unquote(uri)}', outside its own folder; PartScope reads only files "
                        "beside the glTF")
    return path if os.path.isfile(path) else Beside.of(folder).find(unquote(uri)) or path


def renamed(tree: dict, folder: str) -> bool:
    """Whether a buffer or image the glTF names is found only under another
    name (another case, a Windows path): trimesh would not find it."""
    uris = [item.get("uri") for item in tree.get("buffers", []) + tree.get("images", [])]
    return any(os.path.normpath(os.path.join(folder, unquote(uri))) != _beside(uri, folder)
               for uri in uris if uri and not uri.startswith("data:"))


#: The accessor types glTF gives each vertex attribute (by its name before _n).
ATTRIBUTE_TYPES = {"POSITION": ("VEC3",), "NORMAL": ("VEC3",), "TANGENT": ("VEC4",), "TEXCOORD": ("VEC2",),
                   "COLOR": ("VEC3", "VEC4"), "JOINTS": ("VEC4",), "WEIGHTS": ("VEC4",)}
#: The component types of glTF 2.0 (signed and unsigned bytes, shorts, unsigned ints, floats).
COMPONENT_TYPES = {5120, 5121, 5122, 5123, 5125, 5126}


def check(tree: dict) -> None:
    """Refuse a tree with no triangles, one that needs an extension PartScope
    cannot read, or one whose vertex attributes or indices are not of their
    type (a number glTF 2.0 does not have: CGAL writes doubles) or whose
    vertex attributes differ in length (morph targets too)."""
    needed = set(tree.get("extensionsRequired", [])) - READ_AS_IS - DECODED
    needed = {e for e in needed if not e.startswith("KHR_materials_")}
    if needed:
        names = ", ".join(sorted(needed))
        raise GltfError(f"needs the glTF extension {names}, which PartScope cannot read: "
                        "export the model again without it")
    places, faces = len(tree.get("nodes", [])), 0
    for node in tree.get("nodes", []):
        ext = node.get("extensions", {}).get(INSTANCING) or {}
        copies = min((tree["accessors"][i].get("count", 0) for i in ext.get("attributes", {}).values()), default=0)
        places += copies
        if "mesh" in node:
            faces += max(copies, 1) * sum(_faces(tree, p) for p in tree["meshes"][node["mesh"]].get("primitives", []))
    if places > MAX_PLACES:
        raise GltfError(f"draws its meshes at {places:,} places, more than PartScope reads ({MAX_PLACES:,}): export "
                        "it with fewer copies of its meshes")
    if refusal := past_face_limit(faces):  # before Draco or meshopt unpacks them
        raise GltfError(refusal)
    prims = primitives(tree)
    if not any(p.get("mode", TRIANGLES) in TRIANGLE_MODES for p in prims):
        if prims and all(p.get("mode", TRIANGLES) == POINTS for p in prims):
            raise GltfError("is a point cloud (no faces): PartScope segments surface meshes; "
                            "export the model with its faces")
        if prims:
            raise GltfError("holds only lines, no faces: export a model with surfaces")
        what = "only images" if tree.get("images") else "no geometry"
        raise GltfError(f"holds no faces ({what}): export a model with its meshes")
    if not any(_corners(tree, p) >= 3 for p in prims if p.get("mode", TRIANGLES) in TRIANGLE_MODES):
        raise GltfError("holds no faces: each of its triangle primitives has fewer than three corners; the file "
                        "is damaged, export it again")
    for prim in prims:
        counts = {tree["accessors"][i].get("count") for target in [prim.get("attributes", {})] + prim.get("targets", [])
                  for i in target.values()}
        if len(counts) > 1:
            raise GltfError("is not valid glTF: a primitive's vertex attributes differ in length; the file is "
                            "damaged, export it again")
        used = [tree["accessors"][i] for i in [*prim.get("attributes", {}).values(), prim.get("indices")]
                if i is not None]
        odd = sorted({a.get("componentType") for a in used} - COMPONENT_TYPES, key=str)
        if odd:
            raise GltfError(f"is not valid glTF 2.0: it stores numbers of component type {odd[0]}"
                            f"{' (double precision)' if odd[0] == 5130 else ''}, which glTF 2.0 does not have; "
                            "export it again with 32-bit floats")
        for name, index in prim.get("attributes", {}).items():
            kind = tree["accessors"][index].get("type")
            wanted = ATTRIBUTE_TYPES.get(name.split("_")[0] if name[:1] != "_" else "", (kind,))
            if kind not in wanted:
                raise GltfError(f"is not valid glTF: its {name} holds {kind} values where glTF has "
                                f"{' or '.join(wanted)}; the file is damaged, export it again")


def metal_rough(tree: dict) -> bool:
    """Materials in the older specular-glossiness model
    (``KHR_materials_pbrSpecularGlossiness``: Sketchfab's exports of the
    time, obj2gltf's ``--specularGlossiness``) rewritten in place as
    metallic-roughness ones that look the same: the diffuse texture and
    factor as the base colour, no metal, roughness 1 - glossiness; where the
    file gives a metallic-roughness fallback beside it (as Assimp writes),
    that, as today's viewers (three.js) show it. trimesh converts them
    physically instead, and paler (a red body shown peach). True where any
    was."""
    changed = False
    for material in tree.get("materials", []):
        gloss = material.get("extensions", {}).pop(SPEC_GLOSS, None)
        changed |= gloss is not None
        if gloss is None or "pbrMetallicRoughness" in material:
            continue
        pbr = {"baseColorFactor": gloss.get("diffuseFactor", [1.0, 1.0, 1.0, 1.0]), "metallicFactor": 0.0,
               "roughnessFactor": 1.0 - min(max(float(gloss.get("glossinessFactor", 1.0)), 0.0), 1.0)}
        if "diffuseTexture" in gloss:
            pbr["baseColorTexture"] = gloss["diffuseTexture"]
        material["pbrMetallicRoughness"] = pbr
    for key in ("extensionsUsed", "extensionsRequired"):
        if SPEC_GLOSS in tree.get(key, []):
            tree[key] = [e for e in tree[key] if e != SPEC_GLOSS]
    return changed


def _corners(tree: dict, prim: dict) -> int:
    """How many corners a primitive gives (its indices, else its positions;
    3 where it names an accessor that is not there, left to the reader)."""
    index = prim["indices"] if "indices" in prim else prim.get("attributes", {}).get("POSITION")
    try:
        return int(tree["accessors"][index]["count"])
    except (IndexError, KeyError, TypeError, ValueError):
        return 3


def _faces(tree: dict, prim: dict) -> int:
    """How many triangles a primitive gives, by its accessors' counts."""
    mode, corners = prim.get("mode", TRIANGLES), _corners(tree, prim)
    return corners // 3 if mode == TRIANGLES else max(corners - 2, 0) if mode in (STRIP, FAN) else 0


def drop_non_triangles(tree: dict) -> str:
    """Take point and line primitives out of ``tree`` (in place); what was
    taken, in words ('2 line primitives'), or '' when nothing was."""
    dropped = {"point": 0, "line": 0}
    for mesh in tree.get("meshes", []):
        kept = []
        for prim in mesh.get("primitives", []):
            mode = prim.get("mode", TRIANGLES)
            if mode in TRIANGLE_MODES:
                kept.append(prim)
            else:
                dropped["point" if mode == POINTS else "line"] += 1
        mesh["primitives"] = kept
    empty = {i for i, mesh in enumerate(tree.get("meshes", [])) if not mesh["primitives"]}
    for node in tree.get("nodes", []):
        if node.get("mesh") in empty:
            del node["mesh"]
    return primitives_in_words(dropped)


def primitives_in_words(counts: dict) -> str:
    """{'point': 1, 'line': 3} in words: '1 point primitive and 3 line
    primitives' ('' for none)."""
    return " and ".join(f"{n} {kind} primitive{'s' * (n > 1)}" for kind, n in counts.items() if n)


def drop_missing_maps(tree: dict, folder: str) -> list[str]:
    """Images that are not beside the glTF: refused where a colour texture
    needs one (the surface's look would be lost); any other map that needs
    one (roughness, normal, ...) is taken out of its material, with a
    warning (``_drop_maps``)."""
    missing = {i: unquote(image["uri"]) for i, image in enumerate(tree.get("images", []))
               if image.get("uri") and not image["uri"].startswith("data:")
               and not os.path.isfile(_beside(image["uri"], folder))}
    for material in tree.get("materials", []) if missing else []:
        for _, key, info in _texture_infos(material):
            source = _image_of(tree, info.get("index"))
            if source in missing and key in COLOR_MAPS:
                resource(tree["images"][source]["uri"], folder)  # raises the sentence for a missing file
    return _drop_maps(tree, missing, lambda name, what: (
        f"refers to '{name}' (its {what}), which is not beside it: the model is loaded without that map; keep "
        "the images beside the .gltf to keep it"))


def drop_unreadable_maps(tree: dict, buffers: list, folder: str) -> list[str]:
    """Images that do not open (``inputs.opens_as_image``; KTX2 ones are
    decoded later) taken out of their materials, with a warning
    (``_drop_maps``): trimesh would leave them out without one."""
    unreadable = {}
    for i, image in enumerate(tree.get("images", [])):
        if is_ktx2(image):
            continue
        if image.get("uri"):
            data = resource(image["uri"], folder)
        elif image.get("bufferView") is not None:
            view = tree["bufferViews"][image["bufferView"]]
            data = buffers[view["buffer"]]
            if data is None:
                continue
            data = data[view.get("byteOffset", 0):view.get("byteOffset", 0) + view["byteLength"]]
        else:
            continue
        if not opens_as_image(bytes(data)):
            uri = image.get("uri", "")
            unreadable[i] = image.get("name") or (unquote(uri) if uri and not uri.startswith("data:") else f"image {i}")
    return _drop_maps(tree, unreadable, lambda name, what: (
        f"has a texture ('{name}', its {what}) that does not open as an image {UNREADABLE_IMAGE}"))


def _drop_maps(tree: dict, images: dict, warning) -> list[str]:
    """Every map that shows one of ``images`` (index -> name) taken out of
    its material, the images' data with it (trimesh skips them); one
    ``warning(name, what the map is)`` each."""
    warnings = []
    for material in tree.get("materials", []) if images else []:
        for parent, key, info in _texture_infos(material):
            source = _image_of(tree, info.get("index"))
            if source in images:
                del parent[key]
                said = warning(images[source], MAP_NAMES.get(key, key))
                warnings += [said] if said not in warnings else []
    for i in images:
        tree["images"][i].pop("uri", None)
        tree["images"][i].pop("bufferView", None)
    return warnings


def _texture_infos(node, parent=None, key=None):
    """(parent dict, key, textureInfo) for every texture a material refers to, extensions included."""
    if isinstance(node, dict):
        if parent is not None and "index" in node:
            yield parent, key, node
            return
        for k, v in list(node.items()):
            yield from _texture_infos(v, node, k)


def _image_of(tree: dict, texture: int | None) -> int | None:
    """The image a texture shows: its source, or the source an image extension gives."""
    if texture is None:
        return None
    tex = tree["textures"][texture]
    if tex.get("source") is not None:
        return tex["source"]
    return next((ext["source"] for ext in tex.get("extensions", {}).values()
                 if isinstance(ext, dict) and "source" in ext), None)


def base_color_uv(material: dict) -> tuple[int, dict | None]:
    """(texture coordinate set, KHR_texture_transform or None) of a material's
    base colour texture; (0, None) without one."""
    info = material.get("pbrMetallicRoughness", {}).get("baseColorTexture") or {}
    transform = info.get("extensions", {}).get(TRANSFORM)
    return (transform or {}).get("texCoord", info.get("texCoord", 0)), transform


def is_ktx2(image: dict) -> bool:
    return image.get("mimeType") == "image/ktx2" or image.get("uri", "").split("?")[0].lower().endswith(".ktx2")


def scene_for_a_library(tree: dict) -> bool:
    """A glTF with no scene (a library of meshes, as some tools write one)
    gets one holding every root node, or a node for every mesh where it has
    no nodes: what it holds is then drawn, not taken for nothing. True
    where it did (trimesh must then read the tree as changed here)."""
    if tree.get("scenes") or not tree.get("meshes"):
        return False
    nodes = tree.setdefault("nodes", [])
    children = {child for node in nodes for child in node.get("children", [])}
    roots = [i for i in range(len(nodes)) if i not in children]
    if not any("mesh" in nodes[i] or nodes[i].get("children") for i in roots):
        roots = list(range(len(nodes), len(nodes) + len(tree["meshes"])))
        nodes += [{"mesh": m, "name": mesh.get("name", f"mesh_{m}")} for m, mesh in enumerate(tree["meshes"])]
    tree["scenes"], tree["scene"] = [{"nodes": roots}], 0
    return True


def needs_decoding(tree: dict) -> bool:
    """Whether trimesh would misread ``tree``: compressed data, integer
    attributes it takes raw, triangle fans it skips, texture transforms and
    coordinate sets it ignores, KTX2 images it cannot open, skinned meshes
    it places by their nodes, morph targets it leaves out."""
    if DECODED & set(tree.get("extensionsUsed", [])) or any(is_ktx2(im) for im in tree.get("images", [])):
        return True
    if any("skin" in node and "mesh" in node or any(morph_weights(tree, node)) for node in tree.get("nodes", [])):
        return True
    if any(base_color_uv(m) != (0, None) for m in tree.get("materials", [])):
        return True
    for prim in primitives(tree):
        if prim.get("mode", TRIANGLES) == FAN:
            return True
        if any(needs_float(name, tree["accessors"][i]) for name, i in prim.get("attributes", {}).items()):
            return True
    return False


def morph_weights(tree: dict, node: dict) -> list:
    """The default weights of the morph targets a node's mesh is drawn with
    (the node's, else the mesh's; empty where it has none)."""
    if "mesh" not in node:
        return []
    mesh = tree["meshes"][node["mesh"]]
    if not any("targets" in prim for prim in mesh.get("primitives", [])):
        return []
    return list(node.get("weights", mesh.get("weights", [])))


def needs_float(name: str, accessor: dict) -> bool:
    """Whether trimesh would misread this attribute: integer positions,
    normals and texture coordinates (quantized or normalized), 16-bit
    colours, and any sparse accessor (trimesh leaves its values out)."""
    if "sparse" in accessor:
        return True
    kind = accessor.get("componentType")
    if name in ("POSITION", "NORMAL") or name.startswith("TEXCOORD_"):
        return kind != 5126
    return name.startswith("COLOR_") and kind == 5123


def optional_module(name: str, extension: str, what: str, pin: str):
    """An optional decoder, or a sentence that says what to install."""
    import importlib

    try:
        return importlib.import_module(name)
    except ImportError:
        raise GltfError(f"uses {what} ({extension}) and the package that decodes it is not installed: "
                        f"pip install {pin}, or export the model again without it") from None
