"""Grounding from layouts that differ per latent (moving boxes, a layout per image), for the encoder."""
from __future__ import annotations

from typing import Callable

import torch

from ..gligen_core import BoxLayout, GLIGENError, Grounding
from ..gligen_core.frame_grounding import AnimatedGrounding, GroundingBatch, join
from ..gligen_core.keyframes import AnimatedLayout
from ..gligen_core.layout_batch import LayoutBatch

Encode = Callable[[list[str]], torch.Tensor]  # phrases -> one feature row each


def _phrases(layout: BoxLayout | AnimatedLayout) -> list[str]:
    if isinstance(layout, AnimatedLayout):
        return [t.phrase for t in layout.tracks]
    return [b.phrase for b in layout.boxes]


def _grounding(layout: BoxLayout | AnimatedLayout, features: torch.Tensor) -> Grounding | AnimatedGrounding:
    if isinstance(layout, AnimatedLayout):
        return AnimatedGrounding.from_layout(layout, features)
    boxes = torch.tensor([b.box for b in layout.boxes], dtype=torch.float32).reshape(-1, 4)
    return Grounding(tuple(_phrases(layout)), boxes, features, len(layout.dropped))


def ground_layout(layout: AnimatedLayout | LayoutBatch, encode: Encode) -> AnimatedGrounding | GroundingBatch:
    """Phrase features for every box (all layouts encoded in one pass), attached to their boxes."""
    layouts = layout.layouts if isinstance(layout, LayoutBatch) else (layout,)
    counts = [len(_phrases(lay)) for lay in layouts]
    features = encode([p for lay in layouts for p in _phrases(lay)])
    parts = torch.split(features, counts)
    items = tuple(_grounding(lay, f) for lay, f in zip(layouts, parts))
    return GroundingBatch(items) if isinstance(layout, LayoutBatch) else items[0]


def join_groundings(previous, added):
    """Chained encoders: ``previous``'s boxes and then ``added``'s, whatever kinds they are."""
    try:
        return join(previous, added)
    except ValueError as e:
        raise GLIGENError(f"GroundingEncoder: {e}") from None
