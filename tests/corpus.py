"""The input corpus: the files people upload, good and broken, each with
what loading it must give (``build_cases``), and the checks of a loaded
file against its plain sibling. tests/test_inputs.py asserts every case;
``python -m benchmarks.corpus`` loads every file in a process of its own
and counts the outcomes. The files are made by corpus_files.py and
corpus_ktx2.py beside this one, and the gltfpack and glTF-Transform outputs
in tests/data.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass

import numpy as np
import trimesh

from core import blender, glb
from tests import corpus_files as make
from tests import corpus_ktx2 as ktx

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "tests", "data")
#: Largest median colour difference (of 255, the largest channel) between a
#: file and its plain sibling at the same surface points.
MAX_COLOR_DIFF = 3
#: A bicubic Bezier patch of 16 control points of its own, as Rhino and Maya can write one.
BEZIER_PATCH = [f"v {i} {j} {(i * j) % 3}" for i in range(4) for j in range(4)] + [
    "cstype bezier", "deg 3 3", "surf 0 1 0 1 " + " ".join(str(-k) for k in range(16, 0, -1)), "parm u 0 1",
    "parm v 0 1", "end"]
OUTCOMES = ("loaded", "refused", "silently wrong", "valid refused", "wrong sentence", "crash", "hang")


@dataclass
class Case:
    """One input: its files (name -> bytes; the first is the one opened) and
    what it must give: ``faces`` when it loads, else the exact ``sentence``.

    sibling : the case of the same model written plainly, whose look it must have
    max_color : the largest median colour difference from the sibling (lossy images differ by their own)
    warnings : the exact warning sentences it must load with
    names, colors : node names and (R, G, B) base colours it must load with
    """

    files: dict
    faces: int | None = None
    sentence: str | None = None
    sibling: str | None = None
    max_color: float = MAX_COLOR_DIFF
    warnings: tuple = ()
    names: tuple | None = None
    colors: tuple | None = None

    @property
    def name(self) -> str:
        return next(iter(self.files))


def _renamed(files: dict, old: str, new: str) -> dict:
    """``files`` with ``old`` named ``new``, first (the one opened)."""
    return {new: files[old], **{name: data for name, data in files.items() if name != old}}


def _data(name: str) -> bytes:
    with open(os.path.join(DATA, name), "rb") as f:
        return f.read()


def _asset(name: str) -> bytes:
    with open(os.path.join(ROOT, "assets", name), "rb") as f:
        return f.read()


def build_cases() -> list[Case]:
    """Every case, built now (a few seconds)."""
    scene = make.textured_scene()
    n = make.scene_faces(scene)
    plain = make.glb(scene)
    draco = make.draco_glb(scene)
    many = make.textured_scene(60)
    ball = make.split_ball()
    legs = make.glb(make.legs_scene())
    box_faces = 12
    car = 1920
    spin = {"offset": [0.25, 0.75], "rotation": 0.7, "scale": [0.5, -1.5]}

    def like(files, faces=n, sibling="textured.glb", **kw):
        return Case(files if isinstance(files, dict) else {files[0]: files[1]}, faces=faces, sibling=sibling, **kw)

    cases = [
        Case({"textured.glb": plain}, faces=n),
        like(make.gltf_files(scene, "separate")),
        like(("separate.zip", make.zipped(make.gltf_files(scene, "separate"), folder="model/"))),
        like(make.windows_gltf_files(scene, "windows")),
        # a glTF named .glb (as VTK's exporter names what it writes) and a GLB named .gltf: read by what they hold
        like(_renamed(make.gltf_files(scene, "text_glb"), "text_glb.gltf", "text_glb.glb")),
        like(("binary.gltf", plain)),
        like(("windows_zip.zip", make.windows_zip(make.gltf_files(scene, "windows_zip")))),
        like(("draco_separate.zip", make.zipped(make.gltf_files(scene, "draco_sep", draco=True)))),
        like(("draco.glb", draco)),
        like(make.gltf_files(scene, "draco_separate", draco=True)),
        like(("meshopt.glb", make.meshopt_glb(plain))),
        like(("meshopt_khr.glb", make.meshopt_glb(plain, "KHR_meshopt_compression", version=1))),
        like(("quantized.glb", make.quantized_glb(plain))),
        like(("quantized_meshopt.glb", make.meshopt_glb(make.quantized_glb(plain)))),
        like(("sparse_positions.glb", make.sparse_glb(plain))),
        like(("normalized_uv8.glb", make.normalized_uv_glb(plain, np.uint8))),
        like(("normalized_uv16.glb", make.normalized_uv_glb(plain, np.uint16))),
        like(("uv_transform.glb", make.transformed_uv_glb(plain, spin))),
        like(("uv_transform_texcoord1.glb", make.transformed_uv_glb(plain, spin, texcoord=1))),
        like(("no_base_factor.glb", make.no_factor_glb(plain))),
        like(("spec_gloss.glb", make.spec_gloss_glb(plain))),
        like(("avif.glb", make.avif_glb(plain)), max_color=12),
        like(("avatar.vrm", make.vrm(plain))),
        like(("unpadded_json.glb", make.unpadded_glb(plain))),
        like(("library.glb", make.library_glb(plain))),
        like(("ktx2.glb", ktx.ktx2_glb(plain))),
        like(("ktx2_draco.glb", ktx.ktx2_glb(draco))),
        *[like((f"ktx2_{label}.glb", ktx.ktx2_glb(plain, vk_format=vk, scheme=scheme))) for label, vk, scheme in (
            ("rgb8", 23, 0), ("rgba8_srgb", 43, 0), ("rgba16", 91, 0), ("rgba16f", 97, 0), ("rgba32f", 109, 0),
            ("rgba8_zlib", 43, 3), ("rgba8_zstd", 43, 2))],
        *[case for label, vk in (("bc1", 131), ("bc7", 146)) for case in (
            Case({f"ktx2_{label}_decoded.glb": ktx.bc_reference_glb(plain, vk)}, faces=n),
            like((f"ktx2_{label}.glb", ktx.ktx2_glb(plain, vk_format=vk)), sibling=f"ktx2_{label}_decoded.glb"))],
        like(("lines_and_triangles.glb", make.with_lines(plain)), warnings=(
            "'lines_and_triangles.glb' also holds 2 line primitives, which PartScope leaves out: only faces are "
            "segmented.",)),
        Case({"primitive_modes_plain.glb": make.modes_glb(every_mode=False)}, faces=16),
        like(("primitive_modes.glb", make.modes_glb(every_mode=True)), faces=16, sibling="primitive_modes_plain.glb",
             warnings=("'primitive_modes.glb' also holds 1 point primitive and 3 line primitives, which PartScope "
                       "leaves out: only faces are segmented.",)),
        like(make.missing_map_files(scene, "no_roughness"), warnings=(
            "'no_roughness.gltf' refers to 'no_roughness_roughness.png' (its metal and roughness map), which is not "
            "beside it: the model is loaded without that map; keep the images beside the .gltf to keep it.",)),
        Case({"many_nodes.glb": make.glb(many)}, faces=make.scene_faces(many)),
        like(("many_nodes_meshopt.glb", make.meshopt_glb(make.glb(many))), faces=make.scene_faces(many),
             sibling="many_nodes.glb"),
        Case({"split_ball.glb": make.glb(ball)}, faces=make.scene_faces(ball)),
        Case({"legs.glb": legs}, faces=make.scene_faces(make.legs_scene())),
        *[like((name, data), faces=make.scene_faces(make.legs_scene()), sibling="legs.glb") for name, data in (
            ("legs_instanced.glb", make.instanced_glb(legs)),
            ("legs_instanced_meshopt.glb", make.meshopt_glb(make.instanced_glb(legs))))],
        *[like((f"split_ball_{label}.glb", data), faces=make.scene_faces(ball), sibling="split_ball.glb")
          for label, data in (("draco", make.draco_glb(ball)), ("quantized", make.quantized_glb(make.glb(ball))))],
        Case({"toy_car.glb": _asset("toy_car.glb")}, faces=car),
        *[like((name, _data(name)), faces=car, sibling="toy_car.glb") for name in (
            "toy_car_gltfpack.glb", "toy_car_gltfpack_cc.glb", "toy_car_gltfpack_kn.glb", "toy_car_gt_quantize.glb",
            "toy_car_gt_meshopt.glb", "toy_car_gt_draco.glb", "toy_car_gt_avif.glb")],
        *[like((f"toy_car_blender{label}", _data(f"toy_car_blender{label}")), faces=car, sibling="toy_car.glb")
          for label in (".glb", "_draco.glb", "_separate.zip", "_shape_keys.glb", "_instanced.glb", "_rigged.glb")],
        *[like((f"toy_car_blender_{label}.glb", _data(f"toy_car_blender_{label}.glb")), faces=car,
               sibling="toy_car.glb", max_color=12) for label in ("jpeg", "webp")],  # the images' own loss: 9 and 5
        Case({"toy_car_blender_obj.zip": _data("toy_car_blender_obj.zip")}, faces=car,  # textures as they are
             colors=((231, 231, 231),) * 4 + ((255, 255, 255),) * 2),  # Kd 0.8, linear light as Blender reads it
        Case({"toy_car_windows_obj.zip": make.windows_obj(_data("toy_car_blender_obj.zip"))}, faces=car,
             sibling="toy_car_blender_obj.zip"),
        Case({"toy_car_no_images_obj.zip": make.windows_obj(_data("toy_car_blender_obj.zip"), images=False)},
             faces=car, warnings=tuple(
                 f"'toy_car.obj' refers to 'C:\\Users\\Artist\\3ds Max\\maps\\IMAGE_{i}.PNG' "
                 "(a texture), which is not beside it: the model is loaded without it; keep the .obj with its "
                 ".mtl and images (in the web app, drop them together, or one ZIP of them)." for i in (0, 1))),
        Case({"toy_car_blender.stl": _data("toy_car_blender.stl")}, faces=car),
        *[Case({name: _data(name)}, faces=faces) for name, faces in (
            ("chair_blender.glb", 492), ("chair_blender_obj.zip", 492), ("chair_blender.ply", 492),
            ("toy_car_blender_morphed.glb", car))],
        Case({"toy_car_blender.ply": _data("toy_car_blender.ply")}, faces=car),
        Case({"chair_blender.usdz": _data("chair_blender.usdz")}, faces=456, names=(
            "leg", "cushion", "seat_wood", "seat_cloth", "back"), warnings=(
            "'chair_blender.usdz' gives 'back' as a subdivision surface: PartScope reads its control cage, as "
            "usdview draws it by default; apply the subdivision before exporting to segment the smooth surface.",)),
        Case({"toy_car_blender.usdz": _data("toy_car_blender.usdz")}, faces=car,  # the wheels as USD viewers draw them
             names=("wheel_4", "wheel_3", "cabin", "wheel_2", "body", "wheel_1"),
             colors=((231, 231, 231),) * 2 + ((255, 255, 255), (231, 231, 231), (255, 255, 255), (231, 231, 231))),
        Case({"toy_car_meshlab_ply.zip": _data("toy_car_meshlab_ply.zip")}, faces=car,
             names=("toy_car_meshlab.ply Image_0.png", "toy_car_meshlab.ply Image_1.png")),
        Case({"chair_meshlab.off": _data("chair_meshlab.off")}, faces=496, warnings=(
            "'chair_meshlab.off' says it has 234 faces but holds 232: the model is loaded with those it holds; if "
            "some are missing, export it again.",)),
        Case({"toy_car_assimp.ply": _data("toy_car_assimp.ply")}, faces=car, warnings=(
            "'toy_car_assimp.ply' refers to '*1' (a texture), which is not beside it: the model is loaded without "
            "it; keep the .ply with its texture (in the web app, drop them together, or one ZIP of them).",)),
        *_collada_and_3mf(car),
        Case({"latin1.obj": make.latin1_obj()}, faces=box_faces, names=("boîte",)),
        Case(make.cp1252_obj_files("cp1252"), faces=2 * box_faces,
             names=("Pièce_à_façade_Añil_à_façade", "Caña_Caña_roja"),
             colors=((90, 124, 244), (244, 90, 90))),  # Kd 0.1 0.2 0.9 and 0.9 0.1 0.1, linear light
        Case({"no_mtl.obj": ("\n".join(["mtllib no_mtl.mtl", *make.box_obj_lines("box")]) + "\n").encode()},
             faces=box_faces, warnings=(
                 "'no_mtl.obj' refers to 'no_mtl.mtl' (a library of its materials), which is not beside it: the "
                 "model is loaded without the colours and textures it holds; keep the .obj with its .mtl and images "
                 "(in the web app, drop them together, or one ZIP of them).",)),
        Case({"edges.obj": ("\n".join([*make.box_obj_lines("box"), "l 1 2 3", "l 4 5", "p 6"]) + "\n").encode()},
             faces=box_faces, warnings=(  # loose edges and a vertex beside the faces, left out silently before
                 "'edges.obj' also holds 1 point primitive and 2 line primitives, which PartScope leaves out: only "
                 "faces are segmented.",)),
        Case({"patch.obj": ("\n".join([*make.box_obj_lines("box"), *BEZIER_PATCH]) + "\n").encode()},
             faces=box_faces, warnings=(  # a free-form surface beside the faces (as Rhino can write it), silent before
                 "'patch.obj' also holds 1 free-form primitive, which PartScope leaves out: only faces are "
                 "segmented.",)),
        Case({"patch_only.obj": ("\n".join(BEZIER_PATCH) + "\n").encode()}, sentence=(
            "'patch_only.obj' holds only free-form curves and surfaces (NURBS or Bezier), no faces: export it as a "
            "polygon mesh.")),
        Case({"latin1.stl": make.latin1_stl()}, faces=box_faces),
        Case({"latin1_binary.stl": make.latin1_binary_stl()}, faces=box_faces),
        # a binary STL whose header count its length disagrees with, read by its length as admesh and MeshLab
        # do (refused until 2026-12-06): a streaming writer's 0, bytes after the last face, a count too large
        Case({"streamed.stl": make.counted_stl(0)}, faces=box_faces),
        Case({"upper_case.stl": trimesh.creation.box().export(file_type="stl_ascii").upper().encode()},
             faces=box_faces),
        Case({"bom.stl": b"\xef\xbb\xbf" + trimesh.creation.box().export(file_type="stl_ascii").encode()},
             faces=box_faces),
        Case({"padded.stl": make.counted_stl(12, b"\0" * 7)}, faces=box_faces),
        Case({"overcounted.stl": make.counted_stl(20)}, faces=box_faces, warnings=(
            "'overcounted.stl' says it has 20 faces but holds 12: the model is loaded with those it holds; if some "
            "are missing, export it again.",)),
        Case({"cut_in_a_face.stl": make.counted_stl(12)[:-20]}, sentence=(
            "'cut_in_a_face.stl' could not be read as STL: the file looks damaged or is not really STL; export it "
            "again and try again.")),
        Case({"utf16.obj": make.utf16_obj()}, faces=box_faces, names=("boîte",)),
        Case({"box.ply": trimesh.creation.box().export(file_type="ply")}, faces=box_faces),
        Case({"box.off": trimesh.creation.box().export(file_type="off").encode()}, faces=box_faces),
        *_through_blender(car),
        # refused
        Case({"model.3ds": b"MM\x06\x00\x00\x00"},
             sentence="'model.3ds' is not a format PartScope reads: use GLB, glTF, OBJ, PLY, STL, OFF, USD(Z), FBX, "
                      ".blend, DAE or 3MF."),
        Case({"empty.glb": b""},
             sentence="'empty.glb' is empty (0 bytes): the upload or the export did not finish; try again."),
        Case({"images_only.glb": make.edit_glb(plain, make.only_images)},
             sentence="'images_only.glb' holds no faces (only images): export a model with its meshes."),
        Case({"no_meshes.glb": glb.pack({"asset": {"version": "2.0"}, "nodes": [{}]}, b"")},
             sentence="'no_meshes.glb' holds no faces (no geometry): export a model with its meshes."),
        Case({"points.glb": make.point_cloud_glb()},
             sentence="'points.glb' is a point cloud (no faces): PartScope segments surface meshes; "
                      "export the model with its faces."),
        Case({"points.ply": make.points_ply()},
             sentence="'points.ply' is a point cloud (3 points, no faces): PartScope segments surface meshes; "
                      "export the model with its faces."),
        Case({"lines.glb": make.lines_glb()},
             sentence="'lines.glb' holds only lines, no faces: export a model with surfaces."),
        Case({"lines.obj": make.lines_obj()},
             sentence="'lines.obj' holds only lines, no faces: export a model with surfaces."),
        Case({"comments.obj": b"# nothing here\n"},
             sentence="'comments.obj' holds no faces: it is empty, damaged or not really OBJ; export the model again."),
        Case({"zero_area.obj": make.zero_area_obj()},
             sentence="'zero_area.obj' has only faces of zero area (flat as a line or a point): it has no "
                      "surface to segment; repair or re-export the mesh."),
        Case({"truncated.glb": plain[:len(plain) // 2]},
             sentence="'truncated.glb' is not a complete GLB: the file is cut short."),
        Case({"bad_json.glb": b"glTF" + struct.pack("<II", 2, 40) + struct.pack("<II", 12, 0x4E4F534A)
              + b"{not json!!}" + b"\0" * 8},
             sentence="'bad_json.glb' is not valid GLB: its JSON part is damaged."),
        Case({"not_json.gltf": b"\x89PNG\r\n binary junk"},
             sentence="'not_json.gltf' is not valid glTF: its text is not JSON."),
        Case({"version_1.gltf": b'{"asset": {"version": "1.0", "generator": "obj2gltf"}, "buffers": {"buffer_0": '
                                b'{"uri": "data:,"}}, "meshes": {"mesh_0": {"primitives": []}}}'},
             sentence="'version_1.gltf' is glTF 1.0; PartScope reads glTF 2.0: export it again as glTF 2.0."),
        Case({"lonely.gltf": make.gltf_files(scene, "lonely")["lonely.gltf"]},
             sentence="'lonely.gltf' refers to 'lonely_gltf_buffer_0.bin', which is not beside it: keep the "
                      ".gltf with its .bin and images (in the web app, drop them together, or one ZIP of them)."),
        Case(make.without_images(make.gltf_files(scene, "no_colors")),
             sentence="'no_colors.gltf' refers to 'no_colors_image_0.png', which is not beside it: keep the "
                      ".gltf with its .bin and images (in the web app, drop them together, or one ZIP of them)."),
        Case({"climbs.gltf": make.climbing_gltf(scene)},
             sentence="'climbs.gltf' refers to '../secret.bin', outside its own folder; PartScope reads only "
                      "files beside the glTF."),
        Case({"two_models.zip": make.zipped({"a.glb": plain, "b.obj": make.latin1_obj()})},
             sentence="'two_models.zip' holds 2 models (a.glb, b.obj): a ZIP must hold one model "
                      "(GLB, glTF, OBJ, PLY, STL, OFF, USD(Z), FBX, .blend, DAE or 3MF) with the files it refers to."),
        Case({"no_model.zip": make.zipped({"readme.txt": b"hello"})},
             sentence="'no_model.zip' holds no model: a ZIP must hold one model (GLB, glTF, OBJ, PLY, STL, OFF, "
                      "USD(Z), FBX, .blend, DAE or 3MF) with the files it refers to."),
        Case({"damaged.zip": make.zipped(make.gltf_files(scene, "damaged"))[:300]},
             sentence="'damaged.zip' is not a ZIP that can be opened: the file looks damaged; make the ZIP again."),
        Case({"scrambled.zip": make.zip_changed(make.zipped(make.gltf_files(scene, "scrambled")), scramble=True)},
             sentence="'scrambled.zip' is not a ZIP that can be opened: the file looks damaged; make the ZIP again."),
        Case({"locked.zip": make.zip_changed(make.zipped(make.gltf_files(scene, "locked")), flag=1)},
             sentence="'locked.zip' is protected by a password: make the ZIP again without one."),
        Case({"deflate64.zip": make.zip_changed(make.zipped(make.gltf_files(scene, "deflate64")), method=9)},
             sentence="'deflate64.zip' is packed in a way PartScope cannot unpack (method 9): make the ZIP again "
                      "with the usual compression (Deflate)."),
        Case({"web.glb": make.edit_glb(plain, make.web_uri)},
             sentence="'web.glb' refers to 'https://example.com/model.bin' on the web; PartScope reads only "
                      "files beside the glTF."),
        Case({"area_lights.glb": make.edit_glb(plain, make.unknown_extension)},
             sentence="'area_lights.glb' needs the glTF extension EXT_lights_area, which PartScope cannot "
                      "read: export the model again without it."),
        Case({"draco_damaged.glb": make.edit_glb(draco, make.damage_view(1))},
             sentence="'draco_damaged.glb' has Draco-compressed geometry that does not decode: the file is "
                      "damaged; export it again."),
        Case({"meshopt_damaged.glb": make.meshopt_damaged(plain)},
             sentence="'meshopt_damaged.glb' has meshopt-compressed geometry that does not decode: the file is "
                      "damaged; export it again."),
        Case({"ktx2_damaged.glb": ktx.ktx2_glb(plain, damage=True)},
             sentence="'ktx2_damaged.glb' has a KTX2 texture that does not decode: the file is damaged; "
                      "export it again, or with PNG or JPEG textures."),
        Case({"ktx2_rgba8_damaged.glb": ktx.ktx2_glb(plain, damage=True, vk_format=43)},
             sentence="'ktx2_rgba8_damaged.glb' has a KTX2 texture that does not decode: the file is damaged; "
                      "export it again, or with PNG or JPEG textures."),
        Case({"dangling.glb": make.edit_glb(make.meshopt_glb(plain), make.dangling)},
             sentence="'dangling.glb' is not valid GLB: it refers to parts of itself that are not there; "
                      "export it again."),
        Case({"damaged_image.glb": make.edit_glb(plain, make.damaged_image)}, faces=n,
             warnings=("'damaged_image.glb' has a texture that does not decode (the image is damaged): the model is "
                       "loaded without it; export it again.",)),
        Case({"unknown_image.glb": make.edit_glb(plain, make.unknown_image)}, faces=n,
             warnings=("'unknown_image.glb' has a texture ('image 0', its colour texture) that does not open as an "
                       "image (damaged, too large, or in a format PartScope cannot read): the model is loaded without "
                       "it; export it again with PNG or JPEG textures.",)),
        Case({"obj_unknown_image.zip": make.with_member(_data("toy_car_blender_obj.zip"), "Image_0.png",
                                                        lambda _: b"not an image, though named one")},
             faces=car, warnings=("'toy_car.obj' refers to 'Image_0.png' (a texture), which does not open as an "
                                  "image (damaged, too large, or in a format PartScope cannot read): the model is "
                                  "loaded without it; export it again with PNG or JPEG textures.",)),
        Case({"draco_elsewhere.glb": make.edit_glb(_data("toy_car_blender_draco.glb"), make.draco_elsewhere)},
             sentence="'draco_elsewhere.glb' has Draco-compressed geometry that does not decode: the file is damaged; "
                      "export it again."),
        Case({"uv_from_positions.glb": make.edit_glb(plain, make.uv_from_positions)},
             sentence="'uv_from_positions.glb' is not valid glTF: its TEXCOORD_0 holds VEC3 values where glTF has "
                      "VEC2; the file is damaged, export it again."),
        Case({"longer_uv.glb": make.edit_glb(plain, make.longer_uv)},
             sentence="'longer_uv.glb' is not valid glTF: a primitive's vertex attributes differ in length; the file "
                      "is damaged, export it again."),
        Case({"doubles.glb": make.edit_glb(plain, make.doubles)},
             sentence="'doubles.glb' is not valid glTF 2.0: it stores numbers of component type 5130 (double "
                      "precision), which glTF 2.0 does not have; export it again with 32-bit floats."),
        Case({"obj_cut_short.zip": make.with_member(_data("toy_car_blender_obj.zip"), "toy_car.obj",
                                                    lambda obj: obj[:9797])},  # in a vertex's row: 'v 0.325'
             sentence="'toy_car.obj' has vertices that are not points in 3D: the file is damaged; export it again."),
        Case({"far_index.glb": make.edit_glb(plain, make.far_index)},
             sentence="'far_index.glb' has faces that point at missing vertices: the file is damaged; "
                      "export it again."),
        Case({"cut_short.ply": _data("toy_car_assimp.ply")[:1811]},  # a text PLY with colours, cut in a row
             sentence="'cut_short.ply' could not be read as PLY: the file looks damaged or is not really PLY; "
                      "export it again and try again."),
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


def _collada_and_3mf(car: int) -> list[Case]:
    """The car as SketchUp and Assimp write Collada (.dae), and as slicers
    and Assimp write 3MF (``core.collada``, ``core.threemf``)."""
    parts = ("body", "cabin", "wheel_1", "wheel_2", "wheel_3", "wheel_4")
    sketchup = make.sketchup_dae(_asset("toy_car.glb"), "toy_car_sketchup")
    edges = "'toy_car_sketchup.dae' also holds 6 line primitives, which PartScope leaves out: only faces are segmented."
    alone = "toy_car_sketchup.dae"
    return [
        # Z up in inches, textures in a folder of their own, the wheel one component placed four times
        Case({"toy_car_sketchup.zip": make.zipped(sketchup)}, faces=car, sibling="toy_car.glb", names=parts,
             warnings=(edges,)),
        # as SketchUp exports for Google Earth: a KML beside the model in models/
        Case({"toy_car.kmz": make.zipped({"doc.kml": make.KML, **{f"models/{k}": v for k, v in sketchup.items()}})},
             faces=car, sibling="toy_car.glb", names=parts, warnings=(edges,)),
        Case({alone: sketchup[alone]}, faces=car, names=parts, warnings=(edges,) + tuple(
            f"'{alone}' refers to 'toy_car_sketchup/{name}_skin.png' (a texture), which is not beside it: the model "
            "is loaded without it; keep the .dae with its texture (in the web app, drop them together, or one ZIP "
            "of them)." for name in ("body", "cabin"))),
        Case({"toy_car_assimp_dae.zip": _data("toy_car_assimp_dae.zip")}, faces=car, names=parts,
             sibling="toy_car_blender_obj.zip"),  # Assimp's Collada of Blender's OBJ: the same look
        Case({"toy_car_assimp_rigged.dae": _data("toy_car_assimp_rigged.dae")}, faces=car, names=parts),
        *[Case({name: data}, faces=car, names=parts, warnings=(
            f"'{name}' also holds 1 slicer volume that is not printed (modifiers, negative volumes, support blockers "
            "or enforcers), which PartScope leaves out: only the printed parts are segmented.",))
          for name, data in (("toy_car_bambu.3mf", make.printer_3mf(_asset("toy_car.glb"))),
                             ("toy_car_prusa.3mf", make.prusa_3mf(_asset("toy_car.glb"))))],
        # textured and coloured corner by corner (the materials extension), as 3D Builder writes a coloured model
        Case({"toy_car_textured.3mf": make.textured_3mf(_asset("toy_car.glb"))}, faces=car, names=parts,
             sibling="toy_car.glb"),
        Case({"toy_car_no_skin.3mf": make.textured_3mf(_asset("toy_car.glb"), missing=("body",))}, faces=car,
             names=parts, warnings=("'toy_car_no_skin.3mf' refers to '/3D/Textures/body.png' (a texture), which it "
                                    "does not hold or which does not open as an image: the model is loaded without "
                                    "it; export it again.",)),
        Case({"toy_car_assimp.3mf": _data("toy_car_assimp.3mf")}, faces=car,
             names=("object",) + tuple(f"object_{k}" for k in range(1, 6))),
        # an object of three <mesh> elements (one per material; the specification allows one)
        Case({"chair_assimp.3mf": _data("chair_assimp.3mf")}, faces=444, names=("object", "object_1", "object_2")),
        Case({"edges.dae": make.lines_dae()},
             sentence="'edges.dae' holds only lines, no faces: export a model with surfaces."),
        Case({"cut_short.dae": sketchup[alone][:5000]},
             sentence="'cut_short.dae' could not be read as DAE: the file looks damaged or is not really DAE; export "
                      "it again and try again."),
        Case({"loop.3mf": make.looping_3mf()},
             sentence="'loop.3mf' could not be read as 3MF: the file looks damaged or is not really 3MF; export it "
                      "again and try again."),
        *[Case({name: data}, sentence=f"'{name}' could not be read as {name[-3:].upper()}: the file looks damaged or "
                                      f"is not really {name[-3:].upper()}; export it again and try again.")
          for name, data in (("multiply.3mf", make.looping_3mf(multiply=True)),
                             ("multiply.dae", make.multiplying_dae()))],
        Case({"cut_short.3mf": make.printer_3mf(_asset("toy_car.glb"))[:3000]},
             sentence="'cut_short.3mf' could not be read as 3MF: the file looks damaged or is not really 3MF; export "
                      "it again and try again."),
    ]


def _through_blender(car: int) -> list[Case]:
    """FBX and .blend files Blender wrote, read through Blender where its
    Python module is installed (``core.blender``), else refused saying how
    to install it."""
    names = ("toy_car_blender_embedded.fbx", "toy_car_blender.fbx", "toy_car_blender.blend", "chair_blender.blend",
             "toy_car_blender_rigged.fbx", "toy_car_blender_fbx.zip", "toy_car_assimp_fbx.zip",
             "toy_car_blender_cut.fbx")
    files = {name: _data(name) for name in names[:-1]}
    files[names[-1]] = files["toy_car_blender_embedded.fbx"][:30000]
    files["ascii.fbx"] = b"; FBX 7.4.0 project file\nFBXHeaderExtension:  {\n}\n"  # an ASCII FBX of nothing
    files["fbx_unknown_image.zip"] = make.with_member(files["toy_car_blender_fbx.zip"], "Image_0.png",
                                                      lambda _: b"not an image, though named one")
    linked, library = _data("linked_blender.blend"), _data("chair_blender.blend")
    if blender.python() is None:
        inside = {"toy_car_blender_fbx.zip": "toy_car.fbx", "fbx_unknown_image.zip": "toy_car.fbx",  # in the ZIP
                  "toy_car_assimp_fbx.zip": "toy_car_assimp_ascii.fbx"}
        return [Case({name: data}, sentence=f"'{inside.get(name, name)}' is "
                     f"{blender.KIND['Blender' if name.endswith('.blend') else 'FBX']}, which PartScope reads through "
                     "Blender's Python module, not installed here: export the model as GLB, or install the module in "
                     "PartScope's folder (python3.11 -m venv .venv-blender && .venv-blender/bin/pip install "
                     "bpy==5.0.1).") for name, data in {**files, "linked_blender.blend": linked}.items()] + [
            Case({"linked_blender.zip": make.zipped({"linked_blender.blend": linked, "chair_blender.blend": library})},
                 sentence="'linked_blender.zip' holds 2 models (chair_blender.blend, linked_blender.blend): a ZIP must "
                          "hold one model (GLB, glTF, OBJ, PLY, STL, OFF, USD(Z), FBX, .blend, DAE or 3MF) with the "
                          "files it refers to.")]
    wheels = ("wheel_4", "wheel_3", "wheel_2", "wheel_1", "cabin", "body")
    looks = ((231, 231, 231),) * 4 + ((255, 255, 255),) * 2

    def one(name: str) -> dict:
        return {name: files[name]}

    return [
        # its textures inside it; the wheels' vertex colours, which its materials do not use, as Blender draws them
        Case(one("toy_car_blender_embedded.fbx"), faces=car, names=wheels, colors=looks),
        Case(one("toy_car_blender.fbx"), faces=car, names=wheels, warnings=tuple(
            f"'toy_car_blender.fbx' refers to 'Image_{i}' (a texture), which is not beside it: the model is loaded "
            "without it; keep the .fbx with its texture (in the web app, drop them together, or one ZIP of them)."
            for i in (0, 1))),
        Case(one("toy_car_blender.blend"), faces=car, sibling="toy_car_blender.glb"),  # its textures packed
        Case(one("chair_blender.blend"), faces=492, sibling="chair_blender.glb"),  # its modifiers applied
        Case(one("toy_car_blender_rigged.fbx"), faces=car, names=wheels, colors=looks),  # skinned to its armature
        Case(one("toy_car_blender_fbx.zip"), faces=car, names=wheels, colors=looks,  # textures beside it
             sibling="toy_car_blender_embedded.fbx"),
        # an ASCII FBX (Assimp's, of Blender's OBJ and its PNGs): Blender's newer importer (ufbx) reads it,
        # in centimetres as the file says (refused until 2026-12-06); one that holds nothing says so
        Case(one("toy_car_assimp_fbx.zip"), faces=car, names=wheels,
             sibling="toy_car_blender_obj.zip"),
        Case(one("ascii.fbx"), sentence="'ascii.fbx' holds no faces (no geometry): export a model with its meshes."),
        # a texture beside it that does not open as an image: said (left out without a word until 2026-12-06)
        Case(one("fbx_unknown_image.zip"), faces=car, names=wheels, warnings=(
            "'toy_car.fbx' refers to 'Image_0.png' (a texture), which does not open as an image (damaged, too large, "
            "or in a format PartScope cannot read): the model is loaded without it; export it again with PNG or JPEG "
            "textures.",)),
        # objects linked from another .blend: without it, a warning; with it beside or zipped, all of them
        Case({"linked_blender.blend": linked}, faces=12, names=("crate",), warnings=(
            "'linked_blender.blend' refers to 'chair_blender.blend' (a library it links objects from), which is not "
            "beside it: the model is loaded without those objects; keep the .blend with its textures and libraries "
            "(in the web app, drop them together, or one ZIP of them).",)),
        Case({"linked_blender_beside.blend": linked, "chair_blender.blend": library}, faces=412,
             names=("cushion", "leg", "crate")),
        Case({"linked_blender.zip": make.zipped({"linked_blender.blend": linked, "chair_blender.blend": library})},
             faces=412, names=("cushion", "leg", "crate")),
        Case(one("toy_car_blender_cut.fbx"), sentence=(
            "'toy_car_blender_cut.fbx' could not be read by Blender: the file looks damaged, or its version is one "
            "Blender 5.0 does not read (a newer Blender's file); export it again, or as GLB.")),
    ]


def write_case(case: Case, folder: str) -> str:
    """Write the case's files into ``folder``; the path of the one to open."""
    for name, data in case.files.items():
        with open(os.path.join(folder, name), "wb") as f:
            f.write(data)
    return os.path.join(folder, case.name)


