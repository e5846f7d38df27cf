"""Writes the Blender files of tests/data: assets/toy_car.glb imported into
Blender and exported again by Blender's own exporters, as an artist's file
reaches PartScope. Run in the Python that has Blender's module (see
tests/blender.py), from the repository root:

    .venv-blender/bin/python tests/data/blender_exports.py
"""

import io
import json
import math
import os
import zipfile

import bpy

HERE = os.path.dirname(os.path.abspath(__file__))
CAR = os.path.join(HERE, "..", "..", "assets", "toy_car.glb")
WHEELS = ["wheel_1", "wheel_2", "wheel_3", "wheel_4"]


def car() -> list:
    """An empty scene with the toy car imported: its mesh objects."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.ops.import_scene.gltf(filepath=CAR)
    return [o for o in bpy.context.scene.objects if o.type == "MESH"]


def glb(name: str, **options) -> None:
    bpy.ops.export_scene.gltf(filepath=os.path.join(HERE, name), export_format="GLB", **options)


def zipped(name: str, write) -> None:
    """What ``write(folder)`` writes, as one ZIP of the folder's files."""
    folder = os.path.join(HERE, "_" + name)
    os.makedirs(folder)
    write(folder)
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(os.listdir(folder)):
            archive.write(os.path.join(folder, file), file)
            os.remove(os.path.join(folder, file))
    os.rmdir(folder)
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data.getvalue())


def unpacked(folder: str) -> None:
    """The imported textures as PNG files in ``folder`` (an OBJ's MTL refers to files)."""
    for image in bpy.data.images:
        image.filepath_raw = os.path.join(folder, image.name + ".png")
        image.file_format = "PNG"
        image.save()
        image.unpack(method="REMOVE") if image.packed_file else None


def linked_wheels() -> None:
    """The four wheels one mesh, each wheel an object placed where it was
    under one empty (linked duplicates, as an artist makes repeated parts;
    Blender's GPU instancing takes the children of one empty)."""
    wheels = [bpy.data.objects[name] for name in WHEELS]
    bpy.ops.object.empty_add(location=(0, 0, 0))
    axle = bpy.context.object
    for wheel in wheels:
        bpy.ops.object.select_all(action="DESELECT")
        wheel.select_set(True)
        bpy.context.view_layer.objects.active = wheel
        bpy.ops.object.origin_set(type="ORIGIN_GEOMETRY", center="BOUNDS")
    for wheel in wheels:
        wheel.parent = axle
        wheel.data = wheels[0].data


def rigged() -> None:
    """The car skinned to one bone of an armature turned a quarter round x
    and scaled by 0.01, as rigs from FBX often are; the rest pose."""
    objects = [o for o in bpy.context.scene.objects if o.type == "MESH"]
    bpy.ops.object.armature_add(location=(0, 0, 0))
    rig = bpy.context.object
    rig.rotation_euler = (math.pi / 2, 0, 0)
    rig.scale = (0.01, 0.01, 0.01)
    bpy.context.view_layer.update()
    for obj in objects:
        world = obj.matrix_world.copy()
        obj.parent = rig
        obj.matrix_world = world  # the car stays where it was
        group = obj.vertex_groups.new(name="Bone")
        group.add(list(range(len(obj.data.vertices))), 1.0, "REPLACE")
        obj.modifiers.new("rig", "ARMATURE").object = rig


