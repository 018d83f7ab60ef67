"""A tiny SD1.x-class base model built in memory with ComfyUI's own classes, for the benchmark and tests.

The UNet is ComfyUI's ``UNetModel`` inside ComfyUI's SD1.5 ``BaseModel`` (its noise schedule and latent
format; eps-prediction as SD1.5, or ComfyUI's v-prediction model type on the same schedule), wrapped
in a ``ModelPatcher``, so ComfyUI's sampler and the pack's patch run it as any SD1.x model; only its
width is small (ComfyUI would not detect such a UNet from a file, so it is built here rather than
loaded). The text encoder is the demo checkpoint's CLIP-L (random weights in the real layout), loaded
through ComfyUI's checkpoint loader.
"""
from __future__ import annotations

import torch

from ..runner.demo_models import _randomize_meta, build_sd1_checkpoint, cached
from .base import FrozenBase

# 64 channels, two levels (16x16 and 8x8 at a 16x16 latent), a transformer block at each: 7 blocks.
TINY_UNET = dict(
    image_size=16, in_channels=4, out_channels=4, model_channels=64, num_res_blocks=[1, 1], channel_mult=[1, 2],
    num_heads=4, use_spatial_transformer=True, transformer_depth=[1, 1], transformer_depth_middle=1,
    transformer_depth_output=[1, 1, 1, 1], context_dim=768, use_linear_in_transformer=False, legacy=False,
)


def demo_clip():
    """The demo checkpoint's CLIP-L, through ComfyUI's loader (built once, cached on disk)."""
    import comfy.sd
    path = cached("demo_sd1_tiny.safetensors", build_sd1_checkpoint)
    _, clip, _, _ = comfy.sd.load_checkpoint_guess_config(path, output_vae=False, output_clip=True,
                                                          output_model=False)
    return clip


def tiny_model(unet_config: dict | None = None, seed: int = 0, device: torch.device | str = "cpu",
               prediction: str = "eps"):
    """A ModelPatcher around ComfyUI's SD1.5 BaseModel with a small random UNet (fp32); ``prediction``
    "eps" (SD1.5's) or "v" (ComfyUI's v-prediction model type on the same schedule)."""
    import comfy.model_base
    import comfy.model_patcher
    import comfy.supported_models
    config = comfy.supported_models.SD15(dict(unet_config or TINY_UNET))
    config.set_inference_dtype(torch.float32, None)
    kinds = {"eps": comfy.model_base.ModelType.EPS, "v": comfy.model_base.ModelType.V_PREDICTION}
    if prediction not in kinds:
        raise ValueError(f"prediction {prediction!r}: use 'eps' or 'v'")
    model = comfy.model_base.BaseModel(config, model_type=kinds[prediction], device="cpu")
    model.diffusion_model.load_state_dict(_randomize_meta(model.diffusion_model, seed))
    model.diffusion_model.to(device)
    return comfy.model_patcher.ModelPatcher(model, load_device=torch.device(device), offload_device=torch.device("cpu"))


def tiny_base(unet_config: dict | None = None, seed: int = 0, clip=None, device: torch.device | str = "cpu",
              prediction: str = "eps") -> FrozenBase:
    name = f"tiny-sd1-{(unet_config or TINY_UNET)['model_channels']}ch" + ("-v" if prediction == "v" else "")
    clip = clip if clip is not None else demo_clip()
    return FrozenBase(tiny_model(unet_config, seed, device, prediction), clip, None, name)
