"""Random keypoint and spatial-map GLIGEN weights in the released key layouts (KEYS.md "Other variants"),
written out independently of the pack.

The released map files hold a ConvNeXt-T trunk (depths 3-3-9-3, widths 96-192-384-768); ``depths`` and
``dims`` shrink it for fast tests (the loader reads them from the tensors). Everything else has the
released shapes unless a width is passed.
"""
from __future__ import annotations

import torch

from .gligen_files import fuser_tensors

# modality -> (downsampler layer 0 in-channels, hidden, extra first-conv channels); HED has no layers
DOWNSAMPLER = {"hed": (0, 0, 1), "canny": (1, 4, 8), "depth": (1, 4, 8), "normal": (3, 4, 8), "semantic": (152, 16, 8)}
CONVNEXT_T = dict(depths=(3, 3, 9, 3), dims=(96, 192, 384, 768))


def _w(gen, *shape):
    fan_in = 1
    for s in shape[1:]:
        fan_in *= s
    return torch.randn(*shape, generator=gen) / max(fan_in, 1) ** 0.5


def _b(gen, n):
    return torch.randn(n, generator=gen) * 0.02


def mlp(gen, i: int, h: int, o: int) -> dict[str, torch.Tensor]:
    return {"linears.0.weight": _w(gen, h, i), "linears.0.bias": _b(gen, h), "linears.2.weight": _w(gen, h, h),
            "linears.2.bias": _b(gen, h), "linears.4.weight": _w(gen, o, h), "linears.4.bias": _b(gen, o)}


def keypoint_tokenizer(gen, token_dim: int = 768, hidden: int = 512) -> dict[str, torch.Tensor]:
    return {"person_embeddings": torch.randn(8, token_dim, generator=gen),
            "keypoint_embeddings": torch.randn(17, token_dim, generator=gen),
            "null_person_feature": torch.randn(token_dim, generator=gen),
            "null_xy_feature": torch.randn(32, generator=gen), **mlp(gen, token_dim + 32, hidden, token_dim)}


def convnext(gen, depths, dims, in_chans: int = 3) -> dict[str, torch.Tensor]:
    """``downsample_layers.*`` and ``stages.*`` as facebookresearch/ConvNeXt names them."""
    sd = {"downsample_layers.0.0.weight": _w(gen, dims[0], in_chans, 4, 4), "downsample_layers.0.0.bias": _b(gen, dims[0]),
          "downsample_layers.0.1.weight": 1 + _b(gen, dims[0]), "downsample_layers.0.1.bias": _b(gen, dims[0])}
    for i in range(1, 4):
        sd[f"downsample_layers.{i}.0.weight"] = 1 + _b(gen, dims[i - 1])
        sd[f"downsample_layers.{i}.0.bias"] = _b(gen, dims[i - 1])
        sd[f"downsample_layers.{i}.1.weight"] = _w(gen, dims[i], dims[i - 1], 2, 2)
        sd[f"downsample_layers.{i}.1.bias"] = _b(gen, dims[i])
    for s, (n, d) in enumerate(zip(depths, dims)):
        for j in range(n):
            p = f"stages.{s}.{j}."
            sd |= {p + "dwconv.weight": _w(gen, d, 1, 7, 7), p + "dwconv.bias": _b(gen, d),
                   p + "norm.weight": 1 + _b(gen, d), p + "norm.bias": _b(gen, d),
                   p + "pwconv1.weight": _w(gen, 4 * d, d), p + "pwconv1.bias": _b(gen, 4 * d),
                   p + "pwconv2.weight": _w(gen, d, 4 * d), p + "pwconv2.bias": _b(gen, d),
                   p + "gamma": 0.5 + 0.1 * torch.randn(d, generator=gen)}
    return sd


def map_tokenizer(gen, modality: str, depths, dims, token_dim: int = 768, hidden: int = 512) -> dict[str, torch.Tensor]:
    c = dims[-1]
    sd = {f"convnext_tiny_backbone.{k}": v for k, v in convnext(gen, depths, dims).items()}
    sd |= {"pos_embedding": torch.randn(1, 64, c, generator=gen) * 0.02, "null_feature": torch.randn(c, generator=gen),
           **mlp(gen, c, hidden, token_dim)}
    if modality == "semantic":
        sd |= {"in_conv.weight": _w(gen, 3, 152, 3, 3), "in_conv.bias": _b(gen, 3)}
    return sd


