import importlib.util
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.dirname(os.path.dirname(__file__)))

from meshes import PSB  # noqa: E402


def _missing() -> dict:
    """Per marker (pytest.ini), why its tests cannot run on this machine, or None."""
    import torch

    from core import blender
    from tests.e2e.needs import missing

    return {
        "browser": missing(),
        "ray": None if importlib.util.find_spec("ray") else "Ray is not installed (pip install -r requirements-ray.txt)",
        "psb": None if os.path.isdir(PSB) else f"the PSB meshes are not at {PSB} (set PARTSCOPE_PSB)",
        "gpu": None if torch.cuda.is_available() else "there is no CUDA device",
        "blender": None if blender.python() else (
            f"Blender's Python module is not installed: {blender.INSTALL} (or set PARTSCOPE_BLENDER_PYTHON)"),
    }


def pytest_collection_modifyitems(config, items):
    """A marked test that cannot run here is skipped, saying why."""
    reasons = {name: why for name, why in _missing().items() if why}
    for item in items:
        for name, why in reasons.items():
            if name in item.keywords:
                item.add_marker(pytest.mark.skip(reason=why))
