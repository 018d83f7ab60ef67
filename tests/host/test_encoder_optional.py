"""GroundingEncoder without the adapter wired (the feature follows the CLIP; GLIGENApply checks it),
and phrases encoded literally unless the prompt syntax is asked for."""
from __future__ import annotations

import json

import torch

from helpers.prompts import Graph, base, finish, ksampler, ours, sampled_latent


def sample_latent(host, g: Graph, b: dict, model, positive) -> torch.Tensor:
    return sampled_latent(host, g, b, model, positive, seed=11)


def test_encoder_without_adapter_gives_the_same_latents(host, tiny_ckpt, tiny_gligen):
    g = Graph()
    b = base(g, tiny_ckpt)
    model, positive, _ = ours(g, b, tiny_gligen)
    wired = sample_latent(host, g, b, model, positive)

    g = Graph()
    b = base(g, tiny_ckpt)
    model, positive, boxes_node = ours(g, b, tiny_gligen)
    encoder = positive[0]
    assert g.nodes[encoder]["class_type"] == "GLIGENGroundingEncoder"
    del g.nodes[encoder]["inputs"]["gligen"]
    unwired = sample_latent(host, g, b, model, positive)
    assert torch.equal(wired, unwired)


def test_unwired_encoder_with_the_wrong_clip_is_refused_by_gligen_apply(host, tiny_ckpt, sdxl_ckpt, tiny_gligen):
    g = Graph()
    b = base(g, tiny_ckpt)
    model, positive, _ = ours(g, b, tiny_gligen)
    xl = g.add("CheckpointLoaderSimple", ckpt_name=sdxl_ckpt)
    encoder = g.nodes[positive[0]]["inputs"]
    del encoder["gligen"]
    encoder["clip"] = g.out(xl, 1)  # SDXL phrase features (2048-d) for an SD1.x adapter (768-d)
    ks = ksampler(g, model, positive, b["negative"], b["latent"])
    finish(g, ks, b["vae"])
    result = host.run(g.prompt())
    assert not result.success
    err = result.error()
    assert err["node_id"] == ks
    assert ("This GLIGEN file is for SD1.x and needs 768-d phrase features; this CLIP gives 2048-d ones (SDXL CLIP)"
            in err["exception_message"])


def encoded(host, tiny_ckpt, phrase: str, syntax: str | None):
    g = Graph()
    b = base(g, tiny_ckpt)
    boxes = g.add("GLIGENGroundingBoxes", width=64, height=64,
                  boxes_json=json.dumps([{"phrase": phrase, "box": [0.1, 0.1, 0.6, 0.7]}]))
    inputs = dict(conditioning=b["positive"], clip=b["clip"], grounding=g.out(boxes))
    if syntax is not None:
        inputs["phrase_syntax"] = syntax
    enc = g.add("GLIGENGroundingEncoder", **inputs)
    finish(g, ksampler(g, b["model"], g.out(enc), b["negative"], b["latent"], steps=1), b["vae"])  # an output
    result = host.run(g.prompt())
    assert result.success, result.error()
    clip = result.output(b["clip"][0])[1]
    (_, extra), = result.output(enc)[0]
    from gligen_pack.nodes.types import GROUNDING_KEY  # the pack imports ComfyUI: after the host booted
    return clip, extra[GROUNDING_KEY].features[0], result.ui.get(enc, {})


def literal_feature(clip, text: str) -> torch.Tensor:
    """The oracle: CLIP-L's unprojected pooled output of the text's own BPE tokens, every weight 1."""
    sd_tok = clip.tokenizer.clip_l
    ids = sd_tok.tokenizer(text)["input_ids"]  # start, the text's tokens, end
    pairs = [(t, 1.0) for t in ids] + [(sd_tok.pad_token, 1.0)] * (77 - len(ids))
    _, pooled = clip.encode_from_tokens({"l": [pairs]}, return_pooled="unprojected")
    return pooled.reshape(-1).float().cpu()


def test_phrase_with_parentheses_encodes_the_literal_text(host, tiny_ckpt):
    phrase = "a cup (empty:1.3) on a \\(wooden\\) table"
    clip, default, ui = encoded(host, tiny_ckpt, phrase, None)
    oracle = literal_feature(clip, phrase)
    assert torch.allclose(default, oracle, atol=1e-6, rtol=0)
    # the parentheses and backslashes are tokens: the text without them encodes to something else
    assert not torch.allclose(default, literal_feature(clip, "a cup empty:1.3 on a wooden table"), atol=1e-4)
    _, literal, _ = encoded(host, tiny_ckpt, phrase, "literal")
    assert torch.equal(literal, default)
    assert any(repr(phrase) in t and "as typed" in t for t in ui["text"])

    _, prompt, prompt_ui = encoded(host, tiny_ckpt, phrase, "prompt")
    assert not torch.allclose(prompt, oracle, atol=1e-4)  # the weight syntax changed it
    assert any("[empty ×1.3]" in t for t in prompt_ui["text"])
