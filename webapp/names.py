"""The "Name parts" button: the session's unnamed parts named by the
multimodal LLM of ``core.naming``, each name landing in the list (viewer
hover, parts table, downloads) as it arrives.

``core.naming.name_parts`` runs on a thread of its own (bounded concurrency,
per-part errors, a disk cache of names) and hands each result to this
handler, a generator that yields the page after every one. Names are edits
(renames) of the list, so they can be undone and edited like any other; a
part that failed keeps no name, and the button then offers to retry those.
Nothing here ever sees the API key: ``core.settings`` reads it when a
request is made, and error sentences come back redacted.
"""

from __future__ import annotations

import logging
import queue
import threading

import gradio as gr

from core.naming import NamingUnavailable, name_parts, naming_unavailable_reason

from .editing import parse_ids
from .page import NAMING_HINT
from .work import rename_by_faces

log = logging.getLogger(__name__)

WORKERS = 4
"""Requests one naming run keeps in flight at most."""
TIMEOUT_S = 30
"""Seconds one answer may take before that part fails with a timeout."""
BUTTON = "Name parts"


NO_KEY_BUTTON = "Name parts (needs an API key)"


def retry_label(failed: int) -> str:
    return f"Retry {failed} failed part{'s' * (failed != 1)}" if failed else BUTTON


def naming_state(page, settings) -> dict:
    """The naming button and line as they stand before a run: usable, or
    saying what naming needs (before anyone presses it)."""
    reason = naming_unavailable_reason(settings)
    if reason is None:
        return {page.naming_status: NAMING_HINT, page.name_parts: gr.update(value=BUTTON, interactive=True)}
    return {page.naming_status: f"**Naming is off.** {reason}",
            page.name_parts: gr.update(value=NO_KEY_BUTTON, interactive=False)}


class Naming:
    """The naming handler over the app's ``Editing`` (sessions' work).

    settings_of : callable() -> core.settings.Settings (read at each run)
    """

    def __init__(self, editing, page, settings_of):
        self.editing = editing
        self.page = page
        self.settings_of = settings_of

    def _page(self, item, work, picked, status: str, button) -> dict:
        return self.editing.show(item, work, targets=picked) | {self.page.naming_status: status,
                                                                 self.page.name_parts: button}

    def name_parts(self, session, work, targets):
        """Name every part without a name. Yields the work panel, the status and
        the button: once when it starts, then after every result."""
        item, work = self.editing.bench(session, work)
        settings = self.settings_of()
        picked = parse_ids(targets)
        reason = naming_unavailable_reason(settings)
        if reason is not None:
            gr.Warning(reason)
            yield self._page(item, work, picked, reason, gr.update(value=NO_KEY_BUTTON, interactive=False))
            return
        with work.lock:
            labels = work.parts.labels
            todo = [p for p, name in enumerate(work.parts.names) if not name]
            if todo:
                work.errors, work.errors_of = {}, labels
        if not todo:
            yield self._page(item, work, picked, "Every part has a name. Rename a part to nothing to ask the "
                             "model about it again.", gr.update(value=BUTTON))
            return

        results: queue.Queue = queue.Queue()
        threading.Thread(target=self._run, args=(item, labels, settings, todo, results), daemon=True,
                         name="partscope-naming").start()
        named, failed, lost, stopped = 0, {}, 0, None
        busy = gr.update(value="Naming...", interactive=False)
        yield self._page(item, work, picked, f"Naming {len(todo)} part{'s' * (len(todo) > 1)} with "
                         f"**{settings.llm_model}**...", busy)
        while (got := results.get()) is not None:
            if isinstance(got, str):  # the run as a whole failed; the list stays as it is
                stopped = got
                break
            part, result = got
            with work.lock:
                if result.ok:
                    if rename_by_faces(work, labels, part, result.name) is None:
                        lost += 1
                    else:
                        named += 1
                else:
                    failed[part] = result.error
                    if work.errors_of is work.parts.labels:  # ids unchanged since the start
                        work.errors[part] = result.error
                left = len(todo) - named - len(failed) - lost
                status = (f"Naming with **{settings.llm_model}**: {named} named, {len(failed)} failed, "
                          f"{left} to go.")
                page = self._page(item, work, picked, status, busy)
            yield page
        status = stopped or summary(len(todo), named, failed, lost)
        with work.lock:
            page = self._page(item, work, picked, status, gr.update(value=retry_label(len(failed)),
                                                                     interactive=True))
        yield page

    def _run(self, item, labels, settings, todo, results: queue.Queue) -> None:
        """Name ``todo`` on this thread, putting (part, NameResult) on ``results``,
        then None, or a sentence for the page when the run cannot go on."""
        try:
            name_parts(item.asset, labels, settings, part_ids=todo, on_result=lambda p, r: results.put((p, r)),
                       max_workers=WORKERS, timeout=TIMEOUT_S, views=item.naming_views())
        except NamingUnavailable as exc:
            results.put(str(exc))
            return
        except Exception:  # whatever it is, the segmentation stays usable
            log.exception("naming the parts of %s failed", item.asset.name)
            results.put("Naming failed on the server, which logged the details. The parts are unchanged; "
                        "try again.")
            return
        results.put(None)


def summary(asked: int, named: int, failed: dict, lost: int) -> str:
    """The closing line of a naming run."""
    lines = [f"Named {named} of {asked} part{'s' * (asked != 1)}."]
    if failed:
        shown = "; ".join(f"part {p}: {error}" for p, error in sorted(failed.items())[:5])
        more = f" (and {len(failed) - 5} more)" if len(failed) > 5 else ""
        lines.append(f"{len(failed)} could not be named: {shown}{more}. Press **{retry_label(len(failed))}** "
                     "to ask again.")
    if lost:
        lines.append(f"{lost} name{'s' * (lost > 1)} arrived after the list changed and "
                     f"{'were' if lost > 1 else 'was'} not used; press the button again to name those parts.")
    return " ".join(lines)
