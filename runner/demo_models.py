"""Tiny random models in the real key layouts, built with the host's own module classes.

``build_sd1_checkpoint`` writes a complete SD1.x checkpoint (UNet, CLIP-L, VAE) that ComfyUI detects
as SD1.x; its UNet is small (2 levels, widths 320/640, 7 transformer blocks). ``gligen_for`` writes a
GLIGEN file in the ComfyUI pruned layout with one fuser per transformer block of that UNet.
Both are deterministic, so they are cached (``~/.cache/gligen-grounding``). The demo of the
headless runner and the tests use them: every loader and patch runs for real, on random weights, so
images are coloured noise while box previews are real.
"""
from __future__ import annotations

import hashlib
import os

import torch

from ..gligen_core.layouts import FUSER_SHAPES

VERSION = "sd1-tiny-v2"
UNET_CONFIG = dict(
    image_size=32, in_channels=4, out_channels=4, model_channels=320, num_res_blocks=[1, 1],
    channel_mult=[1, 2], num_heads=8, use_spatial_transformer=True, transformer_depth=[1, 1],
    transformer_depth_middle=1, transformer_depth_output=[1, 1, 1, 1], context_dim=768,
    use_linear_in_transformer=False, legacy=False,
)
VAE_CONFIG = {'double_z': True, 'z_channels': 4, 'resolution': 256, 'in_channels': 3, 'out_ch': 3, 'ch': 128,
              'ch_mult': [1, 2, 4, 4], 'num_res_blocks': 2, 'attn_resolutions': [], 'dropout': 0.0}
# A small SDXL-family UNet ComfyUI detects as SDXL: SDXL's exact transformer depths (2/10 blocks per
# attention, 70 in all, so the GLIGEN-XL layout applies), but every level 320 wide.
SDXL_UNET_CONFIG = dict(
    image_size=32, in_channels=4, out_channels=4, model_channels=320, num_res_blocks=[2, 2, 2],
    channel_mult=[1, 1, 1], num_heads=-1, num_head_channels=64, use_spatial_transformer=True,
    transformer_depth=[0, 0, 2, 2, 10, 10], transformer_depth_middle=10,
    transformer_depth_output=[0, 0, 0, 2, 2, 2, 10, 10, 10], context_dim=2048, use_linear_in_transformer=True,
    legacy=False, num_classes="sequential", adm_in_channels=2816,
)
# GLIGEN-XL: (diffusers attention prefix, LDM prefix, inner blocks, real width), in UNet order (SDXL spec 2.2).
GLIGEN_XL_BLOCKS = [
    ("down_blocks.1.attentions.0", "input_blocks.4.1", 2, 640), ("down_blocks.1.attentions.1", "input_blocks.5.1", 2, 640),
    ("down_blocks.2.attentions.0", "input_blocks.7.1", 10, 1280), ("down_blocks.2.attentions.1", "input_blocks.8.1", 10, 1280),
    ("mid_block.attentions.0", "middle_block.1", 10, 1280),
    ("up_blocks.0.attentions.0", "output_blocks.0.1", 10, 1280), ("up_blocks.0.attentions.1", "output_blocks.1.1", 10, 1280),
    ("up_blocks.0.attentions.2", "output_blocks.2.1", 10, 1280),
    ("up_blocks.1.attentions.0", "output_blocks.3.1", 2, 640), ("up_blocks.1.attentions.1", "output_blocks.4.1", 2, 640),
    ("up_blocks.1.attentions.2", "output_blocks.5.1", 2, 640),
]
# Transformer blocks of the SD1.x demo UNet: (LDM prefix, width), in UNet order.
TINY_FUSERS = [("input_blocks.1.1", 320), ("input_blocks.3.1", 640), ("middle_block.1", 640),
               ("output_blocks.0.1", 640), ("output_blocks.1.1", 640), ("output_blocks.2.1", 320),
               ("output_blocks.3.1", 320)]


