"""Text-image and inpainting GLIGEN through the real ComfyUI engine, on the tiny random checkpoint with
random adapters in the published layouts and a tiny random CLIP vision model built by ComfyUI's own
class: boxes with a phrase only and an image only, inpainting from boxes and from a MASK, and the
mismatches each named by the node that meets them."""
from __future__ import annotations

import json

import pytest
import torch

from helpers.gligen_variants import tiny_variant_for
from helpers.models import provide
from helpers.prompts import Graph, base, finish, ksampler

MIXED = [{"phrase": "a red car", "box": [0.05, 0.5, 0.5, 0.95]}, {"image": 0, "box": [0.5, 0.1, 0.95, 0.6]}]


@pytest.fixture(scope="module")
def files(host, models_dir):
    import nodes
    from helpers.tiny_clip_vision_node import NODE_CLASS_MAPPINGS
    nodes.NODE_CLASS_MAPPINGS.update(NODE_CLASS_MAPPINGS)   # the test-only node, in-process
    return {"ti": provide(models_dir, "gligen", "tiny_text_image.safetensors", tiny_variant_for,
                          family="text-image-box"),
            "inpaint": provide(models_dir, "gligen", "tiny_inpaint_tb.safetensors", tiny_variant_for, inpainting=True),
            "inpaint_ti": provide(models_dir, "gligen", "tiny_inpaint_ti.safetensors", tiny_variant_for,
                                  family="text-image-box", inpainting=True)}


def text_image_graph(ckpt, gligen, boxes=MIXED, vision_seed=0, clip_vision=True):
    g = Graph()
    b = base(g, ckpt)
    ref = g.add("EmptyImage", width=96, height=80, batch_size=1, color=0x3366CC)
    loader = g.add("GLIGENAdapterLoader", gligen_name=gligen)
    boxes_node = g.add("GLIGENGroundingBoxes", width=64, height=64, boxes_json=json.dumps(boxes), images=g.out(ref))
    extra = {}
    if clip_vision:
        extra["clip_vision"] = g.out(g.add("GLIGENTestTinyCLIPVision", seed=vision_seed))
    enc = g.add("GLIGENGroundingEncoder", conditioning=b["positive"], clip=b["clip"], gligen=g.out(loader),
                grounding=g.out(boxes_node), **extra)
    apply = g.add("GLIGENApply", model=b["model"], gligen=g.out(loader), strength=1.0, negative="null")
    ks = ksampler(g, g.out(apply), g.out(enc), b["negative"], b["latent"], steps=2)
    finish(g, ks, b["vae"])
    return g, ks, b


def run(host, g):
    r = host.run(g.prompt(), fresh_cache=True)
    return r


def test_phrase_only_and_image_only_boxes_ground_the_sample(host, tiny_ckpt, files):
    g, ks, b = text_image_graph(tiny_ckpt, files["ti"])
    r = run(host, g)
    assert r.success, r.error()
    grounded = r.output(ks)[0]["samples"]
    g2 = Graph()
    b2 = base(g2, tiny_ckpt)
    ks2 = ksampler(g2, b2["model"], b2["positive"], b2["negative"], b2["latent"], steps=2)
    finish(g2, ks2, b2["vae"])
    r2 = run(host, g2)
    assert r2.success, r2.error()
    assert not torch.allclose(grounded, r2.output(ks2)[0]["samples"], atol=1e-4)    # grounded differs
    g3, ks3, _ = text_image_graph(tiny_ckpt, files["ti"], vision_seed=1)              # another image encoder:
    r3 = run(host, g3)
    assert r3.success, r3.error()
    assert not torch.allclose(grounded, r3.output(ks3)[0]["samples"], atol=1e-5)     # the image token is used


def error_text(r) -> str:
    assert not r.success
    err = r.error()
    return f"{err['node_type']}: {err['exception_message']}"


def test_boxes_with_images_without_clip_vision_name_the_input(host, tiny_ckpt, files):
    g, _, _ = text_image_graph(tiny_ckpt, files["ti"], clip_vision=False)
    msg = error_text(run(host, g))
    assert msg.startswith("GLIGENGroundingEncoder: box #2 has a reference image: connect a CLIP vision model")


def test_images_on_a_text_box_adapter_are_refused(host, tiny_ckpt, tiny_gligen, files):
    g, _, _ = text_image_graph(tiny_ckpt, tiny_gligen)
    msg = error_text(run(host, g))
    assert "box #2 has a reference image, but this GLIGEN file is text-box" in msg


