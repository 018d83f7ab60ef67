"""Graphs wired the way ComfyUI users wire them, sent over HTTP to a started server: a model-sampling
patch after GLIGENApply, area conditioning, incomplete GLIGEN files, and workflows saved with the
negative-grounding names of earlier versions."""
from __future__ import annotations

import json

import pytest
from safetensors.torch import save_file

from gligen_pack.runner.demo_models import TINY_FUSERS, random_gligen_state
from helpers.outcomes import failed, latent_of, rejected, succeeded
from helpers.prompts import Graph, base, ksampler, ours


def rel(a, b):
    return ((a - b).norm() / b.norm()).item()


def saved(g: Graph, sampler: str, prefix: str) -> str:
    return g.add("SaveLatent", samples=g.out(sampler), filename_prefix=f"latents/{prefix}")


def run_latent(server, g: Graph, sampler: str, prefix: str):
    node = saved(g, sampler, prefix)
    return latent_of(server, succeeded(server, g.prompt()), node)


# ---- item 3: the sigma range follows the model being sampled ---------------------------------------

# SD's own noise range on a continuous log-sigma schedule: 50% of it is sigma 0.65 here, 1.6 on SD's
# discrete schedule, so the grounded steps differ when the percents are read off the wrong model.
EDM = {"sampling": "eps", "sigma_max": 14.6, "sigma_min": 0.0292}


def sampling_patched(server, ckpt, gligen, order: str, end: float, seed: int):
    g = Graph()
    b = base(g, ckpt)
    if order == "patch_first":
        b = {**b, "model": g.out(g.add("ModelSamplingContinuousEDM", model=b["model"], **EDM))}
    model, pos, _ = ours(g, b, gligen, start_percent=0.0, end_percent=end)
    if order == "gligen_first":
        model = g.out(g.add("ModelSamplingContinuousEDM", model=model, **EDM))
    ks = ksampler(g, model, pos, b["negative"], b["latent"], seed=seed, steps=8)
    return run_latent(server, g, ks, f"msd_{order}_{end}")


def test_model_sampling_patch_after_gligen_apply_moves_the_range_with_it(server, tiny_ckpt, tiny_gligen):
    """ModelSamplingContinuousEDM after GLIGENApply must give what it gives before it:
    the percents become sigmas of the model actually sampled, as for ConditioningSetTimestepRange."""
    before = sampling_patched(server, tiny_ckpt, tiny_gligen, "patch_first", 0.5, seed=31)
    after = sampling_patched(server, tiny_ckpt, tiny_gligen, "gligen_first", 0.5, seed=31)
    assert rel(after, before) < 1e-8
    always = sampling_patched(server, tiny_ckpt, tiny_gligen, "gligen_first", 1.0, seed=31)
    assert rel(always, after) > 1e-6                        # the range really cut grounding off


# ---- item 4: area conditioning sees the boxes in its own crop ----------------------------------------

def area_graph(ckpt, gligen, boxes):
    """A 128x128 canvas; the grounded positive is an area conditioning on its right half."""
    g = Graph()
    b = base(g, ckpt, size=128)
    _, grounded, _ = ours(g, b, gligen, boxes=boxes, size=128)
    area = g.add("ConditioningSetArea", conditioning=grounded, width=64, height=128, x=64, y=0, strength=1.0)
    positive = g.add("ConditioningCombine", conditioning_1=b["positive"], conditioning_2=g.out(area))
    model = g.out(next(k for k, v in g.nodes.items() if v["class_type"] == "GLIGENApply"))
    return g, ksampler(g, model, g.out(positive), b["negative"], b["latent"], seed=9, steps=3)


def test_area_conditioning_drops_boxes_outside_its_area(server, tiny_ckpt, tiny_gligen):
    outside = [{"phrase": "a cat", "box_px": [0, 0, 48, 48]}]                       # left half only
    inside = [{"phrase": "a cat", "box_px": [80, 16, 120, 80]}]
    g, ks = area_graph(tiny_ckpt, tiny_gligen, outside)
    with_outside = run_latent(server, g, ks, "area_outside")
    g, ks = area_graph(tiny_ckpt, tiny_gligen, [])
    without = run_latent(server, g, ks, "area_none")
    g, ks = area_graph(tiny_ckpt, tiny_gligen, inside)
    with_inside = run_latent(server, g, ks, "area_inside")
    assert rel(with_outside, without) < 1e-6                # a box outside the area grounds nothing there
    assert rel(with_inside, without) > 1e-4


# ---- item 7: every transformer block of the model needs its fuser ----------------------------------

@pytest.mark.parametrize("kept", [6, 1])
def test_a_file_missing_fusers_is_refused_naming_the_blocks(server, tiny_ckpt, models_dir, kept):
    fusers = TINY_FUSERS[:1] if kept == 1 else TINY_FUSERS[:1] + TINY_FUSERS[2:]   # 6 kept: input_blocks.3 gone
    name = f"gligen_tiny_{kept}_of_7.safetensors"
    save_file(random_gligen_state(fusers), str(models_dir / "gligen" / name))
    g = Graph()
    b = base(g, tiny_ckpt)
    model, pos, _ = ours(g, b, name)
    saved(g, ksampler(g, model, pos, b["negative"], b["latent"], steps=1), f"missing_{kept}")
    err = failed(server, g.prompt())
    assert err["node_type"] == "GLIGENApply"
    message = err["exception_message"]
    assert f"no fuser for {7 - kept} of the 7 transformer blocks" in message
    missing = [prefix for prefix, width in TINY_FUSERS if (prefix, width) not in fusers]
    assert all(f"{p}.transformer_blocks.0" in message for p in missing)
    assert "Traceback" not in message


# ---- combo values saved by earlier versions ---------------------------------------------------------

def negative_run(server, ckpt, gligen, mode, prefix):
    g = Graph()
    b = base(g, ckpt)
    model, pos, _ = ours(g, b, gligen, negative_mode=mode)
    return run_latent(server, g, ksampler(g, model, pos, b["negative"], b["latent"], seed=4, steps=2), prefix)


@pytest.mark.parametrize("stable, saved_by_0_1", [("null", "null grounding (paper)"),
                                                  ("same_as_positive", "same as positive (ComfyUI core)")])
def test_negative_names_of_earlier_workflows_still_run(server, tiny_ckpt, tiny_gligen, stable, saved_by_0_1):
    new = negative_run(server, tiny_ckpt, tiny_gligen, stable, f"neg_{stable}")
    old = negative_run(server, tiny_ckpt, tiny_gligen, saved_by_0_1, f"neg_old_{stable}")
    assert rel(old, new) == 0.0


def test_an_unknown_negative_mode_is_refused_once_on_its_input(server, tiny_ckpt, tiny_gligen):
    g = Graph()
    b = base(g, tiny_ckpt)
    model, pos, _ = ours(g, b, tiny_gligen, negative_mode="the positive, please")
    saved(g, ksampler(g, model, pos, b["negative"], b["latent"], steps=1), "neg_bad")
    body = json.loads(rejected(server, g.prompt()))
    errors = [e for n in body["node_errors"].values() for e in n["errors"]]
    assert len(errors) == 1 and errors[0]["extra_info"]["input_name"] == "negative"
    assert "'null', 'same_as_positive'" in json.dumps(errors[0])
