"""Event handlers of the web app. They validate input, call the engine, and
return data or paths; a person sees a sentence (``gr.Error``), never a stack
trace. No module state: everything hangs off one ``Handlers`` object that
``build_demo`` makes, so tests can build their own.

Sessions hold a ``Session`` (a key and a few strings) and a ``Workbench``
(their part list and selection, webapp/work.py) in ``gr.State``; the fitted
objects live in the shared ``FieldStore`` and on disk (``FitCache``). The
slider, clicks, masks and edits are ``Editing``'s (webapp/editing.py), part
naming is ``Naming``'s (webapp/names.py).
"""

import atexit
import contextvars
import hashlib
import logging
import os
import queue
import re
import shutil
import tempfile
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

import gradio as gr

from core.export import write_downloads
from core.loading import FORMAT_LIST, InputError, load_asset

from . import gpu
from .editing import Editing
from .names import Naming
from .panels import count_plot, parts_table
from .store import FieldStore, Fitted
from .viewer import mesh_payload
from .work import follow, new_workbench

log = logging.getLogger(__name__)

STAGES = {  # engine stage -> (progress span, what the bar says)
    "rendering": (0.05, 0.12, "Rendering views"),
    "masks": (0.12, 0.30, "Building 2D masks"),
    "fitting": (0.30, 0.92, "Fitting the scale field"),
}
PREVIEW_NOTE = ("First parts, straight from the masks; the scale field is being fitted and its parts replace "
                "these when it is ready.")


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


def remove_session_folder(session) -> None:
    """``gr.State`` delete callback: the session's folder goes with its state."""
    if isinstance(session, Session):
        shutil.rmtree(session.folder, ignore_errors=True)


