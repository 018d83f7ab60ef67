"""The image feature GLIGEN's text-image models were trained with (GLIGEN spec section 2.2).

CLIP ViT-L/14's image embedding ``x`` (after its visual projection, 768-d) is mapped back towards the
text encoder's pre-projection space with CLIP-L's text projection matrix ``P`` as stored
(``[out, in]``): ``y = x P``; then ``y`` is L2-normalised and scaled to 28.7, the typical norm of the
phrase feature. ``P`` ships with the pack (``assets/clip_l_projection.safetensors``, converted from the
official repository's ``projection_matrix``). A diffusers text-image pipeline brings the same map as
``image_project.project.weight`` ``W`` (a linear layer, ``y = x W^T``), so ``P = W^T``.
"""
from __future__ import annotations

import os
from functools import lru_cache

import torch

GLIGEN_FEATURE_NORM = 28.7
PROJECTION_FILE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "assets",
                               "clip_l_projection.safetensors")


@lru_cache(maxsize=1)
def shipped_projection() -> torch.Tensor:
    """``P`` (768 x 768, fp32) as shipped with the pack."""
    from safetensors.torch import load_file
    return load_file(PROJECTION_FILE)["projection_matrix"]


def projection_from_diffusers(weight: torch.Tensor) -> torch.Tensor:
    """``P`` from diffusers' ``image_project.project.weight`` (``y = x W^T``)."""
    return weight.t()


def gligen_image_features(image_embeds: torch.Tensor, projection: torch.Tensor | None = None) -> torch.Tensor:
    """``[K, 768]`` CLIP image embeddings -> ``[K, 768]`` GLIGEN image features: ``x P`` normalised to 28.7."""
    p = shipped_projection() if projection is None else projection
    if image_embeds.ndim != 2 or image_embeds.shape[1] != p.shape[0]:
        raise ValueError(f"image embeddings of shape {tuple(image_embeds.shape)} do not fit the {p.shape[0]}-d "
                         f"projection matrix")
    y = image_embeds.float() @ p.float()
    return y / y.norm(dim=-1, keepdim=True) * GLIGEN_FEATURE_NORM
