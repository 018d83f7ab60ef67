"""A catalogue of bad input, each case sent over HTTP to a real ComfyUI server with the pack installed.

Every case must end in a clear error for the right node (the field, the value, the fix), preferably
when the prompt is queued (HTTP 400) so nothing runs first, or in a successful run where the input is
legitimate. Afterwards the server still answers and a normal run gives the same latents as before.
"""
from __future__ import annotations

import os

import pytest
import torch
from safetensors.torch import save_file

from gligen_pack.runner.demo_models import TINY_FUSERS, random_gligen_state
from helpers.outcomes import failed, latent_of, rejected, succeeded
from helpers.prompts import BOXES, Graph, base, ksampler, ours, scheduled

LONG_PHRASE = " ".join(["a very detailed ornate golden baroque antique carved wooden"] * 12)


# ---- building prompts ------------------------------------------------------------------------------

def grounded(ckpt, gligen, boxes=BOXES, size=64, batch=1, seed=1, save=True, **apply):
    g = Graph()
    b = base(g, ckpt, size=size, batch=batch)
    model, pos, boxes_node = ours(g, b, gligen, boxes=boxes, size=size, **apply)
    ks = ksampler(g, model, pos, b["negative"], b["latent"], seed=seed, steps=2)
    out = g.add("SaveLatent", samples=g.out(ks), filename_prefix="latents/bad_input") if save else None
    return g, b, {"model": model, "positive": pos, "boxes": boxes_node, "sampler": ks, "save": out}


def gligen_file(models_dir, name, sd) -> str:
    save_file(sd, str(models_dir / "gligen" / name))
    return name


@pytest.fixture(scope="module")
def before(server, tiny_ckpt, tiny_gligen):
    """A normal grounded run and a fresh ungrounded run, before any bad input."""
    g, _, n = grounded(tiny_ckpt, tiny_gligen, seed=123)
    grounded_latent = latent_of(server, succeeded(server, g.prompt()), n["save"])
    g = Graph()
    b = base(g, tiny_ckpt)
    ks = ksampler(g, b["model"], b["positive"], b["negative"], b["latent"], seed=123, steps=2)
    save = g.add("SaveLatent", samples=g.out(ks), filename_prefix="latents/plain")
    plain_prompt = g.prompt()
    plain = latent_of(server, succeeded(server, plain_prompt), save)
    return {"grounded": grounded_latent, "plain": plain, "plain_prompt": plain_prompt, "plain_save": save}


def boxes_prompt(ckpt, gligen, text):
    g, _, n = grounded(ckpt, gligen)
    g.nodes[n["boxes"]]["inputs"]["boxes_json"] = text
    return g.prompt(), n


# ---- boxes: refused when queued ---------------------------------------------------------------------

BOX_CASES = {
    "malformed_json": ('[{"phrase": "cat", "box": [0, 0, 1, 1]', "not valid JSON"),
    "not_a_list": ('"a cat in the middle"', "must be a list of boxes"),
    "object_without_boxes": ('{"items": []}', "without a 'boxes' list"),
    "entry_not_object": ('["cat"]', "box #1 must be an object"),
    "box_wrong_length": ('[{"phrase": "cat", "box": [0, 0, 1]}]', "list of 4 numbers"),
    "coordinate_text": ('[{"phrase": "cat", "box": [0, "zero", 1, 1]}]', "y0 in 'box' must be a number"),
    "coordinate_bool": ('[{"phrase": "cat", "box": [false, 0, 1, 1]}]', "x0 in 'box' must be a number"),
    "nan": ('[{"phrase": "cat", "box": [0, 0, NaN, 1]}]', "x1 in 'box' is nan"),
    "infinity": ('[{"phrase": "cat", "box": [0, 0, 1, Infinity]}]', "y1 in 'box' is inf"),
    "below_zero": ('[{"phrase": "cat", "box": [-0.2, 0, 1, 1]}]', "x0 = -0.2 is outside 0..1"),
    "above_one": ('[{"phrase": "cat", "box": [0, 0, 1, 1.25]}]', "y1 = 1.25 is outside 0..1"),
    "x1_left_of_x0": ('[{"phrase": "cat", "box": [0.8, 0, 0.2, 1]}]', "x1 is left of x0"),
    "y1_above_y0": ('[{"phrase": "cat", "box": [0, 0.9, 1, 0.3]}]', "y1 is above y0"),
    "zero_area": ('[{"phrase": "cat", "box": [0.5, 0.1, 0.5, 0.9]}]', "zero area"),
    "pixels_left_of_canvas": ('[{"phrase": "cat", "box_px": [-4, 10, 30, 40]}]', "x0 = -4 px is outside the canvas"),
    "empty_phrase": ('[{"phrase": "  ", "box": [0, 0, 1, 1]}]', "the phrase is empty"),
    "phrase_not_text": ('[{"phrase": 7, "box": [0, 0, 1, 1]}]', "'phrase' must be text"),
    "unknown_key": ('[{"phrase": "cat", "bbox": [0, 0, 1, 1]}]', "unknown key 'bbox'"),
    "box_and_box_px": ('[{"phrase": "cat", "box": [0, 0, 1, 1], "box_px": [0, 0, 8, 8]}]', "not both"),
}


