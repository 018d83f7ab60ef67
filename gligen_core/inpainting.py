"""Grounded inpainting's input (GLIGEN spec section 5): the known image's latent and the keep mask.

The inpainting models' first conv reads ``[z_t ; z0 * m ; m]`` with ``m = 1`` where the image is kept
and 0 where it is repainted, at latent resolution. From boxes, ``m`` is 0 inside every box on the
latent grid with coordinates truncated toward zero, as the official ``draw_masks_from_boxes`` draws it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import torch

from .errors import GLIGENError


@dataclass(frozen=True)
class InpaintInput:
    """``latent`` ``[1 or B, 4, h, w]``: the image's latent (the VAE's, or in the UNet's space once
    ``in_model_space`` mapped it); ``keep`` ``[1 or B, 1, h, w]``: ``m``, 1 = keep, 0 = repaint."""
    latent: torch.Tensor
    keep: torch.Tensor
    model_space: bool = False

    def __post_init__(self) -> None:
        if self.latent.ndim != 4 or self.keep.ndim != 4 or self.keep.shape[1] != 1 \
                or self.keep.shape[-2:] != self.latent.shape[-2:]:
            raise ValueError(f"inpainting input: latent {tuple(self.latent.shape)} and mask {tuple(self.keep.shape)} "
                             f"do not fit ([B, C, h, w] and [B, 1, h, w])")

    def in_model_space(self, latent_in: Callable[[torch.Tensor], torch.Tensor]) -> "InpaintInput":
        """The same input with its latent mapped by the model's ``process_latent_in`` (once)."""
        if self.model_space:
            return self
        return InpaintInput(latent_in(self.latent), self.keep, True)

    def channels(self, size: tuple[int, int], device: torch.device | str, dtype: torch.dtype) -> torch.Tensor:
        """``[z0 * m ; m]``, ``[1 or B, C + 1, h, w]`` for a latent of ``size``."""
        if tuple(self.latent.shape[-2:]) != tuple(size):
            raise GLIGENError(
                f"GLIGEN inpainting: the sampled latent is {size[0]}x{size[1]} but the image to inpaint encodes to "
                f"{self.latent.shape[-2]}x{self.latent.shape[-1]}. Sample the latent GLIGENInpaint outputs.")
        z0 = self.latent.to(device, dtype)
        m = self.keep.to(device, dtype)
        return torch.cat((z0 * m, m), dim=1)


def keep_mask_from_boxes(boxes: Sequence[Sequence[float]], height: int, width: int) -> torch.Tensor:
    """``[1, 1, height, width]`` of ones with every box (normalised xyxy) zeroed on the latent grid:
    rows ``int(y0 * h)`` to ``int(y1 * h)`` (end excluded), columns likewise, as the official code."""
    m = torch.ones(1, 1, height, width)
    for x0, y0, x1, y1 in boxes:
        m[..., int(y0 * height):int(y1 * height), int(x0 * width):int(x1 * width)] = 0.0
    return m
