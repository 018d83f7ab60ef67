"""Scheduled sampling, the sigma range of GLIGENApply, ReGround, batching and token reuse, in the real host."""
from __future__ import annotations

import pytest
import torch

from helpers.prompts import Graph, advanced, base, finish, ksampler, ours, scheduled

STEPS = 5


def rel(a, b):
    return ((a - b).norm() / b.norm()).item()


def latent_of(host, g: Graph, node: str, b: dict) -> torch.Tensor:
    finish(g, node, b["vae"])
    result = host.run(g.prompt())
    assert result.success, result.error()
    return result.output(node)[0]["samples"].clone()


@pytest.fixture(scope="module")
def reference(host, tiny_ckpt, tiny_gligen):
    """Ungrounded and always-grounded KSampler runs, 5 euler steps."""
    out = {}
    g = Graph()
    b = base(g, tiny_ckpt)
    out["plain"] = latent_of(host, g, ksampler(g, b["model"], b["positive"], b["negative"], b["latent"], steps=STEPS), b)
    g = Graph()
    b = base(g, tiny_ckpt)
    m, pos, _ = ours(g, b, tiny_gligen)
    out["grounded"] = latent_of(host, g, ksampler(g, m, pos, b["negative"], b["latent"], steps=STEPS), b)
    assert rel(out["grounded"], out["plain"]) > 1e-3
    return out


def run_scheduled(host, ckpt, gligen, **kw):
    g = Graph()
    b = base(g, ckpt)
    m, pos, _ = ours(g, b, gligen)
    return latent_of(host, g, scheduled(g, m, pos, b["negative"], b["latent"], steps=STEPS, **kw), b)


def test_tau_zero_is_the_ungrounded_model(host, tiny_ckpt, tiny_gligen, reference):
    assert torch.equal(run_scheduled(host, tiny_ckpt, tiny_gligen, tau=0.0), reference["plain"])


def test_tau_one_is_the_always_on_run(host, tiny_ckpt, tiny_gligen, reference):
    assert torch.equal(run_scheduled(host, tiny_ckpt, tiny_gligen, tau=1.0), reference["grounded"])


def test_switch_at_tau_equals_grounded_then_ungrounded_ksampler_advanced(host, tiny_ckpt, tiny_gligen):
    ours_latent = run_scheduled(host, tiny_ckpt, tiny_gligen, tau=0.4)          # floor(0.4 * 5) = 2 grounded steps
    g = Graph()
    b = base(g, tiny_ckpt)
    m, pos, _ = ours(g, b, tiny_gligen)
    first = advanced(g, m, pos, b["negative"], b["latent"], 0, 2, STEPS)
    second = advanced(g, b["model"], pos, b["negative"], g.out(first), 2, 10000, STEPS, add_noise=False, leftover=False)
    assert rel(ours_latent, latent_of(host, g, second, b)) < 1e-5


def test_decay_stage_is_used(host, tiny_ckpt, tiny_gligen):
    plain_switch = run_scheduled(host, tiny_ckpt, tiny_gligen, tau=0.4)
    with_decay = run_scheduled(host, tiny_ckpt, tiny_gligen, tau=0.4, decay=0.4)   # steps 3, 4 at 1/2 and 0
    with_full = run_scheduled(host, tiny_ckpt, tiny_gligen, tau=0.6)
    assert rel(with_decay, plain_switch) > 1e-5 and rel(with_decay, with_full) > 1e-5


def test_scheduled_sampler_refuses_an_unpatched_model(host, tiny_ckpt):
    g = Graph()
    b = base(g, tiny_ckpt)
    node = scheduled(g, b["model"], b["positive"], b["negative"], b["latent"])
    finish(g, node, b["vae"])
    result = host.run(g.prompt())
    assert not result.success and "connect the MODEL output of GLIGENApply" in result.error()["exception_message"]


def test_fractions_above_one_are_refused_before_sampling(host, tiny_ckpt, tiny_gligen):
    """Two inputs together (either may come from a link): checked when the node runs, before sampling."""
    g = Graph()
    b = base(g, tiny_ckpt)
    m, pos, _ = ours(g, b, tiny_gligen)
    finish(g, scheduled(g, m, pos, b["negative"], b["latent"], tau=0.8, decay=0.5), b["vae"])
    result = host.run(g.prompt())
    err = result.error()
    assert not result.success and err["node_type"] == "GLIGENScheduledSampler"
    assert "grounded fraction 0.8 + decay fraction 0.5 = 1.3 is more than 1" in err["exception_message"]


def test_end_percent_zero_is_ungrounded(host, tiny_ckpt, tiny_gligen, reference):
    g = Graph()
    b = base(g, tiny_ckpt)
    m, pos, _ = ours(g, b, tiny_gligen, end_percent=0.0)
    assert torch.equal(latent_of(host, g, ksampler(g, m, pos, b["negative"], b["latent"], steps=STEPS), b),
                       reference["plain"])


def test_sigma_range_with_denoise_and_karras_on_sampler_custom_advanced(host, tiny_ckpt, tiny_gligen):
    """GLIGENApply's end_percent, keyed on sigma, equals splitting the sigmas by hand: grounded guider for
    the steps whose sigma is above the cut, plain guider after. SamplerCustomAdvanced, karras, denoise 0.7."""
    import comfy.samplers
    steps, denoise, end = 6, 0.7, 0.55

    def custom(g, b, model, positive, sigmas, latent, noise):
        guider = g.add("CFGGuider", model=model, positive=positive, negative=b["negative"], cfg=7.0)
        sampler = g.add("KSamplerSelect", sampler_name="euler")
        return g.add("SamplerCustomAdvanced", noise=noise, guider=g.out(guider), sampler=g.out(sampler),
                     sigmas=sigmas, latent_image=latent)

    g = Graph()
    b = base(g, tiny_ckpt)
    m, pos, _ = ours(g, b, tiny_gligen, end_percent=end)
    sig = g.add("BasicScheduler", model=b["model"], scheduler="karras", steps=steps, denoise=denoise)
    one_go = custom(g, b, m, pos, g.out(sig), b["latent"], g.out(g.add("RandomNoise", noise_seed=11)))
    finish(g, one_go, b["vae"])
    run = host.run(g.prompt())
    assert run.success, run.error()
    in_one_go = run.output(one_go)[0]["samples"]

    sampling = run.output("1")[0].get_model_object("model_sampling")
    sigmas = comfy.samplers.calculate_sigmas(sampling, "karras", int(steps / denoise))[-(steps + 1):]
    cut = float(sampling.percent_to_sigma(end))
    k = int((sigmas[:-1] >= cut).sum())
    assert 0 < k < steps, "the cut should fall inside the run"

    g = Graph()
    b = base(g, tiny_ckpt)
    m, pos, _ = ours(g, b, tiny_gligen)
    sig = g.add("BasicScheduler", model=b["model"], scheduler="karras", steps=steps, denoise=denoise)
    split = g.add("SplitSigmas", sigmas=g.out(sig), step=k)
    first = custom(g, b, m, pos, g.out(split, 0), b["latent"], g.out(g.add("RandomNoise", noise_seed=11)))
    second = custom(g, b, b["model"], pos, g.out(split, 1), g.out(first, 0), g.out(g.add("DisableNoise")))
    assert rel(in_one_go, latent_of(host, g, second, b)) < 1e-5
