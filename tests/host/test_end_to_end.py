"""Real prompts through ComfyUI's execution engine: checkpoint -> CLIP encode -> the pack -> KSampler
-> VAE decode, on a tiny random SD1.x checkpoint and a GLIGEN file in the real layout."""
from __future__ import annotations


import pytest
import torch

from helpers.prompts import BOXES, Graph, base, core, finish, ksampler, ours

CORE_MODE = "same_as_positive"


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).norm() / b.norm()).item()


def sample(host, build, seed=7, **kw):
    """Run a prompt whose sampler inputs ``build(g, b)`` returns; the final latent and the run."""
    g = Graph()
    b = base(g, kw.pop("ckpt"))
    model, positive, extra = build(g, b)
    ks = ksampler(g, model, positive, b["negative"], b["latent"], seed=seed, **kw)
    finish(g, ks, b["vae"])
    result = host.run(g.prompt())
    assert result.success, result.error()
    return result.output(ks)[0]["samples"].clone(), result, extra


@pytest.fixture(scope="module")
def runs(host, tiny_ckpt, tiny_gligen):
    def plain(g, b):
        return b["model"], b["positive"], None

    out = {}
    out["plain"], r, _ = sample(host, plain, ckpt=tiny_ckpt)
    model = r.output("1")[0]
    out["model_before"] = {k: v.clone() for k, v in model.model.state_dict().items()}
    out["ours"], out["ours_run"], out["boxes_node"] = sample(host, lambda g, b: ours(g, b, tiny_gligen), ckpt=tiny_ckpt)
    out["ours_core_mode"], _, _ = sample(host, lambda g, b: ours(g, b, tiny_gligen, negative_mode=CORE_MODE),
                                         ckpt=tiny_ckpt)
    out["core"], _, _ = sample(host, lambda g, b: (b["model"], core(g, b, tiny_gligen), None), ckpt=tiny_ckpt)
    out["ours_strength0"], _, _ = sample(host, lambda g, b: ours(g, b, tiny_gligen, strength=0.0), ckpt=tiny_ckpt)
    out["plain_again"], r2, _ = sample(host, plain, ckpt=tiny_ckpt, seed=8)
    out["model_after"] = r2.output("1")[0]
    out["plain_seed8_fresh"], _, _ = sample(host, plain, ckpt=tiny_ckpt, seed=8)
    return out


def test_grounded_latents_differ_from_ungrounded(runs):
    assert torch.isfinite(runs["ours"]).all()
    assert rel(runs["ours"], runs["plain"]) > 1e-3


def test_core_compatible_settings_equal_core_gligen(runs):
    # negative reuses the positive's grounding and the boxes sit on the 8-px grid, as core requires
    assert all(v % 8 == 0 for b in BOXES for v in b["box_px"])
    assert rel(runs["ours_core_mode"], runs["core"]) < 1e-4
    assert rel(runs["core"], runs["plain"]) > 1e-3          # and core really grounded something


def test_null_negative_is_not_core_behaviour(runs):
    assert rel(runs["ours"], runs["ours_core_mode"]) > 1e-4


def test_strength_zero_is_the_plain_model(runs):
    assert torch.equal(runs["ours_strength0"], runs["plain"])


def test_model_passed_in_is_bit_identical_afterwards(runs):
    model = runs["model_after"]
    after = model.model.state_dict()
    assert after.keys() == runs["model_before"].keys()
    assert all(torch.equal(after[k], v) for k, v in runs["model_before"].items())
    to = model.model_options.get("transformer_options", {})
    assert not to.get("patches", {}).get("middle_patch")
    assert "gligen_pack" not in to.get("wrappers", {}).get("calc_cond_batch", {})
    assert not model.get_additional_models_with_key("gligen_pack")


def test_ungrounded_run_after_grounded_is_unchanged(host, runs):
    assert torch.equal(runs["plain_again"], runs["plain_seed8_fresh"])


def test_boxes_node_shows_preview_and_report(runs):
    ui = runs["ours_run"].ui[runs["boxes_node"]]
    assert ui["images"] and ui["images"][0]["type"] == "temp"
    layout, preview, report = runs["ours_run"].output(runs["boxes_node"])
    assert preview.shape == (1, 64, 64, 3)
    assert "'a red car': x 8-40, y 16-56 px" in report


def test_more_than_30_boxes_run_and_say_so(host, tiny_ckpt, tiny_gligen):
    boxes = [{"phrase": f"object {i}", "box_px": [0, 0, 2 + i, 2 + i]} for i in range(40)]
    _, run, boxes_node = sample(host, lambda g, b: ours(g, b, tiny_gligen, boxes=boxes), ckpt=tiny_ckpt, seed=3)
    layout, _, report = run.output(boxes_node)
    assert len(layout.boxes) == 30
    assert "kept the 30 largest of 40, dropped 10" in report
    assert "'object 0'" in report.splitlines()[-1]           # the smallest were dropped


def test_a_file_for_another_model_is_a_clear_error(host, tiny_ckpt, models_dir):
    from helpers.gligen_files import sd1_pruned_state
    from safetensors.torch import save_file
    path = models_dir / "gligen" / "sd1_full_layout_small.safetensors"
    save_file(sd1_pruned_state(scale=10), str(path))
    g = Graph()
    b = base(g, tiny_ckpt)
    model, positive, _ = ours(g, b, path.name)
    finish(g, ksampler(g, model, positive, b["negative"], b["latent"]), b["vae"])
    result = host.run(g.prompt())
    assert not result.success
    err = result.error()
    assert err["node_type"] == "GLIGENApply"
    assert "This GLIGEN file is for SD1.x" in err["exception_message"]
    assert "your model is SD15" in err["exception_message"]