def pieces(asset) -> int:
    """How many connected pieces the faces make by shared edges (vertices
    welded by position; a crack is not bridged as a seam, so one shows)."""
    from core.topology import merged_faces, shared_edges, split_connected

    pairs = shared_edges(merged_faces(asset.mesh)[0])[0]
    return int(split_connected(np.zeros(asset.n_faces, np.int32), pairs).max()) + 1


def surface_colors(asset, points: np.ndarray) -> np.ndarray:
    """(n, 3) uint8 colour of ``asset`` at the surface point closest to each of ``points``."""
    from core.looks import surface_color

    closest, _, face = trimesh.proximity.closest_point(asset.mesh, points)
    bary = trimesh.triangles.points_to_barycentric(asset.mesh.triangles[face], closest)
    return surface_color(asset, face, np.clip(bary, 0, 1))


def compare(asset, plain, n_points: int = 2000) -> dict:
    """How ``asset`` differs from its plain sibling, both normalized: face
    counts, relative area difference, connected pieces, and the colour
    difference at ``n_points`` surface points drawn on the plain file (the
    largest channel difference of a point's two colours; its median over the
    points of each node of the plain file, the largest of those medians)."""
    from core.sampling import sample_points

    points = sample_points(plain, n_points, seed=0)
    diff = np.abs(surface_colors(asset, points.xyz).astype(int) - points.color.astype(int)).max(axis=1)
    node = plain.face_node[points.face]
    return {"faces": (asset.n_faces, plain.n_faces), "area": float(abs(asset.mesh.area / plain.mesh.area - 1)),
            "pieces": (pieces(asset), pieces(plain)),
            "color": max(float(np.median(diff[node == k])) for k in np.unique(node))}


