"""GLIGEN-XL on a tiny random SDXL-family checkpoint that ComfyUI detects as SDXL, through the real host:
70 fusers addressed by (block, inner block), the 2048-d phrase feature, schedules, ReGround, errors."""
from __future__ import annotations

import torch

from helpers.models import provide
from gligen_pack.runner.demo_models import gligen_xl_for
from helpers.prompts import Graph, base, finish, ksampler, ours, scheduled

BOXES = [{"phrase": "a red car", "box": [0.1, 0.3, 0.6, 0.9]}, {"phrase": "a corgi", "box": [0.5, 0.1, 0.95, 0.7]}]


def rel(a, b):
    return ((a - b).norm() / b.norm()).item()


def run(host, ckpt, gligen=None, sampler="ksampler", seed=3, **apply):
    g = Graph()
    b = base(g, ckpt)
    if gligen is None:
        model, pos = b["model"], b["positive"]
    else:
        model, pos, _ = ours(g, b, gligen, boxes=BOXES, **apply)
    if sampler == "ksampler":
        node = ksampler(g, model, pos, b["negative"], b["latent"], steps=2, seed=seed)
    else:
        node = scheduled(g, model, pos, b["negative"], b["latent"], steps=2, seed=seed, tau=sampler)
    finish(g, node, b["vae"])
    result = host.run(g.prompt())
    return result, node


def latent(host, *a, **k):
    result, node = run(host, *a, **k)
    assert result.success, result.error()
    return result.output(node)[0]["samples"]


def test_checkpoint_is_detected_as_sdxl(host, sdxl_ckpt):
    result, _ = run(host, sdxl_ckpt)
    model = result.output("1")[0]
    assert type(model.model.model_config).__name__ == "SDXL"
    from gligen_pack.nodes.model_fit import transformer_blocks
    blocks = transformer_blocks(model.model.diffusion_model)
    assert len(blocks) == 70 and max(p.inner for p in blocks) == 9


def test_grounded_sdxl_differs_and_zero_gates_reproduce(host, sdxl_ckpt, gligen_xl, models_dir):
    plain = latent(host, sdxl_ckpt)
    grounded = latent(host, sdxl_ckpt, gligen_xl)
    assert torch.isfinite(grounded).all() and rel(grounded, plain) > 1e-3
    zero = provide(models_dir, "gligen", "gligen_xl_zero.safetensors", gligen_xl_for, gate=0.0)
    assert torch.equal(latent(host, sdxl_ckpt, zero), plain)
    assert torch.equal(latent(host, sdxl_ckpt, zero, reground=True), plain)


def test_every_fuser_runs_once_per_unet_call_at_its_own_position(host, sdxl_ckpt, gligen_xl):
    def prompt(seed):
        g = Graph()
        b = base(g, sdxl_ckpt)
        model, pos, _ = ours(g, b, gligen_xl, boxes=BOXES)
        finish(g, ksampler(g, model, pos, b["negative"], b["latent"], steps=1, seed=seed), b["vae"])
        return g, model

    g, model = prompt(11)
    first = host.run(g.prompt())
    patched = first.output(model[0])[0]                  # cached: the next run samples this model again
    adapter = patched.get_additional_models_with_key("gligen_pack")[0].model   # the runtime copy that runs
    seen = []
    hooks = [adapter.fuser_at(p).register_forward_hook(lambda m, i, o, p=p: seen.append(p)) for p in adapter.positions()]
    try:
        assert host.run(prompt(12)[0].prompt()).success
    finally:
        for h in hooks:
            h.remove()
    assert seen == adapter.positions() and len(seen) == 70   # one batched call: each fuser once, in UNet order


def test_phrase_feature_is_clip_l_unprojected_then_clip_g_projected(host, sdxl_ckpt, gligen_xl):
    from gligen_pack.nodes.encoder import phrase_features
    result, _ = run(host, sdxl_ckpt)
    clip = result.output("1")[1]
    feats = phrase_features(clip, ["a corgi", "a red car", "a corgi"], 2048, "SDXL")
    assert feats.shape == (3, 2048) and torch.equal(feats[0], feats[2])
    cm = clip.cond_stage_model
    assert cm.clip_l.return_projected_pooled == cm.clip_l.options_default[2]      # options were reset
    tokens = clip.tokenize("a corgi")
    ids = torch.tensor([[t for t, _ in tokens["l"][0]]])
    with torch.no_grad():
        l_unprojected = cm.clip_l.transformer.text_model(ids)[2].float().reshape(-1)
    g_projected = clip.encode_from_tokens(tokens, return_pooled=True)[1].float().reshape(-1)
    assert rel(feats[0, :768], l_unprojected) < 1e-3
    assert rel(feats[0, 768:], g_projected) < 1e-3


def test_schedules_strength_and_reground_on_sdxl(host, sdxl_ckpt, gligen_xl):
    plain = latent(host, sdxl_ckpt)
    grounded = latent(host, sdxl_ckpt, gligen_xl)
    assert torch.equal(latent(host, sdxl_ckpt, gligen_xl, sampler=0.0), plain)           # tau = 0
    assert torch.equal(latent(host, sdxl_ckpt, gligen_xl, strength=0.0), plain)
    assert rel(latent(host, sdxl_ckpt, gligen_xl, reground=True), grounded) > 1e-4
    null_neg = latent(host, sdxl_ckpt, gligen_xl)
    core_neg = latent(host, sdxl_ckpt, gligen_xl, negative_mode="same as positive (ComfyUI core)")
    assert rel(null_neg, core_neg) > 1e-5


def test_sd1_file_on_sdxl_model_and_sdxl_clip(host, sdxl_ckpt, tiny_gligen):
    result, _ = run(host, sdxl_ckpt, tiny_gligen)
    assert not result.success
    err = result.error()
    assert "This GLIGEN file is for SD1.x" in err["exception_message"]
    assert "your model is SDXL" in err["exception_message"] or "this CLIP is SDXL's" in err["exception_message"]


def test_sdxl_file_on_sd1_model(host, tiny_ckpt, gligen_xl):
    result, _ = run(host, tiny_ckpt, gligen_xl)
    assert not result.success
    msg = result.error()["exception_message"]
    assert "This GLIGEN file is for SDXL" in msg and ("your model is SD15" in msg or "an SD1.x CLIP" in msg)