@pytest.mark.parametrize("case", sorted(BOX_CASES))
def test_bad_boxes_are_refused_when_queued(server, before, tiny_ckpt, tiny_gligen, case):
    text, expected = BOX_CASES[case]
    prompt, n = boxes_prompt(tiny_ckpt, tiny_gligen, text)
    body = rejected(server, prompt)
    assert expected in body, body
    assert f'"{n["boxes"]}"' in body                       # reported for the GroundingBoxes node


def test_pixel_boxes_beyond_the_canvas_fail_when_the_node_runs(server, before, tiny_ckpt, tiny_gligen):
    """The queue-time check sees the JSON alone (ComfyUI reports a check once per argument of
    validate_inputs, so it takes one); the canvas is known when the node runs."""
    prompt, n = boxes_prompt(tiny_ckpt, tiny_gligen, '[{"phrase": "cat", "box_px": [10, 10, 80, 40]}]')
    err = failed(server, prompt)
    assert err["node_type"] == "GLIGENGroundingBoxes" and err["node_id"] == n["boxes"]
    assert "boxes_json: box #1 ('cat'): x1 = 80 px is outside the 64x64 canvas" in err["exception_message"]


def test_phrase_longer_than_clip_window(server, before, tiny_ckpt, tiny_gligen):
    g, _, n = grounded(tiny_ckpt, tiny_gligen, boxes=[{"phrase": LONG_PHRASE, "box": [0, 0, 0.5, 0.5]}])
    err = failed(server, g.prompt())
    assert err["node_type"] == "GLIGENGroundingEncoder"
    assert "CLIP tokens" in err["exception_message"] and "Shorten the phrase" in err["exception_message"]


# ---- boxes: legitimate unusual input runs -------------------------------------------------------------

@pytest.mark.parametrize("boxes", [
    [{"phrase": "un chat noir ☕ 猫", "box": [0.1, 0.1, 0.6, 0.6]}],
    [],
    [{"phrase": f"thing {i}", "box_px": [0, 0, 4 + i % 60, 4 + i % 60]} for i in range(31)],
    [{"phrase": f"thing {i}", "box": [0, 0, (1 + i % 97) / 100, 0.5]} for i in range(1000)],
], ids=["non_ascii", "zero_boxes", "31_boxes", "1000_boxes"])
def test_unusual_but_valid_boxes_run(server, before, tiny_ckpt, tiny_gligen, boxes):
    g, _, n = grounded(tiny_ckpt, tiny_gligen, boxes=boxes)
    entry = succeeded(server, g.prompt())
    assert torch.isfinite(latent_of(server, entry, n["save"])).all()


# ---- weight files ------------------------------------------------------------------------------------

def file_prompt(ckpt, gligen):
    g, _, n = grounded(ckpt, gligen)
    return g.prompt(), n


@pytest.fixture(scope="module")
def valid_sd():
    return random_gligen_state(TINY_FUSERS, seed=5)


def mutate(sd, drop=(), add=None, change=None):
    out = {k: v for k, v in sd.items() if k not in drop}
    out.update(add or {})
    out.update(change or {})
    return out


