"""Test set-up shared by the core and host suites.

The pack is imported under the fixed name ``gligen_pack`` whatever its folder is called, so tests
can ``import gligen_pack.gligen_core``. Host discovery lives in ``helpers/host.py``.
"""
from __future__ import annotations

import importlib.util
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))

if "gligen_pack" not in sys.modules:
    spec = importlib.util.spec_from_file_location(
        "gligen_pack", os.path.join(ROOT, "__init__.py"), submodule_search_locations=[ROOT])
    module = importlib.util.module_from_spec(spec)
    sys.modules["gligen_pack"] = module
    spec.loader.exec_module(module)

from gligen_pack.runner.host import find_comfyui  # noqa: E402

HOST = find_comfyui()
HOST_SKIP = ("host tests skipped: no ComfyUI found. Set COMFYUI_PATH to a ComfyUI checkout, install one at "
             "/opt/ComfyUI, or put this pack in ComfyUI/custom_nodes to run them.")
collect_ignore_glob = [] if HOST else ["host/*"]


def pytest_report_header(config):
    return f"ComfyUI host: {HOST}" if HOST else f"ComfyUI host: none ({HOST_SKIP})"


def pytest_terminal_summary(terminalreporter):
    if not HOST:
        terminalreporter.write_line(HOST_SKIP, yellow=True)
