"""The text + image + box family (``position_net`` of gligen-generation-text-image-box and of diffusers'
``GLIGENTextBoundingboxProjection(feature_type="text-image")``; GLIGEN spec section 2.2).

Each box slot gives two tokens, one from its phrase and one from its reference image, through two MLPs
of the same shape that share the Fourier box embedding: ``[30 text tokens ; 30 image tokens]``. The
box mask replaces the position embedding by ``null_position_feature``, the text mask the phrase
feature by ``null_text_feature`` and the image mask the image feature by ``null_image_feature``, each
blended as floats, so an entry may carry a phrase, an image or both.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from .._ops import CAST_OPS, Ops, _like
from ..fourier import DEFAULT_FREQS, embedding_dim, fourier_embed
from .base import MAX_OBJECTS, FamilyLayout, Shape, TokenizerBase
from .text_box import TokenizerShape, box_mlp, mlp_shapes, read_box_shape

KIND = "text-image-box"


@dataclass(frozen=True)
class BoxSlots:
    """One conditioning's box slots as the text-image tokenizer reads them (each ``[1, S, ...]``)."""
    boxes: torch.Tensor
    masks: torch.Tensor
    text_masks: torch.Tensor
    image_masks: torch.Tensor
    text_features: torch.Tensor
    image_features: torch.Tensor


class TextImageTokenizer(TokenizerBase):
    kind = KIND
    input_kind = "boxes"

    def __init__(self, in_dim: int = 768, out_dim: int = 768, fourier_freqs: int = DEFAULT_FREQS,
                 hidden_dim: int = 512, ops: Ops = CAST_OPS) -> None:
        super().__init__()
        self.in_dim = in_dim
        self.out_dim = out_dim
        self.fourier_freqs = fourier_freqs
        self.position_dim = embedding_dim(4, fourier_freqs)
        self.linears_text = box_mlp(in_dim + self.position_dim, hidden_dim, out_dim, ops)
        self.linears_image = box_mlp(in_dim + self.position_dim, hidden_dim, out_dim, ops)
        self.null_text_feature = nn.Parameter(torch.zeros(in_dim))
        self.null_image_feature = nn.Parameter(torch.zeros(in_dim))
        self.null_position_feature = nn.Parameter(torch.zeros(self.position_dim))

    def forward(self, boxes: torch.Tensor, masks: torch.Tensor, text_masks: torch.Tensor, image_masks: torch.Tensor,
                text_features: torch.Tensor, image_features: torch.Tensor) -> torch.Tensor:
        """``boxes [B, M, 4]``, the three masks ``[B, M]``, both features ``[B, M, in_dim]`` -> tokens
        ``[B, 2M, out_dim]`` (text tokens first) in the dtype of ``text_features``."""
        dt = text_features.dtype

        def blend(x: torch.Tensor, mask: torch.Tensor, null: torch.Tensor) -> torch.Tensor:
            m = mask.unsqueeze(-1).to(dt)
            return x * m + (1 - m) * _like(null, x)

        position = blend(fourier_embed(boxes.to(dt), self.fourier_freqs), masks, self.null_position_feature)
        text = blend(text_features, text_masks, self.null_text_feature)
        image = blend(image_features.to(dt), image_masks, self.null_image_feature)
        return torch.cat((self.linears_text(torch.cat((text, position), dim=-1)),
                          self.linears_image(torch.cat((image, position), dim=-1))), dim=1)

    def _run(self, s: BoxSlots, device: torch.device | str, dtype: torch.dtype) -> torch.Tensor:
        with torch.no_grad():
            return self(*(t.to(device, dtype) for t in (s.boxes, s.masks, s.text_masks, s.image_masks,
                                                          s.text_features, s.image_features)))

    def tokens(self, grounding: Any | None, device: torch.device | str, dtype: torch.dtype) -> torch.Tensor:
        """Tokens ``[1, 60, C]`` of a ``Grounding`` (phrase and image features, boxes); None: null tokens.
        A grounding without image features (text-only boxes) runs with null image features, as trained."""
        return self._run(empty_slots(self.in_dim) if grounding is None else grounding.box_slots(MAX_OBJECTS),
                         device, dtype)

    def null_tokens(self, batch: int = 1, dtype: torch.dtype = torch.float32,
                    device: torch.device | str = "cpu") -> torch.Tensor:
        return self._run(empty_slots(self.in_dim), device, dtype).expand(batch, -1, -1)


def empty_slots(dim: int, slots: int = MAX_OBJECTS) -> BoxSlots:
    z = torch.zeros(1, slots)
    return BoxSlots(torch.zeros(1, slots, 4), z, z, z, torch.zeros(1, slots, dim), torch.zeros(1, slots, dim))


def expected(t: TokenizerShape) -> dict[str, Shape]:
    p = embedding_dim(4, t.fourier_freqs)
    return {"null_text_feature": (t.in_dim,), "null_image_feature": (t.in_dim,), "null_position_feature": (p,),
            **mlp_shapes("linears_text", t.in_dim + p, t.hidden_dim, t.out_dim),
            **mlp_shapes("linears_image", t.in_dim + p, t.hidden_dim, t.out_dim)}


LAYOUT = FamilyLayout(
    kind=KIND,
    title="a text+image GLIGEN (gligen-generation-text-image-box)",
    markers=("null_text_feature", "null_image_feature", "linears_text.", "linears_image."),
    read_shape=lambda shapes, problems: read_box_shape(shapes, problems, "phrase", "null_text_feature",
                                                       "linears_text.0.weight", "linears_text.4.weight"),
    expected=expected,
    build=lambda t, ops: TextImageTokenizer(t.in_dim, t.out_dim, t.fourier_freqs, t.hidden_dim, ops),
)
