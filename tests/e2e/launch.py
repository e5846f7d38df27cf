"""Launch the real PartScope app in a test: the real engine with a small,
fast config, a fit cache under pytest's temp folder (shared by every test of
one pytest run, so the same model is fitted once), and an in-process server
on a free port."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import socket

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
