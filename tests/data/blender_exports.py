"""Writes the Blender files of tests/data: assets/toy_car.glb imported into
Blender and exported again by Blender's own exporters, as an artist's file
reaches PartScope. Run in the Python that has Blender's module (see
tests/blender.py), from the repository root:

    .venv-blender/bin/python tests/data/blender_exports.py
"""

import io
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
    body = bpy.data.objects["body"]
    body.shape_key_add(name="Basis")
    body.shape_key_add(name="squash").data[0].co.z += 0.1
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


if __name__ == "__main__":
    main()
