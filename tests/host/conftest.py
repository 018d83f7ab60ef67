"""Fixtures for tests against the real ComfyUI: the host, tiny models, and a prompt runner."""
from __future__ import annotations

import os

import pytest

from gligen_pack.runner.host import find_comfyui
from gligen_pack.runner.demo_models import build_sd1_checkpoint, cached, gligen_for

SKIP_REASON = "no ComfyUI host found: set COMFYUI_PATH to a ComfyUI checkout to run the host tests"


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("models")
    for kind in ("checkpoints", "gligen"):
        (d / kind).mkdir()
    return d


def link(models_dir, kind: str, name: str, source: str) -> str:
    target = models_dir / kind / name
    if not target.exists():
        os.symlink(source, target)
    return name


@pytest.fixture(scope="session")
def host(models_dir, tmp_path_factory):
    path = find_comfyui()
    if path is None:
        pytest.skip(SKIP_REASON)
    from gligen_pack.runner.host import Host
    work = tmp_path_factory.mktemp("comfy")
    h = Host.boot(path, cpu=True, output_dir=str(work / "output"), temp_dir=str(work / "temp"),
                  input_dir=str(work / "input"),
                  model_dirs={"checkpoints": [str(models_dir / "checkpoints")], "gligen": [str(models_dir / "gligen")]})
    assert h.load_pack(), "the pack failed to load through ComfyUI's custom-node loader"
    return h


@pytest.fixture(scope="session")
def tiny_ckpt(host, models_dir) -> str:
    return link(models_dir, "checkpoints", "sd1_tiny.safetensors", cached("sd1_tiny.safetensors", build_sd1_checkpoint))


@pytest.fixture(scope="session")
def tiny_gligen(host, models_dir) -> str:
    return link(models_dir, "gligen", "gligen_tiny.safetensors", cached("gligen_tiny.safetensors", gligen_for))


ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
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
    """A real ComfyUI server (subprocess, HTTP) with the pack installed as ComfyUI-Manager would."""
    from helpers.server import ComfyServer
    base = tmp_path_factory.mktemp("comfy_base")
    pack = install_like_manager(str(base / "custom_nodes"))
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
    from gligen_pack.runner.demo_models import build_sdxl_checkpoint
    return link(models_dir, "checkpoints", "sdxl_tiny.safetensors", cached("sdxl_tiny.safetensors", build_sdxl_checkpoint))


@pytest.fixture(scope="session")
def gligen_xl(host, models_dir) -> str:
    from gligen_pack.runner.demo_models import gligen_xl_for
    return link(models_dir, "gligen", "gligen_xl_tiny.safetensors", cached("gligen_xl_tiny.safetensors", gligen_xl_for))
