"""Opening a model: load it, take its fit from memory or the disk cache or fit
it, and show its parts; the first parts from the masks show while the
field is fitted.

A fit runs on a thread of its own (``FitJob``) and to its end, even if the
page goes away, so its result reaches the caches. Sessions that open the same
content meanwhile follow the same job; the engine fits one object at a time
(its own lock), and a session whose fit waits for another's is told so.
Opening a model clears everything the page said about the previous one.
"""

from __future__ import annotations

import contextvars
import logging
import os
import shutil
import tempfile
import threading
import time
import types

import gradio as gr

from core.scales import default_scales
from core.threads import yield_cpu
from core.inputs import FORMAT_LIST, InputError, model_files, models_among, models_held
from core.loading import load_asset

from . import gpu
from .names import naming_state
from .page import NO_MODEL, example_paths
from .panels import automatic_table, count_plot, parts_table, progress_bar
from .payload import view_value as blank_value
from .sessions import Session
from .store import Fitted
from .work import first_value, new_workbench, view_value

log = logging.getLogger(__name__)

STAGES = types.MappingProxyType({  # engine stage -> (progress span, what the bar says)
    "rendering": (0.05, 0.12, "Rendering views"),
    "masks": (0.12, 0.30, "Building 2D masks"),
    "fitting": (0.30, 0.92, "Fitting the scale field"),
})
FIRST_NOTE = "first parts, from the masks; fitting the field"
PREVIEW_NOTE = ("First parts, straight from the masks; the scale field is being fitted and its parts replace "
                "these when it is ready.")
#: Uploads a session keeps on disk (the one shown and those still loading).
KEPT_UPLOADS = 3


def shown_bar(html: str):
    """The progress element's update: the bar, or hidden when there is none."""
    return gr.update(value=html, visible=bool(html))


class FitJob:
    """One object's fit, followed by every session that opened it: its stage,
    its first parts, then its result (``item`` and ``seconds``) or ``error``."""

    def __init__(self, key: str, asset):
        self.key, self.asset = key, asset
        self.stage, self.fraction = None, 0.0
        self.first: Fitted | None = None
        self.done, self.item, self.seconds, self.error = False, None, None, None
        self.ended = None  # epoch seconds
        self._version = 0
        self._changed = threading.Condition()

    def post(self, **changes) -> None:
        with self._changed:
            for name, value in changes.items():
                setattr(self, name, value)
            self._version += 1
            self._changed.notify_all()

    def wait(self, seen: int, timeout: float) -> int:
        """Block until something changed since version ``seen`` (or ``timeout`` s); the version now."""
        with self._changed:
            self._changed.wait_for(lambda: self._version != seen, timeout)
            return self._version


