"""How the patch runs inside ComfyUI: one batched UNet call for cond and uncond, tokens made once per
run, clones that share the adapter, and ReGround's parallel wiring checked on one real block."""
from __future__ import annotations

import pytest
import torch

from helpers.prompts import Graph, base, finish, ksampler, ours
from helpers.spec import spec_fuser
from helpers.models import provide
from gligen_pack.runner.demo_models import gligen_for


def rel(a, b):
    return ((a - b).norm() / b.norm()).item()


@pytest.fixture(scope="module")
def grounded(host, tiny_ckpt, tiny_gligen):
    """The objects of a grounded prompt: patched model, conditionings, latent, and its result."""
    g = Graph()
    b = base(g, tiny_ckpt)
    m, pos, _ = ours(g, b, tiny_gligen)
    ks = ksampler(g, m, pos, b["negative"], b["latent"], steps=3)
    finish(g, ks, b["vae"])
    r = host.run(g.prompt())
    assert r.success, r.error()
    return {"model": r.output(m[0])[0], "positive": r.output(pos[0])[0], "negative": r.output(b["negative"][0])[0],
            "latent": r.output(b["latent"][0])[0]["samples"], "result": r.output(ks)[0]["samples"],
            "plain_model": r.output("1")[0]}


def sample(model, d, wrapper=None):
    import comfy.sample
    if wrapper is not None:
        model = model.clone()
        model.set_model_unet_function_wrapper(wrapper)
    noise = comfy.sample.prepare_noise(d["latent"], 7)
    with torch.inference_mode():
        return comfy.sample.sample(model, noise, 3, 7.0, "euler", "normal", d["positive"], d["negative"], d["latent"],
                                   seed=7, disable_pbar=True)


def test_cond_and_uncond_run_in_one_batched_call_equal_to_unbatched(grounded):
    sizes = []

    def counting(apply_model, args):
        sizes.append(args["input"].shape[0])
        return apply_model(args["input"], args["timestep"], **args["c"])

    def one_chunk_at_a_time(apply_model, args):
        x, t, c = args["input"], args["timestep"], args["c"]
        n = len(args["cond_or_uncond"])
        to = c["transformer_options"]
        outs = []
        for i in range(n):
            ci = {k: (v.chunk(n)[i] if torch.is_tensor(v) else v) for k, v in c.items() if k != "transformer_options"}
            ci["transformer_options"] = {**to, "uuids": to["uuids"][i:i + 1], "cond_or_uncond": to["cond_or_uncond"][i:i + 1]}
            outs.append(apply_model(x.chunk(n)[i], t.chunk(n)[i], **ci))
        return torch.cat(outs)

    batched = sample(grounded["model"], grounded, counting)
    assert sizes == [2, 2, 2]                                # one UNet call per step, cond + uncond together
    assert torch.equal(batched, grounded["result"])          # what KSampler in the graph produced
    unbatched = sample(grounded["model"], grounded, one_chunk_at_a_time)
    assert rel(batched, unbatched) < 1e-5


def test_tokens_are_made_once_per_conditioning_per_run(grounded):
    adapter = grounded["model"].get_additional_models_with_key("gligen_pack")[0].model
    calls = []
    original = adapter.position_net.forward

    def counted(*a, **k):
        calls.append(1)
        return original(*a, **k)

    adapter.position_net.forward = counted
    try:
        sample(grounded["model"], grounded)
    finally:
        del adapter.position_net.forward
    assert len(calls) == 2                                   # positive grounding + the negative's null grounding


def test_clones_share_the_patch_and_the_adapter_weights(grounded):
    model = grounded["model"]
    clone = model.clone()
    patch = model.model_options["transformer_options"]["patches"]["middle_patch"][-1]
    assert clone.model_options["transformer_options"]["patches"]["middle_patch"][-1] is patch
    a = model.get_additional_models_with_key("gligen_pack")[0].model
    b = clone.get_additional_models_with_key("gligen_pack")[0].model
    assert all(p.data_ptr() == q.data_ptr() for p, q in zip(a.parameters(), b.parameters()))
    assert clone.model is model.model is grounded["plain_model"].model   # no second copy of the UNet


def test_reground_with_zero_gates_is_the_plain_model(host, tiny_ckpt, models_dir):
    zero = provide(models_dir, "gligen", "gligen_tiny_zero_gates.safetensors", gligen_for, gate=0.0)
    latents = []
    for reground in (None, True):
        g = Graph()
        b = base(g, tiny_ckpt)
        if reground is None:
            model, pos = b["model"], b["positive"]
        else:
            model, pos, _ = ours(g, b, zero, reground=True)
        ks = ksampler(g, model, pos, b["negative"], b["latent"], steps=3, seed=5)
        finish(g, ks, b["vae"])
        r = host.run(g.prompt())
        assert r.success, r.error()
        latents.append(r.output(ks)[0]["samples"])
    assert torch.equal(latents[0], latents[1])


@pytest.mark.parametrize("reground", [False, True])
def test_block_wiring_matches_the_formula(host, tiny_ckpt, tiny_gligen, reground):
    """One real transformer block of the UNet with the pack's patches, against GLIGEN's sequential and
    ReGround's parallel formulas (GLIGEN spec 3.1 and 8) written out here."""
    g = Graph()
    b = base(g, tiny_ckpt)
    m, pos, _ = ours(g, b, tiny_gligen, strength=0.8, reground=reground)
    finish(g, ksampler(g, m, pos, b["negative"], b["latent"], steps=1), b["vae"])
    r = host.run(g.prompt())
    patched = r.output(m[0])[0]
    block = patched.model.diffusion_model.input_blocks[1][1].transformer_blocks[0]
    adapter = patched.get_additional_models_with_key("gligen_pack")[0].model
    fuser = adapter.fuser_at(type(adapter.positions()[0])("input", 1, 0))
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(1, 64, 320, generator=gen)
    context = torch.randn(1, 77, 768, generator=gen)
    from gligen_pack.nodes.patch import SCALE_KEY, TOKENS_KEY
    tokens = adapter.position_net.null_tokens()
    options = {"patches": patched.model_options["transformer_options"]["patches"], "block": ("input", 1),
               "block_index": 0, TOKENS_KEY: tokens, SCALE_KEY: torch.tensor(0.8)}  # what the UNet call carries
    with torch.no_grad():
        got = block(x, context=context, transformer_options=options)
        v1 = x + block.attn1(block.norm1(x))
        gsa = spec_fuser(fuser, v1, tokens, 0.8, heads=8).float() - v1
        if reground:
            v3 = v1 + gsa + block.attn2(block.norm2(v1), context=context)
        else:
            v2 = v1 + gsa
            v3 = v2 + block.attn2(block.norm2(v2), context=context)
        expected = v3 + block.ff(block.norm3(v3))
    assert rel(got, expected) < 1e-5
    assert gsa.abs().max() > 1e-3                           # the fuser really contributed
