"""Browser sessions: each one's folder, the object it shows, and the scale it
asked for while that object was still being fitted.

A page holds a ``Session`` (a key and a few strings) in ``gr.State``; the
``SessionStore`` keeps the rest by Gradio's session hash, so a handler can
tell whether the session has moved on to another object.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import tempfile
import threading
from dataclasses import dataclass

import gradio as gr


@dataclass(frozen=True)
class Session:
    """What a browser session holds: which object it shows and where its files are."""

    key: str
    """Engine cache key of the object (content and settings)."""
    digest: str
    """The object's content digest: what the viewer knows it by."""
    name: str
    """File name as uploaded."""
    path: str
    """The session's copy of the upload (to reload the object if memory dropped it)."""
    folder: str
    """The session's own folder (uploads, exports), removed when the session ends."""
    n_faces: int


def session_id(request: gr.Request | None) -> str | None:
    """Gradio's hash of the browser session that made ``request`` (None without one)."""
    return getattr(request, "session_hash", None) or None


def remove_session_folder(session) -> None:
    """``gr.State`` delete callback: the session's folder goes with its state."""
    if isinstance(session, Session):
        shutil.rmtree(session.folder, ignore_errors=True)


def default_session_root() -> str:
    """A new folder of this server's own in the system's temp dir: two servers,
    or two users on one machine, never share (or fight over) session folders."""
    root = tempfile.mkdtemp(prefix="partscope-sessions-")
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    return root


class SessionStore:
    """Per-session bookkeeping under ``root`` (one folder per browser session)."""

    def __init__(self, root: str):
        self.root = root
        self._lock = threading.Lock()
        self._showing: dict[str, Session] = {}  # session hash -> what it shows
        self._wanted: dict[str, float] = {}  # session hash -> scale chosen on the first parts
        os.makedirs(root, exist_ok=True)

    def folder(self, request: gr.Request | None) -> str:
        """The session's own folder, made on first use."""
        sid = session_id(request) or "anonymous"
        folder = os.path.join(self.root, re.sub(r"[^A-Za-z0-9_-]", "_", sid)[:64])
        os.makedirs(folder, exist_ok=True)
        return folder

    def start(self, request: gr.Request) -> None:
        """Page load: the session's folder."""
        self.folder(request)

    def end(self, request: gr.Request) -> None:
        """Page unload: forget the session and remove its folder."""
        sid = session_id(request)
        if sid:
            self.show(request, None)
            shutil.rmtree(self.folder(request), ignore_errors=True)

    def show(self, request, session: Session | None) -> None:
        """Record what the session shows now (None: nothing)."""
        sid = session_id(request)
        if not sid:
            return
        with self._lock:
            if session is None:
                self._showing.pop(sid, None)
                self._wanted.pop(sid, None)
            else:
                self._showing[sid] = session

    def shows(self, request, key: str) -> bool:
        """Whether the session still shows the object ``key`` (True without a session to ask)."""
        sid = session_id(request)
        if not sid:
            return True
        with self._lock:
            shown = self._showing.get(sid)
        return shown is not None and shown.key == key

    def want_scale(self, request, scale: float) -> None:
        """Remember the scale a session chose while its object was fitted: the fit's parts open there."""
        sid = session_id(request)
        if sid:
            with self._lock:
                self._wanted[sid] = float(scale)

    def wanted_scale(self, request, default: float, forget: bool = False) -> float:
        """The scale the session chose on the first parts (``default`` if none);
        ``forget`` clears it."""
        sid = session_id(request)
        with self._lock:
            return (self._wanted.pop if forget else self._wanted.get)(sid, default) if sid else default
