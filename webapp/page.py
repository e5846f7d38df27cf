"""The page's components and where they sit: ``build_page`` lays them out and
returns them as one ``Page``, whose fields the handlers use as the keys of
the ``{component: value}`` dicts they return.

One screen: the viewer (with its granularity slider and part count) fills the
left of the window; the upload box, the status and, in tabs, the part list,
the mask painter, the scale plot and naming with downloads sit beside it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import gradio as gr

from core.inputs import FORMAT_LIST

from .masking import PAINT_RESOLUTION, view_choices
from .panels import CSS as PANELS_CSS
from .panels import PROGRESS_CSS
from .panels import parts_table
from .viewer import PartViewer

ASSETS = Path(__file__).resolve().parent.parent / "assets"
EXAMPLES = (("table.glb", "Table"), ("chair.glb", "Chair"), ("mug.glb", "Mug"), ("toy_car.glb", "Toy car (textured)"))
SESSION_TTL_S = 6 * 3600
"""A session's state and folder go at the latest this long after its last change."""
HEADER = ("<div class='ps-head'><b>PartScope</b> cuts a 3D model into parts: drop a model, drag the slider from fine "
          "to coarse, click a part, fix the list, name it, download it. An implementation of SAMPart3D "
          "(Yang et al., 2024).</div>")
HEADER_CSS = ".ps-head { font-size: 14px; line-height: 1.4; padding: 2px 0; } .ps-head b { font-size: 18px; margin-right: 6px; }"
NAMING_HINT = ("Asks a multimodal LLM what each part is, several at a time; names appear as they arrive, in the "
               "table, the viewer's hover and the downloads.")
NO_MODEL = "No model yet: drop one in the box above or pick an example."
EDIT_BUTTONS = (("merge", "Merge"), ("split", "Split"), ("delete", "Delete"), ("hide", "Hide / show"),
                ("isolate", "Isolate"), ("show_all", "Show all"), ("add_selection", "Add selection as part"),
                ("clear_selection", "Clear selection"))


@dataclass(eq=False)
class Page:
    """Every component a handler reads or writes, by name."""

    session: gr.State
    work: gr.State
    upload: gr.File
    examples: gr.Dataset
    progress: gr.HTML
    status: gr.Markdown
    view: PartViewer
    scale: gr.Number
    """The scale the page settled on, for API clients (the page itself tells the viewer's ``scale_change``)."""
    tabs: gr.Tabs
    picked: gr.Markdown
    targets: gr.Dropdown
    new_name: gr.Textbox
    color: gr.ColorPicker
    undo: gr.Button
    redo: gr.Button
    note: gr.Markdown
    table: gr.HTML
    plot: gr.Plot
    mask_view: gr.Dropdown
    find: gr.Button
    editor: gr.ImageEditor
    mask_result: gr.Image
    mask_status: gr.Markdown
    name_parts: gr.Button
    naming_status: gr.Markdown
    export: gr.Button
    downloads: gr.File
    buttons: dict = field(default_factory=dict)
    """The edit buttons by handler name (``EDIT_BUTTONS``, "rename", "recolor", "recut")."""

    def per_model(self) -> list:
        """The outputs that describe the model shown: all cleared when it is replaced."""
        return [self.session, self.work, self.view, self.status, self.picked, self.targets, self.undo, self.redo,
                self.note, self.table, self.plot, self.editor, self.mask_result, self.mask_status,
                self.naming_status, self.downloads, self.upload]


def example_paths() -> list[tuple[str, str]]:
    """(path, label) of the example models that are there."""
    return [(str(ASSETS / f), label) for f, label in EXAMPLES if (ASSETS / f).is_file()]


def build_page(render_cfg, max_upload_mb: float, default_scale: float, mesh_source, ladder_source) -> Page:
    """Lay out the page (inside a ``gr.Blocks`` context) and return its components."""
    parts = {"session": gr.State(None, time_to_live=SESSION_TTL_S), "work": gr.State(None, time_to_live=SESSION_TTL_S)}
    gr.HTML(HEADER, css_template=HEADER_CSS, elem_id="header")
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=340):
            parts["view"] = PartViewer(elem_id="viewer", mesh_source=mesh_source, ladder_source=ladder_source)
            parts["scale"] = gr.Number(default_scale, visible=False, elem_id="scale-api")
        with gr.Column(scale=2, min_width=340):
            parts.update(_open_panel(max_upload_mb))
            with gr.Tabs(selected="parts", elem_id="side-tabs") as parts["tabs"]:
                with gr.Tab("Parts", id="parts"):
                    parts.update(_parts_tab())
                with gr.Tab("Paint a part", id="paint"):
                    parts.update(_paint_tab(render_cfg))
                with gr.Tab("Scales", id="scales"):
                    parts["plot"] = gr.Plot(show_label=False, elem_id="count-plot")
                with gr.Tab("Name & download", id="export"):
                    parts.update(_export_tab())
    return Page(**parts)


