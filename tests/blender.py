"""Blender's own glTF importer, as a person uses it (File > Import > glTF 2.0),
run from the tests: what Blender makes of the files PartScope writes (and
of a PLY or OBJ, with Blender's own importers).

Blender's Python module lives in a Python of its own (``core.blender.python``).

Run as a script in that Python, this file imports each glTF file given on
the command line into an empty scene and prints what it holds as one JSON
line (``imported`` does that and reads it back).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

MARK = "PARTSCOPE-BLENDER "


def imported(paths: list) -> dict:
    """{path: [every mesh object Blender made of the file]}, each object a
    dict: name, polygons, props (its custom properties: glTF extras),
    color_attributes (how many sets of vertex colours), images (its
    materials' textures), color (its first material's base colour, RGBA
    0..1, linear light), shown (the distinct colours of its first colour
    attribute as Blender shows them: sRGB RGBA 0..255, at most 256), low and
    high (its world bounding box corners)."""
    from core.blender import python

    run = subprocess.run([python(), os.path.abspath(__file__), *map(str, paths)],
                         capture_output=True, text=True, timeout=300)
    line = [x for x in run.stdout.splitlines() if x.startswith(MARK)]
    assert run.returncode == 0 and line, f"Blender's import failed:\n{run.stdout[-2000:]}\n{run.stderr[-2000:]}"
    return json.loads(line[-1][len(MARK):])


def _objects(path: str) -> list:
    import bpy
    from mathutils import Vector

    bpy.ops.wm.read_factory_settings(use_empty=True)
    if path.lower().endswith(".ply"):
        bpy.ops.wm.ply_import(filepath=path)
    elif path.lower().endswith(".obj"):
        bpy.ops.wm.obj_import(filepath=path)
    else:
        bpy.ops.import_scene.gltf(filepath=path)
    out = []
    for obj in bpy.context.scene.objects:
        if obj.type != "MESH":
            continue
        materials = [slot.material for slot in obj.material_slots if slot.material]
        nodes = [node for m in materials if m.node_tree for node in m.node_tree.nodes]
        shader = [node for node in nodes if node.type == "BSDF_PRINCIPLED"]
        corners = [obj.matrix_world @ Vector(corner) for corner in obj.bound_box]
        colors = obj.data.color_attributes
        shown = {tuple(round(c * 255) for c in d.color_srgb) for d in colors[0].data} if len(colors) else set()
        out.append({
            "name": obj.name,
            "polygons": len(obj.data.polygons),
            "props": {key: obj[key] for key in obj.keys() if isinstance(obj[key], (int, float, str))},
            "color_attributes": len(obj.data.color_attributes),
            "images": sorted({node.image.name for node in nodes if node.type == "TEX_IMAGE" and node.image}),
            "color": list(shader[0].inputs["Base Color"].default_value) if shader else None,
            "shown": sorted(shown)[:256],
            "low": [min(c[i] for c in corners) for i in range(3)],
            "high": [max(c[i] for c in corners) for i in range(3)],
        })
    return out


if __name__ == "__main__":
    print(MARK + json.dumps({path: _objects(path) for path in sys.argv[1:]}))