class Fitting:
    """The open-a-model handlers and the objects sessions work on.

    engine : core.pipeline.Engine; cache : core.cache.FitCache or None
    store : webapp.store.FieldStore; sessions : webapp.sessions.SessionStore
    feeds : webapp.feeds.ViewerFeeds; page : webapp.page.Page
    """

    def __init__(self, engine, cache, store, sessions, feeds, page, *, max_upload_mb: float, default_scale: float):
        self.engine, self.cache, self.store = engine, cache, store
        self.sessions, self.feeds, self.page = sessions, feeds, page
        self.max_upload_mb, self.default_scale = max_upload_mb, default_scale
        self._jobs: dict[str, FitJob] = {}
        self._lock = threading.Lock()
        self._fitted: set[str] = set()  # keys fitted or loaded here (worth reloading if memory dropped them)

    # ------------------------------------------------------------ opening
    def open_model(self, files, request: gr.Request = None):
        """Load, fit (or take from a cache), show the parts at the default scale.
        ``files``: the upload, one path or several (a model with the files it
        refers to). Yields dicts of the page's per-model outputs: first
        everything about the previous model cleared (the new one in its own
        look while it is fitted), then the progress as it moves, its first
        parts, its parts."""
        self.sessions.show(request, None)
        files = [str(f) for f in (files if isinstance(files, (list, tuple)) else [files]) if f]
        if not files:
            yield self.cleared(NO_MODEL)
            return
        models = [os.path.basename(f) for f in models_among(files, zips=True)]
        name = (models or [os.path.basename(files[0])])[0]
        try:
            yield from self._open(files, name, request)
        except gr.Error:
            raise
        except Exception:
            log.exception("opening %s failed", name)
            yield {self.page.progress: shown_bar("")}
            raise gr.Error(f"PartScope could not segment '{name}': something went wrong on the server, which "
                           "logged the details. Try again, or try another file.", print_exception=False) from None

    def open_example(self, index, request: gr.Request = None):
        """``open_model`` of example ``index`` (webapp.page.EXAMPLES)."""
        examples = example_paths()
        if not isinstance(index, int) or not 0 <= index < len(examples):
            raise gr.Error("There is no such example; pick one from the list.", print_exception=False)
        yield from self.open_model(examples[index][0], request)

    def cleared(self, status: str) -> dict:
        """The per-model outputs with no model: everything said about the last one gone."""
        p = self.page
        return {p.session: None, p.work: None, p.view: None, p.status: status, p.picked: "",
                p.targets: gr.update(choices=[], value=[]), p.undo: gr.update(interactive=False),
                p.redo: gr.update(interactive=False), p.note: "", p.table: parts_table(None), p.plot: None,
                p.editor: None, p.mask_result: None, p.mask_status: "", p.downloads: None, p.upload: None,
                p.scale: self.default_scale, p.progress: shown_bar("")} | naming_state(p, self.engine.settings)

    def _open(self, files: list, name: str, request):
        size_mb = sum(os.path.getsize(f) for f in files) / 2**20
        if size_mb > self.max_upload_mb:
            what = f"**This file cannot be used.** '{name}' is" if len(files) == 1 else (
                f"**These files cannot be used.** The {len(files)} files are")
            yield self.cleared(f"{what} {size_mb:.1f} MB; PartScope takes files "
                               f"up to {self.max_upload_mb:g} MB. Simplify or compress the model and try again.")
            return
        folder = self._upload_folder(request)
        for f in files:
            shutil.copyfile(f, os.path.join(folder, os.path.basename(f)))
        if len(files) > 1:  # beside each other now, a USD stage's layers are known for what they are
            models = [os.path.basename(m) for m in model_files(
                [os.path.join(folder, os.path.basename(f)) for f in files], zips=True)]
            if len(models) != 1:
                yield self.cleared(f"**These files cannot be used.** The {len(files)} files hold "
                                   f"{models_held(models)}: drop one model ({FORMAT_LIST}) with the files it refers "
                                   "to (its .bin, .mtl and images), or one ZIP of them.")
                return
            name = models[0]
        yield {self.page.progress: shown_bar(progress_bar(0.0, f"Loading {name}"))}
        path = os.path.join(folder, name)
        try:
            asset = load_asset(path)
        except InputError as exc:
            yield self.cleared(f"**This file cannot be used.** {exc}")
            return
        key = self.engine.cache_key(asset)
        session = Session(key=key, digest=asset.digest, name=name, path=path, folder=self.sessions.folder(request),
                          n_faces=asset.n_faces)
        self.feeds.remember(asset)
        self.sessions.show(request, session)
        about = f"**{name}**: {asset.n_faces:,} faces, {len(asset.node_names)} node(s)"
        about += "".join(f". {warning[:-1]}" for warning in asset.warnings)  # what was left out, said
        item = self.store.get(key) or self._from_disk(key, asset)
        if item is not None:
            yield {self.page.progress: shown_bar(progress_bar(0.95, "Clustering parts"))}
            yield self._shown(session, item, item.opening, f"{about}. Ready from the cache.")
            return
        yield self.cleared(f"{about}. Fitting...") | {self.page.session: session, self.page.view: blank_value(
            asset.digest, name, default_scales(), self.default_scale)}
        job, started = self._job(key, asset)
        item, seconds = yield from self._follow(job, request, session, about)
        if item is None:
            return  # the session opened something else meanwhile
        yield {self.page.progress: shown_bar(progress_bar(0.95, "Clustering parts"))}
        wanted = self.sessions.wanted_scale(request, item.opening, forget=True)
        done = f"Fitted in {seconds:.1f} s." if started else "Fitted meanwhile for another session too."
        shown = self._shown(session, item, wanted, f"{about}. {done}")
        log.info("field parts of %s %.2f s after the fit (fit %.1f s, ended at epoch %.3f)", name,
                 time.time() - job.ended, seconds, job.ended)
        yield shown

    def _upload_folder(self, request) -> str:
        """A new, empty folder for an upload of the session (no file of an
        earlier upload is taken for one this names); all but the session's
        last KEPT_UPLOADS uploads removed (an upload still loading is never
        among them)."""
        uploads = os.path.join(self.sessions.folder(request), "uploads")
        os.makedirs(uploads, exist_ok=True)
        folder = tempfile.mkdtemp(prefix=f"{time.time_ns()}-", dir=uploads)
        for old in sorted(os.listdir(uploads), key=lambda n: int(n.split("-")[0]))[:-KEPT_UPLOADS]:
            shutil.rmtree(os.path.join(uploads, old), ignore_errors=True)
        return folder

    def _shown(self, session: Session, item: Fitted, scale: float, status: str) -> dict:
        work = new_workbench(item, scale)
        self.store.fill_ladder(item, work.scale)
        p = self.page
        return self.cleared(status) | {
            p.session: session, p.work: work, p.view: view_value(item, work), p.scale: work.scale,
            p.table: automatic_table(item.result(work.scale)),
            p.plot: count_plot(item.counts(), n_scales=len(item.scales))}

    # ------------------------------------------------------------ fitting
    def _job(self, key: str, asset) -> tuple[FitJob, bool]:
        """The fit of ``key`` in progress, or a new one started: (job, whether this call started it)."""
        with self._lock:
            job = self._jobs.get(key)
            if job is not None:
                return job, False
            job = FitJob(key, asset)
            fitted = self.store.get(key)  # a fit that ended since this session looked
            if fitted is not None:
                job.post(done=True, item=fitted, seconds=0.0, ended=time.time())
                return job, False
            self._jobs[key] = job
        # the request's context goes along (a ZeroGPU Space reads it to lend the GPU)
        threading.Thread(target=contextvars.copy_context().run, args=(self._run, job), daemon=True,
                         name=f"partscope-fit-{asset.name}").start()
        return job, True

    def _run(self, job: FitJob) -> None:
        """The fit itself, on its own thread: keeps the result in memory and
        on disk, then tells the job's followers. Until its first parts are on
        screen someone waits with nothing to look at, so it takes its fair
        share of the CPU; from then on it runs below the threads that answer
        people (``yield_cpu``). At the lowest priority from the start, under
        a competing 2-process CPU load the mug's first parts came after 109
        s, not 5.5 s."""
        try:
            t0 = time.perf_counter()
            field = gpu.fit(self.engine, job.asset, lambda stage, f: job.post(stage=stage, fraction=float(f)),
                            lambda parts: self._first_parts(job, parts))
            seconds = time.perf_counter() - t0
            if self.cache is not None:
                try:
                    self.cache.put(self.engine, field)
                except Exception:
                    log.exception("writing the fit cache failed for %s", job.asset.name)
            with self._lock:  # kept before the job ends, so a session opening it now finds this fit
                item = self.store.add(Fitted(job.key, job.asset, field, colors_from=job.first))
                self._fitted.add(job.key)
                self._jobs.pop(job.key, None)
            job.post(done=True, item=item, seconds=seconds, ended=time.time())
        except BaseException as exc:
            with self._lock:
                self._jobs.pop(job.key, None)
            job.post(done=True, error=exc)
        finally:
            self.store.drop_first(job.key)

    def _first_parts(self, job: FitJob, parts) -> None:
        first = Fitted(job.key, job.asset, parts, note=FIRST_NOTE, first=True)
        self.store.add_first(first)
        self.store.fill_ladder(first, first.opening)
        job.post(first=first)
        yield_cpu()  # the rest of the fit (the field) runs behind people's requests

    def _follow(self, job: FitJob, request, session: Session, about: str):
        """Generator over a fit: yields its progress and the first parts when
        they come, returns (item, seconds), or (None, None) once the session
        shows something else."""
        seen, shown, said = -1, None, None
        while True:
            seen = job.wait(seen, timeout=1.0)
            if not self.sessions.shows(request, session.key):
                return None, None
            if job.error is not None:
                yield {self.page.status: f"{about}. The fit failed.", self.page.progress: shown_bar("")}
                raise job.error
            if job.done:
                return job.item, job.seconds
            bar = self._report(job)
            if bar != said:
                said = bar
                yield {self.page.progress: shown_bar(bar)}
            if job.first is not None and job.first is not shown:
                shown = job.first
                scale = self.sessions.wanted_scale(request, shown.opening)
                log.info("first parts of %s (from the masks) at epoch %.3f", session.name, time.time())
                yield {self.page.view: first_value(shown, scale), self.page.status: f"{about}. {PREVIEW_NOTE}",
                       self.page.table: automatic_table(shown.result(scale))}

    def _report(self, job: FitJob) -> str:
        """The progress bar of a fit, in whole percents."""
        if job.stage is None:
            with self._lock:
                others = any(j is not job and j.stage is not None for j in self._jobs.values())
            return progress_bar(0.01, "Waiting: another model is being fitted" if others else "Starting the fit")
        lo, hi, text = STAGES.get(job.stage, (0.0, 0.0, str(job.stage).capitalize()))
        if job.stage == "fitting" and job.first is not None:
            text = "Showing first parts from the masks; fitting the scale field"
        return progress_bar(lo + (hi - lo) * min(max(job.fraction, 0.0), 1.0), text)

    # ------------------------------------------------------------ objects in memory
    def item(self, session, reload: bool = True) -> Fitted | None:
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
                self.store.fill_ladder(item, item.opening)
        return item

    def first_parts(self, session) -> Fitted | None:
        """The first parts of the object ``session`` waits for, while it is fitted."""
        return self.store.first(session.key) if isinstance(session, Session) else None

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
        return self.store.add(Fitted(key, asset, field, computed=True))

    def save_ladder(self, item: Fitted) -> None:
        """Store callback: once a field's whole ladder is computed, keep it on disk too."""
        if self.cache is not None and not item.first:
            self.cache.put(self.engine, item.field)

    def watch_ladder(self, session, request: gr.Request = None):
        """Yield the part-count plot as the ladder fills in behind the first parts shown."""
        item = self.item(session, reload=False)
        if item is None:
            return
        seen = len(item.counts())
        while not item.complete and not item.evicted:
            done = item.wait_for_more(seen, timeout=1.0)
            if not self.sessions.shows(request, item.key):
                return  # the session moved on to another object, or to none
            if done != seen:
                seen = done
                yield {self.page.plot: count_plot(item.counts(), n_scales=len(item.scales))}
            elif not self.store.filling(item.ladder_id):
                break
        yield {self.page.plot: count_plot(item.counts(), n_scales=len(item.scales))}
