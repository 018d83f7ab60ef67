"""The adapter inside ComfyUI's machinery: weights cast once to the UNet's compute dtype, ComfyUI's
low-VRAM streaming, ComfyUI's attention backend and precision, area crops seen by the tokenizer, and
clear errors where the batch cannot be matched to the conditionings."""
from __future__ import annotations

import pytest
import torch

from helpers.models import provide
from helpers.prompts import Graph, base, finish, ksampler, ours
from gligen_pack.runner.demo_models import gligen_for


def patched(host, ckpt, gligen, **kw):
    g = Graph()
    b = base(g, ckpt)
    m, pos, _ = ours(g, b, gligen, **kw)
    finish(g, ksampler(g, m, pos, b["negative"], b["latent"], steps=1), b["vae"])
    r = host.run(g.prompt(), fresh_cache=True)
    assert r.success, r.error()
    return {"model": r.output(m[0])[0], "positive": r.output(pos[0])[0], "negative": r.output(b["negative"][0])[0],
            "latent": r.output(b["latent"][0])[0]["samples"], "loader": r.output("5")[0]}


def sample(d, model=None, positive=None, steps=2):
    import comfy.sample
    noise = comfy.sample.prepare_noise(d["latent"], 11)
    with torch.inference_mode():
        return comfy.sample.sample(model or d["model"], noise, steps, 7.0, "euler", "normal", positive or d["positive"],
                                   d["negative"], d["latent"], seed=11, disable_pbar=True)


def runtime_adapter(model):
    return model.get_additional_models_with_key("gligen_pack")[0].model


@pytest.fixture(scope="module")
def fp16_gligen(host, models_dir):
    return provide(models_dir, "gligen", "gligen_tiny_fp16.safetensors", gligen_for, dtype=torch.float16)


def test_weights_are_cast_once_to_the_unets_compute_dtype(host, tiny_ckpt, fp16_gligen):
    import comfy.ops
    d = patched(host, tiny_ckpt, fp16_gligen)
    unet_dtype = d["model"].model.get_dtype()
    assert unet_dtype == torch.float32 and d["model"].model.manual_cast_dtype is None   # ComfyUI on a CPU
    adapter = runtime_adapter(d["model"])
    assert {p.dtype for p in adapter.parameters()} == {torch.float32}
    linears = [m for m in adapter.modules() if isinstance(m, torch.nn.Linear)]
    assert linears and all(isinstance(m, comfy.ops.disable_weight_init.Linear) for m in linears)
    assert not any(m.comfy_cast_weights for m in linears)          # nothing is cast per call
    loaded = d["loader"].adapter
    assert {p.device.type for p in loaded.parameters()} == {"meta"}  # the file's weights are held once
    assert loaded.phrase_dim == 768 and len(loaded.positions()) == 7  # the loaded adapter keeps its shapes
    # a second GLIGENApply on a model of the same dtype shares the runtime copy
    again = d["loader"].runtime(torch.float32)[0]
    assert again is adapter


def test_low_vram_streams_the_adapter_like_comfyuis_own_layers(host, tiny_ckpt, tiny_gligen):
    import comfy.ops
    d = patched(host, tiny_ckpt, tiny_gligen)
    model = d["model"]
    adapter_patcher = model.get_additional_models_with_key("gligen_pack")[0]
    full = sample(d)
    casts = []
    original = comfy.ops.cast_bias_weight

    def counting(s, *a, **k):
        casts.append(type(s).__name__)
        return original(s, *a, **k)

    import comfy.model_management as mm
    comfy.ops.cast_bias_weight = counting
    try:
        adapter_patcher.detach()
        adapter_patcher.patch_model(device_to=mm.get_torch_device(), lowvram_model_memory=1)  # almost nothing fits
        assert adapter_patcher.model.model_lowvram
        linears = [m for m in adapter_patcher.model.modules() if isinstance(m, comfy.ops.disable_weight_init.Linear)]
        assert all(m.comfy_cast_weights for m in linears)
        block = model.model.diffusion_model.input_blocks[1][1].transformer_blocks[0]
        from gligen_pack.nodes.patch import SCALE_KEY, TOKENS_KEY
        tokens = adapter_patcher.model.position_net.null_tokens()
        x = torch.randn(1, 64, 320, generator=torch.Generator().manual_seed(1))
        options = {"patches": model.model_options["transformer_options"]["patches"], "block": ("input", 1),
                   "block_index": 0, TOKENS_KEY: tokens, SCALE_KEY: torch.tensor(1.0)}
        with torch.no_grad():
            streamed = block(x, context=torch.zeros(1, 77, 768), transformer_options=options)
        assert "Linear" in casts                                     # the fuser's layers took the streaming path
    finally:
        comfy.ops.cast_bias_weight = original
        adapter_patcher.detach()
    with torch.no_grad():
        normal = block(x, context=torch.zeros(1, 77, 768), transformer_options=options)
    torch.testing.assert_close(streamed, normal)
    torch.testing.assert_close(sample(d), full)


