"""torch.compile of a grounded model (core's TorchCompileModel wrapper) stays one graph.

Dynamo is driven with a counting backend (it compiles nothing; dynamo's tracing, guards, graph breaks
and recompiles are exactly those of any backend). ComfyUI's default CPU attention (sub-quadratic)
breaks the graph itself (it reads free memory from a file), so the UNet's attention is PyTorch's, as
on a GPU and as the HTTP tests run it.
"""
from __future__ import annotations

import pytest
import torch

from helpers.prompts import Graph, base, finish, ksampler, ours

BOXES_A = [{"phrase": "a cat", "box": [0.1, 0.1, 0.5, 0.5]}]
BOXES_B = [{"phrase": "a dog", "box": [0.3, 0.1, 0.9, 0.5]}, {"phrase": "a hat", "box": [0.0, 0.0, 0.2, 0.2]}]


def grounded(host, ckpt, gligen, boxes, **apply):
    g = Graph()
    b = base(g, ckpt)
    m, pos, _ = ours(g, b, gligen, boxes=boxes, **apply)
    finish(g, ksampler(g, m, pos, b["negative"], b["latent"], steps=1), b["vae"])
    r = host.run(g.prompt(), fresh_cache=True)
    assert r.success, r.error()
    return {"model": r.output(m[0])[0], "positive": r.output(pos[0])[0], "negative": r.output(b["negative"][0])[0],
            "latent": r.output(b["latent"][0])[0]["samples"]}


def sample(model, d, positive, steps):
    import comfy.sample
    noise = comfy.sample.prepare_noise(d["latent"], 3)
    with torch.inference_mode():
        return comfy.sample.sample(model, noise, steps, 7.0, "euler", "normal", positive, d["negative"], d["latent"],
                                   seed=3, disable_pbar=True)


@pytest.fixture
def pytorch_attention(host):
    import comfy.ldm.modules.attention as attention
    import torch._dynamo
    saved = attention.optimized_attention
    attention.optimized_attention = attention.attention_pytorch
    torch._dynamo.reset()
    torch._dynamo.utils.counters.clear()
    yield
    attention.optimized_attention = saved
    torch._dynamo.reset()


def compiled(model):
    from comfy_api.torch_helpers import set_torch_compile_wrapper
    from torch._dynamo.testing import CompileCounter
    counter = CompileCounter()
    m = model.clone()
    set_torch_compile_wrapper(m, backend=counter)
    return m, counter


def graph_breaks() -> dict:
    return dict(torch._dynamo.utils.counters["graph_break"])


def test_compiled_grounded_model_is_one_graph_and_never_recompiles(host, tiny_ckpt, tiny_gligen, pytorch_attention):
    from gligen_pack.nodes.sampler import scheduled_model
    a = grounded(host, tiny_ckpt, tiny_gligen, BOXES_A)
    b = grounded(host, tiny_ckpt, tiny_gligen, BOXES_B)
    model, counter = compiled(a["model"])

    first = sample(model, a, a["positive"], 3)
    assert graph_breaks() == {}
    assert counter.frame_count == 1                       # the whole UNet, patches inlined: one graph
    assert torch.allclose(first, sample(a["model"], a, a["positive"], 3), rtol=1e-4, atol=1e-4)

    sample(model, a, b["positive"], 5)                    # new boxes, another step count
    assert counter.frame_count == 1
    sample(scheduled_model(model, 4, 0.5, 0.25), a, b["positive"], 4)   # per-step scales 1, 1, 0, 0
    assert counter.frame_count == 2                       # the one extra graph: a step without grounding
    sample(scheduled_model(model, 6, 0.3, 0.5), a, a["positive"], 6)    # other scales and step count
    assert counter.frame_count == 2
    assert graph_breaks() == {}


def test_compiled_reground_is_one_graph(host, tiny_ckpt, tiny_gligen, pytorch_attention):
    a = grounded(host, tiny_ckpt, tiny_gligen, BOXES_A, reground=True)
    model, counter = compiled(a["model"])
    got = sample(model, a, a["positive"], 2)
    assert graph_breaks() == {} and counter.frame_count == 1
    assert torch.allclose(got, sample(a["model"], a, a["positive"], 2), rtol=1e-4, atol=1e-4)
