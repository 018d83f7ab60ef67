"""A GLIGEN adapter: every fuser of a file, addressed by UNet position, its grounding tokenizer (of one
family, see ``tokenizers``) and, for inpainting and spatial-map models, its first conv's extra channels.

Widths come from the weights: each fuser's width ``d`` and token width ``c`` from its ``linear``, the
tokenizer's sizes from its tensors. Head counts cannot be read from weights; a fuser uses the heads
of the transformer block it sits in (the patch passes them per call). ``default_heads`` is only the
fallback for standalone use: 8 for 768-wide tokens (SD1.x), ``d / 64`` otherwise (ComfyUI's rule).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ._ops import CAST_OPS, Ops
from .first_conv import FirstConvExtra, FirstConvShape
from .fuser import GatedSelfAttention
from .positions import BlockPosition
from .tokenizers import FAMILIES
from .tokenizers.text_box import KIND as TEXT_BOX, TokenizerShape


def default_heads(dim: int, context_dim: int) -> int:
    if context_dim == 768:
        return 8
    return max(1, dim // 64)


def family_of(token_dim: int) -> str:
    """The base-model family a grounding-token width belongs to."""
    return {768: "SD1.x", 1024: "SD2.x", 2048: "SDXL"}.get(token_dim, f"an unknown family ({token_dim}-wide tokens)")


# The square canvas a family's base models generate at; SD2.x has none (its base models are 512, its v models 768).
NATIVE_CANVAS: dict[str, int] = {"SD1.x": 512, "SDXL": 1024}


@dataclass(frozen=True)
class AdapterShape:
    """Everything needed to build an empty adapter; read off a file's tensors by the loader."""
    fusers: dict[BlockPosition, int]           # position -> width d
    token_dim: int                              # c: tokenizer output = every fuser's linear input
    tokenizer: Any                              # the family's shape (``TokenizerShape`` for box families)
    family: str = TEXT_BOX                      # the grounding family: a key of ``tokenizers.FAMILIES``
    first_conv: FirstConvShape | None = None    # the widened first conv of inpainting / spatial-map models

    @property
    def inpainting(self) -> bool:
        return self.first_conv is not None and self.first_conv.inpaint_channels > 0

    @property
    def kind(self) -> str:
        """The adapter's kind as the official release names it: 'text-box', 'inpainting text-image-box' ..."""
        return f"inpainting {self.family}" if self.inpainting else self.family


class GLIGENAdapter(nn.Module):
    """``ops`` builds the layers with weights (see ``_ops``); a host passes its own to cast and
    offload them itself. ``rebuilt`` makes the same adapter with other ops and dtype."""

    def __init__(self, shape: AdapterShape, ops: Ops = CAST_OPS) -> None:
        super().__init__()
        self.shape = shape
        self.fusers = nn.ModuleDict({
            pos.module_key: GatedSelfAttention(d, shape.token_dim, default_heads(d, shape.token_dim), ops)
            for pos, d in sorted(shape.fusers.items(), key=lambda kv: kv[0].sort_key())
        })
        self.position_net = FAMILIES[shape.family].build(shape.tokenizer, ops)
        if shape.first_conv is not None:
            self.first_conv = FirstConvExtra(shape.first_conv)
        self._by_position = {BlockPosition.from_module_key(k): m for k, m in self.fusers.items()}

    def rebuilt(self, ops: Ops, dtype: torch.dtype, device: torch.device | str = "cpu") -> "GLIGENAdapter":
        """This adapter built with ``ops``, its weights cast once to ``dtype`` on ``device``. Tensors
        already in that dtype and on that device are shared, not copied."""
        state = {k: v.to(device=device, dtype=dtype) for k, v in self.state_dict().items()}
        with torch.device("meta"):
            out = GLIGENAdapter(self.shape, ops)
        out.load_state_dict(state, strict=True, assign=True)
        out.requires_grad_(False)
        return out.eval()

    @property
    def family(self) -> str:
        return family_of(self.shape.token_dim)

    @property
    def phrase_dim(self) -> int:
        return self.shape.tokenizer.in_dim

    @property
    def kind(self) -> str:
        return self.shape.kind

    @property
    def input_kind(self) -> str:
        """The ``kind`` of grounding object this adapter's tokenizer reads (``"boxes"``, ...)."""
        return self.position_net.input_kind

    @property
    def inpainting(self) -> bool:
        return self.shape.inpainting

    def tokens(self, grounding, device: torch.device | str, dtype: torch.dtype | None = None) -> torch.Tensor:
        """Tokens ``[1 or N, M, C]`` of one conditioning's grounding (None: the null grounding), in the
        tokenizer's dtype unless ``dtype`` is given."""
        dtype = dtype or next(self.position_net.parameters()).dtype
        return self.position_net.tokens(grounding, device, dtype)

    def first_conv_input(self, grounding, inpaint, size: tuple[int, int], device: torch.device | str,
                         dtype: torch.dtype) -> torch.Tensor | None:
        """The first conv's extra input ``[1, E, h, w]`` for a latent of ``size``, in the official order
        ``[family's channels ; inpainting channels]``; None when the adapter adds no channels.
        ``inpaint`` is an object with ``channels(size, device, dtype) -> [1, 5, h, w]`` (``InpaintInput``)."""
        fc = self.shape.first_conv
        if fc is None:
            return None
        parts = []
        if fc.family_channels:
            parts.append(self.position_net.first_conv_input(grounding, size, device, dtype))
        if fc.inpaint_channels:
            parts.append(inpaint.channels(size, device, dtype))
        return torch.cat(parts, dim=1)

    def positions(self) -> list[BlockPosition]:
        return list(self._by_position)

    def fuser_at(self, position: BlockPosition) -> GatedSelfAttention | None:
        return self._by_position.get(position)

    def fuser_table(self) -> dict[tuple[str, int, int], GatedSelfAttention]:
        """The fusers keyed by plain ``(part, block, inner)`` tuples: the address a host's transformer
        block gives, cheap to look up inside a compiled graph."""
        return {tuple(pos): m for pos, m in self._by_position.items()}

    def widths(self) -> list[int]:
        return sorted(set(self.shape.fusers.values()))

    def describe(self) -> str:
        n = sum(p.numel() for p in self.parameters())
        dtype = next(self.parameters()).dtype
        source = (f"{self.phrase_dim}-d phrase features" if self.input_kind == "boxes" else self.input_kind)
        return (f"{self.family} {self.kind} GLIGEN: {len(self.fusers)} fusers (widths "
                f"{'/'.join(map(str, self.widths()))}), {self.shape.token_dim}-d tokens from "
                f"{source}, {n:,} parameters, {str(dtype).replace('torch.', '')}")

    def canonical_state_dict(self) -> dict[str, torch.Tensor]:
        """Tensors under the ComfyUI pruned (LDM) names, the format this pack writes."""
        out: dict[str, torch.Tensor] = {}
        for pos, fuser in self._by_position.items():
            for name, t in fuser.state_dict().items():
                out[f"{pos.ldm_prefix()}.fuser.{name}"] = t
        extra = FAMILIES[self.shape.family].extra_prefixes
        for name, t in self.position_net.state_dict().items():
            out[name if name.startswith(extra) else f"position_net.{name}"] = t
        if self.shape.first_conv is not None:
            out["input_blocks.0.0.weight"] = self.first_conv.weight
        return out
