"""PartScope's web app (Gradio). ``build_demo(engine)`` returns the Blocks;
``app.py`` builds the engine and launches it. No globals: everything a page
needs hangs off the Blocks that ``build_demo`` returns."""

from .app import build_demo

__all__ = ["build_demo"]
