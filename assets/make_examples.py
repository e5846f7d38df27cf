"""Build the example models the web app offers, from trimesh primitives.

    python assets/make_examples.py          # writes assets/*.glb

Every model here is made by this script (no third-party geometry or images),
so the GLBs carry the project's own license. They are small on purpose
(tens of kB): one click loads them, and the fast test config fits them in
seconds. Each piece is its own named glTF node, so the file's structure is
visible in Blender and in the app's downloads.
"""

from __future__ import annotations

import os

import numpy as np
import trimesh
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))


def _box(extents, levels: int = 2) -> trimesh.Trimesh:
    """A box subdivided ``levels`` times (12 * 4**levels faces), so parts have
    enough faces to be cut and shaded smoothly."""
    box = trimesh.creation.box(extents=extents)
    for _ in range(levels):
        box = box.subdivide()
    return box


def _move(mesh: trimesh.Trimesh, xyz) -> trimesh.Trimesh:
    mesh.apply_translation(xyz)
    return mesh


def _paint(mesh: trimesh.Trimesh, rgb) -> trimesh.Trimesh:
    material = trimesh.visual.material.PBRMaterial(
        baseColorFactor=[*rgb, 255], metallicFactor=0.0, roughnessFactor=0.8)
    mesh.visual = trimesh.visual.TextureVisuals(material=material)
    return mesh


def _scene(pieces: dict) -> trimesh.Scene:
    scene = trimesh.Scene()
    for name, mesh in pieces.items():
        scene.add_geometry(mesh, node_name=name, geom_name=name)
    return scene


def table() -> trimesh.Scene:
    """A table: a top and four legs; y is up."""
    wood, dark = (176, 122, 74), (120, 80, 45)
    pieces = {"top": _paint(_move(_box((1.2, 0.06, 0.7)), (0, 0.72, 0)), wood)}
    for i, (x, z) in enumerate([(-0.52, -0.28), (0.52, -0.28), (-0.52, 0.28), (0.52, 0.28)]):
        leg = trimesh.creation.cylinder(radius=0.035, height=0.69, sections=16)
        leg.apply_transform(trimesh.transformations.rotation_matrix(np.pi / 2, (1, 0, 0)))
        pieces[f"leg_{i + 1}"] = _paint(_move(leg, (x, 0.345, z)), dark)
    return _scene(pieces)


def chair() -> trimesh.Scene:
    """A chair: seat, four legs, two back posts and three back slats."""
    seat_c, leg_c, back_c = (70, 110, 160), (60, 60, 66), (90, 130, 180)
    pieces = {"seat": _paint(_move(_box((0.46, 0.05, 0.44)), (0, 0.45, 0)), seat_c)}
    for i, (x, z) in enumerate([(-0.2, -0.19), (0.2, -0.19), (-0.2, 0.19), (0.2, 0.19)]):
        pieces[f"leg_{i + 1}"] = _paint(_move(_box((0.04, 0.425, 0.04)), (x, 0.2125, z)), leg_c)
    for i, x in enumerate((-0.2, 0.2)):
        pieces[f"post_{i + 1}"] = _paint(_move(_box((0.04, 0.5, 0.04)), (x, 0.725, -0.19)), leg_c)
    for i, y in enumerate((0.62, 0.78, 0.93)):
        pieces[f"slat_{i + 1}"] = _paint(_move(_box((0.36, 0.07, 0.025)), (0, y, -0.19)), back_c)
    return _scene(pieces)


