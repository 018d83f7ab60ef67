"""Extra input channels of the UNet's first conv, added to the user's own conv.

GLIGEN's inpainting and spatial-map models widen SD's first conv: it reads ``[z_t ; e]`` where ``e`` is
``[z0 * m ; m]`` (inpainting, 5 channels) and/or a map's downsampled features. A conv is linear in its
input channels, so with the weight split as ``W = [W_base | W_extra]``::

    conv([z_t ; e], W, b) = conv(z_t, W_base, b) + conv(e, W_extra)       (zero padding on both)

The first term is what the user's own checkpoint computes; this module adds the second (no bias) to
its output. The user's weights never change, and the file's ``W_base`` (SD1.4's) is kept only so the
adapter can be written back out. Channel order is the official one: ``[z_t ; family's channels ;
inpainting channels]``.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ._ops import _like

LATENT_CHANNELS = 4     # z_t: the SD1.x / SD2.x / SDXL latent
INPAINT_CHANNELS = 5    # [z0 * m (4) ; m (1)]


@dataclass(frozen=True)
class FirstConvShape:
    """``width``: the conv's output channels (the UNet's first width); ``family_channels``: channels the
    grounding family adds (a map's downsampler); ``inpaint_channels``: 5 for inpainting models, else 0."""
    width: int
    family_channels: int = 0
    inpaint_channels: int = 0
    kernel: int = 3

    @property
    def in_channels(self) -> int:
        return LATENT_CHANNELS + self.family_channels + self.inpaint_channels

    @property
    def extra_channels(self) -> int:
        return self.family_channels + self.inpaint_channels

    def weight_shape(self) -> tuple[int, int, int, int]:
        return (self.width, self.in_channels, self.kernel, self.kernel)


class FirstConvExtra(nn.Module):
    """The widened first conv's weight (``input_blocks.0.0.weight`` / ``conv_in.weight`` as published);
    only its extra input channels are used."""

    def __init__(self, shape: FirstConvShape) -> None:
        super().__init__()
        self.shape = shape
        self.weight = nn.Parameter(torch.zeros(shape.weight_shape()))

    def forward(self, h: torch.Tensor, extra: torch.Tensor) -> torch.Tensor:
        """``h``: the user's first conv output ``[B, width, H, W]``; ``extra``: ``[B, extra_channels, H, W]``
        (the conv is stride 1, padding k // 2, as SD's). Returns ``h + conv(extra, W_extra)``."""
        w = _like(self.weight, h)[:, LATENT_CHANNELS:]
        return h + F.conv2d(extra.to(h.dtype), w, padding=self.shape.kernel // 2)
