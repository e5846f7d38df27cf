"""A disk cache of fitted objects (diskcache), so the same content is ready
at once, across restarts. Values are packed numpy state, never tensors.

Every entry is stored as its sha256 followed by the pickled state, and the
checksum is checked on every read: an entry whose bytes changed on disk
(a bad sector, a copy cut short, a hand edit) is dropped and the object is
fitted again, never served."""

from __future__ import annotations

import hashlib
import logging
import os
import pickle

from .loading import Asset
from .partfield import PartField
from .pipeline import Engine

log = logging.getLogger(__name__)

_DIGEST = hashlib.sha256().digest_size


def pack(state: dict) -> bytes:
    """sha256 of the pickled state, then the pickled state."""
    data = pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)
    return hashlib.sha256(data).digest() + data


def unpack(value) -> dict | None:
    """The state ``pack`` made, or None when the bytes do not match their checksum."""
    if not isinstance(value, bytes) or len(value) <= _DIGEST:
        return None
    digest, data = value[:_DIGEST], value[_DIGEST:]
    if hashlib.sha256(data).digest() != digest:
        return None
    return pickle.loads(data)


class FitCache:
    """``get(engine, asset)`` / ``put(engine, field)`` keyed by content and settings."""

    def __init__(self, directory: str, size_limit_gb: float = 2.0):
        import diskcache

        os.makedirs(directory, exist_ok=True)
        self._cache = diskcache.Cache(directory, size_limit=int(size_limit_gb * 2**30))

    def get(self, engine: Engine, asset: Asset) -> PartField | None:
        """The cached fit, or None: never cached, or dropped because its checksum failed."""
        key = engine.cache_key(asset)
        value = self._cache.get(key)
        if value is None:
            return None
        state = unpack(value)
        if state is None:
            log.warning("fit cache entry for %s fails its checksum: dropped, the object is fitted again", asset.name)
            self._cache.delete(key)
            return None
        log.info("fit cache hit for %s", asset.name)
        return PartField.from_state(asset, state)

    def put(self, engine: Engine, field: PartField) -> None:
        self._cache.set(engine.cache_key(field.asset), pack(field.to_state()))

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
