"""Quality and speed on the Princeton Segmentation Benchmark, beside the
classical peer (``tests/peer.py``, shared with the tests).

    python -m benchmarks.psb --root ../shared/psb-dev [--seeds 0,1,2] [--ids 1,21] [--masks default] [--perturb] [--refine N]

Runs the command line (``python -m core segment``, no fit cache) on every
mesh, then the peer on the same file with the same seed, and scores both
against every human segmentation: the Rand Index error and the
class-agnostic part mIoU count-matched (PartScope: the ladder scale whose
part count is closest to the human count of nSeg-ByModel.txt; the peer: k =
that count), the best-scale mIoU (PartScope: the best of its ladder; the
peer: the best k from 2 to 20), PartScope's mIoU at the scale the app opens
at (``core.scales.DEFAULT``), whether the ladder reaches the human count
within one part, per mesh, per category and overall, with PartScope's time
per stage and peak memory. Writes, for the set in ``--root`` (psb-dev ->
``dev``), benchmarks/results/psb-<set>-<masks>-seed<N>.json and .md per
seed, and psb-<set>-<masks>.md with every seed side by side.

``--perturb`` runs every mesh as another exporter might have written it, a
stand-in for meshes the method was never tuned on: turned by a random
rotation, faces shuffled, half of them wound the other way round, and no
vertex shared (a triangle soup, as STL writes it); the human labels follow
the shuffle. Adds -perturbed to the names.

``--refine N`` cuts every face into four, N times over (the shape does not
change, only how finely it is tessellated), a stand-in for the same objects
written by a denser exporter or a scanner; each human label follows its
face. Adds -refinedN to the names.
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

from core.scales import DEFAULT
from core.metrics import category, human_counts, human_segmentations, part_miou, rand_index_error

HERE = os.path.dirname(os.path.abspath(__file__))


PEER_COUNTS = tuple(range(2, 21))


def score(labels: np.ndarray, scales: np.ndarray, humans: list[np.ndarray], target: int) -> dict:
    """Metrics of a ladder of segmentations against every human one.

    labels : (S, F) int face labels per scale; target : the human part count
    """
    counts = np.array([len(np.unique(l)) for l in labels])
    pick = int(np.argmin(np.abs(counts - target)))
    miou = [float(np.mean([part_miou(l, h) for h in humans])) for l in labels]
    opening = int(np.argmin(np.abs(np.asarray(scales, np.float64) - DEFAULT)))
    return {
        "human_count": target, "scale": float(scales[pick]), "parts": int(counts[pick]),
        "reached": bool(abs(int(counts[pick]) - target) <= 1),
        "rand_index_error": float(np.mean([rand_index_error(labels[pick], h) for h in humans])),
        "miou": miou[pick], "best_scale_miou": max(miou), "best_scale": float(scales[int(np.argmax(miou))]),
        "opening_scale_miou": miou[opening], "counts": counts.tolist(),
    }


def score_peer(labels: np.ndarray, humans: list[np.ndarray], target: int) -> dict:
    """The peer's metrics: count-matched at k = ``target`` (within 2..20),
    best over every k. labels : (len(PEER_COUNTS), F) int, one row per k."""
    at = PEER_COUNTS.index(min(max(target, PEER_COUNTS[0]), PEER_COUNTS[-1]))
    miou = [float(np.mean([part_miou(l, h) for h in humans])) for l in labels]
    return {"parts": int(labels[at].max()) + 1, "miou": miou[at], "best_scale_miou": max(miou),
            "best_k": PEER_COUNTS[int(np.argmax(miou))],
            "rand_index_error": float(np.mean([rand_index_error(labels[at], h) for h in humans]))}


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


def summarize(rows: list[dict]) -> dict:
    """Means over meshes of PartScope's and the peer's figures, overall and per category."""
    def means(rs):
        out = {who: {k: float(np.mean([r[who][k] for r in rs]))
                     for k in ("rand_index_error", "miou", "best_scale_miou")} for who in ("partscope", "peer")}
        for key in ("reached", "opening_scale_miou"):
            out["partscope"][key] = float(np.mean([r["partscope"][key] for r in rs]))
        return out

    stages = sorted({k for r in rows for k in r["stage_seconds"]})
    summary = means(rows)
    summary["by_category"] = {c: means([r for r in rows if r["category"] == c])
                              for c in sorted({r["category"] for r in rows})}
    summary.update({
        "median_wall_seconds": float(np.median([r["wall_seconds"] for r in rows])),
        "max_peak_mb": float(max(r["peak_mb"] for r in rows)),
        "median_seconds_per_scale": float(np.median([r["seconds_per_scale"] for r in rows])),
        "max_seconds_per_scale": float(max(r["seconds_per_scale"] for r in rows)),
        "median_peer_seconds": float(np.median([r["peer_seconds"] for r in rows])),
        "median_stage_seconds": {k: float(np.median([r["stage_seconds"].get(k, 0.0) for r in rows])) for k in stages},
    })
    return summary


def _kind(report: dict) -> str:
    kind = " rotated, shuffled, rewound and unshared" if report.get("perturbed") else ""
    if report.get("refine"):
        kind += f", every face cut in {4 ** report['refine']}"
    return kind


def markdown(report: dict) -> str:
    """One seed's report: every mesh, then the means."""
    lines = [f"# PSB {report['set']} ({report['masks']} masks): {len(report['meshes'])} meshes{_kind(report)}, "
             f"seed {report['seed']}", "",
             f"Measured {report['date']} on {report['machine']}. Count-matched: PartScope at the ladder scale "
             "whose part count is nearest the human count, the peer at k = that count; best: the best of "
             "PartScope's ladder, the best k of the peer's 2..20.", "",
             "| mesh | category | faces | human parts | parts | RI error | mIoU | best mIoU | peer parts | peer RI "
             "error | peer mIoU | peer best | wall s | s per scale | peak MB |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for m in report["meshes"]:
        a, b = m["partscope"], m["peer"]
        lines.append(f"| {m['model']} | {m['category']} | {m['faces']} | {m['human_count']} | {a['parts']}"
                     f"{'' if a['reached'] else ' (not reached)'} | {a['rand_index_error']:.3f} | {a['miou']:.3f} | "
                     f"{a['best_scale_miou']:.3f} | {b['parts']} | {b['rand_index_error']:.3f} | {b['miou']:.3f} | "
                     f"{b['best_scale_miou']:.3f} | {m['wall_seconds']:.1f} | {m['seconds_per_scale']:.2f} | "
                     f"{m['peak_mb']:.0f} |")
    s = report["summary"]
    a, b = s["partscope"], s["peer"]
    lines += ["", f"**Overall**: PartScope RI error {a['rand_index_error']:.4f}, mIoU {a['miou']:.4f}, best "
              f"{a['best_scale_miou']:.4f}, human count reached on {a['reached']:.0%}, mIoU at the app's opening scale "
              f"({DEFAULT}) {a['opening_scale_miou']:.4f}; peer RI error "
              f"{b['rand_index_error']:.4f}, mIoU {b['miou']:.4f}, best {b['best_scale_miou']:.4f}. PartScope: median "
              f"wall {s['median_wall_seconds']:.1f} s, max peak memory {s['max_peak_mb']:.0f} MB; parts at one scale "
              f"after the fit: median {s['median_seconds_per_scale']:.3f} s, at most {s['max_seconds_per_scale']:.3f} s. "
              f"Peer: median {s['median_peer_seconds']:.1f} s a mesh (every k).", "",
              "Median seconds per stage: " + ", ".join(f"{k} {v:.2f}" for k, v in s["median_stage_seconds"].items()),
              ""]
    return "\n".join(lines)


def seeds_markdown(reports: list[dict]) -> str:
    """Every seed of one set side by side: overall, then per category."""
    first = reports[0]
    seeds = " / ".join(str(r["seed"]) for r in reports)

    def trio(who, key, fmt="{:.4f}"):
        values = [r["summary"][who][key] for r in reports]
        return " / ".join(fmt.format(v) for v in values) + f" (mean {fmt.format(np.mean(values))})"

    lines = [f"# PSB {first['set']} ({first['masks']} masks): {len(first['meshes'])} meshes{_kind(first)}, "
             f"seeds {seeds}", "", f"Measured {first['date']} on {first['machine']}; per seed in the -seedN files.",
             "", "| measure | PartScope | peer |", "|---|---|---|"]
    for key, name in (("rand_index_error", "RI error, count-matched"), ("miou", "part mIoU, count-matched"),
                      ("best_scale_miou", "part mIoU, best scale")):
        lines.append(f"| {name} | {trio('partscope', key)} | {trio('peer', key)} |")
    lines.append(f"| human count reached within one part | {trio('partscope', 'reached', '{:.0%}')} | k given |")
    lines.append(f"| part mIoU at the app's opening scale ({DEFAULT}) | {trio('partscope', 'opening_scale_miou')} | |")
    lines.append("| median wall s a mesh | " + " / ".join(f"{r['summary']['median_wall_seconds']:.1f}" for r in reports)
                 + " | " + " / ".join(f"{r['summary']['median_peer_seconds']:.1f}" for r in reports) + " (every k) |")
    lines += ["", "Per category, mean over the seeds (count-matched mIoU; RI error):", "",
              "| category | PartScope mIoU | peer mIoU | difference | PartScope RI | peer RI |", "|---|---|---|---|---|---|"]
    for c in first["summary"]["by_category"]:
        def mean(who, key):
            return float(np.mean([r["summary"]["by_category"][c][who][key] for r in reports]))
        a, b = mean("partscope", "miou"), mean("peer", "miou")
        lines.append(f"| {c} | {a:.3f} | {b:.3f} | {a - b:+.3f} | {mean('partscope', 'rand_index_error'):.3f} | "
                     f"{mean('peer', 'rand_index_error'):.3f} |")
    return "\n".join(lines) + "\n"


def run_seed(args, ids: list[int], seed: int) -> dict:
    """Every mesh through the command line and the peer with ``seed``: the report."""
    import trimesh

    from tests.peer import segment as peer_segment

    counts = human_counts(args.root)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for model in ids:
            out = os.path.join(tmp, str(model))
            path = os.path.join(args.root, "off", f"{model}.off")
            humans = human_segmentations(args.root, model)
            if args.perturb:
                order = perturbed(path, os.path.join(tmp, f"{model}.off"), model * 1000 + seed)
                path, humans = os.path.join(tmp, f"{model}.off"), [h[order] for h in humans]
            if args.refine:
                order = refined(path, os.path.join(tmp, f"{model}-fine.off"), args.refine)
                path, humans = os.path.join(tmp, f"{model}-fine.off"), [h[order] for h in humans]
            run, wall = run_mesh(path, out, args.masks, seed)
            data = np.load(os.path.join(out, "labels.npz"))
            target = counts[model - 1]
            start = time.perf_counter()
            peer = peer_segment(trimesh.load(path, force="mesh", process=False), PEER_COUNTS, seed)
            row = {"model": model, "category": category(model), "faces": run["faces"], "device": run["device"],
                   "human_count": target, "wall_seconds": wall, "stage_seconds": run["seconds"],
                   "peak_mb": run["peak_rss_mb"], "peer_seconds": time.perf_counter() - start,
                   "partscope": score(data["face_labels"], data["scales"], humans, target),
                   "peer": score_peer(peer, humans, target)}
            # the ladder is cut in one go after the fit: its time over the scales
            row["seconds_per_scale"] = run["seconds"]["clustering"] / len(data["scales"])
            rows.append(row)
            a, b = row["partscope"], row["peer"]
            print(f"{model:4d} faces {row['faces']:6d} human {target:2d} -> {a['parts']:2d} parts  RI "
                  f"{a['rand_index_error']:.3f}  mIoU {a['miou']:.3f}  best {a['best_scale_miou']:.3f} | peer RI "
                  f"{b['rand_index_error']:.3f}  mIoU {b['miou']:.3f}  best {b['best_scale_miou']:.3f} | "
                  f"{wall:5.1f} s  {row['peak_mb']:.0f} MB", flush=True)
    return {"set": set_name(args.root), "masks": args.masks, "seed": seed, "perturbed": args.perturb,
            "refine": args.refine, "date": time.strftime("%Y-%m-%d %H:%M"),
            "machine": ", ".join([f"{os.cpu_count()} CPU cores"] + sorted({r["device"] for r in rows} - {"cpu"})),
            "meshes": rows, "summary": summarize(rows)}


def set_name(root: str) -> str:
    """psb-dev -> dev: the name the results files carry."""
    name = os.path.basename(os.path.normpath(root))
    return name[4:] if name.startswith("psb-") else name


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", required=True, help="PSB folder with off/, seg/ and nSeg-ByModel.txt")
    p.add_argument("--ids", help="comma-separated model ids (default: every mesh in off/)")
    p.add_argument("--masks", default="default", choices=("default", "sam"))
    p.add_argument("--seeds", default="0", help="comma-separated seeds, each a run of every mesh (0,1,2 shows the spread)")
    p.add_argument("--perturb", action="store_true",
                   help="rotate, shuffle, rewind and unshare every mesh first (see above)")
    p.add_argument("--refine", type=int, default=0, help="cut every face in four, this many times over, first")
    p.add_argument("--results", default=os.path.join(HERE, "results"))
    args = p.parse_args(argv)

    ids = ([int(x) for x in args.ids.split(",")] if args.ids else
           sorted(int(os.path.basename(f)[:-4]) for f in glob.glob(os.path.join(args.root, "off", "*.off"))))
    stem = os.path.join(args.results, f"psb-{set_name(args.root)}-{args.masks}" + ("-perturbed" if args.perturb else "")
                        + (f"-refined{args.refine}" if args.refine else ""))
    os.makedirs(args.results, exist_ok=True)
    reports = []
    for seed in (int(x) for x in args.seeds.split(",")):
        report = run_seed(args, ids, seed)
        reports.append(report)
        with open(f"{stem}-seed{seed}.json", "w") as f:
            json.dump(report, f, indent=1)
        with open(f"{stem}-seed{seed}.md", "w") as f:
            f.write(markdown(report))
        a, b = report["summary"]["partscope"], report["summary"]["peer"]
        print(f"seed {seed}: PartScope RI error {a['rand_index_error']:.4f}  mIoU {a['miou']:.4f}  best "
              f"{a['best_scale_miou']:.4f}  reached {a['reached']:.0%} | peer {b['rand_index_error']:.4f}  "
              f"{b['miou']:.4f}  {b['best_scale_miou']:.4f} | median {report['summary']['median_wall_seconds']:.1f} s "
              f"-> {stem}-seed{seed}.md", flush=True)
    if len(reports) > 1:
        with open(stem + ".md", "w") as f:
            f.write(seeds_markdown(reports))
        print(f"seeds side by side -> {stem}.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