def cache_dir() -> str:
    d = os.environ.get("GLIGEN_DEMO_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "gligen-grounding")
    os.makedirs(d, exist_ok=True)
    return d


def _half(key: str, t: torch.Tensor) -> torch.Tensor:
    return t.half() if t.is_floating_point() and not key.endswith("position_ids") else t


def _write_checkpoint(path: str, unet_config: dict, clip_tensors: dict[str, torch.Tensor], seed: int) -> None:
    """A random UNet of ``unet_config`` and the shared SD VAE, plus the given text-encoder tensors."""
    import comfy.ldm.models.autoencoder
    import comfy.ldm.modules.diffusionmodules.openaimodel as openaimodel
    import comfy.ops
    from safetensors.torch import save_file

    with torch.device("meta"):
        unet = openaimodel.UNetModel(**unet_config, operations=comfy.ops.disable_weight_init)
        vae = comfy.ldm.models.autoencoder.AutoencoderKL(ddconfig=VAE_CONFIG, embed_dim=4)
    sd = {"model.diffusion_model." + k: v.half() for k, v in _randomize_meta(unet, seed).items()}
    sd.update({k: _half(k, v) for k, v in clip_tensors.items()})
    sd.update({"first_stage_model." + k: v.half() for k, v in _randomize_meta(vae, seed + 2).items()})
    save_file({k: v.contiguous() for k, v in sd.items()}, path)


def build_sd1_checkpoint(path: str, seed: int = 0) -> None:
    """A complete SD1.x checkpoint (small UNet, real CLIP-L, VAE) ComfyUI detects as SD1.x."""
    import comfy.sd1_clip
    clip = comfy.sd1_clip.SDClipModel(device="meta", dtype=torch.float16)
    clip_tensors = {"cond_stage_model." + k: v for k, v in _randomize_meta(clip, seed + 1).items()
                    if k.startswith("transformer.")}
    _write_checkpoint(path, UNET_CONFIG, clip_tensors, seed)


def _randomize_meta(module: torch.nn.Module, seed: int) -> dict[str, torch.Tensor]:
    """Random values for every tensor of a module built on the meta device."""
    shapes = {k: (tuple(t.shape), t.dtype) for k, t in module.state_dict().items()}
    gen = torch.Generator().manual_seed(seed)
    out = {}
    for name, (shape, dtype) in shapes.items():
        if not dtype.is_floating_point:
            out[name] = torch.zeros(shape, dtype=dtype) if not name.endswith("position_ids") else \
                torch.arange(shape[-1]).reshape(shape).to(dtype)
        elif name.endswith("position_ids"):
            out[name] = torch.arange(shape[-1]).reshape(shape).to(torch.float32)
        elif len(shape) >= 2:
            fan_in = 1
            for s in shape[1:]:
                fan_in *= s
            out[name] = torch.randn(shape, generator=gen) / fan_in ** 0.5
        elif "norm" in name and name.endswith("weight"):
            out[name] = 1 + 0.02 * torch.randn(shape, generator=gen)
        else:
            out[name] = 0.02 * torch.randn(shape, generator=gen)
    return out


def random_gligen_state(fusers: list[tuple[str, int]], seed: int = 1, gate: float = 0.5, phrase_dim: int = 768,
                        token_dim: int = 768, dtype: torch.dtype = torch.float32) -> dict[str, torch.Tensor]:
    """A text-box GLIGEN state dict with random weights and gates ``+-gate``. ``fusers`` are
    ``(prefix, width)`` with the prefix up to ``transformer_blocks``, or up to the fuser itself when it
    already names the inner block (``...transformer_blocks.3``)."""
    gen = torch.Generator().manual_seed(seed)
    sd = {}
    for prefix, d in fusers:
        if ".transformer_blocks." not in prefix:
            prefix += ".transformer_blocks.0"
        for param, shape_of in FUSER_SHAPES.items():
            shape = shape_of(d, token_dim)
            if param == "alpha_attn":
                t = torch.tensor(gate)
            elif param == "alpha_dense":
                t = torch.tensor(-gate)
            elif len(shape) == 2:
                t = torch.randn(shape, generator=gen) / shape[1] ** 0.5
            elif param.startswith("norm") and param.endswith("weight"):
                t = 1 + 0.02 * torch.randn(shape, generator=gen)
            else:
                t = 0.02 * torch.randn(shape, generator=gen)
            sd[f"{prefix}.fuser.{param}"] = t
    hidden = 512
    tok = {"null_positive_feature": torch.randn(phrase_dim, generator=gen),
           "null_position_feature": torch.randn(64, generator=gen),
           "linears.0.weight": torch.randn(hidden, phrase_dim + 64, generator=gen) / (phrase_dim + 64) ** 0.5,
           "linears.0.bias": 0.02 * torch.randn(hidden, generator=gen),
           "linears.2.weight": torch.randn(hidden, hidden, generator=gen) / hidden ** 0.5,
           "linears.2.bias": 0.02 * torch.randn(hidden, generator=gen),
           "linears.4.weight": torch.randn(token_dim, hidden, generator=gen) / hidden ** 0.5,
           "linears.4.bias": 0.02 * torch.randn(token_dim, generator=gen)}
    sd.update({f"position_net.{k}": v for k, v in tok.items()})
    return {k: v.to(dtype) for k, v in sd.items()}


def gligen_xl_fusers(width: int | None = None, names: str = "diffusers") -> list[tuple[str, int]]:
    """The 70 GLIGEN-XL fusers as ``(prefix with inner block, width)``; ``width`` overrides the real ones."""
    return [(f"{diff if names == 'diffusers' else ldm}.transformer_blocks.{j}", width or d)
            for diff, ldm, depth, d in GLIGEN_XL_BLOCKS for j in range(depth)]


def build_sdxl_checkpoint(path: str, seed: int = 0) -> None:
    """A complete SDXL-family checkpoint (small UNet, real CLIP-L + CLIP-G, VAE) ComfyUI detects as SDXL."""
    import comfy.sdxl_clip
    import comfy.supported_models
    clip = comfy.sdxl_clip.SDXLClipModel(device="meta", dtype=torch.float16)
    clip_tensors = comfy.supported_models.SDXL({}).process_clip_state_dict_for_saving(_randomize_meta(clip, seed + 1))
    _write_checkpoint(path, SDXL_UNET_CONFIG, clip_tensors, seed)


def gligen_xl_for(path: str, seed: int = 1, gate: float = 0.5, dtype: torch.dtype = torch.float16) -> None:
    """A GLIGEN-XL adapter in the exact published key layout (diffusers names, 70 fusers, 2048-d
    phrase features and tokens), at the demo SDXL UNet's width (320)."""
    from safetensors.torch import save_file
    save_file(random_gligen_state(gligen_xl_fusers(320), seed=seed, gate=gate, phrase_dim=2048, token_dim=2048,
                                  dtype=dtype), path)


def gligen_for(path: str, seed: int = 1, gate: float = 0.5, dtype: torch.dtype = torch.float32) -> None:
    """The demo GLIGEN file: one fuser per transformer block of the demo UNet."""
    from safetensors.torch import save_file
    save_file(random_gligen_state(TINY_FUSERS, seed=seed, gate=gate, dtype=dtype), path)


def cached(name: str, build, *args, **kwargs) -> str:
    """Path of ``name`` in the cache, built once with ``build(path, ...)``."""
    tag = hashlib.sha1(repr((VERSION, name, args, sorted(kwargs.items()))).encode()).hexdigest()[:10]
    path = os.path.join(cache_dir(), f"{os.path.splitext(name)[0]}-{tag}{os.path.splitext(name)[1]}")
    if not os.path.exists(path):
        tmp = path + ".part"
        build(tmp, *args, **kwargs)
        os.replace(tmp, path)
    return path
