"""The layer classes and the attention function GLIGEN's modules are built from, injectable.

The modules of this package are plain PyTorch and import nothing from a host. A host that manages
weights itself (ComfyUI casts and offloads through its own ``comfy.ops`` classes and picks an
attention backend at start-up) passes its own :class:`Ops` when it builds an adapter and its own
attention function per call; standalone use gets the defaults here:

- ``CastLinear`` / ``CastLayerNorm`` compute in the dtype and on the device of their input
  (``weight.to(x)`` is free when nothing differs and saves a dtype or device mismatch when it does);
- :func:`sdpa_attention` is PyTorch's fused scaled-dot-product attention.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn

# attention(q, k, v, heads, **options) -> out, with q [B, N, H*D], k and v [B, M, H*D], out [B, N, H*D].
# Options a host may pass through (ComfyUI: attn_precision, transformer_options) are ignored here.
AttentionFn = Callable[..., torch.Tensor]


def sdpa_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int, **_: Any) -> torch.Tensor:
    b, n, inner = q.shape
    d = inner // heads
    q, k, v = (t.view(b, -1, heads, d).transpose(1, 2) for t in (q, k, v))
    out = F.scaled_dot_product_attention(q, k, v)
    return out.transpose(1, 2).reshape(b, n, inner)


def _like(t: torch.Tensor | None, x: torch.Tensor) -> torch.Tensor | None:
    if t is None:
        return None
    if t.dtype == x.dtype and t.device == x.device:
        return t
    return t.to(device=x.device, dtype=x.dtype)


class CastLinear(nn.Linear):
    """``nn.Linear`` whose parameters are cast to the input's dtype and device on the fly."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, _like(self.weight, x), _like(self.bias, x))


class CastLayerNorm(nn.LayerNorm):
    """``nn.LayerNorm`` whose affine parameters follow the input's dtype and device."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.layer_norm(x, self.normalized_shape, _like(self.weight, x), _like(self.bias, x), self.eps)


def scalar_like(p: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """A 0-dim parameter as a tensor in ``x``'s dtype and device."""
    return _like(p, x)


@dataclass(frozen=True)
class Ops:
    """Constructors for the layers with weights: ``Linear(in, out, bias=True)`` and
    ``LayerNorm(dim)``, with ``torch.nn``'s signatures and parameter names."""
    Linear: Callable[..., nn.Module]
    LayerNorm: Callable[..., nn.Module]


CAST_OPS = Ops(Linear=CastLinear, LayerNorm=CastLayerNorm)
