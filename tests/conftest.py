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