FILE_CASES = {
    "missing_key": (lambda sd: mutate(sd, drop=["output_blocks.2.1.transformer_blocks.0.fuser.norm2.bias"]),
                    "missing tensor 'output_blocks.2.1.transformer_blocks.0.fuser.norm2.bias'"),
    "extra_key": (lambda sd: mutate(sd, add={"input_blocks.1.1.transformer_blocks.0.fuser.gate.weight": torch.zeros(3)}),
                  "unexpected tensor 'input_blocks.1.1.transformer_blocks.0.fuser.gate.weight'"),
    "misshapen_key": (lambda sd: mutate(sd, change={"middle_block.1.transformer_blocks.0.fuser.attn.to_v.weight": torch.zeros(640, 320)}),
                      "has shape [640, 320], expected [640, 640]"),
    "text_image_model": (lambda sd: mutate(sd, add={"position_net.linears_text.0.weight": torch.zeros(4, 4)}), "text+image GLIGEN"),
    "checkpoint_not_gligen": (lambda sd: {"model.diffusion_model.input_blocks.0.0.weight": torch.zeros(4, 4, 3, 3)},
                              "looks like a Stable Diffusion checkpoint"),
    "lora_not_gligen": (lambda sd: {"lora_unet_down_blocks_0_attentions_0.lora_down.weight": torch.zeros(4, 4)}, "looks like a LoRA"),
}


@pytest.mark.parametrize("case", sorted(FILE_CASES))
def test_bad_weight_files_are_refused_when_queued(server, before, models_dir, tiny_ckpt, valid_sd, case):
    build, expected = FILE_CASES[case]
    name = gligen_file(models_dir, f"bad_{case}.safetensors", build(valid_sd))
    prompt, n = file_prompt(tiny_ckpt, name)
    body = rejected(server, prompt)
    assert expected in body and name in body, body


@pytest.mark.parametrize("case,data,expected", [
    ("truncated", None, "truncated or corrupt"),
    ("not_safetensors", b"<html><body>404 Not Found</body></html>", "not a readable safetensors file"),
    ("empty", b"", "is empty (0 bytes)"),
])
def test_damaged_files_are_refused_when_queued(server, before, models_dir, tiny_ckpt, valid_sd, case, data, expected):
    name = f"damaged_{case}.safetensors"
    if data is None:
        gligen_file(models_dir, name, valid_sd)
        full = (models_dir / "gligen" / name).read_bytes()
        data = full[: len(full) * 2 // 3]
    (models_dir / "gligen" / name).write_bytes(data)
    body = rejected(server, file_prompt(tiny_ckpt, name)[0])
    assert expected in body, body


def test_nan_weights_stop_the_loader(server, before, models_dir, tiny_ckpt, valid_sd):
    bad = mutate(valid_sd, change={"position_net.null_positive_feature": torch.full((768,), float("nan"))})
    name = gligen_file(models_dir, "nan_weights.safetensors", bad)
    err = failed(server, file_prompt(tiny_ckpt, name)[0])      # values are only seen when the file is read
    assert err["node_type"] == "GLIGENAdapterLoader"
    assert "'position_net.null_positive_feature' contains NaN or infinite values" in err["exception_message"]


class _RunsCode:
    def __reduce__(self):
        return (os.system, ("touch /tmp/gligen_pack_pwned",))


def test_pickle_carrying_code_is_refused(server, before, models_dir, tiny_ckpt, valid_sd):
    torch.save({"model": valid_sd, "payload": _RunsCode()}, str(models_dir / "gligen" / "evil.pth"))
    err = failed(server, file_prompt(tiny_ckpt, "evil.pth")[0])
    assert err["node_type"] == "GLIGENAdapterLoader"
    assert "Refused to load 'evil.pth'" in err["exception_message"] and "system" in err["exception_message"]
    assert not os.path.exists("/tmp/gligen_pack_pwned")


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=["fp16", "bf16"])
def test_half_precision_files_run(server, before, models_dir, tiny_ckpt, valid_sd, dtype):
    name = gligen_file(models_dir, f"half_{str(dtype)[6:]}.safetensors", {k: v.to(dtype) for k, v in valid_sd.items()})
    prompt, n = file_prompt(tiny_ckpt, name)
    entry = succeeded(server, prompt)
    latent = latent_of(server, entry, n["save"])
    assert torch.isfinite(latent).all()


