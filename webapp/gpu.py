"""The engine's entry points as the web app calls them.

On a Hugging Face ZeroGPU Space the optional ``spaces`` package lends a GPU
to functions wrapped in ``spaces.GPU`` for the length of one call; only these
entry points carry it. Where ``spaces`` is not installed the wrapper is a
no-op, and the engine picks its device itself (CUDA when torch sees one).
"""

from __future__ import annotations

import importlib.util


def fit_seconds(engine, asset, *args, **kwargs) -> int:
    """GPU time to ask for one fit (ZeroGPU only; the less asked, the sooner a
    visitor is served). On an H200 a warm fit took 4-20 s from upload to
    parts for 450 to 50,000 faces, most of it the masks on the CPU
    (benchmarks/results/gpu-h200): twice that, by the face count."""
    return int(min(max(15 + asset.n_faces * 5e-4, 20), 240))


def _gpu(duration):
    if importlib.util.find_spec("spaces") is None:
        return lambda fn: fn
    import spaces

    return spaces.GPU(duration=duration)


@_gpu(fit_seconds)
def fit(engine, asset, progress=None, preview=None):
    """``engine.fit(asset, progress, preview=preview)`` on the accelerator when one is lent."""
    return engine.fit(asset, progress=progress, preview=preview)
