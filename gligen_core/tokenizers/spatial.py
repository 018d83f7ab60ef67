"""The spatial-map grounding tokenizer (``position_net`` of the HED, Canny, depth, normal and semantic
GLIGEN models, GLIGEN spec 2.4 (a)).

1. the map ``[B, C, H, W]`` is resized to ``resize_input`` square (nearest, as the official code's
   default ``F.interpolate``);
2. semantic only: ``in_conv`` (3x3, 152 -> 3) on the one-hot label map;
3. a ConvNeXt trunk (``convnext_tiny_backbone``) -> ``[B, 768, 8, 8]`` -> 64 tokens, row-major;
4. where ``mask[b]`` is 0 (no map) every token is the learned ``null_feature``;
5. plus the learned ``pos_embedding [1, 64, 768]`` (after the null substitution);
6. ``linears``: 768 -> 512 -> 512 -> 768 with SiLU.

Parameter names are the released ones. The token count is fixed by ``resize_input`` (256 in every
released config), so a map of any size gives 64 tokens.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .._ops import CAST_OPS, Ops, _like
from ..cast_conv import conv_ctor
from ..convnext import DOWN_FACTOR, TINY_DEPTHS, TINY_DIMS, ConvNeXtTrunk, trunk_shape, trunk_shapes
from ..downsamplers import DOWNSAMPLERS, MapDownsampler, downsampler_shapes
from ..maps import map_kind
from .base import FamilyLayout, Shape, TokenizerBase

RESIZE_INPUT = 256     # every released map config
SEMANTIC_CLASSES = 152  # one-hot channels of the semantic model (ADE20K indices 0..151)


def spatial_shapes(depths: Sequence[int] = TINY_DEPTHS, dims: Sequence[int] = TINY_DIMS, out_dim: int = 768,
                   hidden: int = 512, tokens: int = (RESIZE_INPUT // DOWN_FACTOR) ** 2,
                   semantic_classes: int | None = None) -> dict[str, tuple[int, ...]]:
    """Every tensor of the tokenizer (names below ``position_net.``) with its shape; ``semantic_classes``
    adds the semantic model's ``in_conv``."""
    c = dims[-1]
    out = {f"convnext_tiny_backbone.{k}": s for k, s in trunk_shapes(depths, dims, 3).items()}
    out |= {"pos_embedding": (1, tokens, c), "null_feature": (c,),
            "linears.0.weight": (hidden, c), "linears.0.bias": (hidden,),
            "linears.2.weight": (hidden, hidden), "linears.2.bias": (hidden,),
            "linears.4.weight": (out_dim, hidden), "linears.4.bias": (out_dim,)}
    if semantic_classes:
        out |= {"in_conv.weight": (3, semantic_classes, 3, 3), "in_conv.bias": (3,)}
    return out


