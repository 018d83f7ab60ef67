"""Fixtures for tests against the real ComfyUI: the host, tiny models, and a prompt runner."""
from __future__ import annotations

import os

import pytest

from gligen_pack.runner.host import find_comfyui
from helpers.tiny_models import build_sd1_checkpoint, cached, gligen_for

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
