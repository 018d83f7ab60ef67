"""GLIGENInpaint: what GLIGEN's inpainting models need, from an image and a MASK or the boxes.

GLIGEN spec section 5. The image is encoded with the VAE (centre-cropped to a multiple of 8 pixels, as
core's InpaintModelConditioning does); the keep mask ``m`` (1 = keep) is drawn at latent resolution:
from the boxes as the official ``draw_masks_from_boxes`` does (0 inside each box, coordinates truncated
to the latent grid), from a MASK (ComfyUI's 1 = repaint) with every latent cell repainted that holds a
masked pixel; with both, the union is repainted. Outputs:
- positive and negative carrying the ``InpaintInput`` (the patch feeds the first conv ``[z_t ; z0*m ; m]``
  for both, as the official sampler does);
- the latent with ``noise_mask = 1 - m``: ComfyUI's sampler re-noises the known region to the current
  noise level before every step, as the official sampler does; GLIGENApply pastes ``z0`` back into the
  known region after the last step.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from comfy_api.latest import io

from ..gligen_core import BoxLayout
from ..gligen_core.errors import InputValueError
from ..gligen_core.inpainting import InpaintInput, keep_mask_from_boxes
from .types import INPAINT_KEY, GroundingBoxesIO


def crop_to_multiple(pixels: torch.Tensor, mask: torch.Tensor | None, multiple: int = 8):
    """Centre-crop ``pixels`` [B, H, W, C] (and a mask of the same size) to whole latent cells."""
    h, w = (pixels.shape[1] // multiple) * multiple, (pixels.shape[2] // multiple) * multiple
    if h == 0 or w == 0:
        raise InputValueError(f"image: {pixels.shape[2]}x{pixels.shape[1]} px is smaller than one latent cell "
                              f"({multiple}x{multiple} px); use a larger image.")
    oy, ox = (pixels.shape[1] % multiple) // 2, (pixels.shape[2] % multiple) // 2
    pixels = pixels[:, oy:oy + h, ox:ox + w, :]
    if mask is not None:
        mask = mask[:, oy:oy + h, ox:ox + w]
    return pixels, mask


def repaint_from_mask(mask: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """``[B, 1, h, w]``: 1 where a latent cell holds any masked pixel (MASK: 1 = repaint)."""
    m = mask.reshape(-1, 1, mask.shape[-2], mask.shape[-1]).float()
    return (F.adaptive_max_pool2d(m, size) > 0).float()


def keep_mask(size: tuple[int, int], mask: torch.Tensor | None, boxes: BoxLayout | None) -> torch.Tensor:
    keep = torch.ones(1, 1, *size)
    if boxes is not None:
        keep = keep * keep_mask_from_boxes([b.box for b in boxes.boxes], *size)
    if mask is not None:
        keep = keep * (1.0 - repaint_from_mask(mask, size))
    return keep


class GLIGENInpaint(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="GLIGENInpaint",
            display_name="GLIGENInpaint",
            category="conditioning/gligen",
            description="Grounded inpainting with GLIGEN's inpainting models: repaint inside the boxes (or a mask) "
                        "of an image, keeping the rest.",
            inputs=[
                io.Conditioning.Input("positive", tooltip="The grounded positive (from GroundingEncoder)."),
                io.Conditioning.Input("negative", tooltip="The negative; it gets the same inpainting input."),
                io.Vae.Input("vae", tooltip="The checkpoint's VAE, to encode the image."),
                io.Image.Input("image", tooltip="The image to inpaint. It is centre-cropped to a multiple of 8 px."),
                io.Mask.Input("mask", optional=True,
                              tooltip="Where to repaint (1 = repaint, as ComfyUI's masks). Without it, the boxes "
                                      "are repainted."),
                GroundingBoxesIO.Input("grounding", optional=True,
                                       tooltip="The boxes: everything inside them is repainted, as the official "
                                               "GLIGEN inpainting does. With a mask too, both are repainted."),
            ],
            outputs=[
                io.Conditioning.Output(display_name="positive",
                                       tooltip="The positive carrying the masked image for the model's first conv."),
                io.Conditioning.Output(display_name="negative",
                                       tooltip="The negative carrying the same masked image (only its grounding is null)."),
                io.Latent.Output(display_name="latent",
                                 tooltip="The image's latent with its noise mask: sample this one (denoise 1)."),
            ],
        )

    @classmethod
    def execute(cls, positive, negative, vae, image, mask=None, grounding: BoxLayout | None = None) -> io.NodeOutput:
        if mask is None and grounding is None:
            raise InputValueError("GLIGENInpaint needs to know where to repaint: connect a MASK to 'mask' or the "
                                  "boxes (GroundingBoxes) to 'grounding'.")
        if mask is not None and tuple(mask.shape[-2:]) != tuple(image.shape[1:3]):
            mask = F.interpolate(mask.reshape(-1, 1, *mask.shape[-2:]).float(), size=tuple(image.shape[1:3]),
                                 mode="bilinear").squeeze(1)
        pixels, mask = crop_to_multiple(image, mask)
        latent = vae.encode(pixels[:, :, :, :3])
        keep = keep_mask(tuple(latent.shape[-2:]), mask, grounding)
        inpaint = InpaintInput(latent, keep)
        pos = [[c, {**extra, INPAINT_KEY: inpaint}] for c, extra in positive]
        neg = [[c, {**extra, INPAINT_KEY: inpaint}] for c, extra in negative]
        return io.NodeOutput(pos, neg, {"samples": latent, "noise_mask": 1.0 - keep})
