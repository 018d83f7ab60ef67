"""What a user sends over HTTP: a text-image graph with a phrase-only and an image-only box runs on the
server (a tiny random CLIP vision model from the test-only node beside the pack); without the CLIP
vision model, or with an inpainting file and no GLIGENInpaint, the node that meets it says what to connect."""
from __future__ import annotations

from helpers.gligen_variants import tiny_variant_for
from helpers.models import provide
from helpers.outcomes import failed, succeeded
from helpers.prompts import Graph, base, finish, ksampler
from test_text_image_inpaint import text_image_graph


def test_phrase_only_and_image_only_boxes_run_over_http(server, tiny_ckpt, models_dir):
    name = provide(models_dir, "gligen", "tiny_text_image.safetensors", tiny_variant_for, family="text-image-box")
    g, _, _ = text_image_graph(tiny_ckpt, name)
    succeeded(server, g.prompt())


def test_missing_clip_vision_is_the_encoders_error(server, tiny_ckpt, models_dir):
    name = provide(models_dir, "gligen", "tiny_text_image.safetensors", tiny_variant_for, family="text-image-box")
    g, _, _ = text_image_graph(tiny_ckpt, name, clip_vision=False)
    err = failed(server, g.prompt())
    assert err["node_type"] == "GLIGENGroundingEncoder"
    assert "box #2 has a reference image: connect a CLIP vision model" in err["exception_message"]


def test_inpainting_file_without_gligen_inpaint_is_named(server, tiny_ckpt, models_dir):
    name = provide(models_dir, "gligen", "tiny_inpaint_tb.safetensors", tiny_variant_for, inpainting=True)
    g = Graph()
    b = base(g, tiny_ckpt)
    loader = g.add("GLIGENAdapterLoader", gligen_name=name)
    apply = g.add("GLIGENApply", model=b["model"], gligen=g.out(loader), strength=1.0, negative="null")
    finish(g, ksampler(g, g.out(apply), b["positive"], b["negative"], b["latent"], steps=1), b["vae"])
    err = failed(server, g.prompt())
    assert "Pass the positive and negative through GLIGENInpaint" in err["exception_message"]
