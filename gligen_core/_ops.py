"""Layers that compute in the dtype and on the device of their input.

ComfyUI moves and casts models as it likes (fp16 UNet on GPU, fp32 on CPU, weights offloaded while
another model runs). The GLIGEN layers follow their input instead of assuming their own placement:
``weight.to(x)`` is free when nothing differs and saves a device-mismatch crash when it does.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


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
