"""The downloads of a session's part list: a GLB with one named node per part,
a ZIP of one GLB per part, and the face labels as JSON and NPY, written into
the session's folder (core/export.py writes them). Textures keep the
encoding the uploaded file gave them (core/imagefiles.py), read back once
per upload."""

from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
from collections import OrderedDict

import gradio as gr

from core.export import write_downloads
from core.export import ImageBank, source_images

from .work import follow

log = logging.getLogger(__name__)

BANKS_KEPT = 8
"""Uploads whose texture encodings are kept for further downloads."""


class Downloads:
    """The export handler over the app's ``Editing`` (sessions' work) and ``SessionStore``."""

    def __init__(self, editing, sessions, page):
        self.editing = editing
        self.sessions = sessions
        self.page = page
        self._banks: OrderedDict[tuple, ImageBank] = OrderedDict()  # (upload, digest) -> its textures' encodings
        self._lock = threading.Lock()

    def images(self, session) -> ImageBank:
        """The texture encodings of the session's upload (its own bytes where it has them), made once."""
        key = (session.path, session.digest)
        with self._lock:
            bank = self._banks.get(key)
            if bank is not None:
                self._banks.move_to_end(key)
                return bank
        bank = ImageBank(source_images(session.path))
        with self._lock:
            self._banks[key] = bank
            while len(self._banks) > BANKS_KEPT:
                self._banks.popitem(last=False)
        return bank

    def export(self, session, work, scale, request: gr.Request = None) -> dict:
        """Write the downloads of the session's part list (the automatic parts
        at ``scale`` while it follows the slider). Deleted parts are left out;
        hidden ones stay."""
        item, work = self.editing.bench(session, work, scale)
        with work.lock:
            if work.following and scale is not None:
                follow(item, work, float(scale))
            labels, names, following = work.parts.labels, list(work.parts.names), work.following
        if not (labels >= 0).any():
            raise gr.Error("Every part is deleted: there is nothing to download. Undo brings them back.",
                           print_exception=False)
        stem = re.sub(r"[^\w-]+", "_", os.path.splitext(session.name)[0]).strip("_") or "model"
        if following and not any(names):
            stem, sub = f"{stem}_scale{work.scale:.1f}", f"scale_{work.scale:.1f}"
        else:  # an edited list: a folder per content, so an earlier download is never overwritten
            digest = hashlib.sha1(labels.tobytes() + repr(names).encode()).hexdigest()[:10]
            stem, sub = f"{stem}_edited", f"edited_{digest}"
        folder = os.path.join(self.sessions.folder(request), "exports", sub)
        os.makedirs(folder, exist_ok=True)
        try:
            paths = write_downloads(item.asset, labels, folder, names=names, stem=stem, images=self.images(session))
        except Exception:
            log.exception("export of %s failed", session.name)
            raise gr.Error("Writing the downloads failed on the server, which logged the details; try again.",
                           print_exception=False) from None
        return {self.page.work: work, self.page.downloads: [paths[k] for k in ("glb", "zip", "json", "npy")]}
