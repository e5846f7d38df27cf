"""Command line: ``python -m core segment|name INPUT --out DIR`` and
``python -m core batch INPUTS --out DIR``."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys

import numpy as np

from . import threads
from .config import SegmentConfig
from .scales import DEFAULT, default_scales
from .inputs import InputError
from .loading import load_asset
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


def _config(args) -> SegmentConfig:
    cfg = SegmentConfig(seed=args.seed)
    cfg.masks.source = args.masks
    return cfg


def _engine(args):
    from .pipeline import Engine

    return Engine(_config(args), load_settings())


def cmd_segment(args) -> int:
    from .segment import preload, segment_to_folder, timed_load

    scales = parse_scales(args.scales)
    loaded = timed_load(args.input)  # a file it cannot use is refused before the libraries load (3-12 s)
    preload()
    threads.use(load_settings().threads)
    segment_to_folder(args.input, args.out, scales, _engine(args), not args.no_cache, loaded)
    return 0


def cmd_name(args) -> int:
    from .segment import name_to_folder, preload
    from .naming import NamingUnavailable, naming_unavailable_reason

    settings = load_settings()
    if naming_unavailable_reason(settings):  # say so before a fit, not after
        raise InputError(naming_unavailable_reason(settings))
    asset = load_asset(args.input)
    preload()
    threads.use(settings.threads)
    from .cache import FitCache, fit_cached

    engine = _engine(args)
    cache = None if args.no_cache else FitCache(os.path.join(engine.settings.cache_dir, "fits"))
    field = fit_cached(engine, asset, cache)
    if cache is not None:
        cache.close()
    try:
        name_to_folder(asset, field.parts(field.opening if args.scale is None else args.scale), settings, args.out)
    except NamingUnavailable as exc:
        raise InputError(str(exc)) from None
    return 0


def read_label_sets(path: str) -> dict | list:
    """Allowed part names from a JSON file: {category: {stem: [names]}} (as
    PartObjaverse-Tiny's semantic.json), {stem: [names]}, or one [names] list
    for every object. Returns {stem: [names]} or the one list."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"--labels '{path}' could not be read as JSON ({exc}).") from None

    def names(value):
        return isinstance(value, list) and value and all(isinstance(v, str) and v.strip() for v in value)

    if names(data):
        return data
    if isinstance(data, dict):
        flat = {}
        for key, value in data.items():
            if names(value):
                flat[key] = value
            elif isinstance(value, dict) and all(names(v) for v in value.values()):
                flat.update(value)
            else:
                break
        else:
            return flat
    raise InputError(f"--labels '{path}' must hold a list of names, {{object: [names]}} or "
                     "{category: {object: [names]}} (as PartObjaverse-Tiny_semantic.json).")


def cmd_batch(args) -> int:
    from .batch import list_inputs, run_batch
    from .raybatch import import_ray
    from .naming import naming_unavailable_reason

    settings = load_settings()
    scales = parse_scales(args.scales)
    paths = list_inputs(args.inputs)
    if min(args.workers, args.cpus_per_object) < 1 or args.gpus_per_object < 0:
        raise InputError("--workers and --cpus-per-object must be 1 or more, --gpus-per-object 0 or more.")
    use_ray = args.ray is not None
    if use_ray:
        import_ray()
    label_sets = read_label_sets(args.labels) if args.labels else None
    name_scale = args.name_scale if (args.name or label_sets is not None) else None
    if name_scale is not None and naming_unavailable_reason(settings):
        raise InputError(naming_unavailable_reason(settings))
    if isinstance(label_sets, list):
        label_sets = {os.path.splitext(os.path.basename(p))[0]: label_sets for p in paths}
    result = run_batch(paths, args.out, scales, _config(args), settings, use_cache=not args.no_cache,
                       workers=args.workers, cpus=args.cpus_per_object, use_ray=use_ray,
                       ray_address=args.ray or None, gpus=args.gpus_per_object, retries=args.retries,
                       name_scale=name_scale, label_sets=label_sets,
                       log_level=logging.DEBUG if args.verbose else logging.WARNING)
    n_ok = len(result.records) - len(result.failed)
    log.info("%d done, %d failed, %d skipped (done before); manifest: %s", n_ok, len(result.failed),
             result.skipped, os.path.join(args.out, "manifest.jsonl"))
    return 1 if result.failed else 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m core", description="PartScope: cut 3D models into parts.")
    sub = p.add_subparsers(dest="command", required=True)
    segment = sub.add_parser("segment", help="segment a mesh at a ladder of scales")
    name = sub.add_parser("name", help="segment, then name the parts with a multimodal LLM")
    b = sub.add_parser("batch", help="segment (and name) many models, locally or on a Ray cluster")
    for c in (segment, name):
        c.add_argument("input", help="mesh file: GLB, glTF, OBJ, PLY, STL, OFF, USD(Z), FBX, .blend, DAE or 3MF")
        c.add_argument("--out", required=True, help="output folder")
    b.add_argument("inputs", help="a folder, a glob ('models/*.glb') or a text file of paths")
    b.add_argument("--out", required=True, help="output folder: one folder per object and manifest.jsonl")
    for c in (segment, name, b):
        c.add_argument("--masks", choices=("default", "sam"), default="default", help="2D mask source")
        c.add_argument("--seed", type=int, default=0, help="random seed (same seed, same labels)")
        c.add_argument("--no-cache", action="store_true", help="fit again even if an object was fitted before")
        c.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    for c in (segment, b):
        c.add_argument("--scales", help="comma-separated scales (default 0,0.1,...,2.0)")
    name.add_argument("--scale", type=float, help=f"granularity to name (default: where the app opens the model, "
                                                  f"its objects' count if it is built of 2 to 10, else {DEFAULT})")
    b.add_argument("--workers", type=int, default=1, help="objects at once: local processes, or a local Ray cluster's size (default 1)")
    b.add_argument("--cpus-per-object", type=int, default=1, help="threads (Ray: CPUs) per object (default 1)")
    b.add_argument("--gpus-per-object", type=float, default=0, help="GPUs per object, with --ray (default 0)")
    b.add_argument("--ray", nargs="?", const="", metavar="ADDRESS",
                   help="run as Ray tasks: on a local cluster, or on the cluster at ADDRESS (auto, ray://...)")
    b.add_argument("--retries", type=int, default=2, help="tries again after a lost worker (default 2)")
    b.add_argument("--name", action="store_true", help="also name the parts (needs OPENAI_API_KEY or OPENAI_BASE_URL)")
    b.add_argument("--name-scale", type=float, default=DEFAULT, help=f"granularity to name (default {DEFAULT})")
    b.add_argument("--labels", help="JSON of allowed part names per object (e.g. PartObjaverse-Tiny_semantic.json); "
                                    "implies --name")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    try:
        return {"segment": cmd_segment, "name": cmd_name, "batch": cmd_batch}[args.command](args)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
