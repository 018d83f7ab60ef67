"""Where and how often a bad value is reported, over HTTP against a real ComfyUI server (issue 10,
items 2, 6, 9, 10 and 11).

- A prompt with an invalid node is refused as a whole (HTTP 400), as for core nodes: GroundingBoxes is
  no output node, so nothing runs on its own; its preview still reaches the node and /history when the
  graph runs.
- Each problem is reported once, on the input it is about (ComfyUI repeats a validate_inputs error once
  per argument of that function, so each node's takes at most one).
- Canvas sizes outside 8..16384 are refused when queued; NaN in any float input when the node runs.
- Chained GroundingEncoders that drop boxes past 30 say so in the log, in /history and on the node.
"""
from __future__ import annotations

import json
import os

import pytest

from helpers.outcomes import failed, succeeded
from helpers.prompts import Graph, base, ksampler
from helpers.server import watch
from helpers.widgets import NODE_TYPES, VALID, build


def node_errors(server, prompt: dict) -> dict:
    status, body = server.queue(prompt)
    assert status == 400 and body.get("node_errors"), f"expected the prompt refused, got {status}: {body}"
    return body["node_errors"]


# ---- item 2: an invalid node refuses the whole prompt; the preview still shows when it runs ------------

def test_an_invalid_node_refuses_the_whole_prompt(server, tiny_ckpt, tiny_gligen):
    prompt, ids = build(tiny_ckpt, tiny_gligen, {**VALID, ("apply", "strength"): 5.0})
    history_before = server.request("/history")[1]
    errors = node_errors(server, prompt)
    assert set(errors) == {ids["apply"]}                        # GroundingBoxes is valid but runs no more alone
    assert [e["extra_info"]["input_name"] for e in errors[ids["apply"]]["errors"]] == ["strength"]
    assert server.request("/history")[1] == history_before        # nothing was queued


def test_box_preview_reaches_the_node_and_history(server, tiny_ckpt, tiny_gligen):
    # boxes no other test sends: a node ComfyUI has cached sends no new preview (the frontend keeps the last)
    boxes = json.loads(VALID[("boxes", "boxes_json")]) + [{"phrase": "a preview check", "box": [0.7, 0.7, 0.9, 0.9]}]
    prompt, ids = build(tiny_ckpt, tiny_gligen, {**VALID, ("boxes", "boxes_json"): json.dumps(boxes)})
    status, body, events = watch(server, prompt)
    assert status == 200, body
    shown = [d["output"] for kind, d in events if kind == "executed" and d["node"] == ids["boxes"]]
    assert len(shown) == 1 and shown[0]["images"] and json.loads(shown[0]["boxes"][0])[0]["phrase"] == "a red car"
    entry = server.wait(body["prompt_id"])
    assert entry["status"]["status_str"] == "success"
    image = entry["outputs"][ids["boxes"]]["images"][0]
    assert image == shown[0]["images"][0]
    assert os.path.isfile(os.path.join(server.base_dir, image["type"], image["subfolder"], image["filename"]))


# ---- item 11: each problem once, on its own input -------------------------------------------------

@pytest.mark.parametrize("text,words", [
    ('[{"phrase": "cat", "box": [0, 0, 1.5, 1]}]', "x1 = 1.5 is outside 0..1"),
    ('[{"phrase": "cat", "box": [0, 0, 1, 1]', "not valid JSON"),
], ids=["coordinate", "json"])
def test_a_bad_boxes_json_is_reported_once_on_boxes_json(server, tiny_ckpt, tiny_gligen, text, words):
    prompt, ids = build(tiny_ckpt, tiny_gligen, {**VALID, ("boxes", "boxes_json"): text})
    errors = node_errors(server, prompt)
    assert list(errors) == [ids["boxes"]]
    (error,) = errors[ids["boxes"]]["errors"]
    assert error["extra_info"]["input_name"] == "boxes_json"
    assert error["details"].startswith("boxes_json - ") and words in error["details"]


# ---- item 10: canvas limits -------------------------------------------------------------------------

@pytest.mark.parametrize("name,value,kind", [
    ("width", 1, "value_smaller_than_min"), ("width", 7, "value_smaller_than_min"),
    ("height", 16385, "value_bigger_than_max"), ("width", 100000, "value_bigger_than_max"),
])
def test_canvas_outside_8_to_16384_is_refused_when_queued(server, tiny_ckpt, tiny_gligen, name, value, kind):
    prompt, ids = build(tiny_ckpt, tiny_gligen, {**VALID, ("boxes", name): value})
    errors = node_errors(server, prompt)
    assert list(errors) == [ids["boxes"]]
    (error,) = errors[ids["boxes"]]["errors"]                      # once, on the input it is about
    assert error["type"] == kind and error["extra_info"]["input_name"] == name


