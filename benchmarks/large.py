"""A million-face scene end to end: builds a GLB of about 1,000,000 faces in
about 120 nodes, each a machine part (a body, a drum, forty separate bolts),
plus two nodes of thousands of separate leaves, then runs the command line
(``python -m core segment ... --no-cache``) on it and prints the seconds of
every stage and the peak memory.

    python benchmarks/large.py                  # -> benchmarks/results/large.json
    python benchmarks/large.py --nodes 30       # a quarter of it, for a quick look (-> large-30.json)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import trimesh

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: Machine-part nodes of the full-size scene, whose figures are large.json.
NODES = 120


def machine_part(rng: np.random.Generator) -> trimesh.Trimesh:
    """A box body cut fine, a drum on top and forty separate bolts: about 8,200 faces, 42 pieces."""
    body = trimesh.creation.box(extents=rng.uniform([0.4, 0.2, 0.3], [0.6, 0.35, 0.5]))
    body = trimesh.Trimesh(*trimesh.remesh.subdivide_to_size(body.vertices, body.faces, max_edge=0.05))
    drum = trimesh.creation.cylinder(radius=0.1, height=0.2, sections=48)
    drum = trimesh.Trimesh(*trimesh.remesh.subdivide_to_size(drum.vertices, drum.faces, max_edge=0.05))
    drum.apply_translation([0, body.extents[1] / 2 + 0.1, 0])
    bolt = trimesh.creation.icosphere(subdivisions=1, radius=0.012)
    top = body.extents[1] / 2 + 0.012
    spots = rng.uniform(-1, 1, (40, 2)) * (body.extents[[0, 2]] / 2 - 0.02)
    bolts = [bolt.copy().apply_translation([x, top, z]) for x, z in spots]
    return trimesh.util.concatenate([body, drum] + bolts)


def leaves(rng: np.random.Generator, n: int = 3000) -> trimesh.Trimesh:
    """``n`` separate small quads (two faces each) scattered in a crown."""
    centers = rng.normal(0, 0.25, (n, 3))
    corners = np.array([[-1, -1, 0], [1, -1, 0], [1, 1, 0], [-1, 1, 0]], float) * 0.01
    rot = trimesh.transformations.random_rotation_matrix
    vertices = np.concatenate([c + corners @ rot(rng.random(3))[:3, :3].T for c in centers])
    faces = (np.array([[0, 1, 2], [0, 2, 3]])[None] + 4 * np.arange(n)[:, None, None]).reshape(-1, 3)
    return trimesh.Trimesh(vertices, faces, process=False)


def build_scene(n_nodes: int = NODES, seed: int = 0) -> trimesh.Scene:
    """``n_nodes`` machine parts on a grid and two crowns of leaves."""
    rng = np.random.default_rng(seed)
    scene = trimesh.Scene()
    side = int(np.ceil(np.sqrt(n_nodes)))
    for i in range(n_nodes):
        part = machine_part(rng)
        part.apply_translation([0.8 * (i % side), 0, 0.8 * (i // side)])
        scene.add_geometry(part, geom_name=f"part_{i:03d}")
    for j in range(2):
        crown = leaves(rng)
        crown.apply_translation([0.8 * side * j, 1.0, -1.0])
        scene.add_geometry(crown, geom_name=f"leaves_{j}")
    return scene


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=NODES, help="machine-part nodes (about 8,200 faces each)")
    parser.add_argument("--out", help="default benchmarks/results/large.json, large-NODES.json at another size")
    args = parser.parse_args()
    args.out = args.out or os.path.join(ROOT, "benchmarks", "results",
                                        "large.json" if args.nodes == NODES else f"large-{args.nodes}.json")
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        scene = build_scene(args.nodes)
        path = os.path.join(tmp, "large.glb")
        scene.export(path)
        n_faces = sum(len(g.faces) for g in scene.dump())
        print(f"built {n_faces:,} faces in {len(scene.geometry)} nodes in {time.perf_counter() - t:.1f} s "
              f"({os.path.getsize(path) / 2**20:.0f} MB)", flush=True)
        out = os.path.join(tmp, "out")
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "core", "segment", path, "--out", out, "--no-cache"],
                       cwd=ROOT, check=True)
        wall = time.perf_counter() - t
        with open(os.path.join(out, "run.json")) as f:
            run = json.load(f)
    result = {"faces": n_faces, "nodes": len(scene.geometry), "wall_s": round(wall, 1),
              "peak_rss_mb": round(run["peak_rss_mb"]), "seconds": run["seconds"],
              "parts_per_scale": run["parts"]}
    for stage, seconds in run["seconds"].items():
        print(f"{stage:12s} {seconds:8.1f} s")
    print(f"whole command {wall:.1f} s, peak {run['peak_rss_mb']:.0f} MB")
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
