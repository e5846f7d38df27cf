"""Name parts with a multimodal LLM (SAMPart3D stage 3, method.md §10).

For each part, a picture of the object with the part highlighted
(``naming_views``) is sent to an OpenAI-compatible chat-completions endpoint
with a request for a short name (``llm``). One request about the whole
object goes first, and its answer is given to every part request, so that
names agree with each other ("wheel" on a car). Names, never errors, are
cached on disk by object, part faces, model and endpoint.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Callable

import numpy as np

from .files import atomic_write
from .labels import check_labels
from .llm import (NameResult, NamingUnavailable, api_key, ask_safely, display_url, endpoint, label_key,
                  label_list, naming_unavailable_reason)
from .loading import Asset
from .naming_views import CanonicalViews, render_canonical
from .rendering import View
from .settings import Settings

log = logging.getLogger(__name__)

__all__ = ["NameResult", "NamingUnavailable", "naming_unavailable_reason", "name_parts", "semantic_labels",
           "write_names", "cache_key", "open_cache"]

CACHE_VERSION = 1
"""Part of every cache key: bump when prompts or images change."""

OBJECT_PROMPT = (
    "The large panel and the two small panels show one 3D object from three angles. "
    "What is this object? Answer with its short name only.")
PART_PROMPT = (
    "The large panel shows a 3D object with one part highlighted in orange and outlined "
    "in black; the rest of the object is greyed out. The two small panels show the whole "
    "object from other angles. What is the highlighted part called? Answer with the "
    "part's short name only.")
LABEL_PROMPT = (
    "Choose the name of the highlighted part from this list of allowed names: {names}. "
    "Answer with one name from the list, exactly as written.")


# ------------------------------------------------------------------- cache


def _asset_id(asset: Asset) -> str:
    if asset.digest:
        return asset.digest
    h = hashlib.sha256(np.ascontiguousarray(asset.mesh.vertices, np.float64).tobytes())
    h.update(np.ascontiguousarray(asset.mesh.faces, np.int64).tobytes())
    return h.hexdigest()[:32]


def cache_key(asset: Asset, faces: np.ndarray | None, model: str, base_url: str, labels=None) -> str:
    """Cache key of one part (``faces``: its sorted (n,) face indices) or of
    the whole object (``faces`` None), for one model at one endpoint, named
    freely or (``labels``) from a set of allowed names."""
    face_hash = None
    if faces is not None:
        face_hash = hashlib.sha256(np.asarray(faces, np.int64).tobytes()).hexdigest()
    parts = [CACHE_VERSION, _asset_id(asset), face_hash, model, base_url]
    if labels is not None and faces is not None:
        parts.append(list(labels))
    payload = json.dumps(parts)
    return "name:" + hashlib.sha256(payload.encode()).hexdigest()


def open_cache(settings: Settings):
    """The on-disk name cache under ``settings.cache_dir/names`` (diskcache)."""
    import diskcache

    return diskcache.Cache(os.path.join(settings.cache_dir, "names"))


# ------------------------------------------------------------------ naming


def _check_parts(face_labels: np.ndarray, part_ids) -> list[int]:
    """The part ids to name: ``part_ids`` (each labelling some face), or every part."""
    present = np.unique(face_labels[face_labels >= 0])
    if part_ids is None:
        return [int(p) for p in present]
    wanted = [int(p) for p in part_ids]
    missing = sorted(set(wanted) - set(present.tolist()))
    if missing:
        raise ValueError(f"part ids {missing} label no face")
    return list(dict.fromkeys(wanted))


def name_parts(asset: Asset, face_labels: np.ndarray, settings: Settings, part_ids=None,
               on_result: Callable[[int, NameResult], None] | None = None, max_workers: int = 4,
               timeout: float = 30, cache=None, views: list[View] | None = None,
               label_set=None) -> dict[int, NameResult]:
    """Name parts of an object with the multimodal LLM of ``settings``
    (endpoint, model, cache folder; the key is read from OPENAI_API_KEY now).

    face_labels : (F,) int, part id per face (contiguous ids), -1 deleted face
    part_ids : iterable of int, the parts to name (default: every part)
    on_result : callable(part_id, NameResult), called in this thread as each
        result arrives (cached ones first)
    max_workers : most requests in flight at once; timeout : seconds for one answer
    cache : None (diskcache under ``settings.cache_dir/names``), False (no
        cache) or a mapping-like object with ``get`` and item assignment
    views : ``render_canonical(asset)``, to reuse renders across calls (another
        granularity of the same object); rendered here when needed if None
    label_set : the allowed names (e.g. one object's list in PartObjaverse-Tiny's
        semantic.json): the model chooses one for each part; an answer outside
        the set (compared as in ``llm.match_label``) is pointed out to it once,
        then becomes an error; names are written as in the set. None: free names.

    returns {part_id: NameResult} in ``part_ids`` order: timeouts, rate
    limits, refusals, malformed answers and server errors become per-part
    errors; names, never errors, are cached. Raises NamingUnavailable (no key
    for OpenAI's API, or no openai package: the message says what to do) and
    ValueError (labels of the wrong shape, unknown part ids, an empty label set).
    """
    face_labels = check_labels(face_labels, asset.n_faces)
    parts = _check_parts(face_labels, part_ids)
    label_set = _checked_label_set(label_set)
    key, openai = api_key(settings), _openai()
    url, model = endpoint(settings), settings.llm_model
    start, results = time.perf_counter(), {}

    def report(part_id: int, result: NameResult) -> None:
        results[part_id] = result
        if result.error:
            log.warning("part %d of %s: %s", part_id, asset.name, result.error)
        if on_result is not None:
            on_result(part_id, result)

    store = open_cache(settings) if cache is None else (None if cache is False else cache)
    try:
        keys = {p: cache_key(asset, np.flatnonzero(face_labels == p), model, url, label_set) for p in parts}
        todo = _report_cached(parts, keys, store, report)
        if todo:
            log.info("naming %d parts of %s with %s at %s (%d cached)", len(todo), asset.name,
                     model, display_url(url), len(parts) - len(todo))
            with openai.OpenAI(api_key=key, base_url=url, timeout=timeout, max_retries=0) as client:
                _name_uncached(client, CanonicalViews(views or render_canonical(asset), face_labels), todo, asset,
                               store, keys, report, model=model, url=url, key=settings.openai_api_key,
                               timeout=timeout, max_workers=max_workers, labels=label_set)
    finally:
        if cache is None:
            store.close()
    log.info("named %d of %d parts of %s in %.2f s", sum(r.ok for r in results.values()), len(parts), asset.name,
             time.perf_counter() - start)
    return {p: results[p] for p in parts}


def _checked_label_set(label_set) -> list[str] | None:
    if label_set is None:
        return None
    label_set = [str(x) for x in label_set]
    if not label_set or not all(label_key(x) for x in label_set):
        raise ValueError("label_set must be a non-empty list of non-empty names")
    return label_set


def _openai():
    try:
        import openai
    except ImportError as exc:
        raise NamingUnavailable("Part naming needs the openai package: pip install openai==3.52.0") from exc
    return openai


def _report_cached(parts: list[int], keys: dict, store, report) -> list[int]:
    """Report the parts whose names are cached; returns the others."""
    todo = []
    for p in parts:
        name = store.get(keys[p]) if store is not None else None
        if name is not None:
            report(p, NameResult(name=name))
        else:
            todo.append(p)
    return todo


def _name_uncached(client, views: CanonicalViews, todo: list[int], asset: Asset, store,
                   keys: dict, report, *, model: str, url: str, key: str | None,
                   timeout: float, max_workers: int, labels=None) -> None:
    """Ask about the object, then about each part in ``todo``, concurrently
    (choosing from ``labels`` when given)."""
    ask = dict(key=key, timeout=timeout, url=url)
    object_key = cache_key(asset, None, model, url)
    object_name = store.get(object_key) if store is not None else None
    if object_name is None:
        answer = ask_safely(client, model, OBJECT_PROMPT, views.object_image(), **ask)
        object_name = answer.name
        if answer.ok and store is not None:
            store[object_key] = answer.name
        if not answer.ok:
            log.warning("could not name %s as a whole (%s); naming its parts without it",
                        asset.name, answer.error)
    log.info("%s looks like: %s", asset.name, object_name)
    prompt = (f"The object is: {object_name}. " if object_name else "") + PART_PROMPT
    if labels is not None:
        prompt = prompt.replace(" Answer with the part's short name only.", "")
        prompt += " " + LABEL_PROMPT.format(names=label_list(labels))

    def one(part_id: int) -> NameResult:
        return ask_safely(client, model, prompt, views.part_image(part_id), labels=labels, **ask)

    visible = [p for p in todo if views.best_view(p) is not None]
    for p in todo:
        if p not in visible:
            report(p, NameResult(error="This part is hidden inside the object in every view, "
                                       "so it cannot be shown to the model."))
    with ThreadPoolExecutor(max_workers=max(1, int(max_workers)),
                            thread_name_prefix="naming") as pool:
        futures = {pool.submit(one, p): p for p in visible}
        try:
            for future in as_completed(futures):
                part_id, result = futures[future], future.result()
                if result.ok and store is not None:
                    store[keys[part_id]] = result.name
                report(part_id, result)
        finally:
            for future in futures:
                future.cancel()


def semantic_labels(face_labels: np.ndarray, results: dict, label_set) -> np.ndarray:
    """Per-face semantic labels from named parts.

    face_labels : (F,) int part id per face, -1 deleted
    results : {part id: NameResult or str or None}, names from ``label_set``
    returns (F,) int32, the index in ``label_set`` of each face's part name,
    -1 where the part has no name from the set (or the face is deleted)
    """
    face_labels = np.asarray(face_labels)
    index = {label: i for i, label in reversed(list(enumerate(label_set)))}
    lookup = np.full(int(face_labels.max(initial=-1)) + 2, -1, np.int32)
    for part_id, value in results.items():
        name = value.name if isinstance(value, NameResult) else value
        if name in index and 0 <= int(part_id) < len(lookup) - 1:
            lookup[int(part_id)] = index[name]
    return lookup[np.where(face_labels >= 0, face_labels, len(lookup) - 1)]


def write_names(names: dict, path: str) -> str:
    """Write ``names.json``: {part id: name or null}, ids as strings, sorted.

    names : dict int -> str, NameResult or None (a NameResult with an error
        is written as null)
    path : str, the file to write (replaced atomically)
    returns path
    """
    out = {}
    for part_id in sorted(names, key=int):
        value = names[part_id]
        out[str(int(part_id))] = value.name if isinstance(value, NameResult) else value
    with atomic_write(path) as f:
        f.write((json.dumps(out, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))
    return path
