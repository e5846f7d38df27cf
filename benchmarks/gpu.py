"""Every GPU target of the engine, measured in one run on a machine with a
CUDA device (the numbers that issue 30 asks for).

    python -m benchmarks.gpu --psb PSB_DEV_FOLDER --out DIR [--sections env,step,warm,cli,sam,batch]
        [--cli-meshes 19] [--batch-objects 12]

Sections (each writes DIR/<section>.json and prints one summary line; a
failing section is reported and the others still run):

- env: the device, torch, and what a process start costs (``import torch``,
  CUDA's first call, the engine's imports);
- step: one fit on a PSB mesh's masks, CUDA graph on and off, float32 and
  bfloat16: seconds per fit and milliseconds per step;
- warm: a warm engine (imports, CUDA context, kernels made at start, as the
  app makes them), upload to the field's parts at the app's default scale,
  per PSB dev mesh and per example model;
- cli: ``python -m core segment`` per PSB dev mesh, the whole command
  (process start to 21 scales written), with quality (benchmarks.psb);
- sam: SAM ViT-H of the real architecture with random weights, loaded through
  the real loader: the encoder's batch and the automatic masks of 16 views,
  then ``python -m core segment --masks sam`` on one mesh;
- batch: ``python -m core batch`` over PSB dev meshes with the GPU and with
  the CPU alone (PARTSCOPE_DEVICE=cpu), objects per hour, labels compared.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
ASSETS = os.path.join(REPO, "assets")


def run(cmd: list[str], env: dict | None = None, timeout: float = 300) -> tuple[float, subprocess.CompletedProcess]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=timeout,
                          env={**os.environ, **(env or {})})
    return time.perf_counter() - start, proc


def python_seconds(code: str) -> float:
    took, proc = run([sys.executable, "-c", code])
    if proc.returncode:
        raise RuntimeError(proc.stderr[-2000:])
    return took


def section_env(args) -> dict:
    import torch

    out = {"torch": torch.__version__, "cuda": torch.cuda.is_available(), "cpus": os.cpu_count()}
    if torch.cuda.is_available():
        out["device"] = torch.cuda.get_device_name()
    out["python_s"] = python_seconds("pass")
    out["import_torch_s"] = python_seconds("import torch")
    out["torch_and_cuda_s"] = python_seconds(
        "import torch; x = torch.ones(256, 256, device='cuda'); (x @ x).sum().item()")
    out["import_engine_s"] = python_seconds("import core.cli, core.segment; core.segment.preload()")
    took, proc = run([sys.executable, "-X", "importtime", "-c", "import core.cli, core.segment; core.segment.preload()"])
    rows = []
    for line in proc.stderr.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[1].strip().isdigit():
            rows.append((int(parts[1]), parts[2].rstrip()))
    out["slowest_imports_us"] = sorted(rows, reverse=True)[:15]
    return out


def psb_meshes(root: str) -> list[str]:
    return sorted(glob.glob(os.path.join(root, "off", "*.off")), key=lambda p: int(os.path.basename(p)[:-4]))


def masks_of(path: str):
    """Sampled points, masks and backbone of a mesh, as the engine makes them."""
    from core.config import SegmentConfig
    from core.geometry import face_graph, spectral_embedding
    from core.geomasks import EMBEDDING_SIZE
    from core.loading import load_asset
    from core.pipeline import Engine
    from core.rendering import render_views
    from core.sampling import sample_points

    cfg = SegmentConfig()
    engine = Engine(cfg)
    asset = load_asset(path)
    points = sample_points(asset, cfg.sample.n_points, cfg.seed)
    views = render_views(asset, cfg.render)
    graph = face_graph(asset.mesh)
    embedding = spectral_embedding(asset.mesh, graph, EMBEDDING_SIZE)
    masks, _ = engine._masks(asset, views, points, graph, embedding)
    backbone = embedding[points.face]
    return points, masks, backbone / (np.abs(backbone).max(axis=0, keepdims=True) + 1e-9)


def section_step(args) -> dict:
    import torch

    from core.config import FieldConfig
    from core.field import fit_field, fit_size

    out = {}
    for mesh in args.step_meshes.split(","):
        points, masks, backbone = masks_of(os.path.join(args.psb, "off", f"{mesh}.off"))
        steps, n_points = fit_size([m for m in masks if m.member.shape[1]], FieldConfig())
        rows = {}
        for variant in args.step_variants.split(";"):
            graph, precision = variant.split(",")
            cfg = FieldConfig(cuda_graph=graph == "graph", precision=precision)
            times = []
            for _ in range(3):
                torch.cuda.synchronize()
                start = time.perf_counter()
                fit_field(points, masks, cfg, backbone, 0, "cuda")
                torch.cuda.synchronize()
                times.append(time.perf_counter() - start)
            rows[variant] = {"fit_s": times, "ms_per_step": 1000 * min(times) / steps}
            print(f"  step {mesh} {variant}: fits {', '.join(f'{t:.2f}' for t in times)} s, "
                  f"{rows[variant]['ms_per_step']:.2f} ms a step", flush=True)
        out[mesh] = {"steps": steps, "points_per_view": n_points, "variants": rows}
    return out


def section_warm(args) -> dict:
    from core.config import SegmentConfig
    from core.loading import load_asset
    from core.pipeline import Engine

    engine = Engine(SegmentConfig())
    engine.fit(load_asset(os.path.join(ASSETS, "mug.glb")))  # the app's first fit happens at start
    rows = {}
    paths = ([os.path.join(ASSETS, f) for f in ("table.glb", "chair.glb", "mug.glb", "toy_car.glb")]
             + psb_meshes(args.psb)[:args.warm_meshes])
    for path in paths:
        start = time.perf_counter()
        asset = load_asset(path)
        field = engine.fit(asset)
        labels = field.parts(0.5)
        took = time.perf_counter() - start
        rows[os.path.basename(path)] = {"seconds": took, "faces": asset.n_faces, "parts": int(labels.max()) + 1,
                                       "stages": {k: round(v, 3) for k, v in field.seconds.items()}}
        print(f"  warm {os.path.basename(path)}: {took:.2f} s {rows[os.path.basename(path)]['stages']}", flush=True)
    examples = [r["seconds"] for k, r in rows.items() if k.endswith(".glb")]
    psb = [r["seconds"] for k, r in rows.items() if k.endswith(".off")]
    return {"rows": rows, "median_examples_s": statistics.median(examples),
            "median_psb_s": statistics.median(psb) if psb else None}


def section_cli(args) -> dict:
    ids = ",".join(os.path.basename(p)[:-4] for p in psb_meshes(args.psb)[:args.cli_meshes])
    results = os.path.join(args.out, "psb")
    took, proc = run([sys.executable, "-m", "benchmarks.psb", "--root", args.psb, "--ids", ids,
                      "--results", results], timeout=args.cli_timeout)
    print(proc.stdout[-3000:], proc.stderr[-2000:] if proc.returncode else "", flush=True)
    if proc.returncode:
        raise RuntimeError(proc.stderr[-2000:])
    from .psb import set_name

    with open(os.path.join(results, f"psb-{set_name(args.psb)}-default-seed0.json")) as f:
        report = json.load(f)
    return {"summary": report["summary"], "walls": [m["wall_seconds"] for m in report["meshes"]],
            "stages": [m["stage_seconds"] for m in report["meshes"]]}


def section_sam(args) -> dict:
    import torch

    from core import sam
    from core.config import MaskConfig, SegmentConfig
    from core.loading import load_asset
    from core.rendering import render_views
    from core.settings import load_settings

    work = tempfile.mkdtemp()
    checkpoint = os.path.join(work, "sam_vit_h_random.pth")
    start = time.perf_counter()
    torch.save(sam.SAM_BUILDERS["vit_h"]().state_dict(), checkpoint)
    out = {"build_and_save_s": time.perf_counter() - start}
    os.environ["PARTSCOPE_SAM_CHECKPOINT"] = checkpoint
    source = sam.SamMasks(SegmentConfig(masks=MaskConfig(source="sam", sam_model="vit_h")), load_settings(), "cuda")
    start = time.perf_counter()
    model = source.model
    out["load_s"] = time.perf_counter() - start
    asset = load_asset(os.path.join(args.psb, "off", f"{args.sam_mesh}.off"))
    views = render_views(asset, SegmentConfig().render)
    predictor = sam.import_segment_anything().SamPredictor(model)
    for _ in range(2):
        torch.cuda.synchronize()
        start = time.perf_counter()
        sam.embed_images(model, predictor.transform, [v.color for v in views], True)
        torch.cuda.synchronize()
        out.setdefault("encoder_16_views_s", []).append(time.perf_counter() - start)
    for _ in range(2):
        start = time.perf_counter()
        masks = source.view_masks(views)
        out.setdefault("masks_16_views_s", []).append(time.perf_counter() - start)
    out["masks_per_view"] = [len(m) for m in masks]
    out["seconds_per_view"] = min(out["masks_16_views_s"]) / len(views)
    print(f"  sam: {out}", flush=True)
    if not args.sam_cli:
        return out
    mesh = os.path.join(args.psb, "off", f"{args.sam_mesh}.off")
    took, proc = run([sys.executable, "-m", "core", "segment", mesh, "--out", os.path.join(work, "seg"),
                      "--masks", "sam", "--no-cache"], env={"PARTSCOPE_SAM_CHECKPOINT": checkpoint}, timeout=300)
    if proc.returncode:
        raise RuntimeError(proc.stderr[-2000:])
    with open(os.path.join(work, "seg", "run.json")) as f:
        out["cli_sam"] = {"wall_s": took, "seconds": json.load(f)["seconds"]}
    shutil.rmtree(work, ignore_errors=True)
    return out


def section_batch(args) -> dict:
    work = tempfile.mkdtemp()
    inputs = os.path.join(work, "in")
    os.makedirs(inputs)
    for path in psb_meshes(args.psb)[:args.batch_objects]:
        shutil.copy(path, inputs)
    out = {}
    cpus = os.cpu_count() or 1
    modes = {"gpu": ({}, args.gpu_workers, max(cpus // args.gpu_workers, 1)),
             "cpu": ({"PARTSCOPE_DEVICE": "cpu"}, args.cpu_workers, max(cpus // args.cpu_workers, 1))}
    labels = {}
    for mode, (env, workers, per) in modes.items():
        folder = os.path.join(work, mode)
        took, proc = run([sys.executable, "-m", "core", "batch", inputs, "--out", folder, "--workers", str(workers),
                          "--cpus-per-object", str(per), "--no-cache"], env=env, timeout=args.batch_timeout)
        if proc.returncode:
            raise RuntimeError(f"{mode}: {proc.stderr[-2000:]}")
        n = len(os.listdir(inputs))
        out[mode] = {"workers": workers, "cpus_per_object": per, "seconds": took, "objects": n,
                     "objects_per_hour": 3600 * n / took}
        labels[mode] = {os.path.basename(p): np.load(os.path.join(p, "labels.npz"))["face_labels"]
                        for p in glob.glob(os.path.join(folder, "*")) if os.path.isdir(p)}
        print(f"  batch {mode}: {out[mode]}", flush=True)
    out["gpu_over_cpu"] = out["gpu"]["objects_per_hour"] / out["cpu"]["objects_per_hour"]
    from sklearn.metrics import adjusted_rand_score

    scales = [round(s, 1) for s in np.arange(21) * 0.1]
    out["ari_gpu_cpu_at_0.5_and_1.0"] = {
        name: [adjusted_rand_score(labels["gpu"][name][scales.index(s)], labels["cpu"][name][scales.index(s)])
               for s in (0.5, 1.0)] for name in sorted(labels["gpu"]) if name in labels["cpu"]}
    shutil.rmtree(work, ignore_errors=True)
    return out


def section_profile(args) -> dict:
    """Where a warm fit's time goes, on the largest-faced PSB meshes."""
    import cProfile
    import io
    import pstats

    from core.config import SegmentConfig
    from core.loading import load_asset
    from core.pipeline import Engine

    engine = Engine(SegmentConfig())
    engine.fit(load_asset(os.path.join(ASSETS, "mug.glb")))
    out = {}
    for mesh in args.profile_meshes.split(","):
        asset = load_asset(os.path.join(args.psb, "off", f"{mesh}.off"))
        prof = cProfile.Profile()
        prof.enable()
        field = engine.fit(asset)
        field.parts(0.5)
        prof.disable()
        text = io.StringIO()
        pstats.Stats(prof, stream=text).sort_stats("cumulative").print_stats(45)
        out[mesh] = {"stages": field.seconds, "profile": text.getvalue()}
        print(f"  profile {mesh}: {field.seconds}", flush=True)
    return out


