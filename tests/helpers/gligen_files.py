"""Random GLIGEN weights in the real key layouts (KEYS.md), written out independently of the pack.

Widths can be reduced (``scale``) to keep the tests fast: the loader derives every width from the
tensors, so a 32/64/128-wide file exercises the same code as the 320/640/1280 release.
"""
from __future__ import annotations

import json
import os

import torch
from safetensors.torch import save_file

# (LDM prefix, diffusers prefix, width) of the 16 SD1.x fusers, in ComfyUI transformer_index order.
SD1_FUSERS = [
    ("input_blocks.1.1", "down_blocks.0.attentions.0", 320),
    ("input_blocks.2.1", "down_blocks.0.attentions.1", 320),
    ("input_blocks.4.1", "down_blocks.1.attentions.0", 640),
    ("input_blocks.5.1", "down_blocks.1.attentions.1", 640),
    ("input_blocks.7.1", "down_blocks.2.attentions.0", 1280),
    ("input_blocks.8.1", "down_blocks.2.attentions.1", 1280),
    ("middle_block.1", "mid_block.attentions.0", 1280),
    ("output_blocks.3.1", "up_blocks.1.attentions.0", 1280),
    ("output_blocks.4.1", "up_blocks.1.attentions.1", 1280),
    ("output_blocks.5.1", "up_blocks.1.attentions.2", 1280),
    ("output_blocks.6.1", "up_blocks.2.attentions.0", 640),
    ("output_blocks.7.1", "up_blocks.2.attentions.1", 640),
    ("output_blocks.8.1", "up_blocks.2.attentions.2", 640),
    ("output_blocks.9.1", "up_blocks.3.attentions.0", 320),
    ("output_blocks.10.1", "up_blocks.3.attentions.1", 320),
    ("output_blocks.11.1", "up_blocks.3.attentions.2", 320),
]


def fuser_tensors(d: int, c: int, gen: torch.Generator, gate: float = 0.5) -> dict[str, torch.Tensor]:
    def w(*shape):
        return torch.randn(*shape, generator=gen) * (1.0 / shape[-1] ** 0.5)

    def b(n):
        return torch.randn(n, generator=gen) * 0.02

    return {
        "linear.weight": w(d, c), "linear.bias": b(d),
        "attn.to_q.weight": w(d, d), "attn.to_k.weight": w(d, d), "attn.to_v.weight": w(d, d),
        "attn.to_out.0.weight": w(d, d), "attn.to_out.0.bias": b(d),
        "ff.net.0.proj.weight": w(8 * d, d), "ff.net.0.proj.bias": b(8 * d),
        "ff.net.2.weight": w(d, 4 * d), "ff.net.2.bias": b(d),
        "norm1.weight": 1 + b(d), "norm1.bias": b(d), "norm2.weight": 1 + b(d), "norm2.bias": b(d),
        "alpha_attn": torch.tensor(gate), "alpha_dense": torch.tensor(-gate),
    }


def tokenizer_tensors(phrase_dim: int, token_dim: int, gen: torch.Generator, hidden: int = 512) -> dict[str, torch.Tensor]:
    def w(*shape):
        return torch.randn(*shape, generator=gen) * (1.0 / shape[-1] ** 0.5)
    return {
        "null_positive_feature": torch.randn(phrase_dim, generator=gen),
        "null_position_feature": torch.randn(64, generator=gen),
        "linears.0.weight": w(hidden, phrase_dim + 64), "linears.0.bias": torch.randn(hidden, generator=gen) * 0.02,
        "linears.2.weight": w(hidden, hidden), "linears.2.bias": torch.randn(hidden, generator=gen) * 0.02,
        "linears.4.weight": w(token_dim, hidden), "linears.4.bias": torch.randn(token_dim, generator=gen) * 0.02,
    }


