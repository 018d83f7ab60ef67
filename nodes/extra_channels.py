"""The first conv's extra input channels of one sampling run, per conditioning chunk.

Inpainting and spatial-map adapters widen the UNet's first conv (``gligen_core.first_conv``). What the
extra channels hold comes from two places on a conditioning: its grounding (a spatial map's
downsampled features, made by the adapter's tokenizer) and an ``InpaintInput`` (``[z0 * m ; m]``) under
``INPAINT_KEY``. Both are made once per run per conditioning, at the size of the latent being sampled,
and cropped like the UNet's view when the conditioning has an area. A chunk without its own (the usual
negative, an ungrounded conditioning) gets the first positive conditioning's, as the official sampler
gives the unconditional branch the same extra channels (only its tokens are null).
"""
from __future__ import annotations

from typing import Any

import torch

from ..gligen_core import GLIGENAdapter, GLIGENError
from .types import GROUNDING_KEY, INPAINT_KEY

Chunk = tuple[int, Any]


def check_inputs(adapter: GLIGENAdapter, conds: list[list[dict] | None]) -> None:
    """What the adapter's first conv needs is on the conditionings, and nothing it cannot use."""
    entries = [c for group in conds if group for c in group]
    has_inpaint = any(c.get(INPAINT_KEY) is not None for c in entries)
    if adapter.inpainting and not has_inpaint:
        raise GLIGENError(
            f"This GLIGEN file is an {adapter.kind} model: it repaints inside a masked image and needs that image. "
            f"Pass the positive and negative through GLIGENInpaint (VAE, image, and a MASK or the boxes) and "
            f"sample its latent; or load the generation file (gligen-generation-{adapter.shape.family}).")
    if has_inpaint and not adapter.inpainting:
        raise GLIGENError(
            f"The conditioning carries an inpainting image (GLIGENInpaint), but this GLIGEN file is a "
            f"{adapter.kind} generation model without the inpainting channels. Load an inpainting GLIGEN "
            f"(gligen-inpainting-{adapter.shape.family}), or sample without GLIGENInpaint.")


def area_slices(area) -> tuple[slice, slice] | None:
    """The rows and columns of the canvas the UNet sees for a conditioning's resolved ``area``."""
    if area is None:
        return None
    n = len(area) // 2
    (sh, sw), (oy, ox) = list(area[:n])[-2:], list(area[n:])[-2:]
    return slice(oy, oy + sh), slice(ox, ox + sw)


def fit_batch(t: torch.Tensor, n: int) -> torch.Tensor:
    """``t`` ([1 or n, ...]) as ``n`` rows: one image for every latent of the batch, or one each."""
    if t.shape[0] == n:
        return t
    if t.shape[0] == 1:
        return t.expand(n, *t.shape[1:])
    raise GLIGENError(f"GLIGEN: the inpainting input holds {t.shape[0]} images but the sampler runs a batch of {n} "
                      f"latents; use one image, or as many as the latent batch.")


class ExtraInputs:
    """One run's extra first-conv inputs: sources per chunk at registration, tensors made on first use."""

    def __init__(self, adapter: GLIGENAdapter, latent_in) -> None:
        self.adapter = adapter
        self.latent_in = latent_in     # the model's process_latent_in: VAE latents into the UNet's space
        self.sources: dict[Chunk, tuple[Any, Any, Any]] = {}
        self._made: dict[tuple, torch.Tensor] = {}
        self._batches: dict[tuple, torch.Tensor] = {}

    def register(self, conds: list[list[dict] | None]) -> None:
        positive = [c for c in (conds[0] or []) if "area" not in c] or list(conds[0] or [])
        fallback_g = next((c.get(GROUNDING_KEY) for c in positive if c.get(GROUNDING_KEY) is not None), None)
        fallback_i = next((c.get(INPAINT_KEY) for c in positive if c.get(INPAINT_KEY) is not None), None)
        for i, group in enumerate(conds):
            for c in group or []:
                g = c.get(GROUNDING_KEY)
                inpaint = c.get(INPAINT_KEY)
                self.sources[(i, c["uuid"])] = (fallback_g if g is None else g,
                                                 fallback_i if inpaint is None else inpaint, c.get("area"))

    def _of(self, chunk: Chunk | None, size: tuple[int, int], canvas: tuple[int, int], device, dtype) -> torch.Tensor:
        g, inpaint, area = self.sources.get(chunk, (None, None, None))
        key = (id(g), id(inpaint), str(area), size, device, dtype)
        if key not in self._made:
            if inpaint is not None:
                inpaint = inpaint.in_model_space(self.latent_in)
            with torch.no_grad():
                full = self.adapter.first_conv_input(g, inpaint, canvas, device, dtype)
            rows_cols = area_slices(area)
            part = full if rows_cols is None else full[:, :, rows_cols[0], rows_cols[1]]
            if tuple(part.shape[-2:]) != tuple(size):
                raise GLIGENError(
                    f"GLIGEN: the UNet was called on a {size[0]}x{size[1]} latent but the inpainting/map input was made "
                    f"for {part.shape[-2]}x{part.shape[-1]}. Sample the latent GLIGENInpaint outputs, at its size.")
            self._made[key] = part
        return self._made[key]

    def for_call(self, chunks: list[Chunk] | None, x: torch.Tensor, canvas: tuple[int, int],
                 dtype: torch.dtype) -> torch.Tensor:
        """``[B, E, h, w]`` for a UNet call on ``x``: one block of rows per conditioning chunk."""
        chunks = chunks or [None]
        key = (tuple(chunks), tuple(x.shape), x.device, dtype)
        out = self._batches.get(key)
        if out is None:
            per_chunk = x.shape[0] // len(chunks)
            size = (x.shape[-2], x.shape[-1])
            out = torch.cat([fit_batch(self._of(c, size, canvas, x.device, dtype), per_chunk) for c in chunks])
            self._batches[key] = out
        return out
