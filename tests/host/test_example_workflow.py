"""The shipped UI-format example workflows load against the real node definitions and run."""
from __future__ import annotations

import glob
import json
import os

import pytest

from gligen_pack.runner.workflow import to_api

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WORKFLOWS = sorted(glob.glob(os.path.join(ROOT, "example_workflows", "*.json")))


def test_there_is_an_example_workflow():
    assert WORKFLOWS


@pytest.mark.parametrize("path", WORKFLOWS, ids=os.path.basename)
def test_example_workflow_runs(host, tiny_ckpt, tiny_gligen, path):
    workflow = json.load(open(path))
    prompt = to_api(workflow, host.node_info, strict=True)
    types = {n["class_type"] for n in prompt.values()}
    assert {"GLIGENGroundingBoxes", "GLIGENGroundingEncoder", "GLIGENApply"} <= types
    # core's context windows over the batch need as many sigmas as frames (steps + 1 = batch size)
    windows = "ContextWindowsManual" in types
    for node in prompt.values():                 # tiny models and a small, short run
        inputs = node["inputs"]
        if "ckpt_name" in inputs:
            inputs["ckpt_name"] = tiny_ckpt
        if "gligen_name" in inputs:
            inputs["gligen_name"] = tiny_gligen
        for key in ("width", "height"):
            if key in inputs:
                inputs[key] = 16 if windows else 64
        if "steps" in inputs:
            inputs["steps"] = 8 if windows else 2
        if windows and "batch_size" in inputs:
            inputs["batch_size"] = 9
    result = host.run(prompt)
    assert result.success, result.error()
    saved = [o for o in result.ui.values() if o.get("images")]
    assert saved
