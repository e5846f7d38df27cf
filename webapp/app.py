"""``build_demo(engine)``: the PartScope page as Gradio Blocks.

Queueing: opening a model (load, cache look-up, fit) runs in its own
concurrency group; fits themselves take turns on one slot inside the handler
(``Handlers._fit``), so a cache hit or a small load never waits behind
someone's large fit, and the bar says when a fit is waiting. Slider moves,
clicks, the ladder watcher and exports each have their own groups, so none
of them queues behind a fit.
"""

from __future__ import annotations

import os
from pathlib import Path

import gradio as gr

from core.cache import FitCache

from .handlers import Handlers, default_session_root, remove_session_folder, upload_label
from .panels import CSS as PANELS_CSS
from .panels import parts_table
from .store import FieldStore
from .viewer import PartViewer

DEFAULT_SCALE = 0.5
"""Granularity shown first after a fit: one of the paper's reference scales
(0, 0.5, 1, 1.5, 2), fine enough to show parts on most objects."""
ASSETS = Path(__file__).resolve().parent.parent / "assets"
EXAMPLES = [("table.glb", "Table"), ("chair.glb", "Chair"), ("mug.glb", "Mug"), ("toy_car.glb", "Toy car (textured)")]
SESSION_TTL_S = 6 * 3600
"""A session's state and folder go at the latest this long after its last change."""

INTRO = """# PartScope
Drop a 3D model, watch it being fitted, then drag the granularity slider to cut it into parts from fine
(screws) to coarse (the whole object). Hover a part to see its size, click it to pick it, download the
parts as GLB, ZIP or face labels. An implementation of SAMPart3D's scale field (Yang et al., 2024)."""


def build_demo(engine, *, cache: FitCache | None | bool = True, store: FieldStore | None = None,
               default_scale: float = DEFAULT_SCALE, session_root: str | None = None,
               max_upload_mb: float | None = None, memory_slots: int = 6) -> gr.Blocks:
    """The PartScope app over ``engine`` (a ``core.pipeline.Engine``).

    cache : a FitCache, True for ``{settings.cache_dir}/fits`` (shared with the
        command line), or None/False for no disk cache
    store : FieldStore of fitted objects in memory (default: a new one with
        ``memory_slots`` slots)
    session_root : folder for the per-session folders (default: the system's
        temp dir)
    max_upload_mb : largest upload (default: settings.max_upload_mb)
    """
    settings = engine.settings
    if cache is True:
        cache = FitCache(os.path.join(settings.cache_dir, "fits"))
    elif cache is False:
        cache = None
    limit = float(max_upload_mb if max_upload_mb is not None else settings.max_upload_mb)
    handlers = Handlers(engine, cache, store or FieldStore(capacity=memory_slots),
                        session_root=session_root or default_session_root(), max_upload_mb=limit,
                        default_scale=default_scale)
    if handlers.store.on_complete is None:
        handlers.store.on_complete = handlers.save_ladder

    with gr.Blocks(title="PartScope", delete_cache=(1800, SESSION_TTL_S)) as demo:
        session = gr.State(None, time_to_live=SESSION_TTL_S, delete_callback=remove_session_folder)
        gr.Markdown(INTRO)
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=300):
                # no file_types: a wrong format then gets PartScope's own sentence
                upload = gr.File(label=upload_label(limit), type="filepath", elem_id="upload", height=140)
                examples = [[str(ASSETS / f)] for f, _ in EXAMPLES if (ASSETS / f).is_file()]
                if examples:
                    gr.Examples(examples=examples, inputs=[upload], label="Examples (made for PartScope)",
                                example_labels=[label for f, label in EXAMPLES if (ASSETS / f).is_file()])
                status = gr.Markdown("No model yet.", elem_id="status", min_height=60)
                export = gr.Button("Prepare downloads at this granularity", elem_id="export")
                downloads = gr.File(label="Downloads: parts GLB, ZIP of part GLBs, face labels (JSON, NPY)",
                                    file_count="multiple", interactive=False, elem_id="downloads", height=150)
            with gr.Column(scale=2, min_width=480):
                view = PartViewer(elem_id="viewer", mesh_source=handlers.viewer_mesh)
                picked = gr.Markdown("", elem_id="picked")
                with gr.Row():
                    scale = gr.Slider(0.0, 2.0, value=default_scale, step=0.1, scale=4, elem_id="scale",
                                      label="Granularity: scale (0 = finest parts, 2 = whole object)")
                    n_parts = gr.Number(label="Parts", value=None, precision=0, interactive=False,
                                        scale=1, min_width=90, elem_id="n-parts")
                with gr.Row(equal_height=False):
                    plot = gr.Plot(show_label=False, elem_id="count-plot")
                    table = gr.HTML(parts_table(None), css_template=PANELS_CSS, max_height=320,
                                    elem_id="parts-table", padding=False)

        opened = upload.change(
            handlers.open_model, [upload], [session, view, n_parts, scale, table, plot, status, downloads],
            api_name="open_model", concurrency_id="open", concurrency_limit=4,
            show_progress="full", show_progress_on=[status], trigger_mode="always_last")
        opened.success(handlers.watch_ladder, [session], [plot], api_name=False, concurrency_id="ladder",
                       concurrency_limit=32, show_progress="hidden")
        scale.input(handlers.set_scale, [session, scale], [view, n_parts, table], api_name="set_scale",
                    concurrency_id="scale", concurrency_limit=8, show_progress="hidden",
                    trigger_mode="always_last")
        view.face_click(handlers.face_click, [session], [picked], api_name=False, concurrency_id="click",
                        concurrency_limit=8, show_progress="hidden")
        export.click(handlers.export, [session, scale], [downloads], api_name="export",
                     concurrency_id="export", concurrency_limit=2)
        demo.load(handlers.start_session, None, None, api_name=False, show_progress="hidden")
        demo.unload(handlers.end_session)
    demo.queue(max_size=64, default_concurrency_limit=1)
    demo.partscope = handlers  # for tests and benchmarks: the objects behind the page
    return demo