def pruned_state(fusers: list[tuple[str, int]], seed: int = 0, phrase_dim: int = 768, token_dim: int = 768,
                 dtype: torch.dtype = torch.float32, gate: float = 0.5, hidden: int = 512) -> dict[str, torch.Tensor]:
    """ComfyUI pruned layout: ``<ldm prefix>.transformer_blocks.0.fuser.*`` + ``position_net.*``."""
    gen = torch.Generator().manual_seed(seed)
    sd = {}
    for prefix, d in fusers:
        for k, v in fuser_tensors(d, token_dim, gen, gate).items():
            sd[f"{prefix}.transformer_blocks.0.fuser.{k}"] = v
    for k, v in tokenizer_tensors(phrase_dim, token_dim, gen, hidden).items():
        sd[f"position_net.{k}"] = v
    return {k: v.to(dtype) for k, v in sd.items()}


def sd1_pruned_state(scale: int = 10, **kw) -> dict[str, torch.Tensor]:
    """All 280 tensors of the SD1.x text-box file; widths divided by ``scale``."""
    return pruned_state([(ldm, d // scale) for ldm, _, d in SD1_FUSERS], **kw)


def to_diffusers(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The same tensors under diffusers UNet names, plus a few frozen UNet weights."""
    table = {ldm: diff for ldm, diff, _ in SD1_FUSERS}
    out = {}
    for k, v in sd.items():
        if k.startswith("position_net."):
            out[k] = v
        else:
            ldm, rest = k.split(".transformer_blocks.", 1)
            out[f"{table[ldm]}.transformer_blocks.{rest}"] = v
    out["conv_in.weight"] = torch.zeros(8, 4, 3, 3)
    out["down_blocks.0.resnets.0.conv1.weight"] = torch.zeros(8, 8, 3, 3)
    out["down_blocks.0.resnets.1.conv1.weight"] = torch.zeros(8, 8, 3, 3)
    out["down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.weight"] = torch.zeros(8, 8)
    return out


def to_official(sd: dict[str, torch.Tensor]) -> dict:
    """A training checkpoint: the tensors inside ``model`` next to frozen UNet weights, plus the
    other top-level entries the official trainer writes."""
    model = dict(sd)
    model["input_blocks.0.0.weight"] = torch.zeros(8, 4, 3, 3)
    model["input_blocks.0.0.bias"] = torch.zeros(8)
    model["time_embed.0.weight"] = torch.zeros(8, 8)
    model["input_blocks.1.1.transformer_blocks.0.attn1.to_q.weight"] = torch.zeros(8, 8)
    model["out.2.weight"] = torch.zeros(4, 8, 3, 3)
    return {"model": model, "autoencoder": {"encoder.conv_in.weight": torch.zeros(2, 3, 3, 3)},
            "text_encoder": {}, "diffusion": {"betas": torch.linspace(0.1, 0.2, 4)}, "iters": 500000}


def write_shards(sd: dict[str, torch.Tensor], folder, parts: int = 3, stem: str = "diffusion_pytorch_model") -> dict[str, str]:
    """Write ``sd`` as a sharded safetensors UNet (``stem-0000k-of-0000n.safetensors`` and
    ``stem.safetensors.index.json``) into ``folder``; returns the weight_map (key -> shard name)."""
    keys = sorted(sd)
    weight_map = {}
    for i in range(parts):
        name = f"{stem}-{i + 1:05d}-of-{parts:05d}.safetensors"
        chunk = {k: sd[k] for k in keys[i::parts]}
        save_file(chunk, os.path.join(str(folder), name))
        weight_map.update({k: name for k in chunk})
    write_index(folder, weight_map, stem)
    return weight_map


def write_index(folder, weight_map: dict, stem: str = "diffusion_pytorch_model") -> str:
    path = os.path.join(str(folder), f"{stem}.safetensors.index.json")
    with open(path, "w") as f:
        json.dump({"metadata": {}, "weight_map": weight_map}, f)
    return path


def set_header_metadata(path, value) -> None:
    """Replace the ``__metadata__`` entry of a safetensors header with any JSON ``value`` (the library
    itself only writes a table of text); the tensors are left as they are."""
    with open(path, "rb") as f:
        data = f.read()
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + n])
    header["__metadata__"] = value
    raw = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(len(raw).to_bytes(8, "little") + raw + data[8 + n:])