def mug() -> trimesh.Scene:
    """A mug: an open cup (wall and bottom) and a handle."""
    glaze, handle_c = (214, 84, 64), (230, 226, 214)
    outer = trimesh.creation.annulus(r_min=0.36, r_max=0.4, height=0.9, sections=48)
    bottom = trimesh.creation.cylinder(radius=0.37, height=0.06, sections=48)
    bottom.apply_translation((0, 0, -0.42))
    cup = trimesh.util.concatenate([outer, bottom])
    cup.apply_transform(trimesh.transformations.rotation_matrix(-np.pi / 2, (1, 0, 0)))
    handle = trimesh.creation.torus(major_radius=0.22, minor_radius=0.05, major_sections=32, minor_sections=12)
    handle.apply_transform(trimesh.transformations.rotation_matrix(np.pi / 2, (1, 0, 0)))
    handle.apply_translation((0.52, 0, 0))
    # keep the half of the torus outside the cup wall
    keep = handle.triangles_center[:, 0] > 0.37
    handle.update_faces(keep)
    handle.remove_unreferenced_vertices()
    return _scene({"cup": _paint(cup, glaze), "handle": _paint(handle, handle_c)})


def _checker(size: int, cells: int, a, b) -> Image.Image:
    yy, xx = np.mgrid[:size, :size] * cells // size
    image = np.where(((xx + yy) % 2 == 0)[..., None], np.array(a, np.uint8), np.array(b, np.uint8))
    return Image.fromarray(image.astype(np.uint8))


def _stripes(size: int, count: int, a, b) -> Image.Image:
    rows = (np.arange(size) * count // size) % 2
    image = np.where(rows[:, None, None] == 0, np.array(a, np.uint8), np.array(b, np.uint8))
    return Image.fromarray(np.broadcast_to(image, (size, size, 3)).copy())


def _box_uv(mesh: trimesh.Trimesh) -> np.ndarray:
    """(V, 2) planar UVs from the two largest axes of a mesh's bounds."""
    extents = mesh.bounds[1] - mesh.bounds[0]
    axes = np.argsort(extents)[::-1][:2]
    lo = mesh.bounds[0][axes]
    return (mesh.vertices[:, axes] - lo) / extents[axes]


def _textured(mesh: trimesh.Trimesh, image: Image.Image) -> trimesh.Trimesh:
    mesh = mesh.copy()
    material = trimesh.visual.material.PBRMaterial(
        baseColorTexture=image, baseColorFactor=[255, 255, 255, 255], metallicFactor=0.0, roughnessFactor=0.8)
    mesh.visual = trimesh.visual.TextureVisuals(uv=_box_uv(mesh), material=material)
    return mesh


def toy_car() -> trimesh.Scene:
    """A toy car with textures and vertex colors: a checkered body, a striped
    cabin, four wheels with vertex-colored hubs, in separate nodes."""
    body = _textured(_move(_box((1.0, 0.22, 0.46), 3), (0, 0.2, 0)),
                     _checker(64, 8, (230, 60, 50), (250, 210, 60)))
    cabin = _textured(_move(_box((0.5, 0.2, 0.4), 3), (-0.05, 0.41, 0)),
                      _stripes(64, 6, (80, 160, 220), (235, 240, 245)))
    pieces = {"body": body, "cabin": cabin}
    for i, (x, z) in enumerate([(-0.32, -0.25), (0.32, -0.25), (-0.32, 0.25), (0.32, 0.25)]):
        wheel = trimesh.creation.cylinder(radius=0.11, height=0.08, sections=24)
        wheel.apply_translation((x, 0.11, z))
        radial = np.linalg.norm(wheel.vertices[:, :2] - (x, 0.11), axis=1)
        colors = np.where((radial < 0.05)[:, None], [200, 200, 205, 255], [30, 30, 34, 255]).astype(np.uint8)
        wheel.visual = trimesh.visual.ColorVisuals(wheel, vertex_colors=colors)
        pieces[f"wheel_{i + 1}"] = wheel
    return _scene(pieces)


EXAMPLES = {"table": table, "chair": chair, "mug": mug, "toy_car": toy_car}


def main() -> None:
    for name, build in EXAMPLES.items():
        path = os.path.join(HERE, f"{name}.glb")
        build().export(path)
        print(f"{path}: {os.path.getsize(path) // 1024} kB")


if __name__ == "__main__":
    main()
