"""What sits beside the viewer: the progress bar of a model being opened, the
parts table and the plot of part count against scale."""

from __future__ import annotations

import html

from core.scales import COARSEST

MAX_ROWS = 400
"""Rows shown in the parts table; the rest are summed up in one line."""


def parts_table(result: dict | None, names=None, hidden=None, errors=None, defaults=None) -> str:
    """HTML table of a part list: id, color, name, faces, share of surface.

    result : a ``Fitted.result``-like dict ("faces", "share", "colors") or
        None (no model yet)
    names : None or list of (str or None) per part
    hidden : None or (P,) bool, parts hidden in the viewer (marked, kept)
    errors : None or {part id: sentence}, naming errors shown in the name column
    defaults : None or list of (str or None) per part, the name of the model's
        own object a part without a name is, shown greyed (the downloads carry it)
    """
    if result is None:
        return "<div class='ps-parts-empty'>Parts appear here once a model is fitted.</div>"
    faces, share, colors = result["faces"], result["share"], result["colors"]
    errors, defaults = errors or {}, defaults or []
    named = (names is not None and any(names)) or bool(errors) or any(defaults)
    rows = []
    for k in range(min(len(faces), MAX_ROWS)):
        name = None
        if named:
            given = names[k] if names is not None and k < len(names) else None
            name = html.escape(given or "")
            if not given and k in errors:
                name = f"<span class='ps-error' title='{html.escape(errors[k], quote=True)}'>not named: " \
                       f"{html.escape(errors[k])}</span>"
            elif not given and k < len(defaults) and defaults[k]:
                name = ("<span class='ps-default' title='the name of this object in the model, which the downloads "
                        f"carry; rename the part to change it'>{html.escape(defaults[k])}</span>")
        off = hidden is not None and bool(hidden[k])
        swatch = colors[k] or "transparent"
        rows.append(
            f"<tr data-part='{k}'{' class=ps-hidden' if off else ''}><td>{k}{' (hidden)' if off else ''}</td>"
            f"<td><span class='ps-swatch' style='background:{swatch}' title='{colors[k]}'></span></td>"
            + ("" if name is None else f"<td class='ps-name'>{name}</td>")
            + f"<td>{int(faces[k]):,}</td><td>{100 * float(share[k]):.1f}%</td></tr>")
    more = ""
    if len(faces) > MAX_ROWS:
        rest = len(faces) - MAX_ROWS
        more = (f"<tr><td colspan='{5 if named else 4}'>... and {rest:,} smaller parts "
                f"({100 * float(share[MAX_ROWS:].sum()):.1f}% of the surface)</td></tr>")
    head = "<th>Part</th><th>Color</th>" + ("<th>Name</th>" if named else "") + "<th>Faces</th><th>Surface</th>"
    return (f"<table class='ps-parts{' named' if named else ''}'><thead><tr>{head}</tr></thead><tbody>"
            + "".join(rows) + more + "</tbody></table>")


def automatic_table(result: dict) -> str:
    """The parts table of the automatic parts ``result`` (``Fitted.result``),
    the model's own names greyed."""
    return parts_table(result, defaults=result["names"])


def progress_bar(fraction: float, text: str) -> str:
    """HTML of a progress bar at ``fraction`` (0-1) saying ``text``: an element of its
    own, so it never covers the status line."""
    pct = int(round(100 * min(max(float(fraction), 0.0), 1.0)))
    return (f"<div class='ps-progress' role='progressbar' aria-valuenow='{pct}' aria-valuemin='0' "
            f"aria-valuemax='100'><div class='ps-progress-text'>{html.escape(text)} · {pct}%</div>"
            f"<div class='ps-progress-track'><span style='width:{pct}%'></span></div></div>")


def count_plot(counts: dict, current: float | None = None, n_scales: int = 21):
    """Plotly figure: number of parts at each computed scale; flat stretches
    are the object's natural granularities."""
    import plotly.graph_objects as go

    xs = sorted(counts)
    ys = [counts[x] for x in xs]
    fig = go.Figure(go.Scatter(x=xs, y=ys, mode="lines+markers", line={"shape": "hv", "color": "#3b6fd4"},
                               marker={"size": 6}, hovertemplate="scale %{x:.1f}: %{y} parts<extra></extra>"))
    if current is not None:
        fig.add_vline(x=current, line={"color": "#d4603b", "dash": "dot", "width": 1})
    title = "Parts per scale" if len(xs) >= n_scales else f"Parts per scale ({len(xs)} of {n_scales} computed)"
    fig.update_layout(
        title={"text": title, "font": {"size": 13}, "x": 0.02},
        height=220, margin={"l": 40, "r": 36, "t": 32, "b": 36},
        modebar={"orientation": "v"},  # beside the plot, not over its title
        xaxis={"title": {"text": "scale (fine to coarse)"}, "range": [-0.05, COARSEST + 0.05], "dtick": 0.5},
        yaxis={"title": {"text": "parts"}, "rangemode": "tozero"},
        plot_bgcolor="rgba(0,0,0,0)", paper_bgcolor="rgba(0,0,0,0)", showlegend=False)
    return fig


CSS = """
.ps-parts { width: 100%; border-collapse: collapse; font-size: 13px; }
.ps-parts th, .ps-parts td { padding: 3px 8px; text-align: left; border-bottom: 1px solid var(--border-color-primary); }
.ps-parts td:nth-last-child(-n+2), .ps-parts th:nth-last-child(-n+2) { text-align: right; }
.ps-swatch { display: inline-block; width: 14px; height: 14px; border-radius: 3px; vertical-align: -2px;
             border: 1px solid rgba(0,0,0,0.2); }
.ps-parts tr.ps-hidden td { color: var(--body-text-color-subdued); }
.ps-parts .ps-error { color: var(--error-text-color, #c0392b); }
.ps-parts .ps-default { color: var(--body-text-color-subdued, #777); font-style: italic; }
.ps-parts-empty { color: var(--body-text-color-subdued); font-size: 13px; padding: 8px 0; }
"""
PROGRESS_CSS = """
.ps-progress { font-size: 13px; padding: 2px 0 4px; }
.ps-progress-text { margin-bottom: 4px; color: var(--body-text-color); }
.ps-progress-track { height: 6px; border-radius: 3px; background: var(--border-color-primary); overflow: hidden; }
.ps-progress-track span { display: block; height: 100%; background: #3b6fd4; transition: width 0.3s; }
"""
