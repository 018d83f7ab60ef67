"""Grounding tokenizers, one module per grounding family, and the registry the loader and patch use.

How to add a family (keypoints, a spatial map, ...):

1. A module here, e.g. ``keypoint.py``, with
   - a tokenizer ``nn.Module`` (subclass :class:`TokenizerBase`) whose parameter names are the published
     ones, implementing :class:`GroundingTokenizer`: ``kind`` (the family name), ``input_kind`` (the
     ``kind`` of the grounding object it reads, e.g. ``"keypoints"``), ``tokens(grounding, device, dtype)``
     -> ``[1 or N, M, C]`` (``None`` -> null tokens), ``null_tokens(...)``, and, for a family that widens
     the first conv, ``extra_channels`` and ``first_conv_input(grounding, (h, w), device, dtype)`` ->
     ``[1, extra_channels, h, w]``;
   - ``LAYOUT``, its :class:`FamilyLayout`: marker tensor names, ``read_shape`` (sizes from tensor shapes),
     ``expected`` (every tensor with its shape), ``build``, and ``extra_prefixes`` for tensors outside
     ``position_net.`` (``"downsample_net."``).
2. Its ``LAYOUT`` in :data:`FAMILIES` below (the loader then detects, checks and builds it; a family
   listed in ``layouts.OTHER_MODALITIES`` can be removed from there).
3. A node input that attaches its grounding object (with a ``kind`` equal to ``input_kind``) to a
   conditioning under the pack's grounding key. The runtime patch needs no change: it calls
   ``adapter.tokens`` per conditioning and adds the adapter's first-conv channels (see ``first_conv.py``).
"""
from __future__ import annotations

from .base import MAX_OBJECTS, FamilyLayout, GroundingTokenizer, TokenizerBase
from .text_box import TextBoxTokenizer, TokenizerShape
from .text_image import TextImageTokenizer

from . import keypoint, spatial, text_box, text_image

# kind -> layout entry, in the order files are matched against the families' markers.
FAMILIES: dict[str, FamilyLayout] = {f.kind: f for f in (text_box.LAYOUT, text_image.LAYOUT, keypoint.LAYOUT,
                                                         spatial.LAYOUT)}

__all__ = ["FAMILIES", "FamilyLayout", "GroundingTokenizer", "MAX_OBJECTS", "TextBoxTokenizer", "TextImageTokenizer",
           "TokenizerBase", "TokenizerShape"]
