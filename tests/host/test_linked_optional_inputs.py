"""The newer optional inputs fed by links, as users wire them, over HTTP: GroundingEncoder's
``phrase_syntax``, GroundingBoxes' ``canvas_from`` and ``images``, GroundingMap's ``labels``.

- ``phrase_syntax`` is a combo. In the browser a user feeds it from the frontend's PrimitiveNode, which
  writes its value into the prompt as a literal (the runner converts such a UI workflow exactly as the
  frontend does), so a bad value is refused when queued. Over the API a COMBO output of another pack's
  node links into it (a test-only node stands in for one); its value is checked when the encoder runs.
  A STRING (core's PrimitiveString) linked into it is refused when queued, as for any combo.
- ``canvas_from`` and ``images`` take no primitive: the LATENT and IMAGE come from EmptyLatentImage and
  EmptyImage, whose sizes come from a PrimitiveInt (the natural way to keep latent and canvas in step).
  A size of 0 gets through to GroundingBoxes only as an empty tensor; it says which input and size.
- GroundingMap's ``labels`` (a combo): a typed unknown value is refused when queued, once, on labels; a
  value from a combo link runs like the typed one, and a bad linked one fails naming the input.
``clip_vision`` is a model input: nothing but a loader feeds it (tests/host/test_text_image_http.py).
"""
from __future__ import annotations

import json
import os

import pytest
import torch

from helpers.gligen_variants import tiny_variant_for
from helpers.models import provide
from helpers.outcomes import failed, latent_of, rejected, succeeded
from helpers.prompts import Graph, base, ksampler
from helpers.widgets import COMBO_SOURCE

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE = os.path.join(ROOT, "example_workflows", "gligen_text_to_image.json")
WEIGHTED = [{"phrase": "a (red:1.4) car", "box": [0.05, 0.5, 0.5, 0.95]},
            {"phrase": "a corgi", "box": [0.5, 0.1, 0.95, 0.6]}]


# ---- phrase_syntax ---------------------------------------------------------------------------------

def syntax_graph(ckpt: str, gligen: str, syntax, prefix: str) -> tuple[dict, dict[str, str]]:
    """A grounded graph whose encoder's phrase_syntax is ``syntax`` (a value, or a (class, value) source)."""
    g = Graph()
    b = base(g, ckpt)
    loader = g.add("GLIGENAdapterLoader", gligen_name=gligen)
    boxes = g.add("GLIGENGroundingBoxes", width=64, height=64, boxes_json=json.dumps(WEIGHTED))
    enc = g.add("GLIGENGroundingEncoder", conditioning=b["positive"], clip=b["clip"], grounding=g.out(boxes),
                phrase_syntax=widget_value(g, syntax))
    save = sample_and_save(g, b, loader, enc, prefix)
    return g.prompt(), {"encoder": enc, "save": save}


def widget_value(g: Graph, value):
    """``value`` typed, or a link from a ``(class, value)`` source node."""
    return g.out(g.add(value[0], value=value[1])) if isinstance(value, tuple) else value


def sample_and_save(g: Graph, b: dict, loader: str, positive: str, prefix: str) -> str:
    """GLIGENApply with ``loader``'s adapter, two KSampler steps on ``positive``, the latent saved."""
    apply = g.add("GLIGENApply", model=b["model"], gligen=g.out(loader), strength=1.0, negative="null")
    ks = ksampler(g, g.out(apply), g.out(positive), b["negative"], b["latent"], seed=3, steps=2)
    return g.add("SaveLatent", samples=g.out(ks), filename_prefix=f"latents/{prefix}")


def test_phrase_syntax_from_a_combo_link_runs_like_the_typed_value(server, tiny_ckpt, tiny_gligen):
    typed, ids = syntax_graph(tiny_ckpt, tiny_gligen, "prompt", "syntax_typed")
    linked, lids = syntax_graph(tiny_ckpt, tiny_gligen, (COMBO_SOURCE, "prompt"), "syntax_linked")
    literal, ids_l = syntax_graph(tiny_ckpt, tiny_gligen, "literal", "syntax_literal")
    typed_entry, linked_entry, literal_entry = (succeeded(server, p) for p in (typed, linked, literal))
    want = latent_of(server, typed_entry, ids["save"])
    assert torch.equal(latent_of(server, linked_entry, lids["save"]), want)
    assert not torch.equal(latent_of(server, literal_entry, ids_l["save"]), want)   # the value did matter


