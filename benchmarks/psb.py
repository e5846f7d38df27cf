"""Quality and speed on the Princeton Segmentation Benchmark.

    python -m benchmarks.psb --root ../shared/psb-dev [--ids 1,21] [--masks default] [--perturb] [--refine N]

Runs the command line (``python -m core segment``, no fit cache) on every
mesh, then scores, per mesh and overall, the Rand Index error and the
class-agnostic part mIoU at the scale whose part count is closest to the
human count (nSeg-ByModel.txt), the best-scale mIoU, the time per stage and
the peak memory. Writes benchmarks/results/psb-<masks>.json and .md.

``--perturb`` runs every mesh as another exporter might have written it, a
stand-in for meshes the method was never tuned on: turned by a random
rotation, faces shuffled, half of them wound the other way round, and no
vertex shared (a triangle soup, as STL writes it); the human labels follow
the shuffle. Writes psb-<masks>-perturbed.*.

``--refine N`` cuts every face into four, N times over (the shape does not
change, only how finely it is tessellated), a stand-in for the same objects
written by a denser exporter or a scanner; each human label follows its
face. Writes psb-<masks>-refinedN.*.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

from .metrics import part_miou, rand_index_error

HERE = os.path.dirname(os.path.abspath(__file__))


def human_segmentations(root: str, model: int) -> list[np.ndarray]:
    files = sorted(glob.glob(os.path.join(root, "seg", str(model), f"{model}_*.seg")))
    return [np.loadtxt(f, dtype=np.int64) for f in files]


def human_counts(root: str) -> list[int]:
    with open(os.path.join(root, "nSeg-ByModel.txt")) as f:
        return [int(x) for x in f.read().split()]


def score(labels: np.ndarray, scales: np.ndarray, humans: list[np.ndarray], target: int) -> dict:
    """Metrics of a ladder of segmentations against every human one.

    labels : (S, F) int face labels per scale; target : the human part count
    """
    counts = np.array([len(np.unique(l)) for l in labels])
    pick = int(np.argmin(np.abs(counts - target)))
    miou = [float(np.mean([part_miou(l, h) for h in humans])) for l in labels]
    return {
        "human_count": target, "scale": float(scales[pick]), "parts": int(counts[pick]),
        "rand_index_error": float(np.mean([rand_index_error(labels[pick], h) for h in humans])),
        "miou": miou[pick], "best_scale_miou": max(miou), "best_scale": float(scales[int(np.argmax(miou))]),
        "counts": counts.tolist(),
    }


def perturbed(path: str, out: str, seed: int) -> np.ndarray:
    """Write ``path`` rotated, shuffled, half reverse-wound and unshared to
    ``out``; returns (F,) int64, the original face of each written face."""
    import trimesh
    from scipy.spatial.transform import Rotation

    mesh = trimesh.load(path, force="mesh", process=False)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(mesh.faces))
    faces = mesh.faces[order]
    flip = rng.random(len(faces)) < 0.5
    faces[flip] = faces[flip, ::-1]
    corners = (mesh.vertices @ Rotation.random(random_state=seed).as_matrix().T)[faces.ravel()]
    trimesh.Trimesh(corners, np.arange(len(corners)).reshape(-1, 3), process=False).export(out)
    return order


def refined(path: str, out: str, times: int) -> np.ndarray:
    """Write ``path`` with every face cut in four, ``times`` times over, to
    ``out``; returns (F',) int64, the original face of each written face."""
    import trimesh

    mesh = trimesh.load(path, force="mesh", process=False)
    vertices, faces = mesh.vertices, mesh.faces
    for _ in range(times):
        # face i becomes faces 4i .. 4i + 3
        vertices, faces = trimesh.remesh.subdivide(vertices, faces)
    trimesh.Trimesh(vertices, faces, process=False).export(out)
    return np.repeat(np.arange(len(mesh.faces)), 4 ** times)


def run_mesh(path: str, out: str, masks: str, seed: int = 0) -> tuple[dict, float]:
    cmd = [sys.executable, "-m", "core", "segment", path, "--out", out, "--masks", masks, "--seed", str(seed),
           "--no-cache"]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=os.path.dirname(HERE))
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{os.path.basename(path)} failed: {proc.stderr.strip()[-500:]}")
    with open(os.path.join(out, "run.json")) as f:
        return json.load(f), wall


