"""One object, from its file to its output folder: what ``python -m core
segment`` and ``name`` write, and what every job of ``core.batch`` runs.

The ``segment`` contract, in the output folder: labels.npz (``scales`` (S,)
float32, ``face_labels`` (S, F) int32), parts_scale_<s>.glb per scale,
run.json (input, faces, device, peak memory, parts per scale, seconds per
stage, the load included). ``name`` adds names.json and named_parts.glb
(and semantic.npy / semantic.json with a list of allowed names).
"""

from __future__ import annotations

import gc
import json
import logging
import os
import resource
import time

import numpy as np

from .files import atomic_write
from .loading import load_asset
from .settings import Settings

log = logging.getLogger(__name__)


def preload() -> None:
    """Import what a fit needs, the garbage collector off meanwhile, and
    freeze what the imports made. Loading torch and scikit-learn makes
    hundreds of thousands of objects, and the full collections they set off
    as they come walk them all, again and again; frozen objects are never
    walked again. For a process's entry point, once."""
    gc.disable()
    try:
        from . import cache, export, pipeline  # noqa: F401
    finally:
        gc.freeze()
        gc.enable()


def timed_load(path: str) -> tuple:
    """(``load_asset(path)``, the seconds it took)."""
    start = time.perf_counter()
    asset = load_asset(path)
    return asset, time.perf_counter() - start


def segment_to_folder(path: str, out: str, scales: np.ndarray, engine, use_cache: bool = True, loaded=None):
    """Load (unless ``loaded`` is ``timed_load(path)`` already), fit (or take
    the cached fit), cut at every scale and write the ``segment`` contract to
    ``out``: labels.npz (``scales`` (S,) float32, ``face_labels`` (S, F)
    int32), parts_scale_<s>.glb per scale, run.json.

    returns (asset, field, summary dict as written to run.json); raises
    InputError for a file PartScope cannot use.
    """
    import torch

    from .cache import FitCache, fit_cached
    from .export import colored_scene, ladder_colors, write_glb

    asset, loading = loaded or timed_load(path)
    start = time.perf_counter() - loading  # the total counts the load
    cache = FitCache(os.path.join(engine.settings.cache_dir, "fits")) if use_cache else None
    try:
        field = fit_cached(engine, asset, cache)
        t = time.perf_counter()
        labels = field.ladder(scales)
        field.seconds["clustering"] = time.perf_counter() - t
        log.info("clustering %.2f s for %d scales", field.seconds["clustering"], len(scales))
        if cache is not None:
            cache.put(engine, field)
    finally:
        if cache is not None:
            cache.close()
    os.makedirs(out, exist_ok=True)
    t = time.perf_counter()
    with atomic_write(os.path.join(out, "labels.npz")) as f:
        np.savez_compressed(f, scales=np.asarray(scales, np.float32), face_labels=labels.astype(np.int32))
    for s, lab, colors in zip(scales, labels, ladder_colors(labels, scales, asset.mesh.area_faces)):
        write_glb(colored_scene(asset, lab, colors=colors), os.path.join(out, f"parts_scale_{s:.2f}.glb"))
    field.seconds["export"] = time.perf_counter() - t
    total = time.perf_counter() - start
    peak_kb = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    device = torch.cuda.get_device_name() if engine.device.startswith("cuda") else "cpu"
    seconds = {"loading": loading, **field.seconds, "total": total}
    summary = {"input": os.path.abspath(path), "faces": asset.n_faces, "device": device, "peak_rss_mb": peak_kb / 1024,
               "parts": [int(l.max()) + 1 for l in labels], "scales": [float(s) for s in scales],
               "seconds": {k: round(v, 3) for k, v in seconds.items()}}
    with atomic_write(os.path.join(out, "run.json")) as f:
        f.write(json.dumps(summary, indent=1).encode())
    log.info("wrote %d scales to %s in %.1f s", len(scales), out, total)
    return asset, field, summary


def name_to_folder(asset, labels: np.ndarray, settings: Settings, out: str,
                   label_set=None) -> dict:
    """Name the parts of ``labels`` ((F,) int) and write names.json and
    named_parts.glb to ``out``; with ``label_set`` (allowed names) also
    semantic.npy ((F,) int32 index into the set, -1 unnamed) and
    semantic.json ({"labels": [...], "parts": {id: label or null}}).

    returns {part id: NameResult}; raises NamingUnavailable.
    """
    from .export import segmented_scene, write_glb
    from .naming import name_parts, semantic_labels, write_names

    results = name_parts(asset, labels, settings, label_set=label_set)
    os.makedirs(out, exist_ok=True)
    write_names(results, os.path.join(out, "names.json"))
    names = {k: r.name for k, r in results.items() if r.name}
    write_glb(segmented_scene(asset, labels, names), os.path.join(out, "named_parts.glb"))
    if label_set is not None:
        with atomic_write(os.path.join(out, "semantic.npy")) as f:
            np.save(f, semantic_labels(labels, results, label_set))
        semantic = {"labels": list(label_set), "parts": {str(k): names.get(k) for k in results}}
        with atomic_write(os.path.join(out, "semantic.json")) as f:
            f.write(json.dumps(semantic, indent=1, ensure_ascii=False).encode("utf-8"))
    for k, r in sorted(results.items()):
        if r.error:
            log.warning("part %d: %s", k, r.error)
    log.info("named %d of %d parts into %s", len(names), len(results), out)
    return results
