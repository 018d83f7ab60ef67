"""The package imports outside ComfyUI and does nothing at import; the core never imports ComfyUI."""
from __future__ import annotations

import ast
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HOST_MODULES = {"comfy", "comfy_api", "comfy_execution", "nodes", "folder_paths", "execution", "server"}


def test_import_outside_comfyui_loads_nothing_from_it():
    code = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('pack', {os.path.join(ROOT, '__init__.py')!r}, "
        f"submodule_search_locations=[{ROOT!r}])\n"
        "m = importlib.util.module_from_spec(spec); sys.modules['pack'] = m; spec.loader.exec_module(m)\n"
        "import pack.gligen_core\n"
        f"bad = [n for n in sys.modules if n.split('.')[0] in {sorted(HOST_MODULES)!r}]\n"
        "assert not bad, bad\n"
        "assert callable(m.comfy_entrypoint) and m.WEB_DIRECTORY == './web'\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    subprocess.run([sys.executable, "-c", code], check=True, cwd="/", env=env)


def test_core_modules_import_nothing_from_comfyui():
    core = os.path.join(ROOT, "gligen_core")
    for name in os.listdir(core):
        if name.endswith(".py"):
            tree = ast.parse(open(os.path.join(core, name)).read())
            for node in ast.walk(tree):
                mods = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                    [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else []
                for mod in mods:
                    assert mod.split(".")[0] not in HOST_MODULES, f"{name} imports {mod}"
