"""Command line: ``python -m core segment|name INPUT --out DIR``."""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import sys
import time

import numpy as np

from .config import SegmentConfig, default_scales
from .loading import InputError, load_asset
from .settings import load_settings

log = logging.getLogger("core")


def parse_scales(text: str | None) -> np.ndarray:
    """'0,0.5,1' -> (S,) float32; None -> the default ladder 0, 0.1, ..., 2."""
    if text is None:
        return default_scales()
    try:
        scales = np.array([float(x) for x in text.split(",") if x.strip()], np.float32)
    except ValueError:
        raise InputError(f"--scales must be numbers separated by commas, like 0,0.5,1 (got '{text}').") from None
    if not len(scales) or (scales < 0).any() or not np.isfinite(scales).all():
        raise InputError(f"--scales needs one or more numbers >= 0, like 0,0.5,1 (got '{text}').")
    return scales


def _engine(args):
    from .pipeline import Engine

    cfg = SegmentConfig(seed=args.seed)
    cfg.masks.source = args.masks
    return Engine(cfg, load_settings())


def _fit(args, engine, asset):
    from .cache import FitCache, fit_cached

    cache = None if args.no_cache else FitCache(os.path.join(engine.settings.cache_dir, "fits"))
    field = fit_cached(engine, asset, cache)
    return field, cache


def cmd_segment(args) -> int:
    from .export import colored_scene, write_glb

    start = time.perf_counter()
    scales = parse_scales(args.scales)
    asset = load_asset(args.input)
    engine = _engine(args)
    field, cache = _fit(args, engine, asset)
    t = time.perf_counter()
    labels = field.ladder(scales)
    field.seconds["clustering"] = time.perf_counter() - t
    log.info("clustering %.2f s for %d scales", field.seconds["clustering"], len(scales))
    if cache is not None:
        cache.put(engine, field)
    os.makedirs(args.out, exist_ok=True)
    t = time.perf_counter()
    np.savez_compressed(os.path.join(args.out, "labels.npz"), scales=scales.astype(np.float32),
                        face_labels=labels.astype(np.int32))
    for s, lab in zip(scales, labels):
        write_glb(colored_scene(asset, lab), os.path.join(args.out, f"parts_scale_{s:.2f}.glb"))
    field.seconds["export"] = time.perf_counter() - t
    total = time.perf_counter() - start
    peak_kb = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    summary = {"input": os.path.abspath(args.input), "faces": asset.n_faces, "peak_rss_mb": peak_kb / 1024,
               "parts": [int(l.max()) + 1 for l in labels], "scales": scales.tolist(),
               "seconds": {**{k: round(v, 3) for k, v in field.seconds.items()}, "total": round(total, 3)}}
    with open(os.path.join(args.out, "run.json"), "w") as f:
        json.dump(summary, f, indent=1)
    log.info("wrote %d scales to %s in %.1f s", len(scales), args.out, total)
    return 0


def cmd_name(args) -> int:
    from .export import segmented_scene, write_glb
    from .naming import NamingUnavailable, name_parts, write_names

    settings = load_settings()
    asset = load_asset(args.input)
    engine = _engine(args)
    field, cache = _fit(args, engine, asset)
    labels = field.parts(args.scale)
    try:
        results = name_parts(asset, labels, settings)
    except NamingUnavailable as exc:
        raise InputError(str(exc)) from None
    os.makedirs(args.out, exist_ok=True)
    write_names(results, os.path.join(args.out, "names.json"))
    names = {k: r.name for k, r in results.items() if r.name}
    write_glb(segmented_scene(asset, labels, names), os.path.join(args.out, "named_parts.glb"))
    failed = {k: r.error for k, r in results.items() if r.error}
    for k, err in sorted(failed.items()):
        log.warning("part %d: %s", k, err)
    log.info("named %d of %d parts into %s", len(names), len(results), args.out)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m core", description="PartScope: cut 3D models into parts.")
    sub = p.add_subparsers(dest="command", required=True)
    for name, helptext in (("segment", "segment a mesh at a ladder of scales"),
                           ("name", "segment, then name the parts with a multimodal LLM")):
        c = sub.add_parser(name, help=helptext)
        c.add_argument("input", help="mesh file: GLB, glTF, OBJ, PLY, STL or OFF")
        c.add_argument("--out", required=True, help="output folder")
        c.add_argument("--masks", choices=("default", "sam"), default="default", help="2D mask source")
        c.add_argument("--seed", type=int, default=0, help="random seed (same seed, same labels)")
        c.add_argument("--no-cache", action="store_true", help="fit again even if this object was fitted before")
        c.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub.choices["segment"].add_argument("--scales", help="comma-separated scales (default 0,0.1,...,2.0)")
    sub.choices["name"].add_argument("--scale", type=float, default=0.5, help="granularity to name (default 0.5)")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    try:
        return {"segment": cmd_segment, "name": cmd_name}[args.command](args)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
