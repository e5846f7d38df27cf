"""Small real inputs the tests build: a table fused into one surface (whole,
or cracked into patches), two separate boxes, a chair of boxes and
cylinders, a mug modelled as two overlapping pieces, a textured GLB
with several nodes, and a leaf card in front of a box."""

from __future__ import annotations

import os

import numpy as np
import trimesh
from PIL import Image

PSB = os.environ.get("PARTSCOPE_PSB", os.path.join(os.path.dirname(__file__), "..", "..", "shared", "psb-dev"))

LEG_CENTERS = [(-0.4, -0.25), (0.4, -0.25), (-0.4, 0.25), (0.4, 0.25)]


def table() -> tuple[trimesh.Trimesh, np.ndarray]:
    """A table top and four legs, boolean-unioned into one closed surface.

    Returns the mesh and (F,) int labels of the human parts: 0 top, 1..4 legs
    (a face belongs to the leg it lies inside of, else to the top).
    """
    import manifold3d  # noqa: F401  (trimesh's boolean engine)

    top = trimesh.creation.box(extents=[1.0, 0.06, 0.6])
    top.apply_translation([0, 0.47, 0])
    pieces = [top]
    for x, z in LEG_CENTERS:
        leg = trimesh.creation.box(extents=[0.07, 0.5, 0.07])
        leg.apply_translation([x, 0.22, z])
        pieces.append(leg)
    mesh = trimesh.boolean.union(pieces, engine="manifold")
    # remesh so the surface has enough faces for sampling to be meaningful
    mesh = trimesh.Trimesh(*trimesh.remesh.subdivide_to_size(mesh.vertices, mesh.faces, max_edge=0.04))
    return mesh, table_parts(mesh)


def table_parts(mesh: trimesh.Trimesh) -> np.ndarray:
    """(F,) int human part of every face of a ``table`` (cut finer or not):
    the leg it lies inside of (1..4), else 0, the top."""
    centers = mesh.triangles_center
    labels = np.zeros(len(mesh.faces), int)
    for k, (x, z) in enumerate(LEG_CENTERS, start=1):
        inside = (np.abs(centers[:, 0] - x) <= 0.036) & (np.abs(centers[:, 2] - z) <= 0.036) & (centers[:, 1] < 0.44)
        labels[inside] = k
    return labels


def cracked(mesh: trimesh.Trimesh, n_patches: int = 12, seed: int = 0) -> trimesh.Trimesh:
    """``mesh`` cut into ``n_patches`` patches around random faces, each with
    vertices of its own moved by a ten-thousandth of the size, as files
    whose surfaces were written patch by patch come: every patch a piece
    with a hairline crack round it. The faces keep their order."""
    rng = np.random.default_rng(seed)
    centres = mesh.triangles_center
    patch = np.argmin(np.linalg.norm(centres[:, None] - centres[rng.choice(len(centres), n_patches, replace=False)],
                                     axis=2), axis=1)
    n_vertices = len(mesh.vertices)
    vertices = np.concatenate([mesh.vertices + rng.normal(size=3) * 1e-4 * mesh.scale for _ in range(n_patches)])
    return trimesh.Trimesh(vertices, mesh.faces + (patch * n_vertices)[:, None], process=False)