class Handlers:
    """The web app's event handlers over one engine.

    engine : core.pipeline.Engine
    cache : core.cache.FitCache or None (no disk cache)
    store : FieldStore
    session_root : folder holding one folder per browser session
    max_upload_mb : largest upload accepted
    default_scale : granularity shown first after a fit
    """

    def __init__(self, engine, cache, store: FieldStore, *, session_root: str,
                 max_upload_mb: float, default_scale: float):
        self.engine = engine
        self.cache = cache
        self.store = store
        self.session_root = session_root
        self.max_upload_mb = max_upload_mb
        self.default_scale = default_scale
        self._fit_slot = threading.Semaphore(1)
        self._showing: dict[str, Session] = {}  # session hash -> what it shows
        self._meshes: OrderedDict[str, dict] = OrderedDict()  # digest -> viewer geometry, recent first
        self._meshes_lock = threading.Lock()
        self._fitted: set[str] = set()  # keys fitted or loaded here (worth reloading if memory dropped them)
        self._previews: dict[str, Fitted] = {}  # key -> first parts from the masks, while it is fitted
        self._wanted_scale: dict[str, float] = {}  # session hash -> scale chosen on the first parts
        self.editing = Editing(self)
        self.naming = Naming(self, self.editing)
        os.makedirs(session_root, exist_ok=True)

    # ------------------------------------------------------------ sessions
    def session_folder(self, request: gr.Request | None) -> str:
        """The session's own folder, made on first use."""
        sid = getattr(request, "session_hash", None) or "anonymous"
        folder = os.path.join(self.session_root, re.sub(r"[^A-Za-z0-9_-]", "_", sid)[:64])
        os.makedirs(folder, exist_ok=True)
        return folder

    def start_session(self, request: gr.Request):
        self.session_folder(request)

    def end_session(self, request: gr.Request):
        sid = getattr(request, "session_hash", None)
        if sid:
            self._showing.pop(sid, None)
            shutil.rmtree(self.session_folder(request), ignore_errors=True)

    # ------------------------------------------------------------ open and fit
    def open_model(self, file, progress=gr.Progress(), request: gr.Request = None):
        """Load, fit (or take from a cache), show the default granularity.

        Yields (session, work, viewer, n_parts, scale, parts table, plot,
        status, downloads): first the model in its own look, then its parts
        (a fresh part list of them in ``work``).
        """
        if not file:  # the upload box was cleared: so is the view
            yield self._nothing_shown(request, "No model yet.")
            return
        name = os.path.basename(str(file))
        try:
            yield from self._open(str(file), name, progress, request)
        except gr.Error:
            raise
        except Exception:
            log.exception("opening %s failed", name)
            raise gr.Error(f"PartScope could not segment '{name}': something went wrong on the server, which "
                           "logged the details. Try again, or try another file.", print_exception=False) from None

    def _nothing_shown(self, request, status: str) -> tuple:
        """open_model's outputs with no model: the view, parts and downloads cleared."""
        sid = getattr(request, "session_hash", None)
        if sid:
            self._showing.pop(sid, None)
        return (None, None, None, None, self.default_scale, parts_table(None), None, status, None)

    def _refuse(self, request, sentence: str) -> tuple:
        """open_model's outputs for a refused file: the old model cleared, the reason where the status is."""
        return self._nothing_shown(request, f"**This file cannot be used.** {sentence}")

    def _open(self, upload: str, name: str, progress, request):
        size_mb = os.path.getsize(upload) / 2**20
        if size_mb > self.max_upload_mb:
            yield self._refuse(request, f"'{name}' is {size_mb:.1f} MB; PartScope takes files up to "
                               f"{self.max_upload_mb:g} MB. Simplify or compress the model and try again.")
            return
        folder = self.session_folder(request)
        progress(0.0, desc=f"Loading {name}")
        path = os.path.join(folder, "upload", name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        shutil.copyfile(upload, path)
        try:
            asset = load_asset(path)
        except InputError as exc:
            yield self._refuse(request, str(exc))
            return
        key = self.engine.cache_key(asset)
        session = Session(key=key, digest=asset.digest, name=name, path=path, folder=folder, n_faces=asset.n_faces)
        self._remember_mesh(asset)
        if request is not None and request.session_hash:
            self._showing[request.session_hash] = session
        about = f"**{name}**: {asset.n_faces:,} faces, {len(asset.node_names)} node(s)"
        about += "".join(f". {warning[:-1]}" for warning in asset.warnings)  # what was left out, said

        item = self.store.get(key) or self._from_disk(key, asset)
        if item is not None:
            progress(0.95, desc="Clustering parts")
            first = item.result(self.default_scale)
            self.store.fill_ladder(item, self.default_scale)
            yield self._shown(session, item, first, f"{about}. Ready from the cache.")
            return

        yield (session, None, {"key": asset.digest}, None, self.default_scale,
               parts_table(None), None, f"{about}. Fitting...", None)
        sid = getattr(request, "session_hash", None)

        def preview(quick: Fitted):
            result = quick.result(self._wanted_scale.get(sid, self.default_scale))
            log.info("first parts of %s (from the masks) at epoch %.3f", name, time.time())
            return (session, gr.skip(), result["value"], len(result["faces"]), gr.skip(), parts_table(result),
                    gr.skip(), f"{about}. {PREVIEW_NOTE}", gr.skip())

        try:
            item, seconds = yield from self._fit(key, asset, progress, preview)
        except Exception:
            yield (gr.skip(),) * 7 + (f"{about}. The fit failed.", gr.skip())
            raise
        finally:  # also when the page went away during the fit
            wanted = self._wanted_scale.pop(sid, self.default_scale)
        fitted, fit_end = time.perf_counter(), time.time()
        progress(0.95, desc="Clustering parts")
        first = item.result(wanted)
        self.store.fill_ladder(item, first["scale"])
        if seconds is None:
            yield self._shown(session, item, first, f"{about}. Fitted for another session meanwhile.")
            return
        log.info("first parts of %s %.2f s after the fit (fit %.1f s, ended at epoch %.3f)", name,
                 time.perf_counter() - fitted, seconds, fit_end)
        yield self._shown(session, item, first, f"{about}. Fitted in {seconds:.1f} s.")

    def _shown(self, session: Session, item: Fitted, result: dict, status: str):
        counts = item.counts()
        return (session, new_workbench(item, result["scale"]), result["value"], len(result["faces"]),
                result["scale"], parts_table(result), count_plot(counts, n_scales=len(item.scales)),
                status, None)

    def _from_disk(self, key: str, asset) -> Fitted | None:
        if self.cache is None:
            return None
        try:
            field = self.cache.get(self.engine, asset)
        except Exception:  # a damaged cache entry costs a refit, not the session
            log.exception("reading the fit cache failed for %s", asset.name)
            return None
        if field is None:
            return None
        self._fitted.add(key)
        return self.store.add(Fitted(key, asset, field, anchor=self.default_scale))

    def _fit(self, key: str, asset, progress, preview):
        """Generator: fits ``asset`` on a thread of its own, yields
        ``preview(quick)`` once the masks give first parts (a ``Fitted`` over
        ``geomasks.MaskParts``), and returns (fitted object, fit seconds), or
        (item, None) when another session fitted the same object while this
        one waited for the slot. The fit runs to the end and is kept even if
        the page goes away meanwhile."""
        if not self._fit_slot.acquire(blocking=False):
            progress(0.01, desc="Waiting: another model is being fitted")
            self._fit_slot.acquire()
        try:
            item = self.store.get(key) or self._from_disk(key, asset)
        except BaseException:
            self._fit_slot.release()
            raise
        if item is not None:
            self._fit_slot.release()
            return item, None
        events: queue.Queue = queue.Queue()
        # the request's context goes along (a ZeroGPU Space reads it to lend the GPU)
        threading.Thread(target=contextvars.copy_context().run, args=(self._fit_on_thread, key, asset, events),
                         daemon=True, name=f"partscope-fit-{asset.name}").start()
        shows = "Fitting the scale field"
        try:
            while True:
                kind, *data = events.get()
                if kind == "progress":
                    stage, fraction = data
                    lo, hi, text = STAGES.get(stage, (0.0, 0.0, stage.capitalize()))
                    progress(lo + (hi - lo) * min(max(float(fraction), 0.0), 1.0),
                             desc=text if stage != "fitting" else shows)
                elif kind == "preview":
                    quick = Fitted(key, asset, data[0], note="first parts, from the masks; fitting the field")
                    self._previews[key] = quick
                    shows = "Showing first parts from the masks; fitting the scale field"
                    yield preview(quick)
                elif kind == "error":
                    raise data[0]
                else:
                    return tuple(data)
        finally:
            self._previews.pop(key, None)

    def _fit_on_thread(self, key: str, asset, events: queue.Queue) -> None:
        """The fit itself, on its own thread; holds the fit slot until it ends
        and keeps the result in memory and on disk, then posts ("done",
        item, seconds) to ``events`` (or ("error", exception))."""
        try:
            t0 = time.perf_counter()
            field = gpu.fit(self.engine, asset, lambda stage, f: events.put(("progress", stage, f)),
                            lambda family: events.put(("preview", family)))
            seconds = time.perf_counter() - t0
            if self.cache is not None:
                try:
                    self.cache.put(self.engine, field)
                except Exception:
                    log.exception("writing the fit cache failed for %s", asset.name)
            self._fitted.add(key)
            # kept before the slot opens, so a session waiting for it finds this fit
            events.put(("done", self.store.add(Fitted(key, asset, field)), seconds))
        except BaseException as exc:
            events.put(("error", exc))
        finally:
            self._fit_slot.release()

    def preview(self, session) -> Fitted | None:
        """The first parts from the masks of the object ``session`` waits for, while it is fitted."""
        return self._previews.get(session.key) if isinstance(session, Session) else None

    def want_scale(self, request, scale: float) -> None:
        """Remember the scale a session chose while its object was fitted: the fit's parts open there."""
        sid = getattr(request, "session_hash", None)
        if sid:
            self._wanted_scale[sid] = float(scale)

    def save_ladder(self, item: Fitted) -> None:
        """Store callback: once a whole ladder is computed, keep it on disk too."""
        if self.cache is not None:
            self.cache.put(self.engine, item.field)

    # ------------------------------------------------------------ after the fit
    def watch_ladder(self, session, request: gr.Request = None):
        """Yield the part-count plot as the ladder fills in behind the first result."""
        item = self._item(session, reload=False)
        if item is None:
            return
        sid = getattr(request, "session_hash", None)
        seen = len(item.counts())
        while not item.complete and not item.evicted:
            done = item.wait_for_more(seen, timeout=1.0)
            shown = self._showing.get(sid)
            if sid and (shown is None or shown.key != item.key):
                return  # the session moved on to another object, or to none
            if done != seen:
                seen = done
                yield count_plot(item.counts(), n_scales=len(item.scales))
            elif not self.store.filling(item.key):
                break
        yield count_plot(item.counts(), n_scales=len(item.scales))

    def export(self, session, work, scale, request: gr.Request = None):
        """Write the downloads of the session's part list (the automatic parts
        at ``scale`` while it follows the slider): segmented GLB with one node
        per part named by its name, ZIP of one GLB per part, face labels as
        JSON and NPY. Deleted parts are left out; hidden ones stay."""
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
        folder = os.path.join(self.session_folder(request), "exports", sub)
        os.makedirs(folder, exist_ok=True)
        try:
            paths = write_downloads(item.asset, labels, folder, names=names, stem=stem)
        except Exception:
            log.exception("export of %s failed", session.name)
            raise gr.Error("Writing the downloads failed on the server, which logged the details; try again.",
                           print_exception=False) from None
        return [paths["glb"], paths["zip"], paths["json"], paths["npy"]]

    # ------------------------------------------------------------ viewer geometry
    MESHES_KEPT = 16
    """Viewer geometries kept in memory (a few MB each for 50k faces)."""

    def _remember_mesh(self, asset) -> None:
        with self._meshes_lock:
            if asset.digest in self._meshes:
                self._meshes.move_to_end(asset.digest)
                return
        payload = mesh_payload(asset)
        with self._meshes_lock:
            self._meshes[asset.digest] = payload
            while len(self._meshes) > self.MESHES_KEPT:
                self._meshes.popitem(last=False)

    def viewer_mesh(self, key) -> dict | None:
        """The viewer's server function: the geometry of an object opened here
        recently, by its content digest (None for any other key). The digest
        is the capability: only a session that was sent it, or that has the
        file, knows it."""
        if not isinstance(key, str):
            return None
        with self._meshes_lock:
            payload = self._meshes.get(key)
        if payload is None:  # dropped from the recent ones: rebuild it if the object is in memory
            item = next((i for i in self.store.items() if i.asset.digest == key), None)
            if item is not None:
                self._remember_mesh(item.asset)
                with self._meshes_lock:
                    payload = self._meshes.get(key)
        return payload

    # ------------------------------------------------------------ helpers
    def _item(self, session, reload: bool = True) -> Fitted | None:
        """The session's fitted object, back from the disk cache if memory dropped it."""
        if not isinstance(session, Session):
            return None
        item = self.store.get(session.key)
        if item is None and reload and session.key in self._fitted and os.path.isfile(session.path):
            try:
                item = self._from_disk(session.key, load_asset(session.path))
            except InputError:
                return None
            if item is not None and not item.complete:
                self.store.fill_ladder(item, self.default_scale)
        return item


def upload_label(max_upload_mb: float) -> str:
    return f"Model: {FORMAT_LIST} (a glTF with its .bin and images: one ZIP), up to {max_upload_mb:g} MB"


def default_session_root() -> str:
    """A new folder of this server's own in the system's temp dir: two servers,
    or two users on one machine, never share (or fight over) session folders."""
    root = tempfile.mkdtemp(prefix="partscope-sessions-")
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    return root
