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


# the grounding node each example uses -> the tiny adapter of that kind (fixture name)
GROUNDING_NODES = {"GLIGENGroundingEncoder": "tiny_gligen", "GLIGENGroundingPose": "pose_gligen",
                   "GLIGENGroundingMap": "depth_gligen"}


@pytest.mark.parametrize("path", WORKFLOWS, ids=os.path.basename)
def test_example_workflow_runs(host, tiny_ckpt, request, path):
    workflow = json.load(open(path))
    prompt = to_api(workflow, host.node_info, strict=True)
    types = {n["class_type"] for n in prompt.values()}
    (grounding,) = types & set(GROUNDING_NODES)
    assert "GLIGENApply" in types and (grounding != "GLIGENGroundingEncoder" or "GLIGENGroundingBoxes" in types)
    gligen = request.getfixturevalue(GROUNDING_NODES[grounding])
    for node in prompt.values():                 # tiny models and a small, short run
        inputs = node["inputs"]
        if "ckpt_name" in inputs:
            inputs["ckpt_name"] = tiny_ckpt
        if "gligen_name" in inputs:
            inputs["gligen_name"] = gligen
        if node["class_type"] == "LoadImage":    # the picture the example names, in the test host's input folder
            import folder_paths
            from PIL import Image
            Image.new("RGB", (96, 64), (30, 30, 30)).save(os.path.join(folder_paths.get_input_directory(),
                                                                         inputs["image"]))
        for key in ("width", "height"):
            if key in inputs:
                inputs[key] = 64
        if "steps" in inputs:
            inputs["steps"] = 2
    result = host.run(prompt)
    assert result.success, result.error()
    saved = [o for o in result.ui.values() if o.get("images")]
    assert saved
