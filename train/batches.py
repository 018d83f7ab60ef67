"""Turn drawn samples into a ``Batch``: latents, noise, caption contexts and the grounding slots."""
from __future__ import annotations

import math
from typing import Protocol

import torch

from ..gligen_core.errors import GLIGENError
from .data import Row, flipped, square_crop
from .objective import Batch
from .sampling import Draw, noise_like


class Encoder(Protocol):
    """What the batches need of the base model (``base.FrozenBase`` is one)."""
    def phrase_feature(self, phrase: str, need: int | None = None) -> torch.Tensor: ...
    def caption(self, text: str) -> tuple[torch.Tensor, torch.Tensor | None]: ...
    def adm(self, pooled: torch.Tensor | None, size: int) -> torch.Tensor | None: ...
    def encode_image(self, path: str, resolution: int, flip: bool) -> torch.Tensor: ...


def load_latent(path: str) -> torch.Tensor:
    """A ``[C, h, w]`` latent saved with safetensors (first tensor) or torch.save (weights only)."""
    if path.endswith((".safetensors", ".sft")):
        from safetensors.torch import load_file
        tensors = load_file(path)
        t = tensors[sorted(tensors)[0]]
    else:
        t = torch.load(path, map_location="cpu", weights_only=True)
    if t.ndim == 4 and t.shape[0] == 1:
        t = t[0]
    if t.ndim != 3:
        raise GLIGENError(f"the latent file {path!r} holds a tensor of shape {tuple(t.shape)}; expected [C, h, w].")
    return t.float()


class LatentSource:
    """Latents of rows (encoded images or latent files), optionally cached in memory per (row, flip)."""

    def __init__(self, encoder: Encoder, resolution: int, cache: bool) -> None:
        self.encoder, self.resolution, self.cache = encoder, resolution, cache
        self._cache: dict[tuple[str, bool], torch.Tensor] = {}

    def get(self, row: Row, flip: bool) -> torch.Tensor:
        key = (row.source, flip)
        if key in self._cache:
            return self._cache[key]
        if row.is_latent:
            latent = load_latent(row.source)
            latent = latent.flip(-1) if flip else latent
        else:
            latent = self.encoder.encode_image(row.source, self.resolution, flip)
        if self.cache or row.is_latent:
            self._cache[key] = latent
        return latent


def _same_length(contexts: list[torch.Tensor]) -> torch.Tensor:
    """Stack contexts of 77, 154, ... tokens by repeating each to their least common multiple (as ComfyUI
    batches conditionings of different lengths)."""
    lengths = {c.shape[0] for c in contexts}
    n = math.lcm(*lengths)
    return torch.stack([c.repeat(n // c.shape[0], 1) for c in contexts])


def make_batch(rows: list[Row], draws: list[Draw], latents: LatentSource, encoder: Encoder, phrase_dim: int,
               slots: int, min_box_area: float, grounding_dropped: bool) -> Batch:
    xs, noises, contexts, ys, boxes_t, masks_t, feats_t = [], [], [], [], [], [], []
    for d in draws:
        row = rows[d.index]
        x0 = latents.get(row, d.flip)
        phrases, boxes = square_crop(row, min_box_area)
        if d.flip:
            boxes = flipped(boxes)
        context, pooled = encoder.caption("" if d.drop_caption else row.caption)
        b, m, f = torch.zeros(slots, 4), torch.zeros(slots), torch.zeros(slots, phrase_dim)
        if not grounding_dropped:
            for i, (phrase, box) in enumerate(list(zip(phrases, boxes))[:slots]):
                b[i] = torch.tensor(box)
                m[i] = 1.0
                f[i] = encoder.phrase_feature(phrase, phrase_dim)
        xs.append(x0)
        noises.append(noise_like(tuple(x0.shape), d.noise_seed))
        contexts.append(context)
        ys.append(encoder.adm(pooled, latents.resolution))
        boxes_t.append(b)
        masks_t.append(m)
        feats_t.append(f)
    shapes = {tuple(x.shape) for x in xs}
    if len(shapes) > 1:
        raise GLIGENError(f"latents of different shapes in one batch ({sorted(shapes)}); latent rows must all have "
                          f"the same size (images are resized to the config's resolution).")
    y = None if any(v is None for v in ys) else torch.stack(ys)
    return Batch(torch.stack(xs), torch.stack(noises), torch.tensor([d.timestep for d in draws]),
                 _same_length(contexts), y, torch.stack(boxes_t), torch.stack(masks_t), torch.stack(feats_t))
