"""Test set-up shared by the core, host and browser suites.

The pack is imported under the fixed name ``gligen_pack`` whatever its folder is called, so tests
can ``import gligen_pack.gligen_core``. The host (``$COMFYUI_PATH``, ``/opt/ComfyUI`` or an enclosing
ComfyUI) is found once; without one the host and browser suites are not collected and one line says
how to enable them. The fixtures below boot it lazily, so the core suite never imports ComfyUI.
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

import pytest  # noqa: E402

from gligen_pack.runner.demo_models import (  # noqa: E402
    build_sd1_checkpoint, build_sdxl_checkpoint, gligen_for, gligen_xl_for)
from helpers.models import provide  # noqa: E402
from gligen_pack.runner.host import find_comfyui  # noqa: E402

HOST = find_comfyui()
HOST_SKIP = ("host tests skipped: no ComfyUI found. Set COMFYUI_PATH to a ComfyUI checkout, install one at "
             "/opt/ComfyUI, or put this pack in ComfyUI/custom_nodes to run them.")
collect_ignore_glob = [] if HOST else ["host/*", "browser/*"]


def pytest_report_header(config):
    return f"ComfyUI host: {HOST}" if HOST else f"ComfyUI host: none ({HOST_SKIP})"


def pytest_terminal_summary(terminalreporter):
    if not HOST:
        terminalreporter.write_line(HOST_SKIP, yellow=True)


# ---- fixtures shared by the host and browser suites ------------------------------------------------

@pytest.fixture(scope="session")
def models_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("models")
    for kind in ("checkpoints", "gligen"):
        (d / kind).mkdir()
    return d


@pytest.fixture(scope="session")
def host(models_dir, tmp_path_factory):
    path = HOST
    if path is None:
        pytest.skip(HOST_SKIP)
    from gligen_pack.runner.host import Host
    work = tmp_path_factory.mktemp("comfy")
    h = Host.boot(path, cpu=True, output_dir=str(work / "output"), temp_dir=str(work / "temp"),
                  input_dir=str(work / "input"),
                  model_dirs={"checkpoints": [str(models_dir / "checkpoints")], "gligen": [str(models_dir / "gligen")]})
    assert h.load_pack(), "the pack failed to load through ComfyUI's custom-node loader"
    return h


@pytest.fixture(scope="session")
def tiny_ckpt(host, models_dir) -> str:
    return provide(models_dir, "checkpoints", "sd1_tiny.safetensors", build_sd1_checkpoint)


@pytest.fixture(scope="session")
def tiny_gligen(host, models_dir) -> str:
    return provide(models_dir, "gligen", "gligen_tiny.safetensors", gligen_for)


PACK_FOLDER = "gligen_grounding"


def install_like_manager(custom_nodes: str) -> str:
    """What ComfyUI-Manager does: put the repository's files in custom_nodes/<name> and install its
    requirements. The working tree's tracked files are copied (a clone of the current state)."""
    import shutil
    import subprocess
    import sys
    dest = os.path.join(custom_nodes, PACK_FOLDER)
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True).stdout.split(b"\0")
    for name in filter(None, (f.decode() for f in files)):
        src = os.path.join(ROOT, name)
        if os.path.isfile(src):
            os.makedirs(os.path.dirname(os.path.join(dest, name)), exist_ok=True)
            shutil.copy2(src, os.path.join(dest, name))
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "-r",
                    os.path.join(dest, "requirements.txt")], check=True)
    return dest


@pytest.fixture(scope="session")
def server(host, tmp_path_factory, tiny_ckpt, tiny_gligen, models_dir):
    """A real ComfyUI server (subprocess, HTTP) with the pack installed as ComfyUI-Manager would, and
    the test-only link sources of tests/helpers/link_source_nodes.py beside it."""
    from helpers.server import ComfyServer
    base = tmp_path_factory.mktemp("comfy_base")
    pack = install_like_manager(str(base / "custom_nodes"))
    import shutil
    shutil.copy(os.path.join(ROOT, "tests", "helpers", "link_source_nodes.py"), base / "custom_nodes")
    shutil.copy(os.path.join(ROOT, "tests", "helpers", "tiny_clip_vision_node.py"), base / "custom_nodes")
    (base / "models").mkdir()
    for kind in ("checkpoints", "gligen"):
        os.symlink(models_dir / kind, base / "models" / kind)
    srv = ComfyServer(host.comfy_path, str(base), extra_args=("--use-pytorch-cross-attention",))
    srv.pack_dir = pack
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def sdxl_ckpt(host, models_dir) -> str:
    return provide(models_dir, "checkpoints", "sdxl_tiny.safetensors", build_sdxl_checkpoint)


@pytest.fixture(scope="session")
def gligen_xl(host, models_dir) -> str:
    return provide(models_dir, "gligen", "gligen_xl_tiny.safetensors", gligen_xl_for)
