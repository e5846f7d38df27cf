"""A disk cache of fitted objects (diskcache), so the same content is ready
at once, across restarts. Values are packed numpy state, never tensors."""

from __future__ import annotations

import logging
import os

from .loading import Asset
from .pipeline import Engine, PartField

log = logging.getLogger(__name__)


class FitCache:
    """``get(engine, asset)`` / ``put(engine, field)`` keyed by content and settings."""

    def __init__(self, directory: str, size_limit_gb: float = 2.0):
        import diskcache

        os.makedirs(directory, exist_ok=True)
        self._cache = diskcache.Cache(directory, size_limit=int(size_limit_gb * 2**30))

    def get(self, engine: Engine, asset: Asset) -> PartField | None:
        state = self._cache.get(engine.cache_key(asset))
        if state is None:
            return None
        log.info("fit cache hit for %s", asset.name)
        return PartField.from_state(asset, state)

    def put(self, engine: Engine, field: PartField) -> None:
        self._cache.set(engine.cache_key(field.asset), field.to_state())

    def close(self) -> None:
        self._cache.close()


def fit_cached(engine: Engine, asset: Asset, cache: FitCache | None, progress=None) -> PartField:
    """The cached fit of ``asset`` if there is one, else a new fit (then cached)."""
    field = cache.get(engine, asset) if cache is not None else None
    if field is None:
        field = engine.fit(asset, progress=progress)
        if cache is not None:
            cache.put(engine, field)
    return field
