"""Keypoint and spatial-map GLIGEN through ComfyUI's engine, on a tiny random SD1.x checkpoint and tiny
random keypoint and depth GLIGEN files in the released layouts: the graphs run, grounding changes the
result, tau = 0 is exactly the ungrounded model, and a graph that feeds the wrong kind stops at the node."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from helpers.prompts import Graph, base, finish, ksampler, ours, scheduled

STEPS = 4
MAP_IMAGE = "gligen_test_depth.png"

# two people in OpenPose-18 order ([x, y, confidence] per point) on a 64x64 canvas
_A = [32, 12, 1, 32, 20, 1, 26, 20, 1, 24, 30, 1, 23, 38, 1, 38, 20, 1, 40, 30, 1, 41, 38, 1,
      28, 38, 1, 28, 50, 1, 28, 60, 1, 36, 38, 1, 36, 50, 1, 36, 60, 1, 30, 10, 1, 34, 10, 1, 0, 0, 0, 36, 11, 1]
_B = [12, 30, 1, 12, 36, 1, 8, 36, 1, 0, 0, 0, 0, 0, 0, 16, 36, 1, 18, 44, 0.1, 0, 0, 0,
      10, 48, 1, 10, 56, 1, 0, 0, 0, 14, 48, 1, 14, 56, 1, 0, 0, 0, 11, 29, 1, 13, 29, 1, 10, 30, 1, 0, 0, 0]
POSE = {"people": [{"pose_keypoints_2d": _A}, {"pose_keypoints_2d": _B}], "canvas_width": 64, "canvas_height": 64}


def rel(a, b):
    return ((a - b).norm() / b.norm()).item()


@pytest.fixture(scope="module")
def depth_map(host) -> str:
    """A depth-like picture (a bright disc, near, on a dark gradient) in the host's input folder."""
    import folder_paths
    y, x = np.mgrid[0:96, 0:96]
    img = (y * 1.2 + np.where((x - 40) ** 2 + (y - 50) ** 2 < 400, 120, 0)).clip(0, 255).astype(np.uint8)
    Image.fromarray(img, "L").convert("RGB").save(f"{folder_paths.get_input_directory()}/{MAP_IMAGE}")
    return MAP_IMAGE


def pose_nodes(g: Graph, b: dict, gligen: str, pose=POSE, **apply):
    loader = g.add("GLIGENAdapterLoader", gligen_name=gligen)
    node = g.add("GLIGENGroundingPose", conditioning=b["positive"], gligen=g.out(loader), pose_json=json.dumps(pose))
    model = g.add("GLIGENApply", model=b["model"], gligen=g.out(loader), strength=1.0, negative="null", **apply)
    return g.out(model), g.out(node), node


def map_nodes(g: Graph, b: dict, gligen: str, image: str, **apply):
    loader = g.add("GLIGENAdapterLoader", gligen_name=gligen)
    load = g.add("LoadImage", image=image)
    node = g.add("GLIGENGroundingMap", conditioning=b["positive"], gligen=g.out(loader), map=g.out(load))
    model = g.add("GLIGENApply", model=b["model"], gligen=g.out(loader), strength=1.0, negative="null", **apply)
    return g.out(model), g.out(node), node


def run(host, g: Graph, node: str, b: dict):
    finish(g, node, b["vae"])
    result = host.run(g.prompt())
    assert result.success, result.error()
    return result.output(node)[0]["samples"].clone(), result


@pytest.fixture(scope="module")
def plain(host, tiny_ckpt):
    g = Graph()
    b = base(g, tiny_ckpt)
    return run(host, g, ksampler(g, b["model"], b["positive"], b["negative"], b["latent"], steps=STEPS), b)[0]


def test_a_pose_graph_runs_and_grounds(host, tiny_ckpt, pose_gligen, plain):
    g = Graph()
    b = base(g, tiny_ckpt)
    m, pos, node = pose_nodes(g, b, pose_gligen)
    latent, result = run(host, g, ksampler(g, m, pos, b["negative"], b["latent"], steps=STEPS), b)
    assert torch.isfinite(latent).all() and rel(latent, plain) > 1e-3
    preview = result.output(node)[1]
    assert preview.shape == (1, 64, 64, 3) and preview.std() > 0.01        # the skeletons are drawn


def test_a_depth_graph_runs_and_grounds(host, tiny_ckpt, depth_gligen, depth_map, plain):
    g = Graph()
    b = base(g, tiny_ckpt)
    m, pos, _ = map_nodes(g, b, depth_gligen, depth_map)
    latent, _ = run(host, g, ksampler(g, m, pos, b["negative"], b["latent"], steps=STEPS), b)
    assert torch.isfinite(latent).all() and rel(latent, plain) > 1e-3


