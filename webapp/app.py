"""``build_demo(engine)``: the PartScope page as Gradio Blocks.

The objects behind the page, each with one subject: ``SessionStore``
(sessions' folders and what each shows), ``Fitting`` (open, fit, the
objects in memory), ``Editing`` (the scale, clicks, part-list edits),
``Masking`` (mask prompts), ``Naming``, ``Downloads``, and ``ViewerFeeds``
(what the viewer fetches itself). ``build_page`` lays the components out;
``_wire`` connects them.

Queueing: opening a model runs in its own concurrency group (the engine
fits one object at a time, and the progress line says when a fit waits);
the scale, clicks, edits, mask prompts, naming, the ladder watcher and
exports each have their own groups, so none of them queues behind a fit or a
naming run. The slider itself never waits for the server: the page
recolours the model from the ladder it holds.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import gradio as gr

from core import scales
from core.cache import FitCache

from .downloads import Downloads
from .editing import Editing
from .feeds import ViewerFeeds
from .fitting import Fitting
from .masking import Masking
from .names import Naming, naming_state
from .page import EDIT_BUTTONS, SESSION_TTL_S, Page, build_page
from .sessions import SessionStore, default_session_root, remove_session_folder
from .store import FieldStore


@dataclass(eq=False)
class PartScopeApp:
    """The objects behind one page (``demo.partscope``, for tests and benchmarks)."""

    engine: object
    cache: FitCache | None
    store: FieldStore
    sessions: SessionStore
    feeds: ViewerFeeds
    page: Page
    fitting: Fitting
    editing: Editing
    masking: Masking
    naming: Naming
    downloads: Downloads


def build_demo(engine, *, cache: FitCache | None | bool = True, store: FieldStore | None = None,
               default_scale: float = scales.DEFAULT, session_root: str | None = None,
               max_upload_mb: float | None = None, memory_slots: int = 6) -> gr.Blocks:
    """The PartScope app over ``engine`` (a ``core.pipeline.Engine``).

    cache : a FitCache, True for ``{settings.cache_dir}/fits`` (shared with the
        command line), or None/False for no disk cache
    store : FieldStore of fitted objects in memory (default: a new one with
        ``memory_slots`` slots)
    session_root : folder for the per-session folders (default: a new folder
        in the system's temp dir)
    max_upload_mb : largest upload (default: settings.max_upload_mb)
    """
    settings = engine.settings
    if cache is True:
        cache = FitCache(os.path.join(settings.cache_dir, "fits"))
    limit = float(max_upload_mb if max_upload_mb is not None else settings.max_upload_mb)
    store = store or FieldStore(capacity=memory_slots)
    sessions = SessionStore(session_root or default_session_root())
    feeds = ViewerFeeds(store)
    with gr.Blocks(title="PartScope", fill_width=True, delete_cache=(1800, SESSION_TTL_S)) as demo:
        page = build_page(engine.config.render, limit, default_scale, feeds.mesh, feeds.ladder)
        page.session.delete_callback = remove_session_folder
        fitting = Fitting(engine, cache or None, store, sessions, feeds, page, max_upload_mb=limit,
                          default_scale=default_scale)
        editing = Editing(fitting, sessions, page)
        app = PartScopeApp(engine, cache or None, store, sessions, feeds, page, fitting, editing,
                           Masking(editing, page), Naming(editing, page, lambda: engine.settings),
                           Downloads(editing, sessions, page))
        if store.on_complete is None:
            store.on_complete = fitting.save_ladder
        _wire(app)
        demo.load(_loaded(app), None, [page.naming_status, page.name_parts], api_name=False,
                  show_progress="hidden")
        demo.unload(sessions.end)
    demo.queue(max_size=64, default_concurrency_limit=1)
    demo.partscope = app
    return demo


def _wire(app: PartScopeApp) -> None:
    """Connect the page's events to the handlers."""
    p, fitting, editing, masking = app.page, app.fitting, app.editing, app.masking
    state = [p.session, p.work]
    per_model = p.per_model() + [p.scale, p.name_parts, p.progress]
    edited = [p.work, p.view, p.table, p.targets, p.undo, p.redo, p.note, p.picked]
    painted = [p.work, p.editor, p.mask_result, p.mask_status]
    hidden = {"show_progress": "hidden"}
    opening = {"concurrency_id": "open", "concurrency_limit": 4, "show_progress": "hidden"}
    for event in (p.upload.upload(fitting.open_model, [p.upload], per_model, api_name="open_model", **opening),
                  p.examples.click(fitting.open_example, [p.examples], per_model, api_name=False, **opening)):
        event.success(fitting.watch_ladder, [p.session], [p.plot], api_name=False, concurrency_id="ladder",
                      concurrency_limit=32, **hidden)
        event.success(editing.refresh, state, edited, api_name=False, concurrency_id="edit", **hidden)
        event.success(masking.paint_reference, state + [p.mask_view], painted, api_name=False,
                      concurrency_id="mask", **hidden)
    scaled = [p.work, p.table, p.note, p.targets, p.picked, p.scale]
    p.view.scale_change(editing.scale_change, state, scaled, api_name=False, concurrency_id="scale",
                        concurrency_limit=8, trigger_mode="always_last", **hidden)
    p.scale.submit(editing.set_scale, state + [p.scale], scaled, api_name="set_scale", concurrency_id="scale",
                   concurrency_limit=8, **hidden)
    p.view.face_click(editing.face_click, state + [p.targets], edited, api_name=False, concurrency_id="click",
                      concurrency_limit=8, **hidden)
    p.view.paint_view(masking.paint_viewer_angle, state, painted + [p.mask_view, p.tabs], api_name=False,
                      concurrency_id="mask", **hidden)
    p.mask_view.input(masking.paint_reference, state + [p.mask_view], painted, api_name="mask_view",
                      concurrency_id="mask", **hidden)
    p.find.click(masking.mask_part, state + [p.editor], [p.work, p.view, p.mask_result, p.mask_status, p.picked],
                 api_name="mask_part", concurrency_id="mask", concurrency_limit=2, show_progress="minimal")
    extra = {"merge": [p.targets], "split": [p.targets], "delete": [p.targets], "hide": [p.targets],
             "isolate": [p.targets], "show_all": [p.targets], "clear_selection": [p.targets],
             "rename": [p.targets, p.new_name], "recolor": [p.targets, p.color], "recut": [p.scale]}
    buttons = [(name, p.buttons[name]) for name, _ in EDIT_BUTTONS] + [
        (name, p.buttons[name]) for name in ("rename", "recolor", "recut")] + [("undo", p.undo), ("redo", p.redo)]
    for name, button in buttons:
        button.click(getattr(editing, name), state + extra.get(name, []), edited, api_name=name,
                     concurrency_id="edit", concurrency_limit=8, **hidden)
    p.new_name.submit(editing.rename, state + [p.targets, p.new_name], edited, api_name=False,
                      concurrency_id="edit", **hidden)
    p.name_parts.click(app.naming.name_parts, state + [p.targets], edited + [p.naming_status, p.name_parts],
                       api_name="name_parts", concurrency_id="naming", concurrency_limit=4, **hidden)
    p.export.click(app.downloads.export, state + [p.scale], [p.work, p.downloads], api_name="export",
                   concurrency_id="export", concurrency_limit=2)


def _loaded(app: PartScopeApp):
    """The page-load handler: the session's folder, and what naming needs."""
    def loaded(request: gr.Request) -> dict:
        app.sessions.start(request)
        return naming_state(app.page, app.engine.settings)
    return loaded
