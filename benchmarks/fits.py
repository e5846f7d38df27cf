"""Fit settings side by side on PSB, in-process, one worker process per core.

    python -m benchmarks.fits --roots ../shared/psb-dev,../shared/psb-check --seeds 0,1,2 \
        --variant now --variant "week:precision=float32,steps_per_mask=1000,points_per_mask=1000"

Every variant overrides ``FieldConfig`` fields (``name:field=value,...``;
``now`` is the defaults) and fits every mesh and seed on the CPU, one thread
a fit, then scores two ladders of each fit against every human
segmentation: the part tree (``PartField.ladder``) and the one the tree
replaced, HDBSCAN at every scale of the field, each scale nested in the one
below (``per_scale_ladder``), which is what the fit changes were measured
with. Writes benchmarks/results/fits.json and .md (or ``--out``). Stops
starting meshes after ``--budget`` seconds and reports what finished.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import replace

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def parse_variant(text: str) -> tuple[str, dict]:
    """'week:precision=float32,steps_per_mask=1000' -> ('week', {...}), values typed as the defaults'."""
    from core.config import FieldConfig

    name, _, body = text.partition(":")
    over = {}
    for item in filter(None, body.split(",")):
        key, value = item.split("=")
        over[key] = type(getattr(FieldConfig(), key))(value)
    return name, over


def per_scale_ladder(field, scales) -> np.ndarray:
    """(S, F) labels as cut before the part tree: the field's own cut at each
    scale, every part of the scale below joining the cut's part that holds
    most of its area."""
    from core.clustering import relabel_by_size

    area = field.asset.mesh.area_faces
    out = [field.cut(scales[0])]
    for s in scales[1:]:
        cut = field.cut(s)
        overlap = np.zeros((out[-1].max() + 1, cut.max() + 1))
        np.add.at(overlap, (out[-1], cut), area)
        out.append(relabel_by_size(overlap.argmax(axis=1)[out[-1]]))
    return np.stack(out)


def run_one(root: str, model: int, seed: int, variants: list) -> list[dict]:
    """Every variant's fit of one mesh and seed, both ladders scored."""
    from core import threads

    threads.use(1)
    from core.config import SegmentConfig
    from core.scales import default_scales
    from core.loading import load_asset
    from core.pipeline import Engine
    from core.settings import load_settings

    from core.metrics import human_counts, human_segmentations

    from .psb import score, set_name

    asset = load_asset(os.path.join(root, "off", f"{model}.off"))
    humans = human_segmentations(root, model)
    target = human_counts(root)[model - 1]
    settings = replace(load_settings(), threads=1, device="cpu")
    rows = []
    for name, over in variants:
        cfg = SegmentConfig(seed=seed)
        cfg.field = replace(cfg.field, **over)
        start = time.perf_counter()
        field = Engine(cfg, settings).fit(asset)
        fit = time.perf_counter() - start
        scales = default_scales()
        row = {"set": set_name(root), "model": model, "seed": seed, "variant": name, "fit_seconds": fit,
               "fitting_seconds": field.seconds["fitting"]}
        for ladder, labels in (("tree", field.ladder(scales)), ("per_scale", per_scale_ladder(field, scales))):
            row[ladder] = score(labels, scales, humans, target)
        rows.append(row)
    return rows


def write(args, variants, rows) -> None:
    """fits.json (every row) and fits.md (means per variant and set)."""
    summary = {}
    for name, _ in variants:
        for s in sorted({r["set"] for r in rows}):
            rs = [r for r in rows if r["variant"] == name and r["set"] == s]
            summary[f"{name} {s}"] = {"meshes": len(rs),
                                     "median_fitting_seconds": float(np.median([r["fitting_seconds"] for r in rs])),
                                     **{f"{ladder} {k}": float(np.mean([r[ladder][k] for r in rs]))
                                        for ladder in ("tree", "per_scale")
                                        for k in ("rand_index_error", "miou", "best_scale_miou")}}
    with open(args.out + ".json", "w") as f:
        json.dump({"variants": args.variant, "rows": rows, "summary": summary}, f, indent=1)
    lines = ["| variant set | meshes | fitting s (median) | tree RI / mIoU / best | per-scale RI / mIoU / best |",
             "|---|---|---|---|---|"]
    for key, s in summary.items():
        lines.append(f"| {key} | {s['meshes']} | {s['median_fitting_seconds']:.1f} | "
                     + " | ".join(" / ".join(f"{s[f'{ladder} {k}']:.4f}" for k in
                                             ("rand_index_error", "miou", "best_scale_miou"))
                                  for ladder in ("tree", "per_scale")) + " |")
    with open(args.out + ".md", "w") as f:
        f.write("\n".join(lines) + "\n")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--roots", required=True, help="comma-separated PSB folders")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--variant", action="append", required=True, help="name:field=value,... (see above)")
    p.add_argument("--workers", type=int, default=os.cpu_count())
    p.add_argument("--budget", type=float, default=1e9, help="seconds after which no mesh is started")
    p.add_argument("--out", default=os.path.join(HERE, "results", "fits"))
    args = p.parse_args(argv)

    from core import threads

    threads.prepare(1)
    variants = [parse_variant(v) for v in args.variant]
    jobs = [(root, int(os.path.basename(f)[:-4]), int(seed)) for seed in args.seeds.split(",")
            for root in args.roots.split(",") for f in sorted(os.listdir(os.path.join(root, "off")))]
    start, rows = time.perf_counter(), []
    with ProcessPoolExecutor(args.workers) as pool:
        pending = {pool.submit(run_one, *job, variants) for job in jobs[:args.workers]}
        queue = jobs[args.workers:]
        while pending:
            done = next(as_completed(pending))
            pending.discard(done)
            rows += done.result()
            write(args, variants, rows)  # after every mesh: a run cut short still reports
            print(f"{len(rows) // len(variants)} of {len(jobs)} meshes, {time.perf_counter() - start:.0f} s", flush=True)
            if queue and time.perf_counter() - start < args.budget:
                pending.add(pool.submit(run_one, *queue.pop(0), variants))
    print(open(args.out + ".md").read())
    return 0


if __name__ == "__main__":
    sys.exit(main())
