"""Reading what the page sent with an event.

The viewer fires custom events with a dict of data (``trigger(name, data)``
in its script); Gradio hands a listener that asks for it a ``gr.EventData``
whose attributes are that dict's keys (its documented interface). Every
handler reads event data through ``event_value``, never Gradio's private
fields, and gets ``default`` when the event carried no such field (an API
call carries none).
"""

from __future__ import annotations

import gradio as gr


def event_value(evt: gr.EventData | None, name: str, default=None):
    """The field ``name`` of the data an event carried, or ``default``."""
    try:
        return getattr(evt, name)
    except (AttributeError, TypeError):  # no such field, or an event with no data at all
        return default
