"""``migrate``: core's GLIGEN example graph (GLIGENLoader + two chained GLIGENTextBoxApply) becomes a
pack graph whose latents equal core's, both run through the headless runner's engine."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import torch

from gligen_pack.runner.migrate import MigrateError, migrate
from gligen_pack.runner.workflow import to_api
from helpers.core_example import core_gligen_example

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def sampled(host, workflow: dict) -> torch.Tensor:
    prompt = to_api(workflow, host.node_info, strict=True)
    sampler = next(k for k, v in prompt.items() if v["class_type"] == "KSampler")
    result = host.run(prompt)
    assert result.success, result.error()
    return result.output(sampler)[0]["samples"].clone()


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).norm() / b.norm()).item()


def test_core_example_migrates_to_the_same_latents(host, tiny_ckpt, tiny_gligen):
    core = core_gligen_example(tiny_ckpt, tiny_gligen, width=128, height=96, steps=4)
    migrated, notes = migrate(core)
    kinds = [n["type"] for n in migrated["nodes"]]
    assert "GLIGENTextBoxApply" not in kinds and "GLIGENLoader" not in kinds
    assert kinds.count("GLIGENGroundingBoxes") == 1 and kinds.count("GLIGENApply") == 1
    boxes = next(n for n in migrated["nodes"] if n["type"] == "GLIGENGroundingBoxes")
    # core's (text, w, h, x, y) = (41+..): every edge on the 8-pixel grid, as core grounds it
    assert json.loads(boxes["widgets_values"][2]) == [
        {"phrase": "purple galaxy bottle", "box_px": [8, 32, 48, 80]},
        {"phrase": "sun", "box_px": [80, 8, 112, 32]}]
    assert core["nodes"][4]["type"] == "GLIGENTextBoxApply"  # the input is left as it was

    expected = sampled(host, core)
    got = sampled(host, migrated)
    assert rel(got, expected) < 1e-4
    plain = json.loads(json.dumps(core))
    ks = next(n for n in plain["nodes"] if n["type"] == "KSampler")
    ks["inputs"][1]["link"] = 16                                     # the positive without the boxes
    plain["links"] = [l for l in plain["links"] if l[0] != 4] + [[16, 6, 0, 3, 1, "CONDITIONING"]]
    assert rel(sampled(host, plain), expected) > 1e-3                 # core really grounded something


def test_migrate_command_writes_the_migrated_workflow(tmp_path, tiny_ckpt, tiny_gligen):
    src, dst = tmp_path / "core.json", tmp_path / "pack.json"
    core = core_gligen_example(tiny_ckpt, tiny_gligen)
    src.write_text(json.dumps(core))
    out = subprocess.run([sys.executable, ROOT, "migrate", str(src), str(dst)], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert json.loads(dst.read_text()) == json.loads(json.dumps(migrate(core)[0]))
    assert "GLIGENApply" in out.stdout and "same_as_positive" in out.stdout

    src.write_text(json.dumps({"nodes": [], "links": []}))
    out = subprocess.run([sys.executable, ROOT, "migrate", str(src), str(dst)], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 2 and "no GLIGENTextBoxApply node in this workflow" in out.stdout


def test_linked_box_widgets_are_refused_with_the_fix(tiny_ckpt, tiny_gligen):
    core = core_gligen_example(tiny_ckpt, tiny_gligen)
    box = next(n for n in core["nodes"] if n["id"] == 12)
    box["inputs"].append({"name": "x", "type": "INT", "link": 99, "widget": {"name": "x"}})
    core["links"].append([99, 5, 0, 12, 3, "INT"])
    try:
        migrate(core)
    except MigrateError as e:
        assert "node #12 (GLIGENTextBoxApply): 'x' is fed by a link" in str(e)
    else:
        raise AssertionError("a linked x was migrated")
