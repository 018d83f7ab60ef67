"""GroundingBoxes' canvas from a linked LATENT or IMAGE, and the warning when the sampled latent's
aspect ratio differs from the canvas's."""
from __future__ import annotations

import json
import logging

import torch

from helpers.prompts import Graph, base, finish, ksampler
from helpers.server import watch

BOXES_PX = [{"phrase": "a red car", "box_px": [8, 16, 40, 56]}, {"phrase": "a corgi", "box_px": [48, 8, 96, 40]}]


def grounded(g: Graph, b: dict, gligen: str, width: int, height: int, canvas_from=None) -> tuple[list, list, str]:
    loader = g.add("GLIGENAdapterLoader", gligen_name=gligen)
    inputs = dict(width=width, height=height, boxes_json=json.dumps(BOXES_PX))
    if canvas_from is not None:
        inputs["canvas_from"] = canvas_from
    boxes = g.add("GLIGENGroundingBoxes", **inputs)
    enc = g.add("GLIGENGroundingEncoder", conditioning=b["positive"], clip=b["clip"], grounding=g.out(boxes))
    apply = g.add("GLIGENApply", model=b["model"], gligen=g.out(loader), strength=1.0, negative="null")
    return g.out(apply), g.out(enc), boxes


def run(host, models: tuple[str, str], typed: tuple[int, int], linked: str | None):
    g = Graph()
    b = base(g, models[0])
    latent = g.add("EmptyLatentImage", width=96, height=64, batch_size=1)
    source = None
    if linked == "latent":
        source = g.out(latent)
    elif linked == "image":
        source = g.out(g.add("EmptyImage", width=96, height=64, batch_size=1, color=0))
    model, positive, boxes = grounded(g, b, models[1], *typed, canvas_from=source)
    ks = ksampler(g, model, positive, b["negative"], g.out(latent), seed=2)
    finish(g, ks, b["vae"])
    result = host.run(g.prompt())
    assert result.success, result.error()
    return result.output(ks)[0]["samples"].clone(), result.output(boxes)[2]



def test_linked_latent_or_image_sets_the_canvas_as_typing_its_size_does(host, tiny_ckpt, tiny_gligen, caplog):
    models = (tiny_ckpt, tiny_gligen)
    typed, typed_report = run(host, models, (96, 64), None)
    assert typed_report.startswith("2 boxes on a 96x64 canvas")
    for linked in ("latent", "image"):
        # the widgets say 512x512; the linked 96x64 wins (box_px 48..96 would not even fit 64 wide)
        latent, report = run(host, models, (512, 512), linked)
        assert report == typed_report
        assert torch.equal(latent, typed)
    with caplog.at_level(logging.WARNING):
        run(host, models, (96, 64), "latent")
    assert "stretched" not in caplog.text


def test_aspect_mismatch_is_logged_and_shown_on_the_boxes_node(server, tiny_ckpt, tiny_gligen):
    g = Graph()
    b = base(g, tiny_ckpt)
    latent = g.add("EmptyLatentImage", width=160, height=64, batch_size=1)
    model, positive, boxes = grounded(g, b, tiny_gligen, 96, 64)
    ks = ksampler(g, model, positive, b["negative"], g.out(latent), seed=2, steps=2)
    g.add("SaveLatent", samples=g.out(ks), filename_prefix="latents/aspect")
    log_start = len(open(server.log_path).read())
    status, body, events = watch(server, g.prompt())
    assert status == 200, body
    assert server.wait(body["prompt_id"])["status"]["status_str"] == "success"
    note = ("the boxes were placed on a 96x64 canvas but the latent being sampled is 160x64 (20x8 latent): another "
            "aspect ratio, so the boxes are stretched.")
    log = open(server.log_path).read()[log_start:]
    assert note in log
    assert log.count(note) == 1  # once per run, not once per step
    shown = [text for kind, (node, text) in (e for e in events if e[0] == "progress_text") if node == boxes]
    assert any(note in t for t in shown), shown


def test_same_aspect_at_another_size_gives_no_warning(server, tiny_ckpt, tiny_gligen):
    g = Graph()
    b = base(g, tiny_ckpt)
    latent = g.add("EmptyLatentImage", width=192, height=128, batch_size=1)  # 96x64 doubled: same ratio
    model, positive, _ = grounded(g, b, tiny_gligen, 96, 64)
    ks = ksampler(g, model, positive, b["negative"], g.out(latent), seed=2, steps=1)
    g.add("SaveLatent", samples=g.out(ks), filename_prefix="latents/aspect_ok")
    log_start = len(open(server.log_path).read())
    entry = server.run(g.prompt())
    assert entry["status"]["status_str"] == "success"
    assert "stretched" not in open(server.log_path).read()[log_start:]
