"""The map models' extra first-conv input (``downsample_net``, GLIGEN spec 2.4 (b)).

The map, prepared like the token path's input, is brought to the latent's size and concatenated to
the noisy latent before the UNet's first conv:

| modality | input | ``downsample_net`` | channels |
|---|---|---|---|
| HED | channel 0 | bicubic resize to the latent size, no parameters | 1 |
| Canny, depth | channel 0 | bicubic to 4x the latent size, Conv(1->4, k4 s2 p1), SiLU, Conv(4->8, ...) | 8 |
| normal | RGB | bicubic to 4x the latent size, Conv(3->4, ...), SiLU, Conv(4->8, ...) | 8 |
| semantic | 152-ch one-hot | nearest to 4x the latent size, Conv(152->16, ...), SiLU, Conv(16->8, ...) | 8 |

The released code hard-wires a 64x64 latent (resize to 256, or 64 for HED); resizing to the latent's
own size instead gives the same result there and an aligned map at any other resolution.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .cast_conv import conv_ctor
from ._ops import CAST_OPS, Ops


@dataclass(frozen=True)
class DownsamplerSpec:
    modality: str
    in_channels: int      # channels the layers read (after taking channel 0 for grey maps)
    hidden: int           # 0: no layers (HED)
    out_channels: int     # extra first-conv input channels
    first_channel_only: bool
    mode: str             # interpolation of the map


DOWNSAMPLERS: dict[str, DownsamplerSpec] = {
    "hed": DownsamplerSpec("hed", 1, 0, 1, True, "bicubic"),
    "canny": DownsamplerSpec("canny", 1, 4, 8, True, "bicubic"),
    "depth": DownsamplerSpec("depth", 1, 4, 8, True, "bicubic"),
    "normal": DownsamplerSpec("normal", 3, 4, 8, False, "bicubic"),
    "semantic": DownsamplerSpec("semantic", 152, 16, 8, False, "nearest"),
}
# The Canny and depth models' downsamplers are the same module with the same shapes, so a file does not
# say which of the two it is; both read a grey map the same way. The pack runs them as one modality.
DOWNSAMPLERS["canny-depth"] = DownsamplerSpec("canny-depth", 1, 4, 8, True, "bicubic")


def downsampler_shapes(spec: DownsamplerSpec) -> dict[str, tuple[int, ...]]:
    """Every tensor of the downsampler (names below ``downsample_net.``) with its shape."""
    if not spec.hidden:
        return {}
    return {"layers.0.weight": (spec.hidden, spec.in_channels, 4, 4), "layers.0.bias": (spec.hidden,),
            "layers.2.weight": (spec.out_channels, spec.hidden, 4, 4), "layers.2.bias": (spec.out_channels,)}


class MapDownsampler(nn.Module):
    def __init__(self, spec: DownsamplerSpec, ops: Ops = CAST_OPS) -> None:
        super().__init__()
        self.spec = spec
        if spec.hidden:
            conv = conv_ctor(ops)
            self.layers = nn.Sequential(conv(spec.in_channels, spec.hidden, 4, 2, 1), nn.SiLU(),
                                        conv(spec.hidden, spec.out_channels, 4, 2, 1))

    @property
    def out_channels(self) -> int:
        return self.spec.out_channels

    def forward(self, grounding_map: torch.Tensor, latent_hw: tuple[int, int]) -> torch.Tensor:
        """``grounding_map [B, C, H, W]`` -> ``[B, out_channels, h, w]`` for a latent of ``latent_hw``."""
        h, w = latent_hw
        x = grounding_map[:, :1] if self.spec.first_channel_only else grounding_map
        if not self.spec.hidden:
            return F.interpolate(x, size=(h, w), mode=self.spec.mode)
        return self.layers(F.interpolate(x, size=(4 * h, 4 * w), mode=self.spec.mode))
