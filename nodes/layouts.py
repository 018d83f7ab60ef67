"""Grounding from layouts that differ per latent (moving boxes, a layout per image), for the encoder."""
from __future__ import annotations

from typing import Callable

import torch

from ..gligen_core import BoxLayout, GLIGENError, Grounding
from ..gligen_core.frame_grounding import AnimatedGrounding, GroundingBatch, join
from ..gligen_core.keyframes import AnimatedLayout
from ..gligen_core.layout_batch import LayoutBatch

Encode = Callable[[list[str]], torch.Tensor]  # phrases -> one feature row each
Still = Callable[[BoxLayout, torch.Tensor], Grounding]  # a still layout and its phrase features -> its grounding


def still_layouts(layout) -> list[BoxLayout]:
    """The layouts without keyframes in ``layout`` (itself, or the still ones of a batch)."""
    layouts = layout.layouts if isinstance(layout, LayoutBatch) else (layout,)
    return [lay for lay in layouts if isinstance(lay, BoxLayout)]


def _phrases(layout: BoxLayout | AnimatedLayout) -> list[str]:
    if isinstance(layout, AnimatedLayout):
        return [t.phrase for t in layout.tracks]
    return [b.phrase for b in layout.boxes]


def ground_layout(layout: AnimatedLayout | LayoutBatch, encode: Encode, still: Still) -> AnimatedGrounding | GroundingBatch:
    """Phrase features for every box (all layouts encoded in one pass), attached to their boxes; a still
    layout of a batch becomes its grounding through ``still`` (the encoder's: reference images, canvas)."""
    layouts = layout.layouts if isinstance(layout, LayoutBatch) else (layout,)
    counts = [len(_phrases(lay)) for lay in layouts]
    features = encode([p for lay in layouts for p in _phrases(lay)])
    parts = torch.split(features, counts)
    items = tuple(AnimatedGrounding.from_layout(lay, f) if isinstance(lay, AnimatedLayout) else still(lay, f)
                  for lay, f in zip(layouts, parts))
    return GroundingBatch(items) if isinstance(layout, LayoutBatch) else items[0]


def join_groundings(previous, added):
    """Chained encoders: ``previous``'s boxes and then ``added``'s, whatever kinds they are."""
    try:
        return join(previous, added)
    except ValueError as e:
        raise GLIGENError(f"GroundingEncoder: {e}") from None
