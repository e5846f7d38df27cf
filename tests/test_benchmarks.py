"""The benchmark scripts still run against the code they measure: nothing in
the test suite calls them otherwise, and three of them stopped at their
first call for two days after the app's upload began to take a list of
files (and one wrote figures of a fit that never ran)."""

from __future__ import annotations

import ast
import importlib
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CAR = os.path.join(ROOT, "assets", "toy_car.glb")
PROJECT = ("core", "webapp", "benchmarks", "tests")


def _imports(path: str) -> list[tuple[str, str]]:
    """(module, name) of every ``from core/webapp/benchmarks/tests... import
    name`` in the script at ``path``, those inside functions too."""
    found = []
    for node in ast.walk(ast.parse(open(path, encoding="utf-8").read())):
        if isinstance(node, ast.ImportFrom) and not node.level and (node.module or "").split(".")[0] in PROJECT:
            found += [(node.module, alias.name) for alias in node.names if alias.name != "*"]
    return found


def test_every_name_a_benchmark_imports_exists():
    """An import inside a function fails only when that function runs (the
    cracks benchmark's, after ``benchmarks.pieces.first_parts`` was renamed)."""
    folder = os.path.join(ROOT, "benchmarks")
    missing = []
    for name in sorted(os.listdir(folder)):
        if name.endswith(".py"):
            for module, attribute in _imports(os.path.join(folder, name)):
                if not hasattr(importlib.import_module(module), attribute):
                    try:
                        importlib.import_module(f"{module}.{attribute}")
                    except ImportError:
                        missing.append(f"{name}: from {module} import {attribute}")
    assert not missing


@pytest.mark.parametrize("script, args, check", [
    ("slider.py", ["--sessions", "1", "--moves", "2"],
     lambda r: "1,920 faces" in r["server"]["opened"][0]["parts"] and r["server"]["slider_queue_round_trip"]["n"] == 2),
    ("interact.py", ["--clicks", "3", "--masks", "2"],
     lambda r: r["handlers"]["click_to_highlight"]["n"] == 3 and r["server"]["click_queue_round_trip"]["n"] == 3),
])
def test_server_benchmarks_run(tmp_path, script, args, check):
    """The benchmarks that drive the app's server through gradio_client, in
    their fast mode (a tiny engine) on the toy car, end to end."""
    out = tmp_path / "result.json"
    done = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", script), "--fast", "--model", CAR,
                           "--out", str(out), *args], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert check(json.loads(out.read_text()))
