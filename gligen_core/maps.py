"""A spatial map as the map GLIGEN models read it (GLIGEN spec 2.4).

The official code prepares a map as RGB, centre-cropped and resized to 512x512, scaled to [-1, 1]
(``(x/255 - 0.5)/0.5``; grey maps are 3 equal channels). The tokenizer then resizes it to 256
(nearest) and the downsampler to 4x the 64x64 latent (HED: to the latent). Here the map is the whole
picture the user connected, at any size: the tokenizer gets it resized to its 256x256 input (the
token grid is fixed), the downsampler gets it resized to the latent's own size, so the extra channels
stay aligned with the image at any resolution and aspect. At 512x512 both equal the official path.

The semantic model reads ADE20K class indices one-hot (``ade20k``); the one-hot map is made at the
size each path resizes to, which equals the official one-hot-then-nearest-resize.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .ade20k import label_classes, one_hot
from .errors import GLIGENError

MODALITIES = ("hed", "canny", "depth", "canny-depth", "normal", "semantic")


def map_kind(modality: str) -> str:
    return f"{modality} map"


class MapError(GLIGENError):
    """A map picture that cannot ground a map model."""


def map_pixels(image: torch.Tensor, field: str) -> torch.Tensor:
    """A ComfyUI IMAGE ``[B, H, W, C]`` in 0..1 -> ``[B, 3, H, W]`` in [-1, 1] (grey replicated, alpha dropped)."""
    if image.ndim != 4 or image.shape[-1] not in (1, 3, 4):
        raise MapError(f"{field}: expected an IMAGE [batch, height, width, channels], got shape {list(image.shape)}")
    rgb = image[..., :3].float()
    if rgb.shape[-1] == 1:
        rgb = rgb.expand(*rgb.shape[:-1], 3)
    return (rgb.permute(0, 3, 1, 2) - 0.5) / 0.5


@dataclass(frozen=True)
class GroundingMap:
    """The map of one modality for a batch: RGB in [-1, 1] ``[B, 3, H, W]``, or for ``semantic`` the
    class indices ``[B, H, W]``."""
    modality: str
    data: torch.Tensor

    @property
    def kind(self) -> str:
        """The grounding kind a map model of this modality reads (``input_kind`` of its tokenizer)."""
        return map_kind(self.modality)

    @classmethod
    def from_image(cls, modality: str, image: torch.Tensor, field: str, labels: str = "colours") -> "GroundingMap":
        if modality not in MODALITIES:
            raise MapError(f"{field}: unknown map kind {modality!r}; one of {', '.join(MODALITIES)}")
        if modality == "semantic":
            if image.ndim != 4:
                raise MapError(f"{field}: expected an IMAGE [batch, height, width, channels], got shape "
                               f"{list(image.shape)}")
            return cls(modality, label_classes(image, labels, field))
        return cls(modality, map_pixels(image, field))

    @property
    def batch(self) -> int:
        return int(self.data.shape[0])

    @property
    def size(self) -> tuple[int, int]:
        return int(self.data.shape[-2]), int(self.data.shape[-1])

    def within(self, x0: float, y0: float, x1: float, y1: float) -> "GroundingMap":
        """The part of the map under the crop ``[x0, y0, x1, y1]`` of the canvas (area conditioning)."""
        if (x0, y0, x1, y1) == (0.0, 0.0, 1.0, 1.0):
            return self
        if not (0.0 <= x0 < x1 <= 1.0 and 0.0 <= y0 < y1 <= 1.0):
            raise ValueError(f"crop {[x0, y0, x1, y1]} is not inside the canvas")
        h, w = self.size
        r0, r1 = int(y0 * h), max(int(y0 * h) + 1, round(y1 * h))
        c0, c1 = int(x0 * w), max(int(x0 * w) + 1, round(x1 * w))
        return GroundingMap(self.modality, self.data[..., r0:r1, c0:c1])

    def tokenizer_input(self, resize_input: int = 256) -> torch.Tensor:
        """What the tokenizer reads: the map (semantic: one-hot at ``resize_input``)."""
        if self.modality == "semantic":
            return one_hot(self.data, (resize_input, resize_input))
        return self.data

    def downsampler_input(self, latent_hw: tuple[int, int]) -> torch.Tensor:
        """What the downsampler reads for a latent of ``latent_hw`` (semantic: one-hot at 4x that size)."""
        if self.modality == "semantic":
            h, w = latent_hw
            return one_hot(self.data, (4 * h, 4 * w))
        return self.data