def test_file_not_in_folder(server, before, tiny_ckpt):
    body = rejected(server, file_prompt(tiny_ckpt, "no_such_gligen.safetensors")[0])
    assert "no_such_gligen.safetensors" in body and "is not in models/gligen" in body


SDXL_POSITIONS = [("input_blocks.4.1", 64), ("input_blocks.7.1", 128), ("middle_block.1", 128), ("output_blocks.0.1", 128)]


def test_sdxl_width_file_on_sd1_model(server, before, models_dir, tiny_ckpt):
    name = gligen_file(models_dir, "sdxl_like.safetensors",
                       random_gligen_state(SDXL_POSITIONS, phrase_dim=2048, token_dim=2048))
    err = failed(server, file_prompt(tiny_ckpt, name)[0])
    # whichever of the two nodes that meet the file runs first says so
    assert err["node_type"] in ("GLIGENApply", "GLIGENGroundingEncoder")
    assert "This GLIGEN file is for SDXL" in err["exception_message"]
    assert "your model is SD15" in err["exception_message"] or "an SD1.x CLIP" in err["exception_message"]


def test_file_for_a_bigger_sd1_unet(server, before, models_dir, tiny_ckpt):
    from helpers.gligen_files import sd1_pruned_state
    name = gligen_file(models_dir, "sd1_other_unet.safetensors", sd1_pruned_state(scale=10))
    err = failed(server, file_prompt(tiny_ckpt, name)[0])
    assert "fusers do not fit" in err["exception_message"] and "the model has no transformer block there" in err["exception_message"]


def test_clip_feature_of_the_wrong_width(server, before, models_dir, tiny_ckpt):
    name = gligen_file(models_dir, "phrase1024.safetensors", random_gligen_state(TINY_FUSERS, phrase_dim=1024))
    err = failed(server, file_prompt(tiny_ckpt, name)[0])
    assert err["node_type"] == "GLIGENGroundingEncoder"
    assert "needs 1024-d phrase features; this CLIP gives 768-d ones (SD1.x CLIP)" in err["exception_message"]


# ---- graph misuse ------------------------------------------------------------------------------------

def test_encoder_without_gligen_runs(server, before, tiny_ckpt, tiny_gligen):
    # the adapter input is optional: the feature follows the CLIP, GLIGENApply checks it (test_encoder_optional.py)
    g, _, n = grounded(tiny_ckpt, tiny_gligen)
    enc = g.nodes[n["positive"][0]]
    del enc["inputs"]["gligen"]
    succeeded(server, g.prompt())


def test_two_gligen_apply_in_a_row(server, before, tiny_ckpt, tiny_gligen):
    g, b, n = grounded(tiny_ckpt, tiny_gligen)
    first = g.nodes[n["model"][0]]["inputs"]
    second = g.add("GLIGENApply", model=n["model"], gligen=first["gligen"], strength=1.0, negative=first["negative"])
    g.nodes[n["sampler"]]["inputs"]["model"] = g.out(second)
    err = failed(server, g.prompt())
    assert err["node_type"] == "GLIGENApply" and "already went through GLIGENApply" in err["exception_message"]


def test_grounded_conditioning_on_an_unpatched_model_warns(server, before, tiny_ckpt, tiny_gligen):
    g, b, n = grounded(tiny_ckpt, tiny_gligen, seed=77)
    g.nodes[n["sampler"]]["inputs"]["model"] = b["model"]
    log_before = len(open(server.log_path).read())
    succeeded(server, g.prompt())
    log = open(server.log_path).read()[log_before:]
    assert "is being sampled by a model that GLIGENApply did not patch" in log and "'a red car'" in log


@pytest.mark.parametrize("size,batch", [(64, 2), (72, 1), (100, 1), (96, 1)],
                         ids=["batch_2", "latent_9x9", "not_multiple_of_8", "not_multiple_of_64"])