def chair() -> dict:
    """An empty scene with a chair modelled as artists do: a seat with two
    materials and a bevel, a leg mirrored twice by a modifier, a backrest
    parented to the seat (turned, scaled unevenly, subdivided, smooth), a
    cushion mirrored by a negative scale; ``measured``."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    wood, metal, cloth = (_material(name, rgb) for name, rgb in (
        ("wood", (0.5, 0.3, 0.1)), ("metal", (0.6, 0.6, 0.65)), ("cloth", (0.1, 0.2, 0.6))))
    bpy.ops.mesh.primitive_cube_add(size=1, location=(0, 0, 0.45))
    seat = bpy.context.object
    seat.name, seat.scale = "seat", (0.5, 0.5, 0.05)
    seat.data.materials.append(wood)
    seat.data.materials.append(cloth)
    for polygon in seat.data.polygons:
        polygon.material_index = int(polygon.normal.z > 0.5)
    seat.modifiers.new("bevel", "BEVEL").width = 0.02
    bpy.ops.mesh.primitive_cylinder_add(vertices=12, radius=0.03, depth=0.42, location=(0.2, 0.2, 0.21))
    leg = bpy.context.object
    leg.name = "leg"
    leg.data.materials.append(metal)
    leg.modifiers.new("mirror", "MIRROR").use_axis = (True, True, False)
    bpy.ops.mesh.primitive_cube_add(size=1)
    back = bpy.context.object
    back.name, back.parent = "back", seat
    back.location, back.rotation_euler, back.scale = (0, -0.45, 6.0), (math.radians(10), 0, 0), (0.9, 0.1, 8.0)
    back.data.materials.append(wood)
    back.modifiers.new("subdivision", "SUBSURF").levels = 1
    bpy.ops.object.shade_smooth()
    bpy.ops.mesh.primitive_uv_sphere_add(segments=16, ring_count=8, radius=0.1, location=(0.15, 0, 0.55))
    cushion = bpy.context.object
    cushion.name, cushion.scale = "cushion", (-1.0, 1.5, 0.5)
    cushion.data.materials.append(cloth)
    return measured()


def measured() -> dict:
    """Blender's own count of the scene's triangles with their modifiers and
    shape keys applied, their area and their bounds (in glTF's axes: x, z, -y)."""
    bpy.context.view_layer.update()
    graph = bpy.context.evaluated_depsgraph_get()
    triangles, area, points = 0, 0.0, []
    for obj in bpy.context.scene.objects:
        if obj.type != "MESH":
            continue
        mesh = obj.evaluated_get(graph).to_mesh()
        mesh.calc_loop_triangles()
        for triangle in mesh.loop_triangles:
            a, b, c = (obj.matrix_world @ mesh.vertices[i].co for i in triangle.vertices)
            area += (b - a).cross(c - a).length / 2
        triangles += len(mesh.loop_triangles)
        points += [obj.matrix_world @ v.co for v in mesh.vertices]
    low, high = ([f(p[i] for p in points) for i in range(3)] for f in (min, max))
    return {"triangles": triangles, "area": area, "low": [low[0], low[2], -high[1]],
            "high": [high[0], high[2], -low[1]]}


def _material(name: str, rgb: tuple):
    material = bpy.data.materials.new(name)
    material.diffuse_color = (*rgb, 1.0)
    return material


def chair_ply() -> None:
    """The chair as Blender's PLY exporter writes it by default (binary, its
    quads and n-gons kept: faces of mixed sizes), in glTF's axes."""
    bpy.ops.wm.ply_export(filepath=os.path.join(HERE, "chair_blender.ply"), forward_axis="NEGATIVE_Z", up_axis="Y")


def native() -> dict:
    """The files Blender's own readers open for PartScope (``core.blender``):
    the car as FBX with its textures inside, also skinned to its armature,
    and as a .blend with its textures packed; the chair as a .blend, its
    modifiers unapplied, and linked from another .blend (``linked``). What
    Blender measures of the chair."""
    car()
    rigged()
    bpy.ops.export_scene.fbx(filepath=os.path.join(HERE, "toy_car_blender_rigged.fbx"), path_mode="COPY",
                             embed_textures=True)
    car()  # its textures as files beside it, zipped with it
    zipped("toy_car_blender_fbx.zip", lambda folder: (unpacked(folder), bpy.ops.export_scene.fbx(
        filepath=os.path.join(folder, "toy_car.fbx"), path_mode="RELATIVE")))
    car()
    bpy.ops.export_scene.fbx(filepath=os.path.join(HERE, "toy_car_blender_embedded.fbx"), path_mode="COPY",
                             embed_textures=True)
    bpy.ops.file.pack_all()
    bpy.ops.wm.save_as_mainfile(filepath=os.path.join(HERE, "toy_car_blender.blend"), compress=True)
    truth = chair()
    bpy.ops.wm.save_as_mainfile(filepath=os.path.join(HERE, "chair_blender.blend"), compress=True)
    linked()
    return truth


def linked() -> None:
    """A .blend with a crate of its own and the chair's leg and cushion
    linked from chair_blender.blend (a library, by a path relative to it)."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    out = os.path.join(HERE, "linked_blender.blend")
    bpy.ops.mesh.primitive_cube_add(size=1, location=(1.5, 0, 0.5))
    bpy.context.object.name = "crate"
    bpy.ops.wm.save_as_mainfile(filepath=out)  # saved first: the library's path is relative to it
    with bpy.data.libraries.load(os.path.join(HERE, "chair_blender.blend"), link=True, relative=True) as (_, into):
        into.objects = ["leg", "cushion"]
    for thing in into.objects:
        bpy.context.scene.collection.objects.link(thing)
    bpy.ops.wm.save_as_mainfile(filepath=out, compress=True)
    os.remove(out + "1")  # Blender's backup of the first save


def main() -> None:
    car()
    glb("toy_car_blender.glb")
    glb("toy_car_blender_draco.glb", export_draco_mesh_compression_enable=True)
    glb("toy_car_blender_jpeg.glb", export_image_format="JPEG")
    glb("toy_car_blender_webp.glb", export_image_format="WEBP")
    zipped("toy_car_blender_separate.zip", lambda folder: bpy.ops.export_scene.gltf(
        filepath=os.path.join(folder, "toy_car.gltf"), export_format="GLTF_SEPARATE"))
    bpy.ops.wm.stl_export(filepath=os.path.join(HERE, "toy_car_blender.stl"))
    bpy.ops.wm.ply_export(filepath=os.path.join(HERE, "toy_car_blender.ply"))
    bpy.ops.export_scene.fbx(filepath=os.path.join(HERE, "toy_car_blender.fbx"))
    bpy.ops.wm.usd_export(filepath=os.path.join(HERE, "toy_car_blender.usdz"))
    body = bpy.data.objects["body"]
    body.shape_key_add(name="Basis")
    squash = body.shape_key_add(name="squash")  # a shape key Blender adds at full weight: here at none
    squash.data[0].co.z += 0.1
    squash.value = 0.0
    glb("toy_car_blender_shape_keys.glb")

    car()  # a scene of its own: its textures leave the file for the folder that is zipped
    zipped("toy_car_blender_obj.zip", lambda folder: (unpacked(folder), bpy.ops.wm.obj_export(
        filepath=os.path.join(folder, "toy_car.obj"), path_mode="RELATIVE")))

    car()
    linked_wheels()
    glb("toy_car_blender_instanced.glb", export_gpu_instances=True)

    car()
    rigged()
    glb("toy_car_blender_rigged.glb")
    bpy.ops.wm.usd_export(filepath=os.path.join(HERE, "toy_car_blender_rigged.usdz"), export_armatures=True)

    truth = {}  # file -> what Blender measures of the scene it was written from
    car()
    body = bpy.data.objects["body"]
    body.shape_key_add(name="Basis")
    key = body.shape_key_add(name="tall")  # at 0.5 the body 1.4 times as tall
    for point in key.data:
        point.co.z *= 1.8
    key.value = 0.5
    glb("toy_car_blender_morphed.glb")
    truth["toy_car_blender_morphed.glb"] = measured()

    truth["chair_blender.blend"] = native()
    truth["chair_blender.glb"] = truth["chair_blender_obj.zip"] = truth["chair_blender.ply"] = chair()
    glb("chair_blender.glb", export_apply=True)
    zipped("chair_blender_obj.zip", lambda folder: bpy.ops.wm.obj_export(
        filepath=os.path.join(folder, "chair.obj"), apply_modifiers=True))
    chair_ply()
    bpy.ops.wm.usd_export(filepath=os.path.join(HERE, "chair_blender.usdz"))  # its defaults: the backrest's cage
    with open(os.path.join(HERE, "blender_measured.json"), "w") as f:
        json.dump(truth, f, indent=1)


if __name__ == "__main__":
    main()
