"""What the viewer fetches itself, through its server functions: an object's
geometry once, and its ladder of parts as the server computes it
(formats in webapp/payload.py)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import OrderedDict

from .payload import LADDER_WAIT_S, mesh_payload

MESHES_KEPT = 16
"""Viewer geometries kept in memory (a few MB each for 50k faces)."""
POLL_S = 0.05
"""How often a waiting ladder request looks for a new scale."""


class ViewerFeeds:
    """The viewer's server functions over the app's ``FieldStore``."""

    def __init__(self, store):
        self.store = store
        self._meshes: OrderedDict[str, dict] = OrderedDict()  # digest -> viewer geometry, recent first
        self._lock = threading.Lock()

    def remember(self, asset) -> None:
        """Keep the geometry of an object being opened (built once)."""
        with self._lock:
            if asset.digest in self._meshes:
                self._meshes.move_to_end(asset.digest)
                return
        payload = mesh_payload(asset)
        with self._lock:
            self._meshes[asset.digest] = payload
            while len(self._meshes) > MESHES_KEPT:
                self._meshes.popitem(last=False)

    def mesh(self, key) -> dict | None:
        """``viewer_mesh``: the geometry of an object opened here recently, by
        its content digest (None for any other key). The digest is the
        capability: only a session that was sent it, or that has the file,
        knows it."""
        if not isinstance(key, str):
            return None
        with self._lock:
            payload = self._meshes.get(key)
        if payload is None:  # dropped from the recent ones: rebuild it if the object is in memory
            item = next((i for i in self.store.items() if i.asset.digest == key), None)
            if item is not None:
                self.remember(item.asset)
                with self._lock:
                    payload = self._meshes.get(key)
        return payload

    async def ladder(self, query) -> dict | None:
        """``viewer_ladder``: ``query`` {"ladder": id, "have": [scales]}; the
        scales of that ladder computed and not in "have", once there is at
        least one (or ``LADDER_WAIT_S`` passed, or the ladder is complete).
        None when the server does not hold that ladder (any more)."""
        ladder_id = query.get("ladder") if isinstance(query, dict) else None
        item = self.store.ladder(ladder_id) if isinstance(ladder_id, str) else None
        if item is None:
            return None
        try:
            have = {item.snap(float(s)) for s in query.get("have") or []}
        except (TypeError, ValueError):
            have = set()
        deadline = time.monotonic() + LADDER_WAIT_S
        while True:
            new = [s for s in item.done_scales() if s not in have]
            complete = item.complete
            if new or complete or item.evicted or time.monotonic() > deadline:
                break
            await asyncio.sleep(POLL_S)
        entries = [await asyncio.to_thread(item.entry, s) for s in new]
        return {"ladder": item.ladder_id, "complete": complete and not item.evicted, "entries": entries}