def test_batches_and_odd_sizes_run(server, before, tiny_ckpt, tiny_gligen, size, batch):
    boxes = [{"phrase": "a red car", "box": [0.1, 0.2, 0.6, 0.9]}]
    g, _, n = grounded(tiny_ckpt, tiny_gligen, boxes=boxes, size=size, batch=batch)
    latent = latent_of(server, succeeded(server, g.prompt()), n["save"])
    assert latent.shape == (batch, 4, size // 8, size // 8) and torch.isfinite(latent).all()
    if batch == 2:
        assert not torch.equal(latent[0], latent[1])


def test_img2img_with_denoise_below_one(server, before, tiny_ckpt, tiny_gligen):
    g, b, n = grounded(tiny_ckpt, tiny_gligen)
    image = g.add("EmptyImage", width=64, height=64, batch_size=1, color=0x3366AA)
    encoded = g.add("VAEEncode", pixels=g.out(image), vae=b["vae"])
    g.nodes[n["sampler"]]["inputs"].update(latent_image=g.out(encoded), denoise=0.5)
    latent = latent_of(server, succeeded(server, g.prompt()), n["save"])
    assert torch.isfinite(latent).all()


def test_schedule_fractions_above_one_are_refused(server, before, tiny_ckpt, tiny_gligen):
    g, b, n = grounded(tiny_ckpt, tiny_gligen, save=False)
    node = scheduled(g, n["model"], n["positive"], b["negative"], b["latent"], tau=0.9, decay=0.3)
    g.add("SaveLatent", samples=g.out(node), filename_prefix="latents/x")
    err = failed(server, g.prompt())           # two inputs together: checked when the node runs, before sampling
    assert err["node_type"] == "GLIGENScheduledSampler"
    assert "grounded fraction 0.9 + decay fraction 0.3" in err["exception_message"]
    assert "is more than 1" in err["exception_message"]


def test_scheduled_sampler_on_an_unpatched_model(server, before, tiny_ckpt, tiny_gligen):
    g, b, n = grounded(tiny_ckpt, tiny_gligen, save=False)
    node = scheduled(g, b["model"], n["positive"], b["negative"], b["latent"])
    g.add("SaveLatent", samples=g.out(node), filename_prefix="latents/x")
    err = failed(server, g.prompt())
    assert err["node_type"] == "GLIGENScheduledSampler" and "was not patched" in err["exception_message"]


def test_start_after_end_is_refused(server, before, tiny_ckpt, tiny_gligen):
    g, _, n = grounded(tiny_ckpt, tiny_gligen, start_percent=0.8, end_percent=0.2)
    err = failed(server, g.prompt())           # two inputs together: checked when the node runs
    assert err["node_type"] == "GLIGENApply" and "start_percent 0.8 is after end_percent 0.2" in err["exception_message"]


def test_strength_out_of_range_is_refused(server, before, tiny_ckpt, tiny_gligen):
    g, _, n = grounded(tiny_ckpt, tiny_gligen, strength=5.0)
    body = rejected(server, g.prompt())
    assert "strength" in body and "bigger than max" in body.lower()


def test_grounded_negative_and_combined_groundings_run(server, before, tiny_ckpt, tiny_gligen):
    g, b, n = grounded(tiny_ckpt, tiny_gligen)
    enc = g.nodes[n["positive"][0]]["inputs"]
    neg = g.add("GLIGENGroundingEncoder", conditioning=b["negative"], clip=enc["clip"], gligen=enc["gligen"],
                grounding=enc["grounding"])
    both = g.add("ConditioningCombine", conditioning_1=n["positive"], conditioning_2=g.out(neg))
    g.nodes[n["sampler"]]["inputs"].update(negative=g.out(neg), positive=g.out(both))
    assert torch.isfinite(latent_of(server, succeeded(server, g.prompt()), n["save"])).all()


# ---- afterwards ---------------------------------------------------------------------------------------

def test_zz_server_still_serves_and_runs_reproduce(server, before, tiny_ckpt, tiny_gligen):
    assert server.alive()
    assert server.request("/free", {"unload_models": True, "free_memory": True})[0] == 200
    g, _, n = grounded(tiny_ckpt, tiny_gligen, seed=123)
    assert torch.equal(latent_of(server, succeeded(server, g.prompt()), n["save"]), before["grounded"])
    plain = latent_of(server, succeeded(server, before["plain_prompt"]), before["plain_save"])
    assert torch.equal(plain, before["plain"])              # no patch leaked into the shared model
