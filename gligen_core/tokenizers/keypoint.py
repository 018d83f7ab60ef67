"""The keypoint grounding tokenizer (``position_net`` of ``gligen-generation-keypoint``, GLIGEN spec 2.3).

136 tokens = 8 person slots x 17 COCO keypoints, person-major (token ``17 p + k`` is keypoint k of
person p). A token's semantic part is a learned identity, ``person_embeddings[p] +
keypoint_embeddings[k]``; its spatial part is the Fourier embedding of the point's normalised
``(x, y)``. Where the mask is 0 (absent point or empty person slot) they are replaced by the learned
``null_person_feature`` and ``null_xy_feature`` (masks blend as floats). Then
``linears``: (768 + 32) -> 512 -> 512 -> 768 with SiLU. Parameter names are the released ones.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from .._ops import CAST_OPS, Ops, _like
from ..fourier import DEFAULT_FREQS, embedding_dim, fourier_embed
from .base import FamilyLayout, Shape, TokenizerBase

PERSONS = 8          # person slots the released model was trained with
KEYPOINTS = 17       # COCO keypoints per person
TOKENS = PERSONS * KEYPOINTS


def keypoint_shapes(persons: int = PERSONS, out_dim: int = 768, hidden: int = 512,
                    fourier_freqs: int = DEFAULT_FREQS) -> dict[str, tuple[int, ...]]:
    """Every tensor of the tokenizer (names below ``position_net.``) with its shape."""
    p = embedding_dim(2, fourier_freqs)
    return {
        "person_embeddings": (persons, out_dim), "keypoint_embeddings": (KEYPOINTS, out_dim),
        "null_person_feature": (out_dim,), "null_xy_feature": (p,),
        "linears.0.weight": (hidden, out_dim + p), "linears.0.bias": (hidden,),
        "linears.2.weight": (hidden, hidden), "linears.2.bias": (hidden,),
        "linears.4.weight": (out_dim, hidden), "linears.4.bias": (out_dim,),
    }


KIND = "keypoint"


class KeypointTokenizer(TokenizerBase):
    """``kind``, ``input_kind``, ``tokens`` and ``null_tokens`` follow the tokenizer protocol of
    ``gligen_core.tokenizers`` (the grounding it reads is a ``pose.PoseGrounding``)."""

    kind = KIND
    input_kind = "keypoints"
    extra_channels = 0

    def __init__(self, persons: int = PERSONS, out_dim: int = 768, hidden: int = 512,
                 fourier_freqs: int = DEFAULT_FREQS, ops: Ops = CAST_OPS) -> None:
        super().__init__()
        self.persons, self.out_dim, self.fourier_freqs = persons, out_dim, fourier_freqs
        self.position_dim = embedding_dim(2, fourier_freqs)
        self.person_embeddings = nn.Parameter(torch.zeros(persons, out_dim))
        self.keypoint_embeddings = nn.Parameter(torch.zeros(KEYPOINTS, out_dim))
        self.linears = nn.Sequential(
            ops.Linear(out_dim + self.position_dim, hidden), nn.SiLU(),
            ops.Linear(hidden, hidden), nn.SiLU(),
            ops.Linear(hidden, out_dim))
        self.null_person_feature = nn.Parameter(torch.zeros(out_dim))
        self.null_xy_feature = nn.Parameter(torch.zeros(self.position_dim))

    @property
    def num_tokens(self) -> int:
        return self.persons * KEYPOINTS

    def forward(self, points: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        """``points [B, persons*17, 2]`` normalised (x, y), ``masks [B, persons*17]`` ->
        ``[B, persons*17, out_dim]`` in the dtype of ``points``."""
        b, n, _ = points.shape
        if n != self.num_tokens:
            raise ValueError(f"keypoint tokenizer: got {n} points, expected {self.num_tokens} "
                             f"({self.persons} persons x {KEYPOINTS} keypoints)")
        dtype = points.dtype
        identity = (_like(self.person_embeddings, points)[:, None, :]
                    + _like(self.keypoint_embeddings, points)[None, :, :]).reshape(1, n, self.out_dim)
        m = masks.to(dtype).unsqueeze(-1)
        identity = identity * m + (1 - m) * _like(self.null_person_feature, points)
        xy = fourier_embed(points, self.fourier_freqs)
        xy = xy * m + (1 - m) * _like(self.null_xy_feature, points)
        return self.linears(torch.cat((identity.expand(b, n, self.out_dim), xy), dim=-1)).to(dtype)

    def null_tokens(self, batch: int = 1, dtype: torch.dtype = torch.float32,
                    device: torch.device | str = "cpu") -> torch.Tensor:
        """Tokens of the null input (every point absent): CFG's unconditional branch."""
        return self(torch.zeros(batch, self.num_tokens, 2, dtype=dtype, device=device),
                    torch.zeros(batch, self.num_tokens, dtype=dtype, device=device))

    def tokens(self, grounding: Any | None, device: torch.device | str, dtype: torch.dtype) -> torch.Tensor:
        """Tokens ``[1 or N, 136, C]`` of a ``PoseGrounding`` (one pose, or one per latent); None: null."""
        if grounding is None:
            return self.null_tokens(1, dtype, device)
        points, masks = grounding.slots(self.persons)
        with torch.no_grad():
            return self(points.to(device, dtype), masks.to(device, dtype))

    def first_conv_input(self, grounding: Any | None, size: tuple[int, int], device: torch.device | str,
                         dtype: torch.dtype) -> torch.Tensor | None:
        return None


@dataclass(frozen=True)
class KeypointShape:
    persons: int
    out_dim: int
    hidden: int
    fourier_freqs: int

    @property
    def in_dim(self) -> int:
        """The semantic part's width (the learned person + keypoint identity)."""
        return self.out_dim


def read_keypoint_shape(shapes: dict[str, Shape], problems: list[str]) -> KeypointShape | None:
    """Sizes from ``person_embeddings [persons, C]``, ``null_xy_feature [4 * freqs]`` and the MLP."""
    need = {"person_embeddings": 2, "null_xy_feature": 1, "linears.0.weight": 2, "linears.4.weight": 2}
    for q, ndim in need.items():
        if q not in shapes:
            problems.append(f"missing tensor 'position_net.{q}'")
        elif len(shapes[q]) != ndim:
            problems.append(f"tensor 'position_net.{q}' has shape {list(shapes[q])}, expected {ndim} dimensions")
    if any(q not in shapes or len(shapes[q]) != n for q, n in need.items()):
        return None
    p = shapes["null_xy_feature"][0]
    if p % 4:
        problems.append(f"tensor 'position_net.null_xy_feature' has {p} entries; a Fourier point embedding has a "
                        f"multiple of 4 (x, y x sin/cos)")
        return None
    persons, c = shapes["person_embeddings"]
    return KeypointShape(persons, c, shapes["linears.0.weight"][0], p // 4)


LAYOUT = FamilyLayout(
    kind=KIND,
    title="a keypoint GLIGEN (gligen-generation-keypoint)",
    markers=("person_embeddings", "keypoint_embeddings", "null_person_feature", "null_xy_feature"),
    read_shape=read_keypoint_shape,
    expected=lambda t: keypoint_shapes(t.persons, t.out_dim, t.hidden, t.fourier_freqs),
    build=lambda t, ops: KeypointTokenizer(t.persons, t.out_dim, t.hidden, t.fourier_freqs, ops),
)