def test_unknown_phrase_syntax_from_a_combo_link_fails_naming_node_input_and_value(server, tiny_ckpt, tiny_gligen):
    prompt, ids = syntax_graph(tiny_ckpt, tiny_gligen, (COMBO_SOURCE, "weighted"), "syntax_bad")
    err = failed(server, prompt)
    assert err["node_type"] == "GLIGENGroundingEncoder" and err["node_id"] == ids["encoder"], err
    assert "phrase_syntax = 'weighted' is not a choice; use 'literal'" in err["exception_message"]
    assert server.alive()


def test_a_string_primitive_linked_into_phrase_syntax_is_refused_when_queued(server, tiny_ckpt, tiny_gligen):
    prompt, ids = syntax_graph(tiny_ckpt, tiny_gligen, ("PrimitiveString", "prompt"), "syntax_string")
    status, body = server.queue(prompt)
    assert status == 400, body
    errors = body["node_errors"][ids["encoder"]]["errors"]
    assert [e["type"] for e in errors] == ["return_type_mismatch"]
    assert errors[0]["extra_info"]["input_name"] == "phrase_syntax"


def ui_workflow(ckpt: str, gligen: str, syntax: str, primitive: bool) -> dict:
    """The example workflow, small and fast, its encoder's phrase_syntax typed or fed by a PrimitiveNode
    (the frontend's virtual node, saved as the frontend saves it: value, control, filter)."""
    wf = json.load(open(EXAMPLE))
    for node in wf["nodes"]:
        values = node.get("widgets_values")
        if node["type"] == "CheckpointLoaderSimple":
            values[0] = ckpt
        elif node["type"] == "GLIGENAdapterLoader":
            values[0] = gligen
        elif node["type"] in ("EmptyLatentImage", "GLIGENGroundingBoxes"):
            values[0:2] = [64, 64]
            if node["type"] == "GLIGENGroundingBoxes":
                values[2] = json.dumps(WEIGHTED)
        elif node["type"] == "KSampler":
            values[2] = 2
        elif node["type"] == "GLIGENGroundingEncoder":
            encoder = node
            values[0] = syntax if not primitive else "literal"
    if primitive:
        link_id, node_id = wf["last_link_id"] + 1, wf["last_node_id"] + 1
        slot = next(i for i, s in enumerate(encoder["inputs"]) if s["name"] == "phrase_syntax")
        encoder["inputs"][slot]["link"] = link_id
        wf["nodes"].append({"id": node_id, "type": "PrimitiveNode", "pos": [-300, 600], "size": [210, 106],
                            "flags": {}, "order": 0, "mode": 0, "inputs": [],
                            "outputs": [{"name": "COMBO", "type": "COMBO", "links": [link_id],
                                         "widget": {"name": "phrase_syntax"}}],
                            "properties": {"Run widget replace on values": False},
                            "widgets_values": [syntax, "fixed", ""]})
        wf["links"].append([link_id, node_id, 0, encoder["id"], slot, "COMBO"])
        wf["last_link_id"], wf["last_node_id"] = link_id, node_id
    return wf


def to_prompt(server, workflow: dict) -> dict:
    from gligen_pack.runner.workflow import to_api

    def info(kind: str) -> dict | None:
        status, body = server.request(f"/object_info/{kind}")
        return body.get(kind) if status == 200 else None
    return to_api(workflow, info)


def test_ui_primitive_node_feeding_phrase_syntax_queues_as_the_typed_value(server, tiny_ckpt, tiny_gligen):
    typed = to_prompt(server, ui_workflow(tiny_ckpt, tiny_gligen, "prompt", primitive=False))
    fed = to_prompt(server, ui_workflow(tiny_ckpt, tiny_gligen, "prompt", primitive=True))
    assert fed == typed
    encoder = next(k for k, v in fed.items() if v["class_type"] == "GLIGENGroundingEncoder")
    assert fed[encoder]["inputs"]["phrase_syntax"] == "prompt"
    entry = succeeded(server, fed)
    texts = entry["outputs"][encoder]["text"]
    assert any("[red ×1.4]" in t for t in texts), texts                 # the prompt syntax was read


def test_ui_primitive_node_with_an_unknown_phrase_syntax_is_refused_when_queued(server, tiny_ckpt, tiny_gligen):
    prompt = to_prompt(server, ui_workflow(tiny_ckpt, tiny_gligen, "weighted", primitive=True))
    encoder = next(k for k, v in prompt.items() if v["class_type"] == "GLIGENGroundingEncoder")
    body = json.loads(rejected(server, prompt))
    error, = body["node_errors"][encoder]["errors"]
    assert body["node_errors"][encoder]["class_type"] == "GLIGENGroundingEncoder"
    assert error["type"] == "custom_validation_failed" and error["extra_info"]["input_name"] == "phrase_syntax"
    assert error["details"].startswith("phrase_syntax - phrase_syntax = 'weighted' is not a choice; use 'literal'")
    assert server.alive()


