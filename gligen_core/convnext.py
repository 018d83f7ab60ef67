"""The ConvNeXt trunk of the spatial-map tokenizers (GLIGEN spec section 2.4, step 4).

ConvNeXt (Liu et al., 2022) without its final norm and head, under the parameter names the
released map checkpoints use below ``position_net.convnext_tiny_backbone.``:

- ``downsample_layers.0.{0,1}``: the stem, a 4x4 stride-4 conv then a channels-first LayerNorm;
- ``downsample_layers.{1,2,3}.{0,1}``: a channels-first LayerNorm then a 2x2 stride-2 conv;
- ``stages.{s}.{j}.{dwconv,norm,pwconv1,pwconv2,gamma}``: block j of stage s, a 7x7 depthwise conv,
  a LayerNorm over channels, Linear(d, 4d), GELU, Linear(4d, d), a per-channel scale ``gamma``, and
  the residual.

The released files hold ConvNeXt-T (depths 3-3-9-3, widths 96-192-384-768); the widths and depths are
parameters so that tests can build small trunks with the same structure. Output: ``[B, dims[-1],
H/32, W/32]``.
"""
from __future__ import annotations

from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ._ops import CAST_OPS, _like
from .cast_conv import conv_ctor

TINY_DEPTHS = (3, 3, 9, 3)
TINY_DIMS = (96, 192, 384, 768)
EPS = 1e-6          # every LayerNorm of the trunk
DOWN_FACTOR = 32    # stem /4, then three /2


class ChannelsFirstNorm(nn.Module):
    """LayerNorm over the channel axis of an NCHW tensor (parameters ``weight``, ``bias``)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.bias = nn.Parameter(torch.zeros(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.layer_norm(x.permute(0, 2, 3, 1), self.weight.shape, _like(self.weight, x), _like(self.bias, x), EPS)
        return y.permute(0, 3, 1, 2)


class Block(nn.Module):
    def __init__(self, dim: int, ops: Any) -> None:
        super().__init__()
        conv = conv_ctor(ops)
        self.dwconv = conv(dim, dim, kernel_size=7, padding=3, groups=dim)
        self.norm = ops.LayerNorm(dim, eps=EPS)
        self.pwconv1 = ops.Linear(dim, 4 * dim)
        self.pwconv2 = ops.Linear(4 * dim, dim)
        self.gamma = nn.Parameter(torch.full((dim,), 1e-6))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.dwconv(x).permute(0, 2, 3, 1)
        y = self.pwconv2(F.gelu(self.pwconv1(self.norm(y))))
        return x + (_like(self.gamma, y) * y).permute(0, 3, 1, 2)


class ConvNeXtTrunk(nn.Module):
    def __init__(self, in_chans: int = 3, depths: Sequence[int] = TINY_DEPTHS, dims: Sequence[int] = TINY_DIMS,
                 ops: Any = CAST_OPS) -> None:
        super().__init__()
        if len(depths) != 4 or len(dims) != 4:
            raise ValueError(f"a ConvNeXt trunk has 4 stages; got depths {list(depths)} and widths {list(dims)}")
        conv = conv_ctor(ops)
        self.depths, self.dims = tuple(depths), tuple(dims)
        self.downsample_layers = nn.ModuleList(
            [nn.Sequential(conv(in_chans, dims[0], kernel_size=4, stride=4), ChannelsFirstNorm(dims[0]))]
            + [nn.Sequential(ChannelsFirstNorm(dims[i]), conv(dims[i], dims[i + 1], kernel_size=2, stride=2))
               for i in range(3)])
        self.stages = nn.ModuleList(nn.Sequential(*(Block(dims[i], ops) for _ in range(depths[i])))
                                    for i in range(4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for down, stage in zip(self.downsample_layers, self.stages):
            x = stage(down(x))
        return x


def trunk_shape(keys: dict[str, tuple[int, ...]], prefix: str) -> tuple[tuple[int, ...], tuple[int, ...], int] | None:
    """``(depths, dims, in_chans)`` of the trunk whose tensors are ``keys`` (name -> shape) under
    ``prefix``, or ``None`` when the stem or a stage is missing (the shape check names what is)."""
    stem = keys.get(f"{prefix}downsample_layers.0.0.weight")
    if stem is None or len(stem) != 4:
        return None
    dims: list[int] = [stem[0]]
    for i in range(1, 4):
        w = keys.get(f"{prefix}downsample_layers.{i}.1.weight")
        if w is None or len(w) != 4:
            return None
        dims.append(w[0])
    depths = []
    for s in range(4):
        n = 0
        while f"{prefix}stages.{s}.{n}.gamma" in keys:
            n += 1
        if n == 0:
            return None
        depths.append(n)
    return tuple(depths), tuple(dims), stem[1]


def trunk_shapes(depths: Sequence[int], dims: Sequence[int], in_chans: int) -> dict[str, tuple[int, ...]]:
    """Every tensor of a trunk with its shape, under the names above (for strict file checks)."""
    out: dict[str, tuple[int, ...]] = {
        "downsample_layers.0.0.weight": (dims[0], in_chans, 4, 4), "downsample_layers.0.0.bias": (dims[0],),
        "downsample_layers.0.1.weight": (dims[0],), "downsample_layers.0.1.bias": (dims[0],)}
    for i in range(1, 4):
        out |= {f"downsample_layers.{i}.0.weight": (dims[i - 1],), f"downsample_layers.{i}.0.bias": (dims[i - 1],),
                f"downsample_layers.{i}.1.weight": (dims[i], dims[i - 1], 2, 2),
                f"downsample_layers.{i}.1.bias": (dims[i],)}
    for s, (n, d) in enumerate(zip(depths, dims)):
        for j in range(n):
            p = f"stages.{s}.{j}."
            out |= {p + "dwconv.weight": (d, 1, 7, 7), p + "dwconv.bias": (d,), p + "norm.weight": (d,),
                    p + "norm.bias": (d,), p + "pwconv1.weight": (4 * d, d), p + "pwconv1.bias": (4 * d,),
                    p + "pwconv2.weight": (d, 4 * d), p + "pwconv2.bias": (d,), p + "gamma": (d,)}
    return out
