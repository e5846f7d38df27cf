"""Fitted objects held in memory for the sessions that use them.

A ``Fitted`` wraps one ``PartField`` with what the web app asks of it many
times: part labels, part sizes and the viewer's encoded parts per scale of
the ladder (0, 0.1, ..., 2), each computed once, by whichever asks first
(the background ladder, the page's scale or a ladder request), never twice
at the same time.

``FieldStore`` keeps the most recently used fitted objects (a bounded LRU,
shared by all sessions, keyed by the engine's cache key, so two people on the
same model share one) and fills their ladders on one background thread,
the default scale first. Sessions hold only the key; an object evicted here
comes back from the disk cache. While an object is fitted, the store also
holds its first parts (from the masks) under the same key.
"""

from __future__ import annotations

import atexit
import logging
import queue
import threading
from collections import OrderedDict
from concurrent.futures import Future

import numpy as np

from core.labels import with_model_names
from core.scales import DEFAULT, default_scales, key, snap
from core.threads import yield_cpu
from core.palette import inherited_colors, palette_colors

from .payload import hex_colors, parts_entry

log = logging.getLogger(__name__)


def ladder_order(scales: np.ndarray, first: float) -> list[float]:
    """The ladder's scales, ``first`` (snapped) first, then outwards from it."""
    scales = [key(s) for s in scales]
    return sorted(scales, key=lambda s: (abs(s - first), s))


