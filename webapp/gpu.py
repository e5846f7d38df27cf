"""The engine's entry points as the web app calls them.

On a Hugging Face ZeroGPU Space the optional ``spaces`` package lends a GPU
to functions wrapped in ``spaces.GPU`` for the length of one call; only these
entry points carry it. Where ``spaces`` is not installed the wrapper is a
no-op, and the engine picks its device itself (CUDA when torch sees one).
"""

from __future__ import annotations

import importlib.util

FIT_SECONDS = 120
"""GPU time asked for one fit (ZeroGPU only)."""


def _gpu(duration: int):
    if importlib.util.find_spec("spaces") is None:
        return lambda fn: fn
    import spaces

    return spaces.GPU(duration=duration)


@_gpu(FIT_SECONDS)
def fit(engine, asset, progress=None, preview=None):
    """``engine.fit(asset, progress, preview=preview)`` on the accelerator when one is lent."""
    return engine.fit(asset, progress=progress, preview=preview)