def markdown(report: dict) -> str:
    kind = " rotated, shuffled, rewound and unshared" if report.get("perturbed") else ""
    if report.get("refine"):
        kind += f", every face cut in {4 ** report['refine']}"
    lines = [f"# PSB ({report['masks']} masks): {len(report['meshes'])} meshes{kind}", "",
             f"Measured {report['date']} on {report['machine']}, seed {report.get('seed', 0)}.", "",
             "| mesh | faces | human parts | parts | scale | RI error | mIoU | best-scale mIoU | wall s | s per scale "
             "| peak MB |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for m in report["meshes"]:
        lines.append(f"| {m['model']} | {m['faces']} | {m['human_count']} | {m['parts']} | {m['scale']:.1f} | "
                     f"{m['rand_index_error']:.3f} | {m['miou']:.3f} | {m['best_scale_miou']:.3f} | "
                     f"{m['wall_seconds']:.1f} | {m['seconds_per_scale']:.2f} | {m['peak_mb']:.0f} |")
    s = report["summary"]
    lines += ["", f"**Overall**: RI error {s['rand_index_error']:.3f}, mIoU {s['miou']:.3f}, "
              f"best-scale mIoU {s['best_scale_miou']:.3f}; median wall {s['median_wall_seconds']:.1f} s, "
              f"max peak memory {s['max_peak_mb']:.0f} MB; parts at one scale after the fit: median "
              f"{s['median_seconds_per_scale']:.2f} s, at most {s['max_seconds_per_scale']:.2f} s.", "",
              "Median seconds per stage: " + ", ".join(f"{k} {v:.2f}" for k, v in s["median_stage_seconds"].items()),
              ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", required=True, help="PSB folder with off/, seg/ and nSeg-ByModel.txt")
    p.add_argument("--ids", help="comma-separated model ids (default: every mesh in off/)")
    p.add_argument("--masks", default="default", choices=("default", "sam"))
    p.add_argument("--seed", type=int, default=0, help="seed of every run; another seed shows the spread")
    p.add_argument("--perturb", action="store_true",
                   help="rotate, shuffle, rewind and unshare every mesh first (see above)")
    p.add_argument("--refine", type=int, default=0, help="cut every face in four, this many times over, first")
    p.add_argument("--results", default=os.path.join(HERE, "results"))
    args = p.parse_args(argv)

    counts = human_counts(args.root)
    ids = ([int(x) for x in args.ids.split(",")] if args.ids else
           sorted(int(os.path.basename(f)[:-4]) for f in glob.glob(os.path.join(args.root, "off", "*.off"))))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for model in ids:
            out = os.path.join(tmp, str(model))
            path = os.path.join(args.root, "off", f"{model}.off")
            humans = human_segmentations(args.root, model)
            if args.perturb:
                order = perturbed(path, os.path.join(tmp, f"{model}.off"), model * 1000 + args.seed)
                path, humans = os.path.join(tmp, f"{model}.off"), [h[order] for h in humans]
            if args.refine:
                order = refined(path, os.path.join(tmp, f"{model}-fine.off"), args.refine)
                path, humans = os.path.join(tmp, f"{model}-fine.off"), [h[order] for h in humans]
            run, wall = run_mesh(path, out, args.masks, args.seed)
            data = np.load(os.path.join(out, "labels.npz"))
            row = {"model": model, "faces": run["faces"], "device": run["device"], "wall_seconds": wall,
                   "stage_seconds": run["seconds"], "peak_mb": run["peak_rss_mb"]}
            # each scale of the ladder is clustered on its own: the stage over the count
            row["seconds_per_scale"] = run["seconds"]["clustering"] / len(data["scales"])
            row.update(score(data["face_labels"], data["scales"], humans, counts[model - 1]))
            rows.append(row)
            print(f"{model:4d} faces {row['faces']:6d} human {row['human_count']:2d} -> {row['parts']:2d} parts "
                  f"@{row['scale']:.1f}  RI {row['rand_index_error']:.3f}  mIoU {row['miou']:.3f}  "
                  f"best {row['best_scale_miou']:.3f}  {wall:5.1f} s  {row['seconds_per_scale']:.2f} s/scale  "
                  f"{row['peak_mb']:.0f} MB", flush=True)
    stages = sorted({k for r in rows for k in r["stage_seconds"]})
    summary = {
        "rand_index_error": float(np.mean([r["rand_index_error"] for r in rows])),
        "miou": float(np.mean([r["miou"] for r in rows])),
        "best_scale_miou": float(np.mean([r["best_scale_miou"] for r in rows])),
        "median_wall_seconds": float(np.median([r["wall_seconds"] for r in rows])),
        "max_peak_mb": float(max(r["peak_mb"] for r in rows)),
        "median_seconds_per_scale": float(np.median([r["seconds_per_scale"] for r in rows])),
        "max_seconds_per_scale": float(max(r["seconds_per_scale"] for r in rows)),
        "median_stage_seconds": {k: float(np.median([r["stage_seconds"].get(k, 0.0) for r in rows])) for k in stages},
    }
    report = {"masks": args.masks, "seed": args.seed, "perturbed": args.perturb, "refine": args.refine,
              "date": time.strftime("%Y-%m-%d"),
              "machine": ", ".join([f"{os.cpu_count()} CPU cores"] + sorted({r["device"] for r in rows} - {"cpu"})),
              "meshes": rows, "summary": summary}
    os.makedirs(args.results, exist_ok=True)
    stem = os.path.join(args.results, f"psb-{args.masks}" + ("-perturbed" if args.perturb else "")
                        + (f"-refined{args.refine}" if args.refine else "")
                        + (f"-seed{args.seed}" if args.seed else ""))
    with open(stem + ".json", "w") as f:
        json.dump(report, f, indent=1)
    with open(stem + ".md", "w") as f:
        f.write(markdown(report))
    print(f"overall: RI error {summary['rand_index_error']:.3f}  mIoU {summary['miou']:.3f}  "
          f"best-scale mIoU {summary['best_scale_miou']:.3f}  median {summary['median_wall_seconds']:.1f} s  "
          f"peak {summary['max_peak_mb']:.0f} MB -> {stem}.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