def test_fusers_use_comfyuis_attention_backend_and_the_blocks_precision(host, tiny_ckpt, tiny_gligen):
    import comfy.ldm.modules.attention as attention
    d = patched(host, tiny_ckpt, tiny_gligen)
    blocks = [m for m in d["model"].model.diffusion_model.modules() if hasattr(m, "attn_precision")
              and type(m).__name__ == "BasicTransformerBlock"]
    calls = []
    original = attention.optimized_attention

    def recording(q, k, v, heads, *a, **kw):
        calls.append((q.shape[1], k.shape[1], kw.get("attn_precision")))
        return original(q, k, v, heads, *a, **kw)

    attention.optimized_attention = recording
    saved = [b.attn_precision for b in blocks]
    try:
        for b in blocks:
            b.attn_precision = torch.float32   # as SD2.x's blocks ask for in fp16
        sample(d, steps=1)
    finally:
        attention.optimized_attention = original
        for b, p in zip(blocks, saved):
            b.attn_precision = p
    gated = [c for c in calls if c[1] == c[0] + 30]                  # self-attention over [x ; 30 tokens]
    assert len(gated) == len(blocks)                                 # every fuser, one batched call each
    assert all(c[2] is torch.float32 for c in gated)


def test_area_crop_is_what_the_tokenizer_sees(host, tiny_ckpt, tiny_gligen):
    """A 128x128 canvas with the grounded positive on its right half (x 64..128): a box at x 80..120,
    y 16..80 is at x 0.25..0.875, y 0.125..0.625 of the crop; a box across the edge is cut there; a box
    on the left half is not in the crop."""
    import comfy.sample
    boxes = [{"phrase": "inside", "box_px": [80, 16, 120, 80]}, {"phrase": "across", "box_px": [32, 0, 96, 64]},
             {"phrase": "outside", "box_px": [0, 64, 48, 128]}]
    g = Graph()
    b = base(g, tiny_ckpt, size=128)
    m, pos, _ = ours(g, b, tiny_gligen, boxes=boxes, size=128)
    area = g.add("ConditioningSetArea", conditioning=pos, width=64, height=128, x=64, y=0, strength=1.0)
    ks = ksampler(g, m, g.out(area), b["negative"], b["latent"], steps=1)
    finish(g, ks, b["vae"])
    r = host.run(g.prompt(), fresh_cache=True)
    assert r.success, r.error()
    model = r.output(m[0])[0]
    tokenizer = runtime_adapter(model).position_net
    seen = []
    original = tokenizer.forward

    def recording(boxes, masks, features):
        seen.append(boxes[0, masks[0] > 0].tolist())
        return original(boxes, masks, features)

    tokenizer.forward = recording
    try:
        latent = r.output(b["latent"][0])[0]
        with torch.inference_mode():
            comfy.sample.sample(model, comfy.sample.prepare_noise(latent["samples"], 1), 1, 7.0, "euler", "normal",
                                r.output(area)[0], r.output(b["negative"][0])[0], latent["samples"], seed=1,
                                disable_pbar=True)
    finally:
        del tokenizer.forward
    grounded = [s for s in seen if s]
    assert len(grounded) == 1
    torch.testing.assert_close(torch.tensor(grounded[0]), torch.tensor([[0.25, 0.125, 0.875, 0.625],
                                                                       [0.0, 0.0, 0.5, 0.5]]))


def test_a_batch_that_does_not_divide_into_its_chunks_is_a_clear_error(host, tiny_ckpt, tiny_gligen):
    from gligen_pack.gligen_core import GLIGENError
    from gligen_pack.nodes.patch import RunState
    d = patched(host, tiny_ckpt, tiny_gligen)
    patch = d["model"].model_options["transformer_options"]["patches"]["middle_patch"][-1]
    run = RunState(patch, d["model"].model.model_sampling)
    with pytest.raises(GLIGENError, match="batch of 3 latents in 2 conditioning chunks"):
        run.tokens_for([(0, "a"), (1, "b")], 3, torch.device("cpu"), torch.float32)
