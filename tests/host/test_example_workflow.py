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


def tiny_stand_ins(prompt: dict, host, models_dir) -> None:
    """Pictures the user would load and a CLIP vision file become core's EmptyImage and the test-only
    tiny CLIP vision model (ComfyUI's own class, random weights); GLIGEN files their tiny random kind."""
    import nodes
    from helpers.gligen_variants import tiny_variant_for
    from helpers.models import provide
    from helpers.tiny_clip_vision_node import NODE_CLASS_MAPPINGS
    nodes.NODE_CLASS_MAPPINGS.update(NODE_CLASS_MAPPINGS)
    for node in prompt.values():
        if node["class_type"] == "LoadImage":
            node.update(class_type="EmptyImage", inputs={"width": 64, "height": 64, "batch_size": 1, "color": 0x808080})
        elif node["class_type"] == "CLIPVisionLoader":
            node.update(class_type="GLIGENTestTinyCLIPVision", inputs={"seed": 0})
        name = node["inputs"].get("gligen_name", "")
        if "text-image" in name or "inpainting" in name:
            family = "text-image-box" if "text-image" in name else "text-box"
            node["inputs"]["gligen_name"] = provide(models_dir, "gligen", f"tiny_example_{family}_{'inpainting' in name}.safetensors",
                                                    tiny_variant_for, family=family, inpainting="inpainting" in name)


@pytest.mark.parametrize("path", WORKFLOWS, ids=os.path.basename)
def test_example_workflow_runs(host, tiny_ckpt, models_dir, request, path):
    workflow = json.load(open(path))
    prompt = to_api(workflow, host.node_info, strict=True)
    types = {n["class_type"] for n in prompt.values()}
    (grounding,) = types & set(GROUNDING_NODES)
    assert "GLIGENApply" in types and (grounding != "GLIGENGroundingEncoder" or "GLIGENGroundingBoxes" in types)
    tiny_stand_ins(prompt, host, models_dir)
    gligen = request.getfixturevalue(GROUNDING_NODES[grounding])
    # core's context windows over the batch need as many sigmas as frames (steps + 1 = batch size)
    windows = "ContextWindowsManual" in types
    for node in prompt.values():                 # tiny models and a small, short run
        inputs = node["inputs"]
        if "ckpt_name" in inputs:
            inputs["ckpt_name"] = tiny_ckpt
        if inputs.get("gligen_name", "").endswith((".bin", "pruned.safetensors")):
            inputs["gligen_name"] = gligen
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
