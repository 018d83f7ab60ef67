"""The headless runner, as a user runs it: ``python <pack> run WORKFLOW.json`` in a subprocess."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from gligen_pack.runner.workflow import to_api

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE = os.path.join(ROOT, "example_workflows", "gligen_text_to_image.json")


def cli(host, *args, cwd=ROOT):
    env = dict(os.environ)
    proc = subprocess.run([sys.executable, ROOT, "run", *args, "--comfyui", host.comfy_path],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    return proc.returncode, proc.stdout + proc.stderr


def saved(output: str) -> list[str]:
    return [line.split("wrote ", 1)[1].strip() for line in output.splitlines() if line.strip().startswith("wrote ")]


@pytest.fixture(scope="module")
def demo_run(host, tmp_path_factory):
    out = tmp_path_factory.mktemp("demo_ui")
    code, text = cli(host, EXAMPLE, "--demo", "--output", str(out), "--steps", "2", "--size", "64")
    return code, text, out


def test_demo_runs_end_to_end(demo_run):
    code, text, out = demo_run
    assert code == 0, text
    assert "demo: node 1: checkpoint 'v1-5-pruned-emaonly.safetensors' -> demo model" in text
    assert "] KSampler (node 9)" in text and "step 2/2" in text
    files = saved(text)
    assert any("gligen_" in os.path.basename(f) for f in files)          # SaveImage
    assert any("preview_node3" in os.path.basename(f) for f in files)     # the box layout preview
    assert all(os.path.isfile(f) and f.startswith(str(out)) for f in files)
    assert "the generated image is coloured noise; the box preview is real" in text


def test_ui_and_api_formats_give_the_same_image(host, demo_run, tmp_path):
    api_path = tmp_path / "api.json"
    api_path.write_text(json.dumps(to_api(json.load(open(EXAMPLE)), host.node_info)))
    code, text = cli(host, str(api_path), "--demo", "--output", str(tmp_path / "out"), "--steps", "2", "--size", "64")
    assert code == 0, text

    def image(output):
        path = next(f for f in saved(output) if os.path.basename(f).startswith("gligen_"))
        return np.asarray(Image.open(path))

    assert np.array_equal(image(text), image(demo_run[1]))


def test_missing_node_is_a_clear_error(host, tmp_path):
    wf = json.load(open(EXAMPLE))
    wf["nodes"][0]["type"] = "NoSuchLoader"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(wf))
    code, text = cli(host, str(path), "--demo")
    assert code == 2 and "'NoSuchLoader', which is not installed" in text


def test_missing_model_is_a_clear_error(host, tmp_path):
    wf = json.load(open(EXAMPLE))
    path = tmp_path / "wf.json"
    path.write_text(json.dumps(wf))
    code, text = cli(host, str(path), "--output", str(tmp_path / "o"))
    assert code == 2
    assert "v1-5-pruned-emaonly.safetensors" in text and "not valid" in text


def test_no_comfyui_is_a_clear_error(tmp_path):
    proc = subprocess.run([sys.executable, ROOT, "run", EXAMPLE, "--comfyui", str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 3 and "no ComfyUI found" in proc.stdout
