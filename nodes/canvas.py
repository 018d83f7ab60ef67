"""GroundingBoxes' canvas and the latent it is sampled on.

Boxes are normalised to the canvas, so a latent of another aspect ratio stretches them. The canvas can
come from a LATENT or IMAGE linked to GroundingBoxes (then it is that size); otherwise, when a
grounded conditioning is sampled, a latent whose aspect ratio differs from the canvas's by more than
1% is named, with both sizes, in the log and under the GroundingBoxes node."""
from __future__ import annotations

import logging

import torch

from ..gligen_core import GLIGENError, Grounding

log = logging.getLogger(__name__)

LATENT_SCALE = 8          # pixels per latent cell of the SD1.x, SD2.x and SDXL VAEs
ASPECT_TOLERANCE = 0.01


def canvas_of(source) -> tuple[int, int]:
    """``(width, height)`` in pixels of a LATENT (its samples x 8) or an IMAGE ``[B, H, W, C]``."""
    if isinstance(source, dict) and isinstance(source.get("samples"), torch.Tensor):
        samples = source["samples"]
        if samples.ndim < 4:
            raise GLIGENError(f"canvas_from: the LATENT has shape {tuple(samples.shape)}; expected "
                              f"[batch, channels, height, width]. Link an EmptyLatentImage or a VAE Encode output.")
        size = int(samples.shape[-1]) * LATENT_SCALE, int(samples.shape[-2]) * LATENT_SCALE
        return sized(size, f"LATENT is {size[0]}x{size[1]} pixels ({samples.shape[-1]}x{samples.shape[-2]} latent)")
    if isinstance(source, torch.Tensor) and source.ndim == 4:
        size = int(source.shape[2]), int(source.shape[1])
        return sized(size, f"IMAGE is {size[0]}x{size[1]} pixels")
    raise GLIGENError(f"canvas_from: expected a LATENT or an IMAGE, got {type(source).__name__}. Link the latent "
                      f"you sample (e.g. EmptyLatentImage) or an image of the size you generate.")


def sized(size: tuple[int, int], what: str) -> tuple[int, int]:
    """``size``, unless a side is 0 (an empty latent or image: a size below 8 on EmptyLatentImage)."""
    if min(size) < 1:
        raise GLIGENError(f"canvas_from: the {what}, an empty canvas. Give the node that makes it (e.g. "
                          f"EmptyLatentImage) a width and height of at least 8.")
    return size


def aspect_note(canvas: tuple[int, int], latent_hw: tuple[int, ...]) -> str:
    """A warning when the latent's aspect ratio differs from the canvas's by more than 1%, else ''."""
    w, h = canvas
    lh, lw = latent_hw[-2], latent_hw[-1]
    if abs((w / h) / (lw / lh) - 1.0) <= ASPECT_TOLERANCE:
        return ""
    return (f"the boxes were placed on a {w}x{h} canvas but the latent being sampled is {lw * LATENT_SCALE}x"
            f"{lh * LATENT_SCALE} ({lw}x{lh} latent): another aspect ratio, so the boxes are stretched. Set "
            f"GroundingBoxes' width and height to the image size, or link the latent to its canvas_from input.")


def warn_aspect(g: Grounding | None, latent_hw: tuple[int, ...], said: set) -> None:
    """Log and show ``aspect_note`` once per sampling run (``said`` holds what was said)."""
    if g is None or g.canvas is None or not len(g):
        return
    note = aspect_note(g.canvas, latent_hw)
    if note and (note, g.canvas_node) not in said:
        said.add((note, g.canvas_node))
        log.warning("GLIGEN: %s", note)
        from .encoder import show_on_node
        show_on_node(g.canvas_node, note)