# ---- canvas_from and images, their sizes from a PrimitiveInt ---------------------------------------

BOXES_PX = [{"phrase": "a red car", "box_px": [8, 16, 40, 56]}, {"phrase": "a corgi", "box_px": [48, 8, 88, 40]}]


def canvas_graph(ckpt: str, gligen: str, size: tuple[int, int] | None, prefix: str,
                 linked: bool) -> tuple[dict, dict[str, str]]:
    """EmptyLatentImage 96x64 sampled with boxes on it: typed (GroundingBoxes' widgets say 96x64) or
    linked (one PrimitiveInt per side feeds the latent, whose output is GroundingBoxes' canvas_from;
    the widgets say 512x512 and are not used). ``size`` overrides the primitives' values."""
    g = Graph()
    b = base(g, ckpt)
    w, h = size or (96, 64)
    if linked:
        width, height = g.out(g.add("PrimitiveInt", value=w)), g.out(g.add("PrimitiveInt", value=h))
    else:
        width, height = w, h
    latent = g.add("EmptyLatentImage", width=width, height=height, batch_size=1)
    canvas = {"canvas_from": g.out(latent), "width": 512, "height": 512} if linked else {"width": w, "height": h}
    boxes = g.add("GLIGENGroundingBoxes", boxes_json=json.dumps(BOXES_PX), **canvas)
    loader = g.add("GLIGENAdapterLoader", gligen_name=gligen)
    enc = g.add("GLIGENGroundingEncoder", conditioning=b["positive"], clip=b["clip"], grounding=g.out(boxes))
    apply = g.add("GLIGENApply", model=b["model"], gligen=g.out(loader), strength=1.0, negative="null")
    ks = ksampler(g, g.out(apply), g.out(enc), b["negative"], g.out(latent), seed=4, steps=2)
    save = g.add("SaveLatent", samples=g.out(ks), filename_prefix=f"latents/{prefix}")
    return g.prompt(), {"boxes": boxes, "save": save}


def test_canvas_from_a_latent_sized_by_primitives_runs_like_typed_sizes(server, tiny_ckpt, tiny_gligen):
    typed, ids = canvas_graph(tiny_ckpt, tiny_gligen, None, "canvas_typed", linked=False)
    linked, lids = canvas_graph(tiny_ckpt, tiny_gligen, None, "canvas_linked", linked=True)
    typed_entry, linked_entry = succeeded(server, typed), succeeded(server, linked)
    assert torch.equal(latent_of(server, linked_entry, lids["save"]), latent_of(server, typed_entry, ids["save"]))
    assert linked_entry["outputs"][lids["boxes"]]["boxes"] == typed_entry["outputs"][ids["boxes"]]["boxes"]


@pytest.mark.parametrize("size,words", [
    ((0, 64), "canvas_from: the LATENT is 0x64 pixels (0x8 latent), an empty canvas"),
    ((96, 4), "canvas_from: the LATENT is 96x0 pixels (12x0 latent), an empty canvas"),
], ids=["width0", "height4"])
def test_a_latent_of_no_size_on_canvas_from_is_named(server, tiny_ckpt, tiny_gligen, size, words):
    prompt, ids = canvas_graph(tiny_ckpt, tiny_gligen, size, "canvas_bad", linked=True)
    err = failed(server, prompt)
    assert err["node_type"] == "GLIGENGroundingBoxes" and err["node_id"] == ids["boxes"], err
    assert words in err["exception_message"], err["exception_message"]
    assert "ZeroDivisionError" not in json.dumps(err) and server.alive()


MIXED = [{"phrase": "a red car", "box": [0.05, 0.5, 0.5, 0.95]}, {"image": 0, "box": [0.5, 0.1, 0.95, 0.6]}]


