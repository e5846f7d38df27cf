"""Launch the real PartScope app in a test: the real engine with a small,
fast config, a fit cache under pytest's temp folder (shared by every test of
one pytest run, so the same model is fitted once), and an in-process server
on a free port. Plus reading an API call's outputs by component name."""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import os
import socket
import zlib

import numpy as np

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from core.config import SegmentConfig  # noqa: E402
from core.pipeline import Engine  # noqa: E402
from core.settings import load_settings  # noqa: E402
from webapp import build_demo  # noqa: E402

ASSETS = os.path.join(os.path.dirname(__file__), "..", "..", "assets")


def fast_config() -> SegmentConfig:
    """Seconds per fit on the small test meshes, not minutes."""
    cfg = SegmentConfig()
    cfg.sample.n_points = 2000
    cfg.render.n_views = 8
    cfg.render.resolution = 192
    cfg.field.steps = 100  # enough for the table to come apart into its top and legs
    return cfg


def shared_cache_dir(tmp_path_factory) -> str:
    """One fit cache for the whole pytest run."""
    path = tmp_path_factory.getbasetemp() / "partscope-cache"
    path.mkdir(exist_ok=True)
    return str(path)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_app(cache_dir: str, session_root: str, **build_kwargs):
    """Yield (demo, url) of a launched app; closed afterwards."""
    settings = dataclasses.replace(load_settings(), cache_dir=cache_dir, device="cpu")
    demo = build_demo(Engine(fast_config(), settings), session_root=session_root, **build_kwargs)
    demo.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True)
    try:
        yield demo, demo.local_url
    finally:
        demo.close()
        demo.partscope.store.close()
        if demo.partscope.cache is not None:
            demo.partscope.cache.close()


def named(demo, api_name: str, values) -> dict:
    """The outputs of one API call (``Client.predict``) by the name of their
    component on the page (``webapp.page.Page`` fields); outputs the handler
    left as they were are left out."""
    fn = next(f for f in demo.fns.values() if f.api_name == api_name)
    names = {id(c): name for name, c in vars(demo.partscope.page).items() if not isinstance(c, dict)}
    shown = [c for c in fn.outputs if not getattr(c, "skip_api", False)]
    values = values if isinstance(values, (tuple, list)) and len(shown) > 1 else (values,)
    assert len(values) == len(shown), f"{api_name}: {len(values)} values for {len(shown)} outputs"
    return {names.get(id(c), str(c)): v for c, v in zip(shown, values) if not _unchanged(v)}


def _unchanged(value) -> bool:
    """Whether an output value is Gradio's "left as it was" (an update of nothing)."""
    return isinstance(value, dict) and value.get("__type__") == "update" and set(value) <= {"__type__", "props"}


def call(demo, client, api_name: str, *args) -> dict:
    """``client.predict(*args)`` of endpoint ``api_name``, its outputs ``named``."""
    return named(demo, api_name, client.predict(*args, api_name=f"/{api_name}"))


def parts_labels(value) -> np.ndarray:
    """(F,) int32 face labels of a viewer value's "parts" (webapp/payload.py)."""
    parts = value["parts"]
    raw = zlib.decompress(base64.b64decode(parts["labels"]))
    return np.frombuffer(raw, np.dtype(parts["dtype"]).newbyteorder("<")).astype(np.int32)
