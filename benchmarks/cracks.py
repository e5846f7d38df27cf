"""Surfaces written patch by patch: every PSB mesh of a set cut into 30
patches around random faces, each patch with vertices of its own, either
moved a ten-thousandth of the size off its neighbours' (a hairline crack,
``tests.meshes.cracked``) or, every other patch, cut finer (each face in four,
so the seams run through T-junctions, as tessellators of CAD faces leave
them); or decimated to a quarter of its faces by quadric error (coarse:
large faces where the surface is flat, small where it bends, as a
simplified or CAD-tessellated model is; fast-simplification, through
trimesh); or written as scene nodes welded to each other by position: three
by face ranges, as exporters split a mesh at a vertex limit (chunks), or
one per part of the first people's segmentation, as an artist separates
parts (parts); or with faces that add no surface, as exporters leave
them: on one edge in twenty, two faces of no area, one with two corners on
one vertex, one across the edge's middle, its corners in a line (slivers), or
every face written again, reversed, on vertices of its own (a double-sided
export: two-sided), or only the faces of the first people's part of middle
area so (a part exported double-sided: two-sided-part); or as a triangle
soup whose every corner is moved by up to 1e-7 of the size, as float32
rounding leaves copies of a vertex computed apart (rounded); or hollowed
as for printing, an inner shell WALL of the size inside (hollow); or with
the coarse copy beside it as a node of its own, named as a game asset's
coarser level of detail (``model_LOD0``, ``model_LOD1``: lod); or with
every face cut in four until past DENSE vertices (dense), and that written
as an exporter of 16-bit indices writes it, in chunks of at most 65,535
vertices (split16; a dense mesh's scores are its own, not whole's). People's
parts are the same faces (a coarse face, a sliver, a back take the part of
the whole mesh's face nearest its centre; an inner shell's face, of the
face it lies under).

    python -m benchmarks.cracks --root ../shared/psb-dev [--forms whole,slivers]

Per mesh and form (whole, cracked, cut finer, coarse, chunks, parts,
slivers, two-sided, two-sided-part, rounded, hollow, lod, dense, split16;
``--forms`` runs some of them and keeps the others' figures in the results
file; by default all but dense and split16, meshes of up to half a million
faces, slow to run): the first
parts (the part tree before the field is fitted, as the app shows it
first) and the classical peer (``tests/peer.py``) at the people's count,
part mIoU averaged over people's segmentations. Writes
benchmarks/results/cracks-<set>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import trimesh

from tests.meshes import hollowed, index_chunks, own_vertices, rounded_apart, slivers, two_sided

HERE = os.path.dirname(os.path.abspath(__file__))
PATCHES = 30
COARSE = 0.25  # share of the faces a coarse mesh keeps
FORMS = ("whole", "cracked", "finer", "coarse", "chunks", "parts", "slivers", "two-sided", "two-sided-part", "rounded",
         "hollow", "lod", "dense", "split16")
WALL = 0.003  # a hollow mesh's wall, of its size
DENSE = 70_000  # vertices a dense mesh passes: past one 16-bit chunk


def cut_finer(mesh: trimesh.Trimesh, n_patches: int = PATCHES, seed: int = 0) -> tuple[trimesh.Trimesh, np.ndarray]:
    """``mesh`` in patches with vertices of their own, every other patch's
    faces cut in four: the mesh and (F',) the face of ``mesh`` each face lies in."""
    rng = np.random.default_rng(seed)
    centres = mesh.triangles_center
    seeds = centres[rng.choice(len(centres), n_patches, replace=False)]
    patch = np.argmin(np.linalg.norm(centres[:, None] - seeds, axis=2), axis=1)
    vertices, faces, source, offset = [], [], [], 0
    for p in range(n_patches):
        own = np.flatnonzero(patch == p)
        v, f = own_vertices(mesh, own)
        if p % 2:  # trimesh writes a face's four quarters one after another
            (v, f), own = trimesh.remesh.subdivide(v, f), np.repeat(own, 4)
        vertices.append(v)
        faces.append(f + offset)
        source.append(own)
        offset += len(v)
    return trimesh.Trimesh(np.vstack(vertices), np.vstack(faces), process=False), np.concatenate(source)


def coarse(mesh: trimesh.Trimesh, keep: float = COARSE) -> tuple[trimesh.Trimesh, np.ndarray]:
    """``mesh`` decimated by quadric error to ``keep`` of its faces, and (F',)
    the face of ``mesh`` nearest each face's centre."""
    from scipy.spatial import cKDTree

    fewer = mesh.simplify_quadric_decimation(percent=1.0 - keep)
    return fewer, cKDTree(mesh.triangles_center).query(fewer.triangles_center)[1]


def as_nodes(mesh: trimesh.Trimesh, groups: list) -> trimesh.Scene:
    """``mesh`` as one scene node per group of faces ((n,) int arrays, in
    order), each with the vertices it uses: welded to the others by position."""
    scene = trimesh.Scene()
    for i, own in enumerate(groups):
        scene.add_geometry(trimesh.Trimesh(*own_vertices(mesh, own), process=False), geom_name=f"node_{i}")
    return scene


def with_lod(mesh: trimesh.Trimesh) -> tuple[trimesh.Scene, np.ndarray]:
    """``mesh`` and its coarse copy as the nodes ``model_LOD0`` and
    ``model_LOD1``, and (F',) the face of ``mesh`` each face is or lies nearest."""
    fewer, source = coarse(mesh)
    scene = trimesh.Scene()
    for name, copy in (("model_LOD0", mesh), ("model_LOD1", fewer)):
        scene.add_geometry(copy, node_name=name, geom_name=name)
    return scene, np.concatenate([np.arange(len(mesh.faces)), source])


def dense(mesh: trimesh.Trimesh) -> tuple[trimesh.Trimesh, np.ndarray]:
    """``mesh`` with every face cut in four until it has more than DENSE
    vertices, and (F',) the face of ``mesh`` each face lies in."""
    vertices, faces, source = mesh.vertices, mesh.faces, np.arange(len(mesh.faces))
    while len(vertices) <= DENSE:  # trimesh writes a face's four quarters one after another
        (vertices, faces), source = trimesh.remesh.subdivide(vertices, faces), np.repeat(source, 4)
    return trimesh.Trimesh(vertices, faces, process=False), source


def split16(mesh: trimesh.Trimesh, source: np.ndarray) -> tuple[trimesh.Scene, np.ndarray]:
    """``mesh`` as an exporter of 16-bit indices writes it (``tests.meshes.index_chunks``), and ``source``."""
    return as_nodes(mesh, index_chunks(mesh.faces)), source


def run(root: str, model: int, names: tuple = FORMS) -> dict:
    from scipy.spatial import cKDTree

    from benchmarks.pieces import trees
    from core import threads
    from core.metrics import human_counts, human_segmentations, part_miou
    from tests.meshes import cracked
    from tests.peer import segment as peer_segment

    threads.use(1)
    whole = trimesh.load(os.path.join(root, "off", f"{model}.off"), process=False)
    humans, count = human_segmentations(root, model), human_counts(root)[model - 1]
    every = np.arange(len(whole.faces))
    first = np.unique(humans[0], return_inverse=True)[1].ravel()  # the first people's parts, as nodes
    by_part = np.argsort(first, kind="stable")
    share = np.bincount(first, whole.area_faces)
    middle = np.argsort(share)[len(share) // 2]  # the first people's part of the middle area
    forms = {"whole": lambda: (whole, every), "cracked": lambda: (cracked(whole, PATCHES), every),
             "finer": lambda: cut_finer(whole), "coarse": lambda: coarse(whole),
             "chunks": lambda: (as_nodes(whole, np.array_split(every, 3)), every),
             "parts": lambda: (as_nodes(whole, np.split(by_part, np.cumsum(np.bincount(first))[:-1])), by_part),
             "slivers": lambda: slivers(whole), "two-sided": lambda: two_sided(whole),
             "two-sided-part": lambda: two_sided(whole, np.flatnonzero(first == middle)),
             "rounded": lambda: (rounded_apart(whole), every), "hollow": lambda: hollowed(whole, WALL),
             "lod": lambda: with_lod(whole), "dense": lambda: dense(whole),
             "split16": lambda: split16(*dense(whole))}
    row = {"model": model, "parts": count}
    for form in names:
        mesh, source = forms[form]()
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "model.glb")
            mesh.export(path)
            asset, tree, _ = trees(path)
        # the loaded faces, back in the file's coordinates, find the face of the whole mesh they lie in
        centres = trimesh.transform_points(asset.mesh.triangles_center, asset.to_original)
        written = mesh.to_mesh() if isinstance(mesh, trimesh.Scene) else mesh  # the faces in the file's order
        face = source[cKDTree(written.triangles_center).query(centres)[1]]
        for name, labels in (("partscope", tree.cut(count)), ("peer", peer_segment(asset.mesh, [count], 0)[0])):
            row[f"{form} {name}"] = float(np.mean([part_miou(labels, human[face]) for human in humans]))
    print(" ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()), flush=True)
    return row


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", required=True, help="a PSB set: off/ and seg/")
    parser.add_argument("--forms", default=",".join(f for f in FORMS if f not in ("dense", "split16")),
                        help=f"comma-separated, of {', '.join(FORMS)}")
    args = parser.parse_args(argv)
    names = tuple(args.forms.split(","))
    if set(names) - set(FORMS):
        parser.error(f"unknown forms: {', '.join(sorted(set(names) - set(FORMS)))}")
    models = sorted(int(name[:-4]) for name in os.listdir(os.path.join(args.root, "off")) if name.endswith(".off"))
    with ProcessPoolExecutor(2) as pool:
        rows = list(pool.map(run, [args.root] * len(models), models, [names] * len(models)))
    path = os.path.join(HERE, "results", f"cracks-{os.path.basename(os.path.normpath(args.root))}.json")
    if os.path.exists(path):  # the other forms' figures stay
        with open(path) as f:
            kept = {r["model"]: r for r in json.load(f)["models"]}
        rows = [{**kept.get(r["model"], {}), **r} for r in rows]
    mean = {key: float(np.mean([r[key] for r in rows])) for key in rows[0] if key not in ("model", "parts")}
    for form in FORMS:
        if f"{form} partscope" in mean:
            print(f"{form:14s} PartScope {mean[form + ' partscope']:.3f}  peer {mean[form + ' peer']:.3f}")
    with open(path, "w") as f:
        json.dump({"models": rows, "mean": mean}, f, indent=1)


if __name__ == "__main__":
    main()