# ---- item 6: no non-finite number in any float input ----------------------------------------------

FLOATS = [key for key, v in VALID.items() if isinstance(v, float)]


@pytest.mark.parametrize("key", FLOATS, ids=[k[1] for k in FLOATS])
def test_nan_in_a_float_input_is_refused(server, tiny_ckpt, tiny_gligen, key):
    """NaN passes ComfyUI's min/max test (comparisons with NaN are false): the node refuses it."""
    prompt, ids = build(tiny_ckpt, tiny_gligen, {**VALID, key: float("nan")})
    err = failed(server, prompt)
    assert err["node_type"] == NODE_TYPES[key[0]] and err["node_id"] == ids[key[0]]
    assert f"{key[1]} is NaN (not a number); give a finite number" in err["exception_message"]


@pytest.mark.parametrize("value", [float("inf"), float("-inf")], ids=["inf", "-inf"])
@pytest.mark.parametrize("key", FLOATS, ids=[k[1] for k in FLOATS])
def test_infinity_in_a_float_input_is_refused_when_queued(server, tiny_ckpt, tiny_gligen, key, value):
    prompt, ids = build(tiny_ckpt, tiny_gligen, {**VALID, key: value})
    errors = node_errors(server, prompt)
    (error,) = errors[ids[key[0]]]["errors"]
    assert error["extra_info"]["input_name"] == key[1]


# ---- item 9: chained encoders say what they drop ----------------------------------------------------

def test_chained_encoders_say_what_they_drop(server, tiny_ckpt, tiny_gligen):
    big = [{"phrase": f"big {i}", "box": [0, 0, 0.5 + i / 100, 0.9]} for i in range(20)]
    small = [{"phrase": f"small {i}", "box": [0, 0, 0.05 + i / 1000, 0.1]} for i in range(20)]
    g = Graph()
    b = base(g, tiny_ckpt)
    loader = g.add("GLIGENAdapterLoader", gligen_name=tiny_gligen)
    cond = b["positive"]
    encoders = []
    for boxes in (big, small):
        node = g.add("GLIGENGroundingBoxes", width=64, height=64, boxes_json=json.dumps(boxes))
        encoders.append(g.add("GLIGENGroundingEncoder", conditioning=cond, clip=b["clip"], gligen=g.out(loader),
                              grounding=g.out(node)))
        cond = g.out(encoders[-1])
    apply = g.add("GLIGENApply", model=b["model"], gligen=g.out(loader), strength=1.0,
                  negative="null grounding (paper)")
    ks = ksampler(g, g.out(apply), cond, b["negative"], b["latent"], seed=3, steps=1)
    g.add("SaveLatent", samples=g.out(ks), filename_prefix="latents/chained")
    log_start = len(open(server.log_path).read())
    status, body, events = watch(server, g.prompt())
    assert status == 200, body
    entry = server.wait(body["prompt_id"])
    assert entry["status"]["status_str"] == "success"

    note = ("GLIGEN grounds at most 30 boxes: kept the 30 largest of 40, dropped 10 when adding 20 boxes to the "
            "20 already on the conditioning: " + ", ".join(f"'small {i}'" for i in range(10)))
    assert note in open(server.log_path).read()[log_start:]
    shown, = entry["outputs"][encoders[1]]["text"]
    assert shown.split("\n")[0] == note and shown.split("\n")[1].startswith("phrases encoded as typed: ")
    assert ("progress_text", (encoders[1], shown)) in events            # shown on the node in the frontend
    first = [text for kind, (node, text) in (e for e in events if e[0] == "progress_text") if node == encoders[0]]
    assert [t.split("\n")[0] for t in first] == ["20 boxes grounded on this conditioning"]


def test_one_encoder_says_how_many_boxes_it_grounds(server, tiny_ckpt, tiny_gligen):
    prompt, ids = build(tiny_ckpt, tiny_gligen, {**VALID, ("sampler", "seed"): 12})
    entry = succeeded(server, prompt)
    encoder = next(k for k, n in prompt.items() if n["class_type"] == "GLIGENGroundingEncoder")
    assert entry["outputs"][encoder]["text"] == [
        "2 boxes grounded on this conditioning\nphrases encoded as typed: 'a red car', 'a corgi'"]
