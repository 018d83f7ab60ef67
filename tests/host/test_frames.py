"""Grounding per latent inside ComfyUI: moving boxes over the frames of a batch, a layout per image, and
both under core's context windows (the real ``comfy.context_windows`` handler, set by the "Context
Windows (Manual)" node), checked on what each fuser call received."""
from __future__ import annotations

import json

import pytest
import torch

from helpers.prompts import Graph, base, ksampler

SIZE = 64
MOVING = {"frames": 16, "boxes": [
    {"phrase": "a red car", "keyframes": [{"frame": 0, "box": [0.0, 0.5, 0.3, 0.9]}, {"frame": 15, "box": [0.7, 0.1, 1.0, 0.5]}]},
    {"phrase": "a corgi", "box": [0.4, 0.4, 0.8, 0.8], "appear": 3, "leave": 12},
]}


def rel(a, b):
    return ((a - b).norm() / b.norm()).item()


def layouts(n: int) -> list[list[dict]]:
    """``n`` different layouts (position and count of boxes differ)."""
    out = []
    for i in range(n):
        x = 0.05 + 0.08 * i
        boxes = [{"phrase": "a red car", "box": [x, 0.1, x + 0.3, 0.5]}]
        if i % 2:
            boxes.append({"phrase": "a corgi", "box": [0.5, 0.55, 0.95, 0.95 - 0.03 * i]})
        out.append(boxes)
    return out


def sample(model, positive, negative, latent, noise, steps=3):
    import comfy.sample
    with torch.inference_mode():
        return comfy.sample.sample(model, noise, steps, 7.0, "euler", "normal", positive, negative, latent, seed=7,
                                   disable_pbar=True)


def noise_for(latent):
    import comfy.sample
    return comfy.sample.prepare_noise(latent, 7)


STATIC = [{"phrase": "a red car", "box": [0.0, 0.5, 0.3, 0.9]}, {"phrase": "a corgi", "box": [0.4, 0.4, 0.8, 0.8]}]
# the same boxes, written with keyframes that never move them: the per-frame path
STILL = [{"phrase": s["phrase"], "keyframes": [{"frame": 0, "box": s["box"]}, {"frame": 5, "box": s["box"]}]}
         for s in STATIC]


@pytest.fixture(scope="module")
def objects(host, tiny_ckpt, tiny_gligen):
    """The patched model (plain and under core's context windows: 8 frames, overlap 4), the negative, and
    conditionings made by the pack's nodes as loaded by ComfyUI: the moving layout, the static one and its
    unmoving-keyframes twin, 8 single layouts and their GroundingBatch."""
    import nodes
    g = Graph()
    b = base(g, tiny_ckpt)
    loader = g.add("GLIGENAdapterLoader", gligen_name=tiny_gligen)
    apply = g.add("GLIGENApply", model=b["model"], gligen=g.out(loader), strength=1.0, negative="null")
    windowed = g.add("ContextWindowsManual", model=g.out(apply), context_length=8, context_overlap=4,
                     context_schedule="standard_static", context_stride=1, closed_loop=False, fuse_method="pyramid",
                     dim=0)
    ks = ksampler(g, g.out(windowed), b["positive"], b["negative"], b["latent"], steps=1)
    g.add("VAEDecode", samples=g.out(ks), vae=b["vae"])
    g.add("PreviewImage", images=g.out(str(len(g.nodes))))
    r = host.run(g.prompt())
    assert r.success, r.error()
    clip, positive, ref = r.output(b["clip"][0])[1], r.output(b["positive"][0])[0], r.output(loader)[0]
    boxes_node = nodes.NODE_CLASS_MAPPINGS["GLIGENGroundingBoxes"]
    encoder = nodes.NODE_CLASS_MAPPINGS["GLIGENGroundingEncoder"]
    batch_node = nodes.NODE_CLASS_MAPPINGS["GLIGENGroundingBatch"]
    layout = lambda text: boxes_node.execute(SIZE, SIZE, json.dumps(text)).args[0]  # noqa: E731
    encode = lambda lay: encoder.execute(positive, clip, grounding=lay, gligen=ref).args[0]  # noqa: E731
    singles = [layout(lay) for lay in layouts(8)]
    batch = batch_node.execute(**{f"grounding_{k + 1}": lay for k, lay in enumerate(singles)})
    return {"model": r.output(apply)[0], "windowed": r.output(windowed)[0], "negative": r.output(b["negative"][0])[0],
            "moving": encode(layout(MOVING)), "static": encode(layout(STATIC)), "still": encode(layout(STILL)),
            "singles": [encode(s) for s in singles], "batched": encode(batch.args[0]), "batch_preview": batch.args[1]}


