"""The widened first conv on the user's own checkpoint, through ComfyUI's UNet: the extra channels an
inpainting adapter brings are added at ``input_block_patch`` ("input", 0), for cond and uncond alike,
and an adapter that needs an input it was not given says what to connect."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from helpers.gligen_variants import tiny_variant_for
from helpers.models import provide
from helpers.prompts import Graph, base, finish, ksampler


@pytest.fixture(scope="module")
def parts(host, tiny_ckpt):
    g = Graph()
    b = base(g, tiny_ckpt)
    finish(g, ksampler(g, b["model"], b["positive"], b["negative"], b["latent"], steps=1), b["vae"])
    r = host.run(g.prompt())
    assert r.success, r.error()
    return {"model": r.output("1")[0], "positive": r.output(b["positive"][0])[0],
            "negative": r.output(b["negative"][0])[0], "latent": r.output(b["latent"][0])[0]["samples"]}


def adapter_ref(models_dir, name, **kw):
    from gligen_pack.gligen_core import load_adapter
    from gligen_pack.nodes.types import AdapterRef
    provide(models_dir, "gligen", name, tiny_variant_for, **kw)
    return AdapterRef(load_adapter(str(models_dir / "gligen" / name)))


def with_key(conds, key, value):
    return [[c, {**extra, key: value}] for c, extra in conds]


def sample(model, parts, positive, negative, steps=1):
    import comfy.sample
    noise = comfy.sample.prepare_noise(parts["latent"], 5)
    with torch.inference_mode():
        return comfy.sample.sample(model, noise, steps, 5.0, "euler", "normal", positive, negative, parts["latent"],
                                   seed=5, disable_pbar=True)


def test_one_unet_call_feeds_the_first_conv_z_t_masked_latent_and_mask(parts, models_dir):
    from gligen_pack.gligen_core.inpainting import InpaintInput, keep_mask_from_boxes
    from gligen_pack.nodes.apply import grounded_model
    from gligen_pack.nodes.types import INPAINT_KEY
    ref = adapter_ref(models_dir, "inpaint_tb.safetensors", inpainting=True)
    w_full = ref.adapter.first_conv.weight.detach().clone()            # [320, 9, 3, 3] as in the file
    model = grounded_model(parts["model"], ref)
    z0 = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(3))
    keep = keep_mask_from_boxes([(0.25, 0.0, 0.75, 0.5)], 8, 8)
    inpaint = InpaintInput(z0, keep)
    seen = {}

    def unet_input(apply_model, args):
        seen["x"], seen["sigma"], seen["cond_or_uncond"] = args["input"], args["timestep"], args["cond_or_uncond"]
        return apply_model(args["input"], args["timestep"], **args["c"])

    def first_block(h, to):
        if to["block"] == ("input", 0):
            seen["h"] = h
        return h

    model = model.clone()
    model.set_model_unet_function_wrapper(unet_input)
    model.set_model_input_block_patch(first_block)                     # after GLIGEN's: sees its sum
    sample(model, parts, with_key(parts["positive"], INPAINT_KEY, inpaint), with_key(parts["negative"], INPAINT_KEY, inpaint))

    base_model = parts["model"].model
    conv = base_model.diffusion_model.input_blocks[0][0]
    xc = base_model.model_sampling.calculate_input(seen["sigma"], seen["x"])
    z0_in = base_model.process_latent_in(z0)
    n = xc.shape[0]
    assert sorted(seen["cond_or_uncond"]) == [0, 1]                    # cond and uncond in one call, both fed
    weight = torch.cat((conv.weight.float(), w_full[:, 4:]), dim=1)  # the user's own conv, widened
    by_hand = F.conv2d(torch.cat((xc.float(), (z0_in * keep).expand(n, -1, -1, -1), keep.expand(n, -1, -1, -1)), dim=1),
                       weight, conv.bias.float(), padding=1)
    assert ((seen["h"].float() - by_hand).norm() / by_hand.norm()).item() < 1e-5


def test_inpainting_adapter_without_an_image_says_what_to_connect(parts, models_dir):
    from gligen_pack.gligen_core import GLIGENError
    from gligen_pack.nodes.apply import grounded_model
    model = grounded_model(parts["model"], adapter_ref(models_dir, "inpaint_tb.safetensors", inpainting=True))
    with pytest.raises(GLIGENError, match="inpainting text-box model: it repaints inside a masked image.*GLIGENInpaint"):
        sample(model, parts, parts["positive"], parts["negative"])


def test_generation_adapter_given_an_inpainting_image_says_so(parts, tiny_gligen, models_dir):
    from gligen_pack.gligen_core import GLIGENError, load_adapter
    from gligen_pack.gligen_core.inpainting import InpaintInput
    from gligen_pack.nodes.apply import grounded_model
    from gligen_pack.nodes.types import INPAINT_KEY, AdapterRef
    model = grounded_model(parts["model"], AdapterRef(load_adapter(str(models_dir / "gligen" / tiny_gligen))))
    inpaint = InpaintInput(torch.zeros(1, 4, 8, 8), torch.ones(1, 1, 8, 8))
    with pytest.raises(GLIGENError, match="without the inpainting channels. Load an inpainting GLIGEN"):
        sample(model, parts, with_key(parts["positive"], INPAINT_KEY, inpaint), parts["negative"])


def test_a_grounding_of_another_kind_names_what_the_adapter_reads(parts, tiny_gligen, models_dir):
    from gligen_pack.gligen_core import GLIGENError, load_adapter
    from gligen_pack.nodes.apply import grounded_model
    from gligen_pack.nodes.types import GROUNDING_KEY, AdapterRef

    class Keypoints:
        kind = "keypoints"

    model = grounded_model(parts["model"], AdapterRef(load_adapter(str(models_dir / "gligen" / tiny_gligen))))
    with pytest.raises(GLIGENError, match="grounded with keypoints, but this text-box GLIGEN reads boxes"):
        sample(model, parts, with_key(parts["positive"], GROUNDING_KEY, Keypoints()), parts["negative"])
