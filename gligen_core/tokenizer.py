"""The text-box grounding tokenizer (``position_net``, GLIGEN spec section 2.1).

One token per slot: ``MLP([phrase feature ; Fourier(box)])``. Empty slots (mask 0) use the learned
null phrase feature and null position feature instead; masks are blended as floats, as in the
official code. Parameter names match the published files (``linears.0/2/4``, ``null_*``).
"""
from __future__ import annotations

import torch
from torch import nn

from ._ops import CAST_OPS, Ops, _like
from .fourier import DEFAULT_FREQS, embedding_dim, fourier_embed

MAX_OBJECTS = 30  # slots every released text-box GLIGEN was trained with


class TextBoxTokenizer(nn.Module):
    def __init__(self, in_dim: int = 768, out_dim: int = 768, fourier_freqs: int = DEFAULT_FREQS,
                 hidden_dim: int = 512, ops: Ops = CAST_OPS) -> None:
        super().__init__()
        self.in_dim = in_dim
        self.out_dim = out_dim
        self.fourier_freqs = fourier_freqs
        self.position_dim = embedding_dim(4, fourier_freqs)
        self.linears = nn.Sequential(
            ops.Linear(in_dim + self.position_dim, hidden_dim),
            nn.SiLU(),
            ops.Linear(hidden_dim, hidden_dim),
            nn.SiLU(),
            ops.Linear(hidden_dim, out_dim),
        )
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

    def null_tokens(self, batch: int = 1, slots: int = MAX_OBJECTS, dtype: torch.dtype = torch.float32,
                    device: torch.device | str = "cpu") -> torch.Tensor:
        """Tokens of the "null grounding input": every slot empty (CFG's unconditional branch)."""
        zeros = torch.zeros(batch, slots, 4, dtype=dtype, device=device)
        return self(zeros, torch.zeros(batch, slots, dtype=dtype, device=device),
                    torch.zeros(batch, slots, self.in_dim, dtype=dtype, device=device))
