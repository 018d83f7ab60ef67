"""The text-box family (``position_net`` of gligen-generation-text-box, GLIGEN spec section 2.1).

One token per slot: ``MLP([phrase feature ; Fourier(box)])``. Empty slots (mask 0) use the learned
null phrase feature and null position feature instead; masks are blended as floats, as in the
official code. Parameter names match the published files (``linears.0/2/4``, ``null_*``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from .._ops import CAST_OPS, Ops, _like
from ..errors import GLIGENError
from ..fourier import DEFAULT_FREQS, embedding_dim, fourier_embed
from .base import MAX_OBJECTS, FamilyLayout, Shape, TokenizerBase

KIND = "text-box"


@dataclass(frozen=True)
class TokenizerShape:
    in_dim: int
    out_dim: int
    hidden_dim: int
    fourier_freqs: int


def box_mlp(in_dim: int, hidden_dim: int, out_dim: int, ops: Ops) -> nn.Sequential:
    """``Linear -> SiLU -> Linear -> SiLU -> Linear``: indices 0, 2, 4 as in the published names."""
    return nn.Sequential(ops.Linear(in_dim, hidden_dim), nn.SiLU(), ops.Linear(hidden_dim, hidden_dim), nn.SiLU(),
                         ops.Linear(hidden_dim, out_dim))


class TextBoxTokenizer(TokenizerBase):
    kind = KIND
    input_kind = "boxes"

    def __init__(self, in_dim: int = 768, out_dim: int = 768, fourier_freqs: int = DEFAULT_FREQS,
                 hidden_dim: int = 512, ops: Ops = CAST_OPS) -> None:
        super().__init__()
        self.in_dim = in_dim
        self.out_dim = out_dim
        self.fourier_freqs = fourier_freqs
        self.position_dim = embedding_dim(4, fourier_freqs)
        self.linears = box_mlp(in_dim + self.position_dim, hidden_dim, out_dim, ops)
        self.null_positive_feature = nn.Parameter(torch.zeros(in_dim))
        self.null_position_feature = nn.Parameter(torch.zeros(self.position_dim))

    def forward(self, boxes: torch.Tensor, masks: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        """``boxes [B, M, 4]`` normalised xyxy, ``masks [B, M]``, ``features [B, M, in_dim]`` ->
        tokens ``[B, M, out_dim]`` in the dtype of ``features``."""
        m = masks.unsqueeze(-1).to(features.dtype)
        position = fourier_embed(boxes.to(features.dtype), self.fourier_freqs)
        null_pos = _like(self.null_position_feature, features)
        null_txt = _like(self.null_positive_feature, features)
        position = position * m + (1 - m) * null_pos
        text = features * m + (1 - m) * null_txt
        return self.linears(torch.cat((text, position), dim=-1))

    def tokens(self, grounding: Any | None, device: torch.device | str, dtype: torch.dtype) -> torch.Tensor:
        """Tokens ``[1, 30, C]`` of a ``Grounding`` (its phrase features and boxes); None: null tokens."""
        if grounding is None:
            boxes, masks, feats = torch.zeros(1, MAX_OBJECTS, 4), torch.zeros(1, MAX_OBJECTS), \
                torch.zeros(1, MAX_OBJECTS, self.in_dim)
        elif getattr(grounding, "with_images", False):
            raise GLIGENError("GLIGEN: boxes with reference images need a text-image GLIGEN "
                              "(gligen-generation-text-image-box); this one is text-box. Load a text-image file, or "
                              "remove the images from the boxes.")
        else:
            boxes, masks, feats = grounding.slots(MAX_OBJECTS)
        with torch.no_grad():
            return self(boxes.to(device, dtype), masks.to(device, dtype), feats.to(device, dtype))

    def null_tokens(self, batch: int = 1, slots: int = MAX_OBJECTS, dtype: torch.dtype = torch.float32,
                    device: torch.device | str = "cpu") -> torch.Tensor:
        """Tokens of the "null grounding input": every slot empty (CFG's unconditional branch)."""
        zeros = torch.zeros(batch, slots, 4, dtype=dtype, device=device)
        return self(zeros, torch.zeros(batch, slots, dtype=dtype, device=device),
                    torch.zeros(batch, slots, self.in_dim, dtype=dtype, device=device))


def mlp_shapes(prefix: str, i: int, h: int, o: int) -> dict[str, Shape]:
    return {f"{prefix}.0.weight": (h, i), f"{prefix}.0.bias": (h,), f"{prefix}.2.weight": (h, h),
            f"{prefix}.2.bias": (h,), f"{prefix}.4.weight": (o, h), f"{prefix}.4.bias": (o,)}


def read_box_shape(shapes: dict[str, Shape], problems: list[str], feature: str, null_feature: str,
                   first: str, last: str) -> TokenizerShape | None:
    """Sizes of a box family's tokenizer: phrase width from ``null_feature``, Fourier width from
    ``null_position_feature``, hidden and token widths from its MLP's first and last layers."""
    need = {null_feature: 0, "null_position_feature": 0, first: 0, last: 0}
    dims = {}
    for q, axis in need.items():
        s = shapes.get(q)
        if s is None or len(s) <= axis:
            problems.append(f"missing tensor 'position_net.{q}'" if s is None else
                            f"tensor 'position_net.{q}' has shape {list(s)}, which fixes no {feature} width")
        else:
            dims[q] = s[axis]
    if len(dims) < len(need):
        return None
    i, p, h, o = dims[null_feature], dims["null_position_feature"], dims[first], dims[last]
    if p % 8:
        problems.append(f"tensor 'position_net.null_position_feature' has {p} entries; a Fourier box "
                        f"embedding has a multiple of 8 (4 coordinates x sin/cos)")
        return None
    return TokenizerShape(i, o, h, p // 8)


def expected(t: TokenizerShape) -> dict[str, Shape]:
    p = embedding_dim(4, t.fourier_freqs)
    return {"null_positive_feature": (t.in_dim,), "null_position_feature": (p,),
            **mlp_shapes("linears", t.in_dim + p, t.hidden_dim, t.out_dim)}


LAYOUT = FamilyLayout(
    kind=KIND,
    title="a text-box GLIGEN (gligen-generation-text-box)",
    markers=("null_positive_feature",),
    read_shape=lambda shapes, problems: read_box_shape(shapes, problems, "phrase", "null_positive_feature",
                                                       "linears.0.weight", "linears.4.weight"),
    expected=expected,
    build=lambda t, ops: TextBoxTokenizer(t.in_dim, t.out_dim, t.fourier_freqs, t.hidden_dim, ops),
)