class SpatialTokenizer(TokenizerBase):
    def __init__(self, depths: Sequence[int] = TINY_DEPTHS, dims: Sequence[int] = TINY_DIMS, out_dim: int = 768,
                 hidden: int = 512, resize_input: int = RESIZE_INPUT, semantic_classes: int | None = None,
                 ops: Ops = CAST_OPS) -> None:
        super().__init__()
        if resize_input % DOWN_FACTOR:
            raise ValueError(f"resize_input {resize_input} must be a multiple of {DOWN_FACTOR}")
        self.resize_input, self.out_dim = resize_input, out_dim
        self.num_tokens = (resize_input // DOWN_FACTOR) ** 2
        self.semantic_classes = semantic_classes
        if semantic_classes:
            self.in_conv = conv_ctor(ops)(semantic_classes, 3, 3, 1, 1)
        self.convnext_tiny_backbone = ConvNeXtTrunk(3, depths, dims, ops)
        c = dims[-1]
        self.pos_embedding = nn.Parameter(torch.zeros(1, self.num_tokens, c))
        self.linears = nn.Sequential(
            ops.Linear(c, hidden), nn.SiLU(), ops.Linear(hidden, hidden), nn.SiLU(), ops.Linear(hidden, out_dim))
        self.null_feature = nn.Parameter(torch.zeros(c))

    @property
    def in_channels(self) -> int:
        return self.semantic_classes or 3

    def forward(self, grounding_map: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``grounding_map [B, C, H, W]`` (RGB in [-1, 1], or the one-hot label map), ``mask [B]`` (1 =
        map given, 0 = null input) -> ``[B, 64, out_dim]``."""
        b = grounding_map.shape[0]
        x = F.interpolate(grounding_map, size=(self.resize_input, self.resize_input), mode="nearest")
        if self.semantic_classes:
            x = self.in_conv(x)
        feats = self.convnext_tiny_backbone(x).flatten(2).transpose(1, 2)       # [B, 64, c]
        m = mask.to(feats.dtype).reshape(b, 1, 1)
        feats = feats * m + (1 - m) * _like(self.null_feature, feats)
        return self.linears(feats + _like(self.pos_embedding, feats))

    def null_tokens(self, batch: int = 1, dtype: torch.dtype = torch.float32,
                    device: torch.device | str = "cpu") -> torch.Tensor:
        """Tokens of the null input (no map): ``linears(null_feature + pos_embedding)``; the trunk
        is not run."""
        null = _like(self.null_feature, torch.empty(0, dtype=dtype, device=device))
        pos = _like(self.pos_embedding, null)
        return self.linears((null + pos).expand(batch, -1, -1))


KIND = "spatial-map"
TRUNK = "convnext_tiny_backbone."


class MapGroundingNet(SpatialTokenizer):
    """A map model's ``position_net`` and its ``downsample_net`` (the extra first-conv channels) in one
    module, as the tokenizer protocol of ``gligen_core.tokenizers`` wants them: ``modality`` says which
    map, ``input_kind`` is the ``GroundingMap.kind`` it reads."""

    kind = KIND

    def __init__(self, modality: str, depths: Sequence[int] = TINY_DEPTHS, dims: Sequence[int] = TINY_DIMS,
                 out_dim: int = 768, hidden: int = 512, resize_input: int = RESIZE_INPUT, ops: Ops = CAST_OPS) -> None:
        spec = DOWNSAMPLERS[modality]
        super().__init__(depths, dims, out_dim, hidden, resize_input,
                         SEMANTIC_CLASSES if modality == "semantic" else None, ops)
        self.modality = modality
        self.input_kind = map_kind(modality)
        self.extra_channels = spec.out_channels
        self.downsample_net = MapDownsampler(spec, ops)

    def tokens(self, grounding: Any | None, device: torch.device | str, dtype: torch.dtype) -> torch.Tensor:
        """Tokens ``[1 or N, 64, C]`` of a ``GroundingMap`` (one map, or one per latent); None: null."""
        if grounding is None:
            return self.null_tokens(1, dtype, device)
        x = grounding.tokenizer_input(self.resize_input).to(device, dtype)
        with torch.no_grad():
            return self(x, torch.ones(x.shape[0], device=device, dtype=dtype))

    def first_conv_input(self, grounding: Any | None, size: tuple[int, int], device: torch.device | str,
                         dtype: torch.dtype) -> torch.Tensor | None:
        """The downsampled map ``[1 or N, extra_channels, h, w]`` for a latent of ``size``."""
        if grounding is None:
            return torch.zeros(1, self.extra_channels, *size, device=device, dtype=dtype)
        with torch.no_grad():
            return self.downsample_net(grounding.downsampler_input(size).to(device, dtype), size)


@dataclass(frozen=True)
class MapShape:
    modality: str               # "hed", "canny-depth", "normal" or "semantic", read off the tensors
    depths: tuple[int, ...]
    dims: tuple[int, ...]
    out_dim: int
    hidden: int
    resize_input: int

    @property
    def in_dim(self) -> int:
        """The semantic part's width: the trunk's feature."""
        return self.dims[-1]

    @property
    def extra_channels(self) -> int:
        return DOWNSAMPLERS[self.modality].out_channels

    def expected(self) -> dict[str, Shape]:
        tokens = (self.resize_input // DOWN_FACTOR) ** 2
        out = spatial_shapes(self.depths, self.dims, self.out_dim, self.hidden, tokens,
                             SEMANTIC_CLASSES if self.modality == "semantic" else None)
        return out | {f"downsample_net.{k}": v for k, v in downsampler_shapes(DOWNSAMPLERS[self.modality]).items()}


def map_modality(shapes: dict[str, Shape], problems: list[str]) -> str | None:
    """Which map a file is for, from its semantic ``in_conv`` and its downsampler's first layer."""
    if "in_conv.weight" in shapes:
        return "semantic"
    first = shapes.get("downsample_net.layers.0.weight")
    if first is None:
        return "hed" if not any(k.startswith("downsample_net.") for k in shapes) else None
    by_channels = {1: "canny-depth", 3: "normal"}
    if len(first) != 4 or first[1] not in by_channels:
        problems.append(f"tensor 'downsample_net.layers.0.weight' has shape {list(first)}: no released map model's "
                        f"downsampler reads {first[1] if len(first) > 1 else '?'} channels (Canny/depth 1, normal 3, "
                        f"semantic 152)")
        return None
    return by_channels[first[1]]


def read_map_shape(shapes: dict[str, Shape], problems: list[str]) -> MapShape | None:
    trunk = trunk_shape(shapes, TRUNK)
    if trunk is None:
        problems.append(f"the ConvNeXt trunk 'position_net.{TRUNK}*' is incomplete: it needs the stem "
                        f"('downsample_layers.0.0.weight'), 3 downsampling layers and blocks in each of 4 stages")
    pos = shapes.get("pos_embedding")
    for q in ("pos_embedding", "linears.0.weight", "linears.4.weight"):
        if q not in shapes:
            problems.append(f"missing tensor 'position_net.{q}'")
    modality = map_modality(shapes, problems)
    if trunk is None or modality is None or any(q not in shapes for q in ("pos_embedding", "linears.0.weight",
                                                                          "linears.4.weight")):
        if modality is None and not problems:
            problems.append("'downsample_net.layers.0.weight' is missing (the map downsampler's first layer)")
        return None
    side = math.isqrt(pos[1]) if len(pos) == 3 else 0
    if len(pos) != 3 or side * side != pos[1]:
        problems.append(f"tensor 'position_net.pos_embedding' has shape {list(pos)}; expected [1, n*n tokens, width]")
        return None
    depths, dims, _ = trunk
    return MapShape(modality, depths, dims, shapes["linears.4.weight"][0], shapes["linears.0.weight"][0],
                    side * DOWN_FACTOR)


LAYOUT = FamilyLayout(
    kind=KIND,
    title="a spatial-map GLIGEN (gligen-generation-hed, -canny, -depth, -normal or -sem)",
    markers=(TRUNK, "pos_embedding", "null_feature"),
    read_shape=read_map_shape,
    expected=lambda t: t.expected(),
    build=lambda t, ops: MapGroundingNet(t.modality, t.depths, t.dims, t.out_dim, t.hidden, t.resize_input, ops),
    extra_channels=8,
    extra_prefixes=("downsample_net.",),
)