def images_graph(ckpt: str, gligen: str, size: tuple[int, int], prefix: str, linked: bool) -> tuple[dict, dict]:
    """A text-image graph whose reference image is core's EmptyImage, its size and colour typed or fed by
    PrimitiveInts; the CLIP vision model is the test-only tiny one beside the pack."""
    g = Graph()
    b = base(g, ckpt)
    values = {"width": size[0], "height": size[1], "color": 0x3366CC}
    if linked:
        values = {k: g.out(g.add("PrimitiveInt", value=v)) for k, v in values.items()}
    ref = g.add("EmptyImage", batch_size=1, **values)
    loader = g.add("GLIGENAdapterLoader", gligen_name=gligen)
    boxes = g.add("GLIGENGroundingBoxes", width=64, height=64, boxes_json=json.dumps(MIXED), images=g.out(ref))
    enc = g.add("GLIGENGroundingEncoder", conditioning=b["positive"], clip=b["clip"], gligen=g.out(loader),
                grounding=g.out(boxes), clip_vision=g.out(g.add("GLIGENTestTinyCLIPVision", seed=0)))
    apply = g.add("GLIGENApply", model=b["model"], gligen=g.out(loader), strength=1.0, negative="null")
    ks = ksampler(g, g.out(apply), g.out(enc), b["negative"], b["latent"], seed=5, steps=2)
    save = g.add("SaveLatent", samples=g.out(ks), filename_prefix=f"latents/{prefix}")
    return g.prompt(), {"boxes": boxes, "save": save}


@pytest.fixture(scope="module")
def text_image(models_dir) -> str:
    return provide(models_dir, "gligen", "tiny_text_image.safetensors", tiny_variant_for, family="text-image-box")


def test_images_sized_by_primitives_run_like_typed_sizes(server, tiny_ckpt, text_image):
    typed, ids = images_graph(tiny_ckpt, text_image, (96, 80), "images_typed", linked=False)
    linked, lids = images_graph(tiny_ckpt, text_image, (96, 80), "images_linked", linked=True)
    typed_entry, linked_entry = succeeded(server, typed), succeeded(server, linked)
    assert torch.equal(latent_of(server, linked_entry, lids["save"]), latent_of(server, typed_entry, ids["save"]))


def test_an_image_of_no_size_on_images_is_named(server, tiny_ckpt, text_image):
    prompt, ids = images_graph(tiny_ckpt, text_image, (0, 80), "images_bad", linked=True)
    err = failed(server, prompt)
    assert err["node_type"] == "GLIGENGroundingBoxes" and err["node_id"] == ids["boxes"], err
    assert "images: the IMAGE batch is 0x80 pixels" in err["exception_message"], err["exception_message"]
    assert server.alive()


# ---- GroundingMap's labels -------------------------------------------------------------------------

def labels_graph(ckpt: str, gligen: str, labels, prefix: str) -> tuple[dict, dict[str, str]]:
    """A depth-grounded graph whose GroundingMap's labels is ``labels`` (a value, or a (class, value) source);
    the map comes from EmptyImage."""
    g = Graph()
    b = base(g, ckpt)
    loader = g.add("GLIGENAdapterLoader", gligen_name=gligen)
    image = g.add("EmptyImage", width=64, height=64, batch_size=1, color=0x808080)
    node = g.add("GLIGENGroundingMap", conditioning=b["positive"], gligen=g.out(loader), map=g.out(image),
                 labels=widget_value(g, labels))
    save = sample_and_save(g, b, loader, node, prefix)
    return g.prompt(), {"map": node, "save": save}


def test_a_typed_unknown_labels_value_is_refused_when_queued_once_on_labels(server, tiny_ckpt, depth_gligen):
    prompt, ids = labels_graph(tiny_ckpt, depth_gligen, "colors", "labels_typo")
    body = json.loads(rejected(server, prompt))
    error, = body["node_errors"][ids["map"]]["errors"]
    assert error["type"] == "custom_validation_failed" and error["extra_info"]["input_name"] == "labels"
    assert "labels = 'colors' is not one of the choices ('colours', 'indices')" in error["details"]
    assert server.alive()


def test_labels_from_a_combo_link_runs_like_the_typed_value_and_a_bad_one_fails_naming_it(server, tiny_ckpt,
                                                                                         depth_gligen):
    typed, ids = labels_graph(tiny_ckpt, depth_gligen, "indices", "labels_typed")
    linked, lids = labels_graph(tiny_ckpt, depth_gligen, (COMBO_SOURCE, "indices"), "labels_linked")
    want = latent_of(server, succeeded(server, typed), ids["save"])
    assert torch.equal(latent_of(server, succeeded(server, linked), lids["save"]), want)
    bad, bids = labels_graph(tiny_ckpt, depth_gligen, (COMBO_SOURCE, "colors"), "labels_bad")
    err = failed(server, bad)   # a linked value exists only when the graph runs
    assert err["node_type"] == "GLIGENGroundingMap" and err["node_id"] == bids["map"], err
    assert "labels = 'colors' is not one of the choices" in err["exception_message"]
    assert server.alive()