def differences(case: Case, asset, d: dict | None = None) -> list[str]:
    """What about a loaded file is not what its case says (empty: all is);
    d : ``compare(asset, plain sibling)`` where the case has a sibling."""
    wrong = []
    if asset.n_faces != case.faces:
        wrong.append(f"{asset.n_faces} faces, expected {case.faces}")
    if tuple(asset.warnings) != tuple(case.warnings):
        wrong.append(f"warnings {asset.warnings}, expected {list(case.warnings)}")
    if case.names is not None and tuple(asset.node_names) != case.names:
        wrong.append(f"nodes {asset.node_names}, expected {list(case.names)}")
    if case.colors is not None:
        got = tuple(tuple(int(c) for c in asset.corner_color[asset.face_node == k][:, :, :3].reshape(-1, 3)[0])
                    for k in range(len(asset.node_names)))
        if got != case.colors:
            wrong.append(f"colours {got}, expected {case.colors}")
    if d is not None:
        if d["faces"][0] != d["faces"][1] or d["area"] > 1e-3 or d["pieces"][0] != d["pieces"][1]:
            wrong.append(f"not the plain file's surface: {d}")
        if d["color"] >= case.max_color:
            wrong.append(f"median colour difference {d['color']:.0f}/255 from the plain file (on one node)")
    return wrong


