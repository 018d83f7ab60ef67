"""Random GLIGEN weights of the text-image and inpainting releases, in their published key layouts
(KEYS.md "Other variants", GLIGEN spec 2.2 / 5 / 7), written out independently of the pack."""
from __future__ import annotations

import torch

from helpers.gligen_files import SD1_FUSERS, pruned_state


def text_image_tokenizer_tensors(phrase_dim: int, token_dim: int, gen: torch.Generator,
                                 hidden: int = 512) -> dict[str, torch.Tensor]:
    """``linears_text.{0,2,4}``, ``linears_image.{0,2,4}``, three null features: the official 15 tensors."""
    def w(*shape):
        return torch.randn(*shape, generator=gen) * (1.0 / shape[-1] ** 0.5)

    out = {"null_text_feature": torch.randn(phrase_dim, generator=gen),
           "null_image_feature": torch.randn(phrase_dim, generator=gen),
           "null_position_feature": torch.randn(64, generator=gen)}
    for mlp in ("linears_text", "linears_image"):
        out.update({f"{mlp}.0.weight": w(hidden, phrase_dim + 64), f"{mlp}.0.bias": torch.randn(hidden, generator=gen) * 0.02,
                    f"{mlp}.2.weight": w(hidden, hidden), f"{mlp}.2.bias": torch.randn(hidden, generator=gen) * 0.02,
                    f"{mlp}.4.weight": w(token_dim, hidden), f"{mlp}.4.bias": torch.randn(token_dim, generator=gen) * 0.02})
    return out


def sd1_text_image_state(scale: int = 10, seed: int = 0, phrase_dim: int = 768, token_dim: int = 768,
                         hidden: int = 512, gate: float = 0.5) -> dict[str, torch.Tensor]:
    """The pruned text-image-box file: 16 fusers + the 15 text-image ``position_net`` tensors."""
    sd = pruned_state([(ldm, d // scale) for ldm, _, d in SD1_FUSERS], seed=seed, phrase_dim=phrase_dim,
                      token_dim=token_dim, hidden=hidden, gate=gate)
    sd = {k: v for k, v in sd.items() if not k.startswith("position_net.")}
    gen = torch.Generator().manual_seed(seed + 1000)
    sd.update({f"position_net.{k}": v for k, v in text_image_tokenizer_tensors(phrase_dim, token_dim, gen, hidden).items()})
    return sd


def with_inpainting_conv(sd: dict[str, torch.Tensor], width: int, seed: int = 0,
                         key: str = "input_blocks.0.0.weight") -> dict[str, torch.Tensor]:
    """``sd`` plus the inpainting models' 9-channel first conv ``[width, 9, 3, 3]`` (diffusers: ``conv_in.weight``)."""
    gen = torch.Generator().manual_seed(seed + 2000)
    return {**sd, key: torch.randn(width, 9, 3, 3, generator=gen) * 0.1}


def diffusers_names(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The same tensors under diffusers UNet names (``down_blocks...``, ``conv_in.weight``)."""
    table = {ldm: diff for ldm, diff, _ in SD1_FUSERS}
    out = {}
    for k, v in sd.items():
        if k.startswith("position_net."):
            out[k] = v
        elif k == "input_blocks.0.0.weight":
            out["conv_in.weight"] = v
        else:
            ldm, rest = k.split(".transformer_blocks.", 1)
            out[f"{table[ldm]}.transformer_blocks.{rest}"] = v
    out["down_blocks.0.resnets.0.conv1.weight"] = torch.zeros(8, 8, 3, 3)
    out["down_blocks.0.resnets.1.conv1.weight"] = torch.zeros(8, 8, 3, 3)
    return out


def official_checkpoint(sd: dict[str, torch.Tensor], base_channels: int = 4) -> dict:
    """A training checkpoint (``model`` next to frozen UNet weights); the first conv, when ``sd`` has
    none, is SD's 4-channel one."""
    model = dict(sd)
    width = next(v.shape[0] for k, v in sd.items() if k.startswith("input_blocks.1.1.") and k.endswith("linear.weight"))
    model.setdefault("input_blocks.0.0.weight", torch.zeros(width, base_channels, 3, 3))
    model["input_blocks.0.0.bias"] = torch.zeros(width)
    model["time_embed.0.weight"] = torch.zeros(8, 8)
    model["out.2.weight"] = torch.zeros(4, 8, 3, 3)
    return {"model": model, "autoencoder": {}, "text_encoder": {}, "diffusion": {}, "iters": 1}


def tiny_variant_for(path: str, family: str = "text-box", inpainting: bool = False, seed: int = 1,
                     gate: float = 0.5) -> None:
    """A GLIGEN file of ``family`` (and its inpainting model) for the tiny demo SD1 UNet (first width 320)."""
    from safetensors.torch import save_file
    from gligen_pack.runner.demo_models import TINY_FUSERS, random_gligen_state
    sd = random_gligen_state(TINY_FUSERS, seed=seed, gate=gate)
    if family == "text-image-box":
        sd = {k: v for k, v in sd.items() if not k.startswith("position_net.")}
        gen = torch.Generator().manual_seed(seed + 1000)
        sd.update({f"position_net.{k}": v for k, v in text_image_tokenizer_tensors(768, 768, gen).items()})
    if inpainting:
        sd = with_inpainting_conv(sd, 320, seed)
    save_file(sd, path)
