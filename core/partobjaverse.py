"""PartObjaverse-Tiny (SAMPart3D's benchmark) in the dataset's own layout:
reading it, running the batch over it and scoring each object as the
published evaluation does (class-agnostic part mIoU at each object's best
scale and at one fixed scale; with names, semantic mIoU and instance mAP50),
and writing PSB meshes in that layout. ``benchmarks/partobjaverse.py`` is
its command line."""

from __future__ import annotations

import json
import os
import sys
import time

import numpy as np

from .metrics import category, class_agnostic_miou, instance_map, semantic_miou

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


def layout_from_psb(psb: str, root: str) -> None:
    """Write PSB meshes (``psb``/off/<id>.off) in this layout under ``root``:
    ``psb<id>.glb``, each mesh's first human segmentation as its instance and
    semantic ground truth (labels "segment k"), its category from its id, so the harness runs on real meshes with
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
        meta.setdefault(category(model), {})[uid] = [f"segment {k}" for k in range(int(seg.max()) + 1)]
    with open(os.path.join(root, SEMANTIC_JSON), "w", encoding="utf-8") as f:
        json.dump(meta, f, indent=1)