def test_text_image_file_on_sdxl_is_refused_by_apply(host, sdxl_ckpt, files):
    g = Graph()
    b = base(g, sdxl_ckpt)
    loader = g.add("GLIGENAdapterLoader", gligen_name=files["ti"])
    apply = g.add("GLIGENApply", model=b["model"], gligen=g.out(loader), strength=1.0, negative="null")
    finish(g, ksampler(g, g.out(apply), b["positive"], b["negative"], b["latent"], steps=1), b["vae"])
    msg = error_text(run(host, g))
    assert msg.startswith("GLIGENApply: This GLIGEN file is for SD1.x") and "your model is SDXL" in msg


def inpaint_graph(ckpt, gligen, by="boxes", boxes=None):
    boxes = boxes or [{"phrase": "a red car", "box": [0.25, 0.25, 0.75, 0.625]}]
    g = Graph()
    b = base(g, ckpt)
    image = g.add("EmptyImage", width=64, height=64, batch_size=1, color=0x998877)
    loader = g.add("GLIGENAdapterLoader", gligen_name=gligen)
    boxes_node = g.add("GLIGENGroundingBoxes", width=64, height=64, boxes_json=json.dumps(boxes))
    enc = g.add("GLIGENGroundingEncoder", conditioning=b["positive"], clip=b["clip"], gligen=g.out(loader),
                grounding=g.out(boxes_node))
    where = {"grounding": g.out(boxes_node)}
    if by == "mask":
        empty = g.add("SolidMask", value=0.0, width=64, height=64)
        square = g.add("SolidMask", value=1.0, width=24, height=16)
        where = {"mask": g.out(g.add("MaskComposite", destination=g.out(empty), source=g.out(square), x=8, y=40,
                                     operation="add"))}
    inpaint = g.add("GLIGENInpaint", positive=g.out(enc), negative=b["negative"], vae=b["vae"], image=g.out(image),
                    **where)
    apply = g.add("GLIGENApply", model=b["model"], gligen=g.out(loader), strength=1.0, negative="null")
    ks = ksampler(g, g.out(apply), g.out(inpaint, 0), g.out(inpaint, 1), g.out(inpaint, 2), steps=3)
    finish(g, ks, b["vae"])
    return g, ks, inpaint


@pytest.mark.parametrize("by,repaint", [("boxes", (slice(2, 5), slice(2, 6))), ("mask", (slice(5, 7), slice(1, 4)))])
def test_inpainting_keeps_the_known_region_and_repaints_the_rest(host, tiny_ckpt, files, by, repaint):
    g, ks, inpaint = inpaint_graph(tiny_ckpt, files["inpaint"], by)
    r = run(host, g)
    assert r.success, r.error()
    latent = r.output(inpaint)[2]
    keep = 1.0 - latent["noise_mask"]
    expected = torch.ones(1, 1, 8, 8)
    expected[..., repaint[0], repaint[1]] = 0.0     # box [0.25, 0.25, 0.75, 0.625] / the 24x16 px square at (8, 40)
    assert torch.equal(keep, expected)
    out = r.output(ks)[0]["samples"]
    known = keep.expand_as(out).bool()
    torch.testing.assert_close(out[known], latent["samples"][known], rtol=1e-6, atol=1e-6)   # pasted back
    assert (out[~known] - latent["samples"][~known]).abs().max() > 1e-2                       # repainted


def test_text_image_inpainting_runs(host, tiny_ckpt, files):
    g, ks, _ = inpaint_graph(tiny_ckpt, files["inpaint_ti"])
    r = run(host, g)
    assert r.success, r.error()


def test_inpainting_file_without_an_image_names_gligen_inpaint(host, tiny_ckpt, files):
    g = Graph()
    b = base(g, tiny_ckpt)
    loader = g.add("GLIGENAdapterLoader", gligen_name=files["inpaint"])
    apply = g.add("GLIGENApply", model=b["model"], gligen=g.out(loader), strength=1.0, negative="null")
    finish(g, ksampler(g, g.out(apply), b["positive"], b["negative"], b["latent"], steps=1), b["vae"])
    msg = error_text(run(host, g))
    assert "inpainting text-box model: it repaints inside a masked image and needs that image. Pass the positive " \
           "and negative through GLIGENInpaint" in msg
