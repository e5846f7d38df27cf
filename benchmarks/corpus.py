"""A corpus of the files people upload, good and broken, built here: glTF
compressed with Draco, meshopt and KTX2 (by those libraries' own encoders),
quantized glTF, a glTF with its .bin and images beside it, Latin-1 text
files, point clouds, lines, zero-area faces, truncated and damaged files.

Each case says what loading it must give: a face count, or the exact
sentence a person is told. The tests (tests/test_inputs.py) assert every
case; run as a script, it loads every file in a process of its own with a
time limit and counts the outcomes:

    python -m benchmarks.corpus        # -> benchmarks/results/corpus.json
"""

from __future__ import annotations

import io
import json
import os
import struct
import sys
import time
from dataclasses import dataclass

import numpy as np
import trimesh
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from core import gltf  # noqa: E402


@dataclass
class Case:
    """One input: its files (name -> bytes; the first is the one opened) and
    what it must give: ``faces`` when it loads, else the exact ``sentence``."""

    files: dict
    faces: int | None = None
    sentence: str | None = None

    @property
    def name(self) -> str:
        return next(iter(self.files))


# ------------------------------------------------------------------ scenes
def textured_scene(n_nodes: int = 3) -> trimesh.Scene:
    """Textured boxes (an image each) and vertex-colored balls, ``n_nodes`` nodes apart."""
    scene = trimesh.Scene()
    rng = np.random.default_rng(0)
    for i in range(n_nodes):
        if i % 3 == 2:
            mesh = trimesh.creation.icosphere(subdivisions=2, radius=0.2)
            mesh.visual.vertex_colors = [0, 200, 0, 255]
        else:
            mesh = trimesh.creation.box(extents=[0.4, 0.4, 0.4])
            texel = np.zeros((8, 8, 3), np.uint8)
            texel[..., 0 if i % 3 == 0 else 2] = 220
            uv = rng.uniform(0.05, 0.95, (len(mesh.vertices), 2))
            mesh.visual = trimesh.visual.TextureVisuals(uv=uv, image=Image.fromarray(texel))
        mesh.apply_translation([0.6 * (i % 10), 0.6 * (i // 10), 0])
        scene.add_geometry(mesh, geom_name=f"part_{i}")
    return scene


def scene_faces(scene: trimesh.Scene) -> int:
    return sum(len(g.faces) for g in scene.dump())


def glb(scene: trimesh.Scene) -> bytes:
    return scene.export(file_type="glb")


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

    tree, binary = gltf.split_glb(data)
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
    tree["extensionsUsed"] = tree.get("extensionsUsed", []) + [extension]
    tree["extensionsRequired"] = tree.get("extensionsRequired", []) + [extension]
    return gltf.glb_bytes(tree, bytes(out))


def quantized_glb(data: bytes) -> bytes:
    """Positions as int16 in thousandths (padded to 8 bytes a vertex: the same
    shape, 1000 times larger) and texture coordinates as normalized uint16,
    as KHR_mesh_quantization allows."""
    tree, binary = gltf.split_glb(data)
    out = bytearray(binary)
    for mesh in tree["meshes"]:
        for prim in mesh["primitives"]:
            for name, index in prim["attributes"].items():
                acc = tree["accessors"][index]
                if acc["componentType"] != 5126 or not (name == "POSITION" or name.startswith("TEXCOORD")):
                    continue
                view = tree["bufferViews"][acc["bufferView"]]
                width = gltf.COMPONENTS[acc["type"]]
                values = np.frombuffer(binary, np.float32, acc["count"] * width,
                                       view.get("byteOffset", 0) + acc.get("byteOffset", 0)).reshape(-1, width)
                if name == "POSITION":
                    q = np.zeros((len(values), 4), np.int16)
                    q[:, :3] = np.round(values * 1000)
                    acc["componentType"], stride = 5122, 8
                else:
                    q = np.round(np.clip(values, 0, 1) * 65535).astype(np.uint16)
                    acc["componentType"], stride = 5123, 4
                acc.update(normalized=name != "POSITION", byteOffset=0)
                acc.pop("min", None), acc.pop("max", None)
                if name == "POSITION":
                    acc["min"], acc["max"] = q[:, :3].min(0).tolist(), q[:, :3].max(0).tolist()
                out += b"\0" * (-len(out) % 4)
                tree["bufferViews"].append({"buffer": 0, "byteOffset": len(out), "byteLength": q.nbytes,
                                            "byteStride": stride})
                acc["bufferView"] = len(tree["bufferViews"]) - 1
                out += q.tobytes()
    tree["buffers"] = [{"byteLength": len(out)}]
    tree["extensionsUsed"] = tree.get("extensionsUsed", []) + ["KHR_mesh_quantization"]
    tree["extensionsRequired"] = tree.get("extensionsRequired", []) + ["KHR_mesh_quantization"]
    return gltf.glb_bytes(tree, bytes(out))


def ktx2_glb(data: bytes, damage: bool = False) -> bytes:
    """Every texture image re-encoded as KTX2 (Basis UASTC, by basisu's
    encoder through alktx2), referenced through KHR_texture_basisu only."""
    import alktx2

    tree, binary = gltf.split_glb(data)
    out = bytearray(binary)
    for image in tree["images"]:
        view = tree["bufferViews"][image["bufferView"]]
        png = binary[view["byteOffset"]:view["byteOffset"] + view["byteLength"]]
        rgba = np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))
        ktx = alktx2.encode_raw_rgba_to_ktx2(rgba.tobytes(), rgba.shape[1], rgba.shape[0], True, codec="uastc")
        if damage:
            ktx = ktx[:len(ktx) // 2]
        out += b"\0" * (-len(out) % 4)
        tree["bufferViews"].append({"buffer": 0, "byteOffset": len(out), "byteLength": len(ktx)})
        image.update(bufferView=len(tree["bufferViews"]) - 1, mimeType="image/ktx2")
        out += ktx
    for texture in tree["textures"]:
        texture["extensions"] = {"KHR_texture_basisu": {"source": texture.pop("source")}}
    tree["buffers"] = [{"byteLength": len(out)}]
    tree["extensionsUsed"] = tree.get("extensionsUsed", []) + ["KHR_texture_basisu"]
    tree["extensionsRequired"] = tree.get("extensionsRequired", []) + ["KHR_texture_basisu"]
    return gltf.glb_bytes(tree, bytes(out))


def edit_glb(data: bytes, edit) -> bytes:
    """The GLB with ``edit(tree, binary) -> binary`` applied."""
    tree, binary = gltf.split_glb(data)
    binary = edit(tree, binary)
    return gltf.glb_bytes(tree, binary)


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


def gltf_files(scene: trimesh.Scene, stem: str, draco: bool = False) -> dict:
    """A .gltf with its .bin and images as separate files (the .gltf first)."""
    files = scene.export(file_type="gltf", extension_draco=draco)
    tree = json.loads(files.pop("model.gltf"))
    renamed = {}
    for key in ("buffers", "images"):
        for item in tree.get(key, []):
            if "uri" in item:
                new = f"{stem}_{item['uri']}"
                renamed[new] = files[item["uri"]]
                item["uri"] = new
    return {f"{stem}.gltf": json.dumps(tree).encode(), **renamed}


def zipped(files: dict, folder: str = "") -> bytes:
    """The files as one ZIP (inside ``folder``), with the clutter a Mac adds."""
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(folder + name, data)
            archive.writestr(f"__MACOSX/{folder}._{name}", b"\0\5\26\7")
    return buf.getvalue()


def climbing_gltf(scene: trimesh.Scene) -> bytes:
    tree = json.loads(gltf_files(scene, "climbs")["climbs.gltf"])
    tree["buffers"][0]["uri"] = "../secret.bin"
    return json.dumps(tree).encode()


def latin1_obj() -> bytes:
    box = trimesh.creation.box()
    lines = ["# modèle exporté par Caféteria", "o boîte"]
    lines += [f"v {x} {y} {z}" for x, y, z in box.vertices]
    lines += [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in box.faces]
    return ("\n".join(lines) + "\n").encode("latin-1")


def latin1_stl() -> bytes:
    text = box_stl_ascii().replace("solid ", "solid pièce ", 1)
    return text.encode("latin-1")


def box_stl_ascii() -> str:
    return trimesh.creation.box().export(file_type="stl_ascii")


def latin1_binary_stl() -> bytes:
    data = bytearray(trimesh.creation.box().export(file_type="stl"))
    data[:80] = "Pièce usinée, exportée".encode("latin-1").ljust(80, b" ")
    return bytes(data)


def utf16_obj() -> bytes:
    return latin1_obj().decode("latin-1").encode("utf-16")


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


def big_scene(n_nodes: int) -> trimesh.Scene:
    return textured_scene(n_nodes)


def unknown_extension(tree, binary):
    tree["extensionsUsed"] = tree["extensionsRequired"] = ["EXT_mesh_gpu_instancing"]
    return binary


def dangling(tree, binary):
    tree["meshes"][0]["primitives"][0]["attributes"]["POSITION"] = 999
    return binary


def web_uri(tree, binary):
    tree["buffers"][0]["uri"] = "https://example.com/model.bin"
    return binary


def build_cases() -> list[Case]:
    """Every case, built now (a second or two)."""
    scene = textured_scene()
    n = scene_faces(scene)
    plain = glb(scene)
    draco = draco_glb(scene)
    many = textured_scene(60)
    box_faces = 12
    cases = [
        Case({"textured.glb": plain}, faces=n),
        Case(gltf_files(scene, "separate"), faces=n),
        Case({"separate.zip": zipped(gltf_files(scene, "separate"), folder="model/")}, faces=n),
        Case({"draco_separate.zip": zipped(gltf_files(scene, "draco_sep", draco=True))}, faces=n),
        Case({"draco.glb": draco}, faces=n),
        Case(gltf_files(scene, "draco_separate", draco=True), faces=n),
        Case({"meshopt.glb": meshopt_glb(plain)}, faces=n),
        Case({"meshopt_khr.glb": meshopt_glb(plain, "KHR_meshopt_compression", version=1)}, faces=n),
        Case({"quantized.glb": quantized_glb(plain)}, faces=n),
        Case({"quantized_meshopt.glb": meshopt_glb(quantized_glb(plain))}, faces=n),
        Case({"ktx2.glb": ktx2_glb(plain)}, faces=n),
        Case({"ktx2_draco.glb": ktx2_glb(draco)}, faces=n),
        Case({"many_nodes.glb": glb(many)}, faces=scene_faces(many)),
        Case({"many_nodes_meshopt.glb": meshopt_glb(glb(many))}, faces=scene_faces(many)),
        Case({"latin1.obj": latin1_obj()}, faces=box_faces),
        Case({"latin1.stl": latin1_stl()}, faces=box_faces),
        Case({"latin1_binary.stl": latin1_binary_stl()}, faces=box_faces),
        Case({"utf16.obj": utf16_obj()}, faces=box_faces),
        Case({"box.ply": trimesh.creation.box().export(file_type="ply")}, faces=box_faces),
        Case({"box.off": trimesh.creation.box().export(file_type="off").encode()}, faces=box_faces),
        # refused
        Case({"model.fbx": b"Kaydara FBX Binary  \x00"},
             sentence="'model.fbx' is not a format PartScope reads: use GLB, glTF, OBJ, PLY, STL or OFF."),
        Case({"empty.glb": b""},
             sentence="'empty.glb' is empty (0 bytes): the upload or the export did not finish; try again."),
        Case({"images_only.glb": edit_glb(plain, only_images)},
             sentence="'images_only.glb' holds no faces (only images): export a model with its meshes."),
        Case({"no_meshes.glb": gltf.glb_bytes({"asset": {"version": "2.0"}, "nodes": [{}]}, b"")},
             sentence="'no_meshes.glb' holds no faces (no geometry): export a model with its meshes."),
        Case({"points.glb": point_cloud_glb()},
             sentence="'points.glb' is a point cloud (no faces): PartScope segments surface meshes; "
                      "export the model with its faces."),
        Case({"points.ply": points_ply()},
             sentence="'points.ply' is a point cloud (3 points, no faces): PartScope segments surface meshes; "
                      "export the model with its faces."),
        Case({"lines.glb": lines_glb()},
             sentence="'lines.glb' holds only lines, no faces: export a model with surfaces."),
        Case({"comments.obj": b"# nothing here\n"},
             sentence="'comments.obj' holds no faces: it is empty, damaged or not really OBJ; export the model again."),
        Case({"zero_area.obj": zero_area_obj()},
             sentence="'zero_area.obj' has only faces of zero area (flat as a line or a point): it has no "
                      "surface to segment; repair or re-export the mesh."),
        Case({"truncated.glb": plain[:len(plain) // 2]},
             sentence="'truncated.glb' is not a complete GLB: the file is cut short."),
        Case({"bad_json.glb": b"glTF" + struct.pack("<II", 2, 40) + struct.pack("<II", 12, 0x4E4F534A)
              + b"{not json!!}" + b"\0" * 8},
             sentence="'bad_json.glb' is not valid GLB: its JSON part is damaged."),
        Case({"not_json.gltf": b"\x89PNG\r\n binary junk"},
             sentence="'not_json.gltf' is not valid glTF: its text is not JSON."),
        Case({"lonely.gltf": gltf_files(scene, "lonely")["lonely.gltf"]},
             sentence="'lonely.gltf' refers to 'lonely_gltf_buffer_0.bin', which is not beside it: keep the "
                      ".gltf with its .bin and images (in the web app, upload the three as one ZIP)."),
        Case({"climbs.gltf": climbing_gltf(scene)},
             sentence="'climbs.gltf' refers to '../secret.bin', outside its own folder; PartScope reads only "
                      "files beside the glTF."),
        Case({"two_models.zip": zipped({"a.glb": plain, "b.obj": latin1_obj()})},
             sentence="'two_models.zip' holds 2 models (a.glb, b.obj): a ZIP must hold one model "
                      "(GLB, glTF, OBJ, PLY, STL or OFF) with the files it refers to."),
        Case({"no_model.zip": zipped({"readme.txt": b"hello"})},
             sentence="'no_model.zip' holds no model: a ZIP must hold one model (GLB, glTF, OBJ, PLY, STL or OFF) "
                      "with the files it refers to."),
        Case({"damaged.zip": zipped(gltf_files(scene, "damaged"))[:300]},
             sentence="'damaged.zip' is not a ZIP that can be opened: the file looks damaged; make the ZIP again."),
        Case({"web.glb": edit_glb(plain, web_uri)},
             sentence="'web.glb' refers to 'https://example.com/model.bin' on the web; PartScope reads only "
                      "files beside the glTF."),
        Case({"instanced.glb": edit_glb(plain, unknown_extension)},
             sentence="'instanced.glb' needs the glTF extension EXT_mesh_gpu_instancing, which PartScope cannot "
                      "read: export the model again without it."),
        Case({"draco_damaged.glb": edit_glb(draco, damage_view(1))},
             sentence="'draco_damaged.glb' has Draco-compressed geometry that does not decode: the file is "
                      "damaged; export it again."),
        Case({"meshopt_damaged.glb": meshopt_damaged(plain)},
             sentence="'meshopt_damaged.glb' has meshopt-compressed geometry that does not decode: the file is "
                      "damaged; export it again."),
        Case({"ktx2_damaged.glb": ktx2_glb(plain, damage=True)},
             sentence="'ktx2_damaged.glb' has a KTX2 texture that does not decode: the file is damaged; "
                      "export it again, or with PNG or JPEG textures."),
        Case({"dangling.glb": edit_glb(meshopt_glb(plain), dangling)},
             sentence="'dangling.glb' is not valid GLB: it refers to parts of itself that are not there; "
                      "export it again."),
        Case({"garbage.obj": bytes(range(256)) * 8},
             sentence="'garbage.obj' holds no faces: it is empty, damaged or not really OBJ; export the model again."),
        Case({"garbage.stl": b"\x00\x01" * 20},
             sentence="'garbage.stl' holds no faces: it is empty, damaged or not really STL; export the model again."),
        Case({"garbage.ply": b"ply\nformat binary_little_endian 1.0\nelement vertex 9\nend_header\n"},
             sentence="'garbage.ply' could not be read as PLY: the file looks damaged or is not really PLY; "
                      "export it again and try again."),
        Case({"nan.off": b"OFF\n3 1 0\n0 0 0\nnan 0 0\n0 1 0\n3 0 1 2\n"},
             sentence="'nan.off' has vertices with NaN or infinite coordinates: repair or re-export the mesh."),
        Case({"one_point.off": b"OFF\n3 1 0\n1 1 1\n1 1 1\n1 1 1\n3 0 1 2\n"},
             sentence="'one_point.off' has no extent (all vertices at one point): it is not a usable mesh."),
    ]
    return cases


def meshopt_damaged(plain: bytes) -> bytes:
    data = meshopt_glb(plain)
    tree, binary = gltf.split_glb(data)
    ext = tree["bufferViews"][1]["extensions"]["EXT_meshopt_compression"]
    start = ext["byteOffset"]
    binary = binary[:start] + b"\xff" * ext["byteLength"] + binary[start + ext["byteLength"]:]
    return gltf.glb_bytes(tree, binary)


def write_case(case: Case, folder: str) -> str:
    """Write the case's files into ``folder``; the path of the one to open."""
    for name, data in case.files.items():
        with open(os.path.join(folder, name), "wb") as f:
            f.write(data)
    return os.path.join(folder, case.name)


def outcome(case: Case, path: str) -> tuple[str, str]:
    """('loaded' | 'refused' | 'wrong' | 'crash', detail) of loading ``path``."""
    from core.loading import InputError, load_asset

    try:
        asset = load_asset(path)
    except InputError as exc:
        text = str(exc)
        clear = text.endswith(".") and "\n" not in text and "Error)" not in text
        if case.sentence is not None and text == case.sentence:
            return "refused", text
        return ("refused" if clear and case.sentence is None else "wrong"), text
    except Exception as exc:  # what the corpus is here to find
        return "crash", repr(exc)
    if case.faces is not None and asset.n_faces == case.faces:
        return "loaded", f"{asset.n_faces} faces"
    return "wrong", f"loaded {asset.n_faces} faces, expected {case.faces or case.sentence}"


def _one(args):
    case, folder = args
    return outcome(case, write_case(case, folder))


def main() -> None:
    import argparse
    import multiprocessing as mp
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds before a load counts as a hang")
    parser.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "results", "corpus.json"))
    args = parser.parse_args()
    cases = build_cases()
    rows, counts = [], {"loaded": 0, "refused": 0, "wrong": 0, "crash": 0, "hang": 0}
    with tempfile.TemporaryDirectory() as tmp:
        for i, case in enumerate(cases):
            folder = os.path.join(tmp, str(i))
            os.makedirs(folder)
            t = time.perf_counter()
            with mp.get_context("spawn").Pool(1) as pool:
                job = pool.apply_async(_one, ((case, folder),))
                try:
                    kind, detail = job.get(args.timeout)
                except mp.TimeoutError:
                    kind, detail = "hang", f"no answer in {args.timeout:.0f} s"
            counts[kind] += 1
            rows.append({"file": case.name, "outcome": kind, "detail": detail,
                         "seconds": round(time.perf_counter() - t, 2)})
            print(f"{kind:8s} {case.name:28s} {detail}")
    print(json.dumps(counts))
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump({"counts": counts, "files": rows}, f, indent=1)


if __name__ == "__main__":
    main()
