"""GLIGEN's gated self-attention layer (the "fuser", GLIGEN spec section 3).

Given visual tokens ``x [B, N, d]`` and grounding tokens ``objs [B, M, c]``::

    g  = linear(objs)                                   # c -> d
    a  = attn(norm1([x ; g]))[:, :N]                    # self-attention, visual outputs kept
    x1 = x  + s * tanh(alpha_attn)  * a
    x2 = x1 + s * tanh(alpha_dense) * ff(norm2(x1))     # GEGLU feed-forward

``s`` is the per-call scale (scheduled sampling's beta, the node's strength): a number or a 0-dim
tensor (a tensor keeps a compiled graph free of a guard on its value). Queries are only needed for
the N visual tokens, so they are computed from ``norm1(x)`` alone; LayerNorm is per token, so this
equals slicing the full output. Parameter names follow the published files.

The layers with weights come from an injectable :class:`~._ops.Ops` and the attention is an
injectable function (``attention=`` per call, PyTorch's SDPA by default), so a host can run the layer
with its own casting, offloading and attention backend.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ._ops import CAST_OPS, AttentionFn, Ops, scalar_like, sdpa_attention

Scale = float | torch.Tensor


class _Attention(nn.Module):
    def __init__(self, dim: int, heads: int, ops: Ops) -> None:
        super().__init__()
        self.heads = heads
        self.to_q = ops.Linear(dim, dim, bias=False)
        self.to_k = ops.Linear(dim, dim, bias=False)
        self.to_v = ops.Linear(dim, dim, bias=False)
        self.to_out = nn.Sequential(ops.Linear(dim, dim))

    def forward(self, q_in: torch.Tensor, kv_in: torch.Tensor, heads: int | None,
                attention: AttentionFn | None, options: dict) -> torch.Tensor:
        out = (attention or sdpa_attention)(self.to_q(q_in), self.to_k(kv_in), self.to_v(kv_in),
                                            heads or self.heads, **options)
        return self.to_out(out)


class _GEGLU(nn.Module):
    def __init__(self, dim: int, inner: int, ops: Ops) -> None:
        super().__init__()
        self.proj = ops.Linear(dim, inner * 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        value, gate = self.proj(x).chunk(2, dim=-1)
        return F.gelu(gate).mul_(value)  # value * GELU(gate), one [B, N, 4d] buffer less


class _FeedForward(nn.Module):
    def __init__(self, dim: int, ops: Ops, mult: int = 4) -> None:
        super().__init__()
        self.net = nn.Sequential(_GEGLU(dim, dim * mult, ops), nn.Identity(), ops.Linear(dim * mult, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class GatedSelfAttention(nn.Module):
    """One fuser of width ``dim`` reading grounding tokens of width ``context_dim``."""

    def __init__(self, dim: int, context_dim: int, heads: int, ops: Ops = CAST_OPS) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"width {dim} is not divisible into {heads} heads")
        self.dim = dim
        self.context_dim = context_dim
        self.linear = ops.Linear(context_dim, dim)
        self.attn = _Attention(dim, heads, ops)
        self.ff = _FeedForward(dim, ops)
        self.norm1 = ops.LayerNorm(dim)
        self.norm2 = ops.LayerNorm(dim)
        self.alpha_attn = nn.Parameter(torch.zeros(()))
        self.alpha_dense = nn.Parameter(torch.zeros(()))

    def _gated_attention(self, x: torch.Tensor, objs: torch.Tensor, heads: int | None,
                         attention: AttentionFn | None, options: dict) -> torch.Tensor:
        g = self.linear(objs.to(device=x.device, dtype=x.dtype))
        q_in = self.norm1(x)
        return self.attn(q_in, torch.cat((q_in, self.norm1(g)), dim=1), heads, attention, options)

    def _gates(self, x: torch.Tensor, scale: Scale) -> tuple[torch.Tensor, torch.Tensor]:
        return ((scale * torch.tanh(scalar_like(self.alpha_attn, x))).to(x.dtype),
                (scale * torch.tanh(scalar_like(self.alpha_dense, x))).to(x.dtype))

    def forward(self, x: torch.Tensor, objs: torch.Tensor, scale: Scale = 1.0, heads: int | None = None,
                attention: AttentionFn | None = None, **attention_options) -> torch.Tensor:
        """``x`` after both gated residuals (the sequential GLIGEN wiring). ``attention_options`` go
        to ``attention`` as they are (a host's precision or backend options)."""
        gate_attn, gate_dense = self._gates(x, scale)
        x1 = torch.addcmul(x, self._gated_attention(x, objs, heads, attention, attention_options), gate_attn)
        return torch.addcmul(x1, self.ff(self.norm2(x1)), gate_dense)

    def residual(self, x: torch.Tensor, objs: torch.Tensor, scale: Scale = 1.0, heads: int | None = None,
                 attention: AttentionFn | None = None, **attention_options) -> torch.Tensor:
        """The layer's whole update ``forward(x) - x``, computed without the cancellation (ReGround)."""
        gate_attn, gate_dense = self._gates(x, scale)
        d_attn = self._gated_attention(x, objs, heads, attention, attention_options).mul_(gate_attn)
        return torch.addcmul(d_attn, self.ff(self.norm2(x + d_attn)), gate_dense)

    def parameter_count(self) -> int:
        return sum(p.numel() for p in self.parameters())