def own_vertices(mesh: trimesh.Trimesh, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The faces ``faces`` ((n,) int, in that order) of ``mesh`` with only
    the vertices they use: (V', 3) positions, (n, 3) faces over them."""
    used, inverse = np.unique(mesh.faces[faces], return_inverse=True)
    return mesh.vertices[used], inverse.reshape(-1, 3)


def soup(mesh: trimesh.Trimesh) -> trimesh.Trimesh:
    """``mesh`` as an STL writes it: every face with vertices of its own."""
    return trimesh.Trimesh(mesh.triangles.reshape(-1, 3), np.arange(3 * len(mesh.faces)).reshape(-1, 3),
                           process=False)


def rounded_apart(mesh: trimesh.Trimesh, seed: int = 0) -> trimesh.Trimesh:
    """``mesh`` as a triangle soup whose every corner is moved by up to 1e-7
    of the model's size, as float32 rounding leaves copies of one vertex
    computed apart (each face through a transform of its own)."""
    rng = np.random.default_rng(seed)
    size = float(np.ptp(mesh.vertices, axis=0).max())
    corners = mesh.triangles.reshape(-1, 3) + rng.uniform(-1e-7, 1e-7, (3 * len(mesh.faces), 3)) * size
    return trimesh.Trimesh(corners, np.arange(len(corners)).reshape(-1, 3), process=False)


def slivers(mesh: trimesh.Trimesh, every: int = 20, seed: int = 0) -> tuple[trimesh.Trimesh, np.ndarray]:
    """``mesh`` with two faces of no area on the first edge of one face in
    ``every``: one with two corners on one vertex, one across the edge's
    middle (a vertex of its own there, its corners in a line); after the
    faces: the mesh and (F',) the face of ``mesh`` each face lies on."""
    rng = np.random.default_rng(seed)
    on = rng.choice(len(mesh.faces), len(mesh.faces) // every, replace=False)
    corners = mesh.faces[on]
    middle = len(mesh.vertices) + np.arange(len(on))
    vertices = np.vstack([mesh.vertices, mesh.vertices[corners[:, :2]].mean(axis=1)])
    faces = np.vstack([mesh.faces, corners[:, [0, 1, 1]], np.stack([corners[:, 0], middle, corners[:, 1]], axis=1)])
    return trimesh.Trimesh(vertices, faces, process=False), np.concatenate([np.arange(len(mesh.faces)), on, on])


def two_sided(mesh: trimesh.Trimesh, faces: np.ndarray | None = None) -> tuple[trimesh.Trimesh, np.ndarray]:
    """``mesh`` with every face (of ``faces``, (n,) int, when given) written
    again, reversed, on vertices of its own, after the faces: the mesh and
    (F',) the face of ``mesh`` each is."""
    n = len(mesh.vertices)
    again = np.arange(len(mesh.faces)) if faces is None else faces
    both = trimesh.Trimesh(np.vstack([mesh.vertices] * 2), np.vstack([mesh.faces, mesh.faces[again][:, ::-1] + n]),
                           process=False)
    return both, np.concatenate([np.arange(len(mesh.faces)), again])


def hollowed(mesh: trimesh.Trimesh, wall: float) -> tuple[trimesh.Trimesh, np.ndarray]:
    """``mesh`` hollowed as for printing: an inner shell ``wall`` of the size
    inside (each vertex moved back along its normal, the faces round it
    weighed by area), wound inward, on vertices of its own, after the faces;
    and (F',) the face of ``mesh`` each face lies on or under."""
    tri = mesh.vertices[mesh.faces]
    span = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    normal = np.zeros_like(mesh.vertices)
    for corner in range(3):  # trimesh leaves a vertex of a face without area none
        np.add.at(normal, mesh.faces[:, corner], span)
    normal /= np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-300)
    inner = mesh.vertices - normal * wall * float(np.ptp(mesh.vertices, axis=0).max())
    shell = trimesh.Trimesh(np.vstack([mesh.vertices, inner]),
                            np.vstack([mesh.faces, mesh.faces[:, ::-1] + len(mesh.vertices)]), process=False)
    return shell, np.tile(np.arange(len(mesh.faces)), 2)


def index_chunks(faces: np.ndarray, limit: int = 65_535) -> list[np.ndarray]:
    """The chunks an exporter writing 16-bit indices splits ``faces`` ((F, 3)
    int) into, as Blender's older glTF exporter did: faces in order, a new
    chunk before a face whose new vertices would take it past ``limit``
    vertices; (n,) int face indices each."""
    starts, seen = [0], set()
    for i, face in enumerate(faces.tolist()):
        if len(seen) + len(set(face) - seen) > limit:
            starts.append(i)
            seen = set()
        seen.update(face)
    return np.split(np.arange(len(faces)), starts[1:])


def two_boxes(gap: float = 0.6) -> trimesh.Trimesh:
    """Two unit-ish boxes side by side with a gap, one mesh, two pieces."""
    a = trimesh.creation.box(extents=[0.5, 0.5, 0.5])
    b = trimesh.creation.box(extents=[0.5, 0.5, 0.5])
    b.apply_translation([0.5 + gap, 0, 0])
    mesh = trimesh.util.concatenate([a, b])
    return trimesh.Trimesh(*trimesh.remesh.subdivide_to_size(mesh.vertices, mesh.faces, max_edge=0.08))


def chair(arms: bool = False) -> tuple[trimesh.Trimesh, np.ndarray]:
    """A low-poly chair as modellers block one out, z up: a seat box, a back
    box standing on the seat's rear edge (the two share that edge's
    position, not its vertices), four cylinder legs and, with ``arms``, two
    armrest boxes. Returns the mesh and (F,) int labels, one per piece."""
    def box(extents, xyz):
        return trimesh.creation.box(extents).apply_translation(xyz)

    corners = [(x, y) for x in (-0.42, 0.42) for y in (-0.42, 0.42)]
    pieces = [box((1, 1, 0.1), (0, 0, 0.5)), box((1, 0.1, 0.8), (0, 0.45, 0.95))]
    pieces += [trimesh.creation.cylinder(0.04, 0.5, sections=12).apply_translation((x, y, 0.25)) for x, y in corners]
    pieces += [box((0.08, 0.9, 0.08), (x, 0, 0.8)) for x in (-0.48, 0.48)] if arms else []
    return trimesh.util.concatenate(pieces), np.repeat(np.arange(len(pieces)), [len(p.faces) for p in pieces])


def mug() -> tuple[trimesh.Trimesh, np.ndarray]:
    """A mug as modellers build one: a closed cylinder and a ring handle
    sunk into its side, two pieces in one mesh that overlap without sharing
    an edge. Returns the mesh and (F,) int labels: 0 body, 1 handle."""
    body = trimesh.creation.cylinder(radius=0.4, height=0.9, sections=48)
    handle = trimesh.creation.torus(0.25, 0.05, major_sections=32, minor_sections=12)
    handle.apply_transform(trimesh.transformations.rotation_matrix(np.pi / 2, [1, 0, 0]))
    handle.apply_translation([0.42, 0, 0])
    mesh = trimesh.util.concatenate([body, handle])
    return mesh, np.repeat([0, 1], [len(body.faces), len(handle.faces)])


def textured_scene() -> trimesh.Scene:
    """Three nodes: two textured boxes (each its own image) and a
    vertex-colored sphere, placed apart."""
    rng = np.random.default_rng(0)
    scene = trimesh.Scene()
    for i, color in enumerate([(255, 0, 0), (0, 0, 255)]):
        box = trimesh.creation.box(extents=[0.4, 0.4, 0.4])
        box.apply_translation([i * 0.8, 0, 0])
        image = np.zeros((16, 16, 3), np.uint8)
        image[:] = color
        image[:8, :8] = 255 - np.array(color)
        uv = rng.random((len(box.vertices), 2))
        material = trimesh.visual.material.PBRMaterial(
            baseColorTexture=Image.fromarray(image), baseColorFactor=[255, 255, 255, 255])
        box.visual = trimesh.visual.TextureVisuals(uv=uv, material=material)
        scene.add_geometry(box, node_name=f"box_{i}", geom_name=f"box_{i}")
    sphere = trimesh.creation.icosphere(subdivisions=2, radius=0.2)
    sphere.apply_translation([0.4, 0.6, 0])
    sphere.visual.vertex_colors = np.tile([0, 200, 0, 255], (len(sphere.vertices), 1))
    scene.add_geometry(sphere, node_name="ball", geom_name="ball")
    return scene


def card_before_a_box() -> trimesh.Scene:
    """A leaf card (a square at z 0.8, its texture's left half alpha 0 under
    alphaMode MASK: cut out) in front of a box that hides nothing else of it."""
    pixels = np.zeros((8, 8, 4), np.uint8)
    pixels[..., 1] = 200
    pixels[:, 4:, 3] = 255
    card = trimesh.Trimesh([[-1, -1, 0.8], [1, -1, 0.8], [1, 1, 0.8], [-1, 1, 0.8]], [[0, 1, 2], [0, 2, 3]],
                           process=False)
    card.visual = trimesh.visual.TextureVisuals(
        uv=[[0, 0], [1, 0], [1, 1], [0, 1]],
        material=trimesh.visual.material.PBRMaterial(baseColorTexture=Image.fromarray(pixels, "RGBA"),
                                                     alphaMode="MASK"))
    box = trimesh.creation.box(extents=[4.0, 4.0, 1.0])
    box.apply_translation([0, 0, -0.6])
    return trimesh.Scene([card, box])
