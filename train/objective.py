"""What trains: the adapter driving the frozen UNet through the pack's own patch, and the loss.

The UNet runs with the same ``middle_patch`` (``nodes.patch.GroundingPatch``) that grounds it at
inference, fed the same way (grounding tokens ``[B, M, C]`` and a 0-dim scale in the UNet's
``transformer_options``), except that the tokens come from the trainable tokenizer with gradients.
The UNet is held outside the module tree, so the optimizer and data-parallel wrappers see only the
adapter; it is frozen and left bit-identical.

Loss (spec section 6): plain MSE between the UNet's output and its target at a uniform timestep,
the noise for eps-prediction models, ``v = sqrt(a) eps - sqrt(1 - a) x0`` for v-prediction ones.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..gligen_core import GLIGENAdapter
from ..nodes.patch import NEGATIVE_NULL, SCALE_KEY, TOKENS_KEY, GroundingPatch


@dataclass
class Batch:
    latents: torch.Tensor     # [B, 4, h, w] clean latents, model latent space
    noise: torch.Tensor       # [B, 4, h, w]
    timesteps: torch.Tensor   # [B] long
    context: torch.Tensor     # [B, T, C] caption contexts
    y: torch.Tensor | None    # [B, A] vector conditioning (SDXL) or None
    boxes: torch.Tensor       # [B, M, 4] normalised xyxy
    masks: torch.Tensor       # [B, M]
    features: torch.Tensor    # [B, M, D] phrase features

    def to(self, device: torch.device) -> "Batch":
        return Batch(*(None if v is None else v.to(device) for v in
                       (self.latents, self.noise, self.timesteps, self.context, self.y, self.boxes, self.masks,
                        self.features)))


def noised(alphas_cumprod: torch.Tensor, prediction: str, latents: torch.Tensor, noise: torch.Tensor,
           timesteps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(x_t, target)``: the latents noised to ``timesteps``, and what the UNet should output there (the
    noise for eps-prediction, ``v`` for v-prediction)."""
    a = alphas_cumprod.float().to(latents.device)[timesteps].view(-1, 1, 1, 1)
    x_t = a.sqrt() * latents + (1 - a).sqrt() * noise
    return x_t, noise if prediction == "eps" else a.sqrt() * noise - (1 - a).sqrt() * latents


class _Outside:
    """Holds the frozen UNet without registering it as a submodule."""

    def __init__(self, unet: nn.Module) -> None:
        self.unet = unet


class GroundedDenoiser(nn.Module):
    """``forward(batch) -> loss``: the module a data-parallel wrapper wraps. Its parameters are the adapter's."""

    def __init__(self, adapter: GLIGENAdapter, unet: nn.Module, alphas_cumprod: torch.Tensor, prediction: str,
                 attention=None) -> None:
        super().__init__()
        if attention is None:
            from ..nodes.runtime import comfy_attention as attention
        self.adapter = adapter
        self._frozen = _Outside(unet)
        self._alphas = alphas_cumprod.float()
        self.prediction = prediction
        self.patch = GroundingPatch(adapter, attention, 1.0, NEGATIVE_NULL)

    @property
    def unet(self) -> nn.Module:
        return self._frozen.unet

    def predict(self, x_t: torch.Tensor, timesteps: torch.Tensor, context: torch.Tensor, y: torch.Tensor | None,
                boxes: torch.Tensor, masks: torch.Tensor, features: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
        """The UNet's raw output (noise or v) with the grounding given, through the pack's patch."""
        unet_dtype = next(self.unet.parameters()).dtype
        tokens = self.adapter.position_net(boxes.float(), masks.float(), features.float())
        options = {"patches": {"middle_patch": [self.patch]}, TOKENS_KEY: tokens,
                   SCALE_KEY: torch.tensor(float(scale), device=x_t.device)}
        out = self.unet(x_t.to(unet_dtype), timesteps.float(), context=context.to(unet_dtype),
                        y=None if y is None else y.to(unet_dtype), transformer_options=options)
        return out.float()

    def noised(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """``(x_t, target)`` for the batch's timesteps."""
        return noised(self._alphas, self.prediction, batch.latents, batch.noise, batch.timesteps)

    def forward(self, batch: Batch) -> torch.Tensor:
        x_t, target = self.noised(batch)
        out = self.predict(x_t, batch.timesteps, batch.context, batch.y, batch.boxes, batch.masks, batch.features)
        return F.mse_loss(out, target.float())


def trainable_names(module: nn.Module) -> list[str]:
    return [n for n, p in module.named_parameters() if p.requires_grad]
