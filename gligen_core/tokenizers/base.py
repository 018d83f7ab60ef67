"""What every grounding family provides: the tokenizer protocol and the family's layout entry.

A *family* is one kind of GLIGEN grounding input with its own ``position_net``: text + box, text +
image + box, keypoints, a spatial map. Everything else of an adapter (the fusers, the optional extra
first-conv channels) is shared, so a family is fully described by

- a tokenizer module implementing :class:`GroundingTokenizer` (what the runtime patch calls), and
- a :class:`FamilyLayout` (what the loader needs: which ``position_net`` tensors make the family, their
  shapes, how to read the sizes off them and how to build the module).

The registry of families is :data:`gligen_core.tokenizers.FAMILIES`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Protocol, runtime_checkable

import torch
from torch import nn

from .._ops import Ops

Shape = tuple[int, ...]

MAX_OBJECTS = 30  # box slots every released box GLIGEN was trained with


@runtime_checkable
class GroundingTokenizer(Protocol):
    """The runtime interface of a family's ``position_net`` (an ``nn.Module``).

    - ``kind``: the family's name, as in :data:`FAMILIES` (``"text-box"``, ``"text-image-box"``, ...).
    - ``input_kind``: the kind of grounding it reads (``Grounding.kind``; ``"boxes"`` for box families).
    - ``extra_channels``: channels the family adds to the UNet's first conv (0: none; spatial maps' downsampler).
    - ``tokens(grounding, device, dtype)``: tokens ``[1 or N, M, C]`` for one conditioning's grounding
      input; ``None`` gives the null tokens (CFG's unconditional branch, an ungrounded conditioning).
    - ``null_tokens(batch, dtype, device)``: the tokens of the null grounding input, ``[batch, M, C]``.
    - ``first_conv_input(grounding, size, device, dtype)``: ``[1, extra_channels, h, w]`` for a latent of
      ``size = (h, w)``, or ``None`` when the family adds no channels.
    """

    kind: str
    input_kind: str
    extra_channels: int

    def tokens(self, grounding: Any | None, device: torch.device | str, dtype: torch.dtype) -> torch.Tensor: ...

    def null_tokens(self, batch: int = 1, dtype: torch.dtype = torch.float32,
                    device: torch.device | str = "cpu") -> torch.Tensor: ...

    def first_conv_input(self, grounding: Any | None, size: tuple[int, int], device: torch.device | str,
                         dtype: torch.dtype) -> torch.Tensor | None: ...


class TokenizerBase(nn.Module):
    """Defaults for the optional parts of :class:`GroundingTokenizer`: no extra first-conv channels."""

    kind: str = ""
    input_kind: str = "boxes"
    extra_channels: int = 0

    def first_conv_input(self, grounding: Any | None, size: tuple[int, int], device: torch.device | str,
                         dtype: torch.dtype) -> torch.Tensor | None:
        return None


@dataclass(frozen=True)
class FamilyLayout:
    """A family's entry in the loader's table.

    - ``kind``: the registry key, also the tokenizer's ``kind``.
    - ``title``: how errors name a file of this family (``"a text-box GLIGEN"``).
    - ``markers``: ``position_net`` parameter names (or name prefixes ending in '.') only this family has;
      a file is of the family whose marker it holds.
    - ``read_shape(shapes, problems)``: the family's shape (a frozen dataclass with at least ``in_dim``,
      the width of its semantic feature, and ``out_dim``, the token width) from the shapes of the
      ``position_net`` tensors found (param -> shape); ``None`` after appending problems when it cannot.
    - ``expected(shape)``: every ``position_net`` parameter of the family with its shape.
    - ``build(shape, ops)``: an empty tokenizer module whose parameter names are the published ones.
    - ``extra_channels``: first-conv channels the family adds (its tokenizer's ``extra_channels``).
    - ``extra_prefixes``: top-level key prefixes outside ``position_net.`` that belong to the tokenizer
      (``"downsample_net."`` for spatial maps); loaded as the tokenizer's parameters of the same name.
    """

    kind: str
    title: str
    markers: tuple[str, ...]
    read_shape: Callable[[dict[str, Shape], list[str]], Any | None]
    expected: Callable[[Any], dict[str, Shape]]
    build: Callable[[Any, Ops], nn.Module]
    extra_channels: int = 0
    extra_prefixes: tuple[str, ...] = ()

    def claims(self, params: set[str]) -> str | None:
        """The first parameter that marks a file as this family, or None."""
        for p in sorted(params):
            if any(p == m or (m.endswith(".") and p.startswith(m)) for m in self.markers):
                return p
        return None