def latent(n: int, side: int = SIZE // 8) -> torch.Tensor:
    return torch.zeros(n, 4, side, side)


FRAME_SIDE = 2  # 16 frames x 15 steps: the smallest latent the tiny UNet (one level) takes keeps it cheap


def test_a_static_layout_takes_todays_path_and_unmoving_keyframes_give_the_same_latents_bit_for_bit(objects):
    assert type(objects["static"][0][1]["gligen_grounding"]).__name__ == "Grounding"  # no per-frame machinery
    x = latent(4)
    n = noise_for(x)
    static = sample(objects["model"], objects["static"], objects["negative"], x, n)
    still = sample(objects["model"], objects["still"], objects["negative"], x, n)
    assert torch.equal(static, still)


def test_each_latent_of_a_batch_gets_its_own_layout(objects):
    x = latent(8)
    n = noise_for(x)
    together = sample(objects["model"], objects["batched"], objects["negative"], x, n)
    assert objects["batch_preview"].shape[0] == 8
    for i, single in enumerate(objects["singles"]):
        alone = sample(objects["model"], single, objects["negative"], x[i:i + 1], n[i:i + 1])
        assert rel(together[i:i + 1], alone) < 1e-5, i
    first = sample(objects["model"], objects["singles"][0], objects["negative"], x[1:2], n[1:2])
    assert rel(together[1:2], first) > 1e-3                        # the layouts really differ


def test_a_batch_that_is_not_a_multiple_of_the_layouts_is_refused(objects):
    x = latent(6)
    with pytest.raises(Exception, match="8 layouts .* batch has 6 latents, which is not a multiple of 8"):
        sample(objects["model"], objects["batched"], objects["negative"], x, noise_for(x), steps=1)


def record_fuser(model):
    """Every call of the first fuser: the window's frames, and the tokens it received."""
    adapter = model.get_additional_models_with_key("gligen_pack")[0].model
    fuser = adapter.fuser_at(type(adapter.positions()[0])("input", 1, 0))
    calls = []
    original = fuser.forward

    def recording(x, tokens, scale, *args, **kwargs):
        options = kwargs.get("transformer_options") or {}
        window = options.get("context_window")
        calls.append((None if window is None else list(window.index_list), list(options.get("cond_or_uncond")),
                      tokens.detach().clone()))
        return original(x, tokens, scale, *args, **kwargs)

    fuser.forward = recording
    return adapter, fuser, calls


def expected_tokens(adapter, grounding, frame: int) -> torch.Tensor:
    boxes, masks, feats = grounding.at(frame).slots(30)
    with torch.no_grad():
        return adapter.position_net(boxes, masks, feats)[0]


def test_context_windows_give_each_frame_its_own_boxes_in_every_window(objects):
    moving = objects["moving"][0][1]["gligen_grounding"]
    x = latent(16, FRAME_SIDE)
    n = noise_for(x)
    adapter, fuser, calls = record_fuser(objects["windowed"])
    try:
        # core's handler finds the step by comparing sample_sigmas with the batch's timesteps elementwise, so
        # with windows over the batch (dim 0) it runs only when there are as many sigmas as frames
        windowed = sample(objects["windowed"], objects["moving"], objects["negative"], x, n, steps=15)
    finally:
        del fuser.forward
    null = adapter.position_net.null_tokens()[0]
    windows = [c[0] for c in calls]
    assert windows[:3] == [list(range(0, 8)), list(range(4, 12)), list(range(8, 16))]
    assert len(calls) == 45                                        # 3 windows x 15 steps, cond + uncond batched
    for k, (frames, cond_or_uncond, tokens) in enumerate(calls):
        assert frames == windows[k % 3] and tokens.shape[0] == len(frames) * len(cond_or_uncond)
        if k >= 3:                                                 # later steps: the same tokens per window
            assert torch.equal(tokens, calls[k % 3][2])
            continue
        for c, kind in enumerate(cond_or_uncond):
            for j, frame in enumerate(frames):
                got = tokens[c * len(frames) + j]
                want = expected_tokens(adapter, moving, frame) if kind == 0 else null
                assert torch.allclose(got, want.to(got.dtype), atol=1e-6), (frames, kind, frame)
    # frames 3 and 12 differ (the corgi comes and goes), so a wrong frame would have been caught
    assert not torch.allclose(expected_tokens(adapter, moving, 3), expected_tokens(adapter, moving, 12))
    # a plain SD UNet treats frames independently, so the windows do not change the math
    plain = sample(objects["model"], objects["moving"], objects["negative"], x, n, steps=15)
    assert rel(windowed, plain) < 1e-5


def test_a_batch_split_without_saying_which_frames_is_refused(objects):
    x = latent(4)
    model = objects["model"].clone()

    def halves(apply_model, args):  # a wrapper that runs the batch in two halves and tells nobody
        xs, t, c = args["input"], args["timestep"], args["c"]
        outs = [apply_model(xs[i::2], t[i::2], **{k: (v[i::2] if torch.is_tensor(v) else v) for k, v in c.items()})
                for i in range(2)]
        return torch.stack(outs, 1).flatten(0, 1)

    model.set_model_unet_function_wrapper(halves)
    with pytest.raises(Exception, match="nothing says which"):
        sample(model, objects["moving"], objects["negative"], x, noise_for(x), steps=1)


def test_animatediff_evolved_context_windows_are_read_from_its_ad_params(objects):
    """AnimateDiff-Evolved's sliding context (animatediff/sampling.py, sliding_calc_cond_batch and
    evaluate_context_windows) is a CALC_COND_BATCH wrapper that sets ``transformer_options["ad_params"]``
    = {"full_length", "context_length", "sub_idxs"} and runs each window through the rest of the chain;
    this wrapper does the same, as that code does it, so the patch must pick each window's frames."""
    import comfy.patcher_extension
    moving = objects["moving"][0][1]["gligen_grounding"]
    windows = [list(range(0, 8)), list(range(4, 12)), list(range(8, 16))]

    def sliding(executor, model, conds, x_in, timestep, model_options):
        ad = model_options["transformer_options"].setdefault("ad_params", {})
        ad.update(full_length=x_in.shape[0], context_length=8, sub_idxs=None)
        final = [torch.zeros_like(x_in) for _ in conds]
        counts = [torch.zeros_like(x_in[:, :1, :1, :1]) for _ in conds]
        for idxs in windows:
            ad["sub_idxs"] = idxs
            ad["context_length"] = len(idxs)
            out = executor(model, conds, x_in[idxs], timestep[idxs], model_options)
            for i in range(len(conds)):
                final[i][idxs] += out[i]
                counts[i][idxs] += 1
        return [f / c for f, c in zip(final, counts)]

    model = objects["model"].clone()
    model.add_wrapper_with_key(comfy.patcher_extension.WrappersMP.CALC_COND_BATCH, "ade_like", sliding)
    x = latent(16, FRAME_SIDE)
    n = noise_for(x)
    adapter, fuser, calls = record_fuser(model)
    try:
        got = sample(model, objects["moving"], objects["negative"], x, n, steps=2)
    finally:
        del fuser.forward
    assert len(calls) == 6
    for k, (_, cond_or_uncond, tokens) in enumerate(calls):
        frames = windows[k % 3]
        for c, kind in enumerate(cond_or_uncond):
            if kind == 0:
                for j, frame in enumerate(frames):
                    want = expected_tokens(adapter, moving, frame)
                    assert torch.allclose(tokens[c * 8 + j], want.to(tokens.dtype), atol=1e-6), (frames, frame)
    plain = sample(objects["model"], objects["moving"], objects["negative"], x, n, steps=2)
    assert rel(got, plain) < 1e-5
