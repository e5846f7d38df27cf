"""``build_demo(engine)``: the PartScope page as Gradio Blocks.

Queueing: opening a model (load, cache look-up, fit) runs in its own
concurrency group; fits themselves take turns on one slot inside the handler
(``Handlers._fit``), so a cache hit or a small load never waits behind
someone's large fit, and the bar says when a fit is waiting. Slider moves,
clicks, edits, mask prompts, naming, the ladder watcher and exports each have
their own groups, so none of them queues behind a fit or a naming run.
"""

from __future__ import annotations

import os
from pathlib import Path

import gradio as gr

from core.cache import FitCache

from .editing import PAINT_RESOLUTION, view_choices
from .handlers import Handlers, default_session_root, remove_session_folder, upload_label
from .names import BUTTON as NAME_BUTTON
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
(screws) to coarse (the whole object). Click the model to select the part under the cursor (the slider then
grows or shrinks it), or paint a part on a view; fix the part list, name the parts with a multimodal LLM, and
download them as GLB, ZIP or face labels. An implementation of SAMPart3D (Yang et al., 2024)."""
NAMING_HINT = ("Asks a multimodal LLM what each part is, several at a time; names appear as they arrive, in the "
               "table, the viewer's hover and the downloads. Rename any part yourself below.")


def build_demo(engine, *, cache: FitCache | None | bool = True, store: FieldStore | None = None,
               default_scale: float = DEFAULT_SCALE, session_root: str | None = None,
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
    elif cache is False:
        cache = None
    limit = float(max_upload_mb if max_upload_mb is not None else settings.max_upload_mb)
    handlers = Handlers(engine, cache, store or FieldStore(capacity=memory_slots),
                        session_root=session_root or default_session_root(), max_upload_mb=limit,
                        default_scale=default_scale)
    if handlers.store.on_complete is None:
        handlers.store.on_complete = handlers.save_ladder

    editing, naming = handlers.editing, handlers.naming
    with gr.Blocks(title="PartScope", delete_cache=(1800, SESSION_TTL_S)) as demo:
        session = gr.State(None, time_to_live=SESSION_TTL_S, delete_callback=remove_session_folder)
        work = gr.State(None, time_to_live=SESSION_TTL_S)
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
                name_parts = gr.Button(NAME_BUTTON, elem_id="name-parts")
                naming_status = gr.Markdown(NAMING_HINT, elem_id="naming")
                export = gr.Button("Prepare downloads of this part list", elem_id="export")
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
                with gr.Column(variant="panel", elem_id="edit-panel"):
                    targets = gr.Dropdown([], value=[], multiselect=True, allow_custom_value=True,
                                          elem_id="targets",
                                          label="Parts to edit: click a part in the view, shift-click for more")
                    with gr.Row():
                        buttons = {name: gr.Button(text, size="sm", elem_id=name.replace("_", "-")) for name, text in (
                            ("add_selection", "Add selection as part"), ("merge", "Merge"), ("split", "Split"),
                            ("delete", "Delete"), ("hide", "Hide / show"), ("isolate", "Isolate"),
                            ("show_all", "Show all"), ("clear_selection", "Clear selection"))}
                    with gr.Row():
                        new_name = gr.Textbox(label="Name", placeholder="e.g. lamp shade", scale=3,
                                              elem_id="part-name", max_lines=1)
                        buttons["rename"] = gr.Button("Rename", size="sm", scale=1, elem_id="rename")
                        color = gr.ColorPicker("#e8743b", label="Color", scale=1, elem_id="part-color")
                        buttons["recolor"] = gr.Button("Recolor", size="sm", scale=1, elem_id="recolor")
                    with gr.Row():
                        undo = gr.Button("Undo", size="sm", interactive=False, elem_id="undo")
                        redo = gr.Button("Redo", size="sm", interactive=False, elem_id="redo")
                        buttons["recut"] = gr.Button("Re-cut at this scale", size="sm", elem_id="recut")
                    note = gr.Markdown("", elem_id="edit-note")
                with gr.Row(equal_height=False):
                    plot = gr.Plot(show_label=False, elem_id="count-plot")
                    table = gr.HTML(parts_table(None), css_template=PANELS_CSS, max_height=320,
                                    elem_id="parts-table", padding=False)
                with gr.Accordion("Mask prompt: paint a part on a view", elem_id="mask-panel"):
                    with gr.Row():
                        mask_view = gr.Dropdown(view_choices(engine.config.render), value=0, scale=3,
                                                elem_id="mask-view",
                                                label="View to paint on (or \"Paint this view\" in the 3D viewer)")
                        find = gr.Button("Find the 3D part", variant="primary", scale=1, elem_id="mask-find")
                    with gr.Row(equal_height=True):
                        editor = gr.ImageEditor(
                            type="numpy", sources=(), transforms=(), layers=False, label="Paint over a part",
                            brush=gr.Brush(default_size=24, colors=["#ff3b30"], color_mode="fixed"),
                            eraser=gr.Eraser(default_size=24), canvas_size=(PAINT_RESOLUTION, PAINT_RESOLUTION),
                            fixed_canvas=True, format="png", height=460, elem_id="mask-editor")
                        mask_result = gr.Image(label="The 3D part it means, from the same angle", type="numpy",
                                               interactive=False, height=460, elem_id="mask-result")
                    mask_status = gr.Markdown("", elem_id="mask-status")

        edited = [work, view, n_parts, table, targets, undo, redo, note]
        painted = [work, editor, mask_result, mask_status]
        opened = upload.change(
            handlers.open_model, [upload], [session, work, view, n_parts, scale, table, plot, status, downloads],
            api_name="open_model", concurrency_id="open", concurrency_limit=4,
            show_progress="full", show_progress_on=[status], trigger_mode="always_last")
        opened.success(handlers.watch_ladder, [session], [plot], api_name=False, concurrency_id="ladder",
                       concurrency_limit=32, show_progress="hidden")
        opened.success(editing.refresh, [session, work], edited, api_name=False, concurrency_id="edit",
                       show_progress="hidden")
        opened.success(editing.paint_reference, [session, work, mask_view], painted, api_name=False,
                       concurrency_id="mask", show_progress="hidden")
        scale.input(editing.set_scale, [session, work, scale], edited + [picked], api_name="set_scale",
                    concurrency_id="scale", concurrency_limit=8, show_progress="hidden",
                    trigger_mode="always_last")
        view.face_click(editing.face_click, [session, work, scale, targets], edited + [picked], api_name=False,
                        concurrency_id="click", concurrency_limit=8, show_progress="hidden")
        view.paint_view(editing.paint_viewer_angle, [session, work], painted + [mask_view], api_name=False,
                        concurrency_id="mask", show_progress="hidden")
        mask_view.input(editing.paint_reference, [session, work, mask_view], painted, api_name="mask_view",
                        concurrency_id="mask", show_progress="hidden")
        find.click(editing.mask_part, [session, work, editor], [work, view, mask_result, mask_status, picked],
                   api_name="mask_part", concurrency_id="mask", concurrency_limit=2, show_progress="minimal")
        extra = {"merge": [targets], "split": [targets], "delete": [targets], "hide": [targets],
                 "isolate": [targets], "show_all": [targets], "clear_selection": [targets],
                 "rename": [targets, new_name], "recolor": [targets, color], "recut": [scale]}
        for name, button in list(buttons.items()) + [("undo", undo), ("redo", redo)]:
            button.click(getattr(editing, name), [session, work] + extra.get(name, []),
                         edited + ([picked] if name == "clear_selection" else []), api_name=name,
                         concurrency_id="edit", concurrency_limit=8, show_progress="hidden")
        new_name.submit(editing.rename, [session, work, targets, new_name], edited, api_name=False,
                        concurrency_id="edit", show_progress="hidden")
        name_parts.click(naming.name_parts, [session, work, targets], edited + [naming_status, name_parts],
                         api_name="name_parts", concurrency_id="naming", concurrency_limit=4,
                         show_progress="hidden")
        export.click(handlers.export, [session, work, scale], [downloads], api_name="export",
                     concurrency_id="export", concurrency_limit=2)
        demo.load(handlers.start_session, None, None, api_name=False, show_progress="hidden")
        demo.unload(handlers.end_session)
    demo.queue(max_size=64, default_concurrency_limit=1)
    demo.partscope = handlers  # for tests and benchmarks: the objects behind the page
    return demo
