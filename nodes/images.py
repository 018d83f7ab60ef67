"""Reference images of boxes: checked against the boxes, encoded as GLIGEN's image feature.

A box names its image by index in the IMAGE batch connected to GroundingBoxes. The feature is the
one GLIGEN's text-image models were trained with (``gligen_core.image_features``): the connected CLIP
vision model's projected embedding (ComfyUI's ``encode_image``: 224 px, CLIP's mean and std, centre
crop) mapped back with CLIP-L's projection matrix, normalised to 28.7. Each image is encoded once.
"""
from __future__ import annotations

import torch

from ..gligen_core import BoxLayout, GLIGENAdapter, GLIGENError, ModelMismatchError
from ..gligen_core.errors import BoxesError
from ..gligen_core.image_features import gligen_image_features
from ..gligen_core.tokenizers.text_image import KIND as TEXT_IMAGE


def check_images(images) -> None:
    """The IMAGE batch on 'images' has pixels (an EmptyImage of width or height 0 gives none)."""
    if images is not None and images.ndim == 4 and min(images.shape[1:3]) < 1:
        raise GLIGENError(f"images: the IMAGE batch is {images.shape[2]}x{images.shape[1]} pixels, an empty image. "
                          f"Give the node that makes it (e.g. EmptyImage) a width and height of at least 1.")


def check_image_indexes(layout: BoxLayout, images) -> None:
    """Every box's ``"image"`` names an image of the connected batch."""
    count = 0 if images is None else int(images.shape[0])
    for i, b in enumerate(layout.boxes + layout.dropped):
        if b.image is None:
            continue
        name = f"box #{i + 1}" + (f" ({b.phrase!r})" if b.phrase else "")
        if images is None:
            raise BoxesError(f"{name} names reference image {b.image}, but no images are connected. Connect an IMAGE "
                             f"(a batch of the reference images) to GroundingBoxes' 'images' input, or remove "
                             f"'image' from the box.")
        if b.image >= count:
            raise BoxesError(f"{name} names reference image {b.image}, but the batch on 'images' holds {count} "
                             f"image{'s' if count != 1 else ''} (0..{count - 1}). Use an index in that range.")


def check_adapter_reads(adapter: GLIGENAdapter, layout: BoxLayout, clip_vision) -> None:
    """The boxes fit the adapter: images need a text-image adapter and a CLIP vision model; a text-box
    adapter needs a phrase in every box."""
    with_images = [i for i, b in enumerate(layout.boxes) if b.image is not None]
    if with_images and adapter.shape.family != TEXT_IMAGE:
        raise ModelMismatchError(
            f"box #{with_images[0] + 1} has a reference image, but this GLIGEN file is {adapter.kind}: it grounds "
            f"phrases only. Load a text-image GLIGEN (gligen-generation-text-image-box, or its inpainting model) "
            f"or remove 'image' from the boxes.")
    no_phrase = [i for i, b in enumerate(layout.boxes) if not b.phrase]
    if no_phrase and adapter.shape.family != TEXT_IMAGE:
        raise ModelMismatchError(f"box #{no_phrase[0] + 1} has no phrase; this {adapter.kind} GLIGEN needs one in "
                                 f"every box.")
    if with_images and clip_vision is None:
        raise ModelMismatchError(
            f"box #{with_images[0] + 1} has a reference image: connect a CLIP vision model (CLIPVisionLoader with "
            f"CLIP ViT-L/14, e.g. clip_vision_vit_l.safetensors) to GroundingEncoder's 'clip_vision' input.")


def image_features(clip_vision, layout: BoxLayout, projection: torch.Tensor | None = None) -> tuple[torch.Tensor, tuple[bool, ...]]:
    """``[K, 768]`` GLIGEN image features (zeros for boxes without an image) and which boxes have one."""
    flags = tuple(b.image is not None for b in layout.boxes)
    out = torch.zeros(len(layout.boxes), 768)
    done: dict[int, torch.Tensor] = {}
    for i, b in enumerate(layout.boxes):
        if b.image is None:
            continue
        if b.image not in done:
            embeds = clip_vision.encode_image(layout.images[b.image:b.image + 1])["image_embeds"].float().cpu()
            if embeds.shape[-1] != 768:
                raise ModelMismatchError(
                    f"the connected CLIP vision model gives {embeds.shape[-1]}-d image embeddings; GLIGEN's "
                    f"text-image models read CLIP ViT-L/14's 768-d ones. Load CLIP ViT-L/14 in CLIPVisionLoader.")
            done[b.image] = gligen_image_features(embeds.reshape(1, -1), projection)[0]
        out[i] = done[b.image]
    return out, flags