class Fitted:
    """One fitted object and its per-scale results.

    key : engine cache key (content and settings)
    asset : core.loading.Asset
    field : core.scales.Parts: the fitted object (core.partfield.PartField), or
        the part tree of the default masks alone (core.partfield.FirstParts) for the first parts
    scales : (S,) float ladder the slider snaps to
    note : a few words the viewer's legend adds to every scale's parts, or None
    first : whether these are the first parts, from the masks (the ladder id says so)
    colors_from : a Fitted (the first parts) whose colors the parts at the
        anchor take over by overlap, or None
    computed : whether the field holds parts already computed (read back
        from the cache): described now, from its opening scale outwards
    """

    def __init__(self, key: str, asset, field, scales=None, note: str | None = None, computed: bool = False,
                 first: bool = False, colors_from: "Fitted | None" = None):
        self.key = key
        self.note = note
        self.asset = asset
        self.field = field
        self.first = first
        self.ladder_id = f"{key}:first" if first else key
        self.scales = np.asarray(default_scales() if scales is None else scales, np.float64)
        self.area = np.asarray(field.area, np.float64)  # a back of a surface written twice adds none
        self.evicted = False
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._futures: dict[float, Future] = {}
        self._entries: dict[float, dict] = {}
        self._anchor = self.opening if computed else None
        self._colors_from = colors_from
        self._naming_views = None
        if computed:
            cached = {self.snap(s) for s in field.cached_scales if self._on_ladder(s)}
            for s in ladder_order(self.scales, self._anchor):
                if s in cached:
                    self.result(s)

    @property
    def opening(self) -> float:
        """The scale the object opens at: its objects' count where it is built
        of a few (``core.hierarchy.opening_scale``), else the default."""
        return self.snap(getattr(self.field, "opening", DEFAULT))

    def _on_ladder(self, scale: float) -> bool:
        return bool(np.isclose(self.scales, scale, atol=1e-6).any())

    def snap(self, scale: float) -> float:
        """The ladder scale nearest ``scale``."""
        return snap(scale, self.scales)

    def result(self, scale: float) -> dict:
        """Labels and part sizes at the ladder scale nearest ``scale``:
        {"scale", "labels" (F,) int32, "faces" (P,), "share" (P,), "palette" (P,)
        palette indices, "rgb" (P, 3) uint8, "colors" (hex), "names" (P,) the
        name of the model's own object each part is, or None
        (``core.labels.with_model_names``)}.

        Colors start at the anchor, the first scale asked for (the opening
        scale for a field read back ``computed``): there parts take the colors of the first parts they overlap
        most (``colors_from``), or the palette in order; a part at any other
        scale keeps the color of its part at the next scale towards the
        anchor (``core.export.inherited_colors``), so that scale comes first
        and the first parts shown wait for no other scale."""
        s = self.snap(scale)
        with self._lock:
            if self._anchor is None:
                self._anchor = s
            future = self._futures.get(s)
            owner = future is None
            if owner:
                future = self._futures[s] = Future()
        if owner:
            try:
                future.set_result(self._describe(s, self.field.parts(s)))
            except BaseException as exc:
                future.set_exception(exc)
                with self._lock:
                    self._futures.pop(s, None)
                raise
            with self._changed:
                self._changed.notify_all()
        return future.result()

    def _describe(self, scale: float, labels: np.ndarray) -> dict:
        labels = np.asarray(labels, np.int32)
        n_parts = int(labels.max()) + 1 if len(labels) else 0
        faces, share = self.sizes(labels, n_parts)
        if scale != self._anchor:
            finer, coarser = self.scales[self.scales < scale - 1e-6], self.scales[self.scales > scale + 1e-6]
            near = self.result(finer.max() if scale > self._anchor else coarser.min())
        else:
            near, self._colors_from = (self._colors_from.result(scale) if self._colors_from else None), None
        palette = inherited_colors(labels, self.area, None if near is None else (near["labels"], near["palette"]))
        rgb = palette_colors(palette)
        return {"scale": scale, "labels": labels, "faces": faces, "share": share, "palette": palette,
                "rgb": rgb, "colors": hex_colors(rgb), "names": with_model_names(self.asset, labels)}

    def entry(self, scale: float) -> dict:
        """The viewer's "parts" payload of the automatic parts at ``scale``
        (webapp/payload.py), encoded once."""
        s = self.snap(scale)
        with self._lock:
            done = self._entries.get(s)
        if done is None:
            r = self.result(s)
            done = parts_entry(r["labels"], r["colors"], r["faces"], r["share"], scale=s, names=r["names"])
            with self._lock:
                self._entries[s] = done
        return done

    def done_scales(self) -> list[float]:
        """The ladder scales whose parts are computed, in ladder order."""
        with self._lock:
            return sorted(s for s, f in self._futures.items() if f.done() and f.exception() is None)

    def sizes(self, labels: np.ndarray, n_parts: int) -> tuple[np.ndarray, np.ndarray]:
        """(P,) faces and (P,) share of the surface area of each part of
        ``labels`` (F,) int (-1: no part)."""
        kept = labels >= 0
        faces = np.bincount(labels[kept], minlength=n_parts)
        area = np.bincount(labels[kept], weights=self.area[kept], minlength=n_parts)
        return faces, area / max(float(self.area.sum()), 1e-300)

    def select(self, face: int, scale: float) -> np.ndarray:
        """(F,) bool: the part of ``face`` at the ladder scale nearest ``scale``
        (``PartField.select``), computed once, here or by the background ladder."""
        s = self.snap(scale)
        self.result(s)
        return self.field.select(int(face), s)

    def naming_views(self) -> list:
        """The canonical renders the namer shows the LLM (core.naming), made once."""
        with self._lock:
            views = self._naming_views
        if views is None:
            from core.naming_views import render_canonical

            views = render_canonical(self.asset)
            with self._lock:
                self._naming_views = views
        return views

    def counts(self) -> dict[float, int]:
        """{scale: number of parts} for the scales computed so far."""
        with self._lock:
            done = {s: f for s, f in self._futures.items() if f.done() and f.exception() is None}
        return {s: len(f.result()["faces"]) for s, f in sorted(done.items())}

    @property
    def complete(self) -> bool:
        with self._lock:
            return all(self.snap(s) in self._futures and self._futures[self.snap(s)].done()
                       for s in self.scales)

    def wait_for_more(self, seen: int, timeout: float) -> int:
        """Block until more than ``seen`` scales are done (or ``timeout`` s);
        returns how many are done."""
        with self._changed:
            self._changed.wait_for(lambda: self._n_done() > seen or self.evicted, timeout)
            return self._n_done()

    def _n_done(self) -> int:
        return sum(f.done() for f in self._futures.values())