SECTIONS = {"env": section_env, "profile": section_profile, "step": section_step, "warm": section_warm, "cli": section_cli,
            "sam": section_sam, "batch": section_batch}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--psb", required=True, help="PSB folder with off/, seg/ and nSeg-ByModel.txt")
    p.add_argument("--out", required=True)
    p.add_argument("--sections", default=",".join(SECTIONS))
    p.add_argument("--step-meshes", default="121,281")
    p.add_argument("--step-variants", default="graph,float32;graph,bfloat16;eager,float32;eager,bfloat16")
    p.add_argument("--profile-meshes", default="21,281")
    p.add_argument("--warm-meshes", type=int, default=19)
    p.add_argument("--cli-meshes", type=int, default=19)
    p.add_argument("--cli-timeout", type=float, default=400)
    p.add_argument("--sam-mesh", default="121")
    p.add_argument("--no-sam-cli", dest="sam_cli", action="store_false", help="skip the --masks sam command")
    p.add_argument("--batch-objects", type=int, default=12)
    p.add_argument("--gpu-workers", type=int, default=4)
    p.add_argument("--cpu-workers", type=int, default=8)
    p.add_argument("--batch-timeout", type=float, default=400)
    args = p.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    status = 0
    for name in args.sections.split(","):
        start = time.perf_counter()
        print(f"== {name}", flush=True)
        try:
            result = SECTIONS[name](args)
        except Exception:
            status = 1
            result = {"error": traceback.format_exc()}
            print(result["error"], flush=True)
        result["section_seconds"] = time.perf_counter() - start
        with open(os.path.join(args.out, f"{name}.json"), "w") as f:
            json.dump(result, f, indent=1, default=str)
        print(f"== {name} done in {result['section_seconds']:.1f} s", flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
