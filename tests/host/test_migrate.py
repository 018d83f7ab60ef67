"""``migrate``: core's GLIGEN example graph (GLIGENLoader + two chained GLIGENTextBoxApply) becomes a
pack graph whose latents equal core's, both run through the headless runner's engine."""
from __future__ import annotations

import json

import torch

from gligen_pack.runner.migrate import migrate
from gligen_pack.runner.workflow import to_api
from helpers.core_example import core_gligen_example


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