def _open_panel(max_upload_mb: float) -> dict:
    out = {}
    # no file_types: a wrong format then gets PartScope's own sentence
    out["upload"] = gr.File(label=f"Model: {FORMAT_LIST}, up to {max_upload_mb:g} MB (a glTF or OBJ with its .bin, "
                                  ".mtl and images: drop them together, or one ZIP)", type="filepath",
                            file_count="multiple", elem_id="upload", height=130)
    examples = example_paths()
    out["examples"] = gr.Dataset(components=[gr.Textbox(visible=False)], samples=[[label] for _, label in examples],
                                 type="index", label="Or open an example", elem_id="examples", layout="gallery",
                                 visible=bool(examples))
    out["progress"] = gr.HTML("", css_template=PROGRESS_CSS, elem_id="progress", padding=False, visible=False)
    out["status"] = gr.Markdown(NO_MODEL, elem_id="status")
    return out


def _parts_tab() -> dict:
    out = {"picked": gr.Markdown("", elem_id="picked")}
    out["targets"] = gr.Dropdown([], value=[], multiselect=True, allow_custom_value=True, elem_id="targets",
                                 label="Parts to edit: click a part in the view, shift-click for more")
    buttons = {}
    for first, row in ((True, EDIT_BUTTONS[:6]), (False, EDIT_BUTTONS[6:])):
        with gr.Row(equal_height=True):
            for name, text in row:
                buttons[name] = gr.Button(text, size="sm", min_width=40, elem_id=name.replace("_", "-"))
            if not first:
                out["undo"] = gr.Button("Undo", size="sm", min_width=40, interactive=False, elem_id="undo")
                out["redo"] = gr.Button("Redo", size="sm", min_width=40, interactive=False, elem_id="redo")
                buttons["recut"] = gr.Button("Re-cut at this scale", size="sm", min_width=40, elem_id="recut")
    with gr.Row(equal_height=True):
        out["new_name"] = gr.Textbox(label="Name", show_label=False, placeholder="A name for the picked part, "
                                     "e.g. lamp shade", scale=3, elem_id="part-name", max_lines=1)
        buttons["rename"] = gr.Button("Rename", size="sm", scale=1, min_width=60, elem_id="rename")
        out["color"] = gr.ColorPicker("#e8743b", label="Color", show_label=False, scale=0, min_width=50,
                                      elem_id="part-color")
        buttons["recolor"] = gr.Button("Recolor", size="sm", scale=1, min_width=60, elem_id="recolor")
    out["note"] = gr.Markdown("", elem_id="edit-note")
    out["table"] = gr.HTML(parts_table(None), css_template=PANELS_CSS, max_height=180, elem_id="parts-table",
                           padding=False)
    out["buttons"] = buttons
    return out


def _paint_tab(render_cfg) -> dict:
    out = {}
    out["mask_view"] = gr.Dropdown(view_choices(render_cfg), value=0, elem_id="mask-view",
                                   label="View to paint on (or \"Paint this view\" in the 3D viewer)")
    with gr.Row(equal_height=True):
        out["editor"] = gr.ImageEditor(
            type="numpy", sources=(), transforms=(), layers=False, label="Paint over a part",
            brush=gr.Brush(default_size=24, colors=["#ff3b30"], color_mode="fixed"),
            eraser=gr.Eraser(default_size=24), canvas_size=(PAINT_RESOLUTION, PAINT_RESOLUTION),
            fixed_canvas=True, format="png", height=340, scale=3, elem_id="mask-editor")
        with gr.Column(scale=2, min_width=120):
            out["find"] = gr.Button("Find the 3D part", variant="primary", size="md", elem_id="mask-find")
            out["mask_result"] = gr.Image(label="The 3D part it means", type="numpy", interactive=False,
                                          height=200, elem_id="mask-result")
    out["mask_status"] = gr.Markdown("", elem_id="mask-status")
    return out


def _export_tab() -> dict:
    out = {"name_parts": gr.Button("Name parts", elem_id="name-parts")}
    out["naming_status"] = gr.Markdown(NAMING_HINT, elem_id="naming")
    out["export"] = gr.Button("Prepare downloads of this part list", variant="primary", elem_id="export")
    out["downloads"] = gr.File(label="Downloads: parts GLB, ZIP of part GLBs, face labels (JSON, NPY)",
                               file_count="multiple", interactive=False, elem_id="downloads")
    return out