def downsampler(gen, modality: str) -> dict[str, torch.Tensor]:
    cin, hidden, out = DOWNSAMPLER[modality]
    if not hidden:
        return {}
    return {"layers.0.weight": _w(gen, hidden, cin, 4, 4), "layers.0.bias": _b(gen, hidden),
            "layers.2.weight": _w(gen, out, hidden, 4, 4), "layers.2.bias": _b(gen, out)}


def first_conv(gen, modality: str, width: int = 320) -> torch.Tensor:
    """``input_blocks.0.0.weight`` of a map model: ``[width, 4 + extra, 3, 3]``."""
    return _w(gen, width, 4 + DOWNSAMPLER[modality][2], 3, 3)


def fusers(gen, blocks: list[tuple[str, int]], token_dim: int = 768, gate: float = 0.5) -> dict[str, torch.Tensor]:
    sd = {}
    for prefix, d in blocks:
        if ".transformer_blocks." not in prefix:
            prefix += ".transformer_blocks.0"
        sd |= {f"{prefix}.fuser.{k}": v for k, v in fuser_tensors(d, token_dim, gen, gate).items()}
    return sd


def keypoint_state(blocks: list[tuple[str, int]], seed: int = 0, hidden: int = 512) -> dict[str, torch.Tensor]:
    """A keypoint GLIGEN in the pruned layout: fusers + ``position_net.*``."""
    gen = torch.Generator().manual_seed(seed)
    return {**fusers(gen, blocks), **{f"position_net.{k}": v for k, v in keypoint_tokenizer(gen, hidden=hidden).items()}}


def map_state(modality: str, blocks: list[tuple[str, int]], seed: int = 0, depths=(1, 1, 1, 1), dims=(8, 8, 16, 32),
              hidden: int = 64, conv_width: int = 320) -> dict[str, torch.Tensor]:
    """A map GLIGEN in the pruned layout: fusers + ``position_net.*`` + ``downsample_net.*`` + the
    widened ``input_blocks.0.0.weight``."""
    gen = torch.Generator().manual_seed(seed)
    sd = fusers(gen, blocks)
    sd |= {f"position_net.{k}": v for k, v in map_tokenizer(gen, modality, depths, dims, hidden=hidden).items()}
    sd |= {f"downsample_net.{k}": v for k, v in downsampler(gen, modality).items()}
    sd["input_blocks.0.0.weight"] = first_conv(gen, modality, conv_width)
    return sd


def official_checkpoint(state: dict[str, torch.Tensor], conv_width: int = 320) -> dict:
    """A training checkpoint holding ``state`` inside ``model`` next to frozen UNet weights (the first
    conv's bias, time embedding, ...), as ``gligen/gligen-generation-*`` files are."""
    model = dict(state)
    model["input_blocks.0.0.bias"] = torch.zeros(conv_width)
    model.setdefault("input_blocks.0.0.weight", torch.zeros(conv_width, 4, 3, 3))
    model["time_embed.0.weight"] = torch.zeros(8, 8)
    model["input_blocks.1.1.transformer_blocks.0.attn1.to_q.weight"] = torch.zeros(8, 8)
    model["out.2.weight"] = torch.zeros(4, 8, 3, 3)
    return {"model": model, "autoencoder": {"encoder.conv_in.weight": torch.zeros(2, 3, 3, 3)},
            "text_encoder": {}, "diffusion": {"betas": torch.linspace(0.1, 0.2, 4)}, "iters": 500000}


def build_keypoint_file(path: str, blocks: list[tuple[str, int]], seed: int = 3) -> None:
    from safetensors.torch import save_file
    save_file(keypoint_state(blocks, seed), path)


def build_map_file(path: str, modality: str, blocks: list[tuple[str, int]], seed: int = 4) -> None:
    from safetensors.torch import save_file
    save_file(map_state(modality, blocks, seed), path)
