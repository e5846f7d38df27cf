"""Scores on PartObjaverse-Tiny (SAMPart3D's benchmark), in the dataset's own layout.

    python -m benchmarks.partobjaverse --root DIR [--out DIR] [--workers 2] [--ray [ADDRESS]]
                                       [--fixed-scale 0.5] [--name] [--limit N] [--from-psb PSB_ROOT]

DIR holds ``PartObjaverse-Tiny_semantic.json`` ({category: {uid: [labels]}}),
the meshes ``<uid>.glb`` (in ``PartObjaverse-Tiny_mesh/`` or DIR itself) and
the ground truth ``<uid>.npy`` in ``PartObjaverse-Tiny_semantic_gt/`` (label
index per face) and ``PartObjaverse-Tiny_instance_gt/`` (part per face), -1
unassigned, faces in the order of ``trimesh.load(path)`` dumped to one mesh.

Runs the batch (``core.batch``, resumable: a second run only scores) and
reports, overall (mean over shapes) and per category, the class-agnostic part
mIoU (core.metrics: per ground-truth part the best IoU over predicted
parts, mean over parts) at the best scale of each object and at one fixed
scale, and the best single scale over the whole set; with ``--name`` the
parts at the fixed scale are named by choosing from each object's labels,
and the semantic mIoU and instance mAP50 are reported too. An object whose
face count differs from its ground truth is reported and left out of the
scores. Writes benchmarks/results/partobjaverse.json and .md. Scores are in
percent, as published (SAMPart3D: 53.7 best scale, 49.1 one fixed scale).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from core.partobjaverse import LayoutError, evaluate, layout_from_psb  # noqa: E402


def markdown(report: dict) -> str:
    cols = [("best", "part mIoU, best scale"), ("fixed", f"part mIoU @ {report['fixed_scale']:g}"),
            ("best_single_scale", "best single scale"), ("semantic_miou", "semantic mIoU"),
            ("instance_map50", "instance mAP50")]
    cols = [(k, t) for k, t in cols if k in report["summary"]["overall"]]
    lines = [f"# PartObjaverse-Tiny: {report['scored']} of {report['objects']} objects scored", "",
             f"Measured {report['date']} on {report['machine']}; percent, mean over shapes "
             "(published SAMPart3D: 53.7 best scale, 49.1 one fixed scale).", "",
             "| category | objects | " + " | ".join(t for _, t in cols) + " |",
             "|---" * (len(cols) + 2) + "|"]
    groups = [*report["summary"]["categories"].items(), ("**all**", report["summary"]["overall"])]
    for cat, s in groups:
        cells = []
        for key, _ in cols:
            value = s.get(key)
            cell = "" if value is None else f"{value:.1f}"
            if key == "best_single_scale" and value is not None:
                cell += f" (@ {s['best_single_scale_at']:g})"
            cells.append(cell)
        lines.append(f"| {cat} | {s['objects']} | " + " | ".join(cells) + " |")
    if report["left_out"]:
        lines += ["", "Left out:", *[f"- {x['uid']}: {x['why']}" for x in report["left_out"]]]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    from core.loading import InputError

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", required=True, help="the unpacked PartObjaverse-Tiny folder")
    p.add_argument("--out", help="batch output (default: PARTSCOPE_CACHE_DIR/partobjaverse-run); resumable")
    p.add_argument("--fixed-scale", type=float, default=0.5, help="the one scale scored for every object")
    p.add_argument("--name", action="store_true", help="name parts from each object's labels (needs an LLM)")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--cpus-per-object", type=int, default=1)
    p.add_argument("--ray", nargs="?", const="", metavar="ADDRESS", help="run the batch on Ray")
    p.add_argument("--limit", type=int, help="only the first N objects")
    p.add_argument("--from-psb", metavar="PSB_ROOT", help="first write the PSB meshes in this layout into --root")
    p.add_argument("--results", default=os.path.join(HERE, "results"))
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    from core.settings import load_settings

    settings = load_settings()
    out = args.out or os.path.join(settings.cache_dir, "partobjaverse-run")
    try:
        if args.from_psb:
            layout_from_psb(args.from_psb, args.root)
        if args.name:
            from core.naming import naming_unavailable_reason

            if naming_unavailable_reason(settings):
                raise InputError(naming_unavailable_reason(settings))
        report = evaluate(args.root, out, settings=settings, fixed_scale=args.fixed_scale, name=args.name,
                          workers=args.workers, cpus=args.cpus_per_object, use_ray=args.ray is not None,
                          ray_address=args.ray or None, limit=args.limit)
    except (LayoutError, InputError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    os.makedirs(args.results, exist_ok=True)
    stem = os.path.join(args.results, "partobjaverse")
    with open(stem + ".json", "w") as f:
        json.dump(report, f, indent=1)
    with open(stem + ".md", "w") as f:
        f.write(markdown(report))
    print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
