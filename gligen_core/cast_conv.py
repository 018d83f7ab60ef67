"""A ``Conv2d`` that computes in its input's dtype and on its input's device, like ``_ops.CastLinear``.

The map models (GLIGEN spec section 2.4) have convolutions in their tokenizer (ConvNeXt trunk, the
semantic ``in_conv``) and in their downsampler; a host that passes :class:`~gligen_core._ops.Ops`
without a ``Conv2d`` gets this one.
"""
from __future__ import annotations

from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn

from ._ops import _like


class CastConv2d(nn.Conv2d):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, _like(self.weight, x), _like(self.bias, x), self.stride, self.padding,
                        self.dilation, self.groups)


def conv_ctor(ops: Any) -> Callable[..., nn.Module]:
    """``ops.Conv2d`` where the host's ops have one, else :class:`CastConv2d`."""
    return getattr(ops, "Conv2d", None) or CastConv2d