class FieldStore:
    """A bounded LRU of ``Fitted`` objects and one background ladder thread.

    capacity : int, fitted objects kept in memory
    on_complete : callable(Fitted) or None, called on the ladder thread once an
        object's whole ladder is computed (the app writes it to the disk cache)
    """

    def __init__(self, capacity: int = 6, on_complete=None):
        self.capacity = capacity
        self.on_complete = on_complete
        self._items: OrderedDict[str, Fitted] = OrderedDict()
        self._first: dict[str, Fitted] = {}  # key -> first parts, while the object is fitted
        self._lock = threading.Lock()
        self._jobs: queue.Queue = queue.Queue()
        self._queued: set[str] = set()
        self._closing = False
        self._thread = threading.Thread(target=self._work, name="partscope-ladder", daemon=True)
        self._thread.start()
        # a ladder thread still inside torch or hdbscan when the interpreter
        # finalizes aborts the process ("terminate called ..."): stop it first
        atexit.register(self.close)

    def get(self, key: str) -> Fitted | None:
        with self._lock:
            item = self._items.get(key)
            if item is not None:
                self._items.move_to_end(key)
            return item

    def add(self, item: Fitted) -> Fitted:
        """Keep ``item`` (or the one already kept under its key, which is returned)."""
        with self._lock:
            kept = self._items.get(item.key)
            if kept is not None:
                self._items.move_to_end(item.key)
                return kept
            self._items[item.key] = item
            evicted = []
            while len(self._items) > self.capacity:
                evicted.append(self._items.popitem(last=False)[1])
        for old in evicted:
            self._evict(old)
        return item

    def add_first(self, item: Fitted) -> None:
        """Hold the first parts of an object being fitted (until ``drop_first``)."""
        with self._lock:
            self._first[item.key] = item

    def first(self, key: str) -> Fitted | None:
        """The first parts of ``key``, while it is fitted."""
        with self._lock:
            return self._first.get(key)

    def drop_first(self, key: str) -> None:
        with self._lock:
            item = self._first.pop(key, None)
        if item is not None:
            self._evict(item)

    def ladder(self, ladder_id: str) -> Fitted | None:
        """The object (or first parts) whose ``ladder_id`` this is, if held."""
        with self._lock:
            found = [i for i in (*self._items.values(), *self._first.values()) if i.ladder_id == ladder_id]
        return found[0] if found else None

    def forget(self, key: str) -> None:
        """Drop an object from memory; sessions get it back from the disk cache."""
        with self._lock:
            item = self._items.pop(key, None)
        if item is not None:
            self._evict(item)

    def _evict(self, item: Fitted) -> None:
        item.evicted = True
        with item._changed:
            item._changed.notify_all()
        log.info("dropped %s%s from memory", "the first parts of " * item.first, item.asset.name)

    def items(self) -> list[Fitted]:
        """The fitted objects in memory, least recently used first."""
        with self._lock:
            return list(self._items.values())

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def fill_ladder(self, item: Fitted, first: float) -> None:
        """Compute every ladder scale of ``item`` in the background, ``first`` first
        (nothing to do, and no ``on_complete``, when the ladder is complete)."""
        if item.complete:
            return
        with self._lock:
            if item.ladder_id in self._queued:
                return
            self._queued.add(item.ladder_id)
        self._jobs.put((item, first))

    def filling(self, ladder_id: str) -> bool:
        """Whether the ladder ``ladder_id`` is queued or being computed."""
        with self._lock:
            return ladder_id in self._queued

    def _work(self) -> None:
        yield_cpu()  # ladders fill in behind the people's requests
        while True:
            job = self._jobs.get()
            if job is None:
                return
            item, first = job
            try:
                for s in ladder_order(item.scales, item.snap(first)):
                    if item.evicted or self._closing:
                        break
                    item.result(s)
                if not (item.evicted or self._closing) and self.on_complete is not None:
                    self.on_complete(item)
            except Exception:  # one object's failure must not stop the others' ladders
                log.exception("ladder of %s failed", item.asset.name)
            finally:
                with self._lock:
                    self._queued.discard(item.ladder_id)

    def close(self, timeout: float = 60.0) -> None:
        """Stop the ladder thread after the scale it is computing (idempotent)."""
        self._closing = True
        self._jobs.put(None)
        self._thread.join(timeout)
