"""GLIGEN's formulas written out plainly (GLIGEN spec 3.2), for tests to compare against."""
from __future__ import annotations

import math

import torch


def spec_fuser(f, x, objs, s, heads):
    x, objs = x.double(), objs.double()
    P = {k: v.double() for k, v in f.state_dict().items()}
    n = x.shape[1]
    d = x.shape[2]
    g = objs @ P["linear.weight"].T + P["linear.bias"]

    def ln(t, w, b):
        mu = t.mean(-1, keepdim=True)
        var = ((t - mu) ** 2).mean(-1, keepdim=True)
        return (t - mu) / torch.sqrt(var + 1e-5) * w + b

    u = ln(torch.cat([x, g], dim=1), P["norm1.weight"], P["norm1.bias"])
    q, k, v = u @ P["attn.to_q.weight"].T, u @ P["attn.to_k.weight"].T, u @ P["attn.to_v.weight"].T
    dh = d // heads
    outs = []
    for h in range(heads):
        sl = slice(h * dh, (h + 1) * dh)
        att = torch.softmax(q[..., sl] @ k[..., sl].transpose(1, 2) / math.sqrt(dh), dim=-1)
        outs.append(att @ v[..., sl])
    a = torch.cat(outs, -1) @ P["attn.to_out.0.weight"].T + P["attn.to_out.0.bias"]
    x = x + s * math.tanh(P["alpha_attn"].item()) * a[:, :n]           # token selection
    hdn = ln(x, P["norm2.weight"], P["norm2.bias"]) @ P["ff.net.0.proj.weight"].T + P["ff.net.0.proj.bias"]
    value, gate = hdn[..., :4 * d], hdn[..., 4 * d:]
    gelu = 0.5 * gate * (1 + torch.erf(gate / math.sqrt(2)))
    ff = (value * gelu) @ P["ff.net.2.weight"].T + P["ff.net.2.bias"]
    return x + s * math.tanh(P["alpha_dense"].item()) * ff
