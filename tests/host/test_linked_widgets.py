"""Every widget of every pack node fed by a link, over HTTP, as ComfyUI users wire them.

A widget converted to an input and fed by core's PrimitiveInt / PrimitiveFloat / PrimitiveString /
PrimitiveBoolean (comfy_extras/nodes_primitive.py) has no value when the prompt is queued: ComfyUI
passes None for it to ``validate_inputs`` and checks neither its min nor its max. So a linked value
must pass the queue-time checks and be checked when the node runs, with the same errors as a typed one.
The natural example: one PrimitiveInt shared by GroundingBoxes width/height and EmptyLatentImage.

Combo widgets (ScheduledSampler's sampler_name and scheduler, GLIGENApply's negative) take a link
only from an output typed COMBO: no node ComfyUI ships has one (in the browser, the frontend's virtual
PrimitiveNode writes a combo's value into the prompt as a literal), but nodes of other packs do, so a
test-only node stands in for them. A STRING linked into a combo is refused as a type mismatch when
queued. GLIGENAdapterLoader's gligen_name, linked, is tested in test_loader_files.py.
"""
from __future__ import annotations

import math

import pytest
import torch

from helpers.outcomes import failed, latent_of, succeeded
from helpers.widgets import COMBO_SOURCE, NODE_TYPES, VALID, build

def test_every_widget_linked_runs_like_typed_values(server, tiny_ckpt, tiny_gligen):
    typed, ids = build(tiny_ckpt, tiny_gligen, VALID, linked=set())
    linked, lids = build(tiny_ckpt, tiny_gligen, VALID, linked=set(VALID))
    sources = [n for n in linked.values() if n["class_type"].startswith("Primitive") or n["class_type"] == COMBO_SOURCE]
    assert len(sources) == len(VALID) - 1  # the canvas is shared
    typed_entry, linked_entry = succeeded(server, typed), succeeded(server, linked)
    assert torch.equal(latent_of(server, linked_entry, lids["save"]), latent_of(server, typed_entry, ids["save"]))
    assert linked_entry["outputs"][lids["boxes"]]["boxes"] == typed_entry["outputs"][ids["boxes"]]["boxes"]


NAN = float("nan")
# (widget, linked value, words of the error); each runs with that one widget linked, the rest typed.
INVALID = [
    (("boxes", "width"), 7, "width = 7 is outside 8..16384"),
    (("boxes", "height"), 16392, "height = 16392 is outside 8..16384"),
    (("boxes", "boxes_json"), '[{"phrase": "cat", "box": [0, 0, 1.5, 1]}]',
     "boxes_json: box #1 ('cat'): x1 = 1.5 is outside 0..1"),
    (("boxes", "boxes_json"), '[{"phrase": "cat", "box_px": [10, 10, 80, 40]}]',
     "boxes_json: box #1 ('cat'): x1 = 80 px is outside the 64x64 canvas"),
    (("apply", "strength"), 5.0, "strength = 5 is outside 0..2"),
    (("apply", "strength"), NAN, "strength is NaN"),
    (("apply", "start_percent"), -0.1, "start_percent = -0.1 is outside 0..1"),
    (("apply", "end_percent"), 1.5, "end_percent = 1.5 is outside 0..1"),
    (("sampler", "seed"), -1, "seed = -1 is outside 0..18446744073709551615"),
    (("sampler", "steps"), 0, "steps = 0 is outside 1..10000"),
    (("sampler", "cfg"), 101.0, "cfg = 101 is outside 0..100"),
    (("sampler", "denoise"), NAN, "denoise is NaN"),
    (("sampler", "grounded_fraction"), 1.2, "grounded_fraction = 1.2 is outside 0..1"),
    (("sampler", "decay_fraction"), -0.5, "decay_fraction = -0.5 is outside 0..1"),
    (("sampler", "sampler_name"), "eulerr", "sampler_name = 'eulerr' is not one of the choices"),
    (("sampler", "scheduler"), "", "scheduler = '' is not one of the choices"),
    (("apply", "negative"), "positive", "negative = 'positive' is not a choice"),
]


def check_error(err: dict, node: str, ids: dict, words: str) -> None:
    assert err["node_type"] == NODE_TYPES[node] and err["node_id"] == ids[node], err
    assert words in err["exception_message"], err["exception_message"]
    assert "NoneType" not in err["exception_message"] + "".join(err.get("traceback", []))


@pytest.mark.parametrize("key,value,words", INVALID,
                         ids=[f"{k[1]}={'nan' if isinstance(v, float) and math.isnan(v) else v}"[:40] for k, v, _ in INVALID])
def test_invalid_linked_value_fails_when_the_node_runs(server, tiny_ckpt, tiny_gligen, key, value, words):
    prompt, ids = build(tiny_ckpt, tiny_gligen, {**VALID, key: value}, linked={key})
    check_error(failed(server, prompt), key[0], ids, words)


@pytest.mark.parametrize("node,values,words", [
    ("apply", {("apply", "start_percent"): 0.8, ("apply", "end_percent"): 0.2},
     "start_percent 0.8 is after end_percent 0.2"),
    ("sampler", {("sampler", "grounded_fraction"): 0.9, ("sampler", "decay_fraction"): 0.3},
     "grounded fraction 0.9 + decay fraction 0.3 = 1.2 is more than 1"),
], ids=["start_after_end", "fractions_above_one"])
def test_linked_values_that_only_fail_together(server, tiny_ckpt, tiny_gligen, node, values, words):
    prompt, ids = build(tiny_ckpt, tiny_gligen, {**VALID, **values}, linked=set(values))
    check_error(failed(server, prompt), node, ids, words)


@pytest.mark.parametrize("combo", ["sampler_name", "scheduler"])
def test_a_string_linked_into_a_combo_is_refused_when_queued(server, tiny_ckpt, tiny_gligen, combo):
    prompt, ids = build(tiny_ckpt, tiny_gligen, VALID, linked=set())
    prompt["900"] = {"class_type": "PrimitiveString", "inputs": {"value": prompt[ids["sampler"]]["inputs"][combo]}}
    prompt[ids["sampler"]]["inputs"][combo] = ["900", 0]
    status, body = server.queue(prompt)
    assert status == 400
    errors = body["node_errors"][ids["sampler"]]["errors"]
    assert [e["type"] for e in errors] == ["return_type_mismatch"] and errors[0]["extra_info"]["input_name"] == combo
