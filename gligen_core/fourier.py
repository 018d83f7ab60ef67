"""Fourier embedding of box coordinates (GLIGEN spec section 2.1).

For frequencies ``f_k = temperature ** (k / num_freqs)``, k = 0..num_freqs-1, the embedding of
coordinates ``c_0..c_{C-1}`` is, frequency by frequency:
``sin(f_k c_0) .. sin(f_k c_{C-1}), cos(f_k c_0) .. cos(f_k c_{C-1})``,
so output index ``2*C*k + C*s + j`` holds ``(sin, cos)[s](f_k * c_j)``. No 2*pi factor.
"""
from __future__ import annotations

import torch

DEFAULT_FREQS = 8
DEFAULT_TEMPERATURE = 100.0


def fourier_frequencies(num_freqs: int = DEFAULT_FREQS, temperature: float = DEFAULT_TEMPERATURE,
                        device: torch.device | None = None) -> torch.Tensor:
    """The ``num_freqs`` float32 frequencies, computed as the official code does."""
    return temperature ** (torch.arange(num_freqs, device=device) / num_freqs)


@torch.no_grad()
def fourier_embed(coords: torch.Tensor, num_freqs: int = DEFAULT_FREQS,
                  temperature: float = DEFAULT_TEMPERATURE) -> torch.Tensor:
    """Embed ``coords`` (``[..., C]``) into ``[..., num_freqs * 2 * C]``."""
    freqs = fourier_frequencies(num_freqs, temperature, coords.device).to(coords.dtype)
    angles = coords.unsqueeze(-2) * freqs.unsqueeze(-1)          # [..., F, C]
    return torch.stack((angles.sin(), angles.cos()), dim=-2).flatten(-3)  # [..., F, 2, C] -> [..., 2FC]


def embedding_dim(num_coords: int = 4, num_freqs: int = DEFAULT_FREQS) -> int:
    return num_freqs * 2 * num_coords