@pytest.mark.parametrize("family", ["pose", "depth"])
def test_tau_zero_is_exactly_the_ungrounded_model(host, tiny_ckpt, pose_gligen, depth_gligen, depth_map, plain, family):
    """Scheduled sampling with tau = 0: no fuser, no extra first-conv channel, the user's own conv."""
    g = Graph()
    b = base(g, tiny_ckpt)
    m, pos, _ = (pose_nodes(g, b, pose_gligen) if family == "pose" else map_nodes(g, b, depth_gligen, depth_map))
    ours_latent, _ = run(host, g, scheduled(g, m, pos, b["negative"], b["latent"], steps=STEPS, tau=0.0), b)
    assert torch.equal(ours_latent, plain)


def test_the_depth_tokenizer_runs_once_per_sampling_run(host, tiny_ckpt, depth_gligen, depth_map, monkeypatch):
    import sys
    calls = []
    # the pack as ComfyUI loaded it (its module name is its folder), and as the tests import it
    for name, module in list(sys.modules.items()):
        if name.endswith("gligen_core.tokenizers.spatial"):
            original = module.SpatialTokenizer.forward
            monkeypatch.setattr(module.SpatialTokenizer, "forward",
                                lambda self, *a, _f=original: calls.append(1) or _f(self, *a))
    g = Graph()
    b = base(g, tiny_ckpt)
    m, pos, _ = map_nodes(g, b, depth_gligen, depth_map)
    run(host, g, ksampler(g, m, pos, b["negative"], b["latent"], steps=STEPS), b)
    assert len(calls) == 1                         # the positive's map; the negative's null tokens skip the trunk


def test_boxes_to_a_depth_model_stop_at_the_encoder(host, tiny_ckpt, depth_gligen):
    g = Graph()
    b = base(g, tiny_ckpt)
    m, pos, _ = ours(g, b, depth_gligen)
    finish(g, ksampler(g, m, pos, b["negative"], b["latent"], steps=STEPS), b["vae"])
    result = host.run(g.prompt())
    err = result.error()
    assert not result.success and err["node_type"] == "GLIGENGroundingEncoder"
    assert "GroundingMap" in err["exception_message"] and "depth" in err["exception_message"]


def test_a_map_to_a_box_model_and_a_pose_to_a_depth_model_stop_at_the_node(host, tiny_ckpt, tiny_gligen,
                                                                         depth_gligen, depth_map):
    g = Graph()
    b = base(g, tiny_ckpt)
    m, pos, _ = map_nodes(g, b, tiny_gligen, depth_map)
    finish(g, ksampler(g, m, pos, b["negative"], b["latent"], steps=STEPS), b["vae"])
    result = host.run(g.prompt())
    err = result.error()
    assert not result.success and err["node_type"] == "GLIGENGroundingMap"
    assert "GroundingEncoder" in err["exception_message"] and "text-box" in err["exception_message"]
    g = Graph()
    b = base(g, tiny_ckpt)
    m, pos, _ = pose_nodes(g, b, depth_gligen)
    finish(g, ksampler(g, m, pos, b["negative"], b["latent"], steps=STEPS), b["vae"])
    result = host.run(g.prompt())
    err = result.error()
    assert not result.success and err["node_type"] == "GLIGENGroundingPose"
    assert "GroundingMap" in err["exception_message"] and "poses cannot ground it" in err["exception_message"]


def test_a_pose_sampled_by_a_model_patched_with_a_depth_adapter_is_named(host, tiny_ckpt, pose_gligen, depth_gligen):
    """Two loaders: the pose node's adapter reads poses, but GLIGENApply patched the model with a depth one."""
    g = Graph()
    b = base(g, tiny_ckpt)
    _, pos, _ = pose_nodes(g, b, pose_gligen)
    depth_loader = g.add("GLIGENAdapterLoader", gligen_name=depth_gligen)
    m = g.add("GLIGENApply", model=b["model"], gligen=g.out(depth_loader), strength=1.0, negative="null")
    finish(g, ksampler(g, g.out(m), pos, b["negative"], b["latent"], steps=STEPS), b["vae"])
    result = host.run(g.prompt())
    err = result.error()
    assert not result.success and err["node_type"] == "KSampler"
    assert "grounded with keypoints, but this Canny edge or depth map GLIGEN reads canny-depth map" in \
        err["exception_message"] and "GroundingMap" in err["exception_message"]
