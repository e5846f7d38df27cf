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
mIoU (benchmarks.metrics: per ground-truth part the best IoU over predicted
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
import time

import numpy as np

from .metrics import class_agnostic_miou, instance_map, semantic_miou

HERE = os.path.dirname(os.path.abspath(__file__))
SEMANTIC_JSON = "PartObjaverse-Tiny_semantic.json"
MESH_DIRS = ("PartObjaverse-Tiny_mesh", ".")
SEMANTIC_GT = "PartObjaverse-Tiny_semantic_gt"
INSTANCE_GT = "PartObjaverse-Tiny_instance_gt"


class LayoutError(ValueError):
    """The folder is not in the PartObjaverse-Tiny layout; the message says what is missing."""


def read_layout(root: str) -> list[dict]:
    """One dict per object: category, uid, labels, mesh, semantic_gt, instance_gt (paths)."""
    meta_path = os.path.join(root, SEMANTIC_JSON)
    if not os.path.isfile(meta_path):
        raise LayoutError(f"There is no {SEMANTIC_JSON} in '{root}': point --root at the unpacked "
                          "PartObjaverse-Tiny folder.")
    with open(meta_path, encoding="utf-8") as f:
        meta = json.load(f)
    mesh_dir = next((os.path.join(root, d) for d in MESH_DIRS if os.path.isdir(os.path.join(root, d))
                     and any(n.endswith(".glb") for n in os.listdir(os.path.join(root, d)))), None)
    if mesh_dir is None:
        raise LayoutError(f"No <uid>.glb meshes in '{root}' or its {MESH_DIRS[0]}/ folder.")
    return [{"category": category, "uid": uid, "labels": list(labels),
             "mesh": os.path.join(mesh_dir, f"{uid}.glb"),
             "semantic_gt": os.path.join(root, SEMANTIC_GT, f"{uid}.npy"),
             "instance_gt": os.path.join(root, INSTANCE_GT, f"{uid}.npy")}
            for category, objects in meta.items() for uid, labels in objects.items()]


def score_object(folder: str, item: dict, fixed_scale: float) -> dict:
    """Scores of one object's batch output against its ground truth (0..1),
    or {"error": sentence} when they cannot be compared."""
    data = np.load(os.path.join(folder, "labels.npz"))
    scales, labels = data["scales"], data["face_labels"]
    if not os.path.isfile(item["instance_gt"]):
        return {"error": f"there is no instance ground truth {item['instance_gt']}"}
    gt_ins = np.load(item["instance_gt"]).astype(np.int64).ravel()
    if len(gt_ins) != labels.shape[1]:
        return {"error": f"the mesh has {labels.shape[1]} faces but its ground truth has {len(gt_ins)}: "
                         "they were not counted the same way, so the object is left out"}
    per_scale = [class_agnostic_miou(lab, gt_ins) for lab in labels]
    fixed = int(np.argmin(np.abs(scales - fixed_scale)))
    row = {"per_scale": per_scale, "best": max(per_scale), "best_scale": float(scales[int(np.argmax(per_scale))]),
           "fixed": per_scale[fixed]}
    sem_path = os.path.join(folder, "semantic.npy")
    if os.path.isfile(sem_path) and os.path.isfile(item["semantic_gt"]):
        pred_sem = np.load(sem_path)
        gt_sem = np.load(item["semantic_gt"]).astype(np.int64).ravel()
        row["semantic_miou"] = semantic_miou(pred_sem, gt_sem)
        row["instance_map50"] = instance_map(pred_sem, labels[fixed], gt_sem, gt_ins)
    return row


def summarize(rows: list[dict], scales) -> dict:
    """Means over shapes (percent) of every score the rows have, per category and overall."""
    def means(group):
        out = {"objects": len(group)}
        for key in ("best", "fixed", "semantic_miou", "instance_map50"):
            values = [r[key] for r in group if key in r and not np.isnan(r[key])]
            if values:
                out[key] = 100 * float(np.mean(values))
        if group:
            per_scale = 100 * np.nanmean([r["per_scale"] for r in group], axis=0)
            out["best_single_scale"] = float(per_scale.max())
            out["best_single_scale_at"] = float(scales[int(np.argmax(per_scale))])
        return out

    categories = sorted({r["category"] for r in rows})
    return {"overall": means(rows), "categories": {c: means([r for r in rows if r["category"] == c])
                                                   for c in categories}}


def evaluate(root: str, out: str, *, config=None, settings=None, scales=None, fixed_scale: float = 0.5,
             name: bool = False, workers: int = 1, cpus: int = 1, use_ray: bool = False,
             ray_address: str | None = None, limit: int | None = None, progress: bool = True) -> dict:
    """Run the batch over the dataset at ``root`` into ``out`` and score it."""
    from core.batch import read_manifest, run_batch
    from core.config import SegmentConfig
    from core.scales import default_scales
    from core.settings import load_settings

    config = config or SegmentConfig()
    settings = settings or load_settings()
    scales = default_scales() if scales is None else np.asarray(scales, np.float32)
    if not np.isclose(scales, fixed_scale).any():
        scales = np.sort(np.append(scales, np.float32(fixed_scale)))
    items = read_layout(root)[:limit]
    present = [it for it in items if os.path.isfile(it["mesh"])]
    result = run_batch([it["mesh"] for it in present], out, scales, config, settings, workers=workers, cpus=cpus,
                       use_ray=use_ray, ray_address=ray_address, name_scale=fixed_scale if name else None,
                       label_sets={it["uid"]: it["labels"] for it in present}, progress=progress)
    manifest = read_manifest(out)
    rows, left_out = [], [{"uid": it["uid"], "why": "its mesh is missing"} for it in items if it not in present]
    for it in present:
        record = manifest.get(os.path.abspath(it["mesh"]))
        if record is None or record["status"] != "ok":
            left_out.append({"uid": it["uid"], "why": record["error"] if record else "not run"})
            continue
        row = score_object(os.path.join(out, record["out"]), it, fixed_scale)
        if "error" in row:
            left_out.append({"uid": it["uid"], "why": row["error"]})
            continue
        rows.append({"category": it["category"], "uid": it["uid"], "seconds": record["seconds"], **row})
    for item in left_out:
        print(f"left out {item['uid']}: {item['why']}", file=sys.stderr)
    return {"date": time.strftime("%Y-%m-%d"), "machine": f"{os.cpu_count()} CPU cores",
            "fixed_scale": float(fixed_scale), "scales": [float(s) for s in scales], "named": name,
            "objects": len(items), "scored": len(rows), "ran_now": len(result.records),
            "summary": summarize(rows, scales), "rows": rows, "left_out": left_out}


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


PSB_CATEGORIES = {1: "human", 21: "cup", 41: "glasses", 61: "airplane", 81: "ant", 101: "chair", 121: "octopus",
                  141: "table", 161: "teddy", 181: "hand", 201: "plier", 221: "fish", 241: "bird", 281: "armadillo",
                  301: "bust", 321: "mech", 341: "bearing", 361: "vase", 381: "fourleg"}


def layout_from_psb(psb: str, root: str) -> None:
    """Write PSB meshes (``psb``/off/<id>.off) in this layout under ``root``:
    ``psb<id>.glb``, each mesh's first human segmentation as its instance and
    semantic ground truth (labels "segment k"), its category from its id
    (the psb-dev README's list), so the harness runs on real meshes with
    human parts when PartObjaverse-Tiny itself is not at hand."""
    import glob

    import trimesh

    for sub in (MESH_DIRS[0], SEMANTIC_GT, INSTANCE_GT):
        os.makedirs(os.path.join(root, sub), exist_ok=True)
    meta: dict = {}
    for path in sorted(glob.glob(os.path.join(psb, "off", "*.off"))):
        model = int(os.path.basename(path)[:-4])
        uid = f"psb{model}"
        trimesh.load(path, process=False).export(os.path.join(root, MESH_DIRS[0], f"{uid}.glb"))
        seg = np.unique(np.loadtxt(os.path.join(psb, "seg", str(model), f"{model}_0.seg"), dtype=np.int64),
                        return_inverse=True)[1]
        for sub in (SEMANTIC_GT, INSTANCE_GT):
            np.save(os.path.join(root, sub, f"{uid}.npy"), seg)
        category = PSB_CATEGORIES[max(k for k in PSB_CATEGORIES if k <= model)]
        meta.setdefault(category, {})[uid] = [f"segment {k}" for k in range(int(seg.max()) + 1)]
    with open(os.path.join(root, SEMANTIC_JSON), "w", encoding="utf-8") as f:
        json.dump(meta, f, indent=1)


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
