"""What a grounded conditioning carries: phrases, their features and their boxes.

A ``Grounding`` is attached to a conditioning by the encoder and read by the patch, which turns it
into tokens with the adapter's tokenizer once per sampling run. It holds raw inputs rather than
tokens so the tokens always come from the adapter that actually runs.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .boxes import GroundingBox, keep_largest
from .tokenizers.base import MAX_OBJECTS
from .tokenizers.text_image import BoxSlots


@dataclass(frozen=True)
class Grounding:
    """Box grounding (``kind`` "boxes"). An entry without a phrase has the phrase "" (text mask 0); with
    reference images, ``image_features`` holds one row per entry and ``has_image`` says which are real."""
    kind = "boxes"

    phrases: tuple[str, ...]
    boxes: torch.Tensor      # [K, 4] float32, normalised xyxy
    features: torch.Tensor   # [K, D] float32, one phrase feature per box
    dropped: int = 0         # boxes left out by the keep-the-largest policy
    canvas: tuple[int, int] | None = None  # (width, height) the boxes were placed on, when known
    canvas_node: str | None = None         # the GroundingBoxes node that set it, to show warnings on
    image_features: torch.Tensor | None = None   # [K, D] float32 (zeros where has_image is False)
    has_image: tuple[bool, ...] = ()             # per entry; () when no entry has an image

    def __post_init__(self) -> None:
        k = len(self.phrases)
        if self.boxes.shape != (k, 4) or self.features.ndim != 2 or self.features.shape[0] != k:
            raise ValueError(f"inconsistent grounding: {k} phrases, boxes {tuple(self.boxes.shape)}, "
                             f"features {tuple(self.features.shape)}")
        if self.image_features is not None and (self.image_features.ndim != 2 or self.image_features.shape[0] != k
                                                or len(self.has_image) != k):
            raise ValueError(f"inconsistent grounding: {k} entries, image features "
                             f"{tuple(self.image_features.shape)}, {len(self.has_image)} image flags")

    @property
    def with_images(self) -> bool:
        return any(self.has_image)

    def _images(self, dim: int) -> tuple[torch.Tensor, tuple[bool, ...]]:
        if self.image_features is None:
            return torch.zeros(len(self), dim), (False,) * len(self)
        return self.image_features, self.has_image

    def __len__(self) -> int:
        return len(self.phrases)

    @property
    def feature_dim(self) -> int:
        return int(self.features.shape[1])

    def entries(self) -> list[GroundingBox]:
        return [GroundingBox(p, tuple(float(v) for v in b)) for p, b in zip(self.phrases, self.boxes.tolist())]

    def extended(self, other: "Grounding", limit: int = MAX_OBJECTS) -> "Grounding":
        """This grounding followed by ``other``'s boxes; the largest ``limit`` boxes are kept."""
        return self.joined(other, limit)[0]

    def joined(self, other: "Grounding", limit: int = MAX_OBJECTS) -> tuple["Grounding", list[GroundingBox]]:
        """``extended``, and the boxes this join left out (past ``limit``), in their order."""
        if len(self) and len(other) and self.feature_dim != other.feature_dim:
            raise ValueError(f"cannot join {self.feature_dim}-d and {other.feature_dim}-d phrase features")
        boxes = torch.cat((self.boxes, other.boxes))
        features = torch.cat((self.features, other.features)) if len(self) else other.features
        entries = self.entries() + other.entries()
        kept, dropped = keep_largest(entries, limit)
        idx = [i for i, e in enumerate(entries) if any(e is k for k in kept)]
        first = self if self.canvas is not None else other
        images = {}
        if self.image_features is not None or other.image_features is not None:
            dim = (self.image_features if self.image_features is not None else other.image_features).shape[1]
            (a, fa), (b, fb) = self._images(dim), other._images(dim)
            flags = fa + fb
            images = dict(image_features=torch.cat((a, b))[idx], has_image=tuple(flags[i] for i in idx))
        return (Grounding(tuple(entries[i].phrase for i in idx), boxes[idx], features[idx],
                          self.dropped + other.dropped + len(dropped), first.canvas, first.canvas_node, **images),
                dropped)

    def within(self, x0: float, y0: float, x1: float, y1: float) -> "Grounding":
        """The grounding as seen from the crop ``[x0, y0, x1, y1]`` of the canvas (normalised): every box
        in the crop's own normalised coordinates, cut at its edges; boxes that do not overlap the crop
        are left out. Used when the UNet sees only an area of the canvas (area conditioning)."""
        if not (0.0 <= x0 < x1 <= 1.0 and 0.0 <= y0 < y1 <= 1.0):
            raise ValueError(f"crop {[x0, y0, x1, y1]} is not a part of the canvas")
        if (x0, y0, x1, y1) == (0.0, 0.0, 1.0, 1.0) or not len(self):
            return self
        origin = self.boxes.new_tensor([x0, y0, x0, y0])
        size = self.boxes.new_tensor([x1 - x0, y1 - y0, x1 - x0, y1 - y0])
        boxes = ((self.boxes - origin) / size).clamp(0.0, 1.0)
        keep = ((boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])).nonzero().flatten().tolist()
        images = {} if self.image_features is None else dict(
            image_features=self.image_features[keep], has_image=tuple(self.has_image[i] for i in keep))
        return Grounding(tuple(self.phrases[i] for i in keep), boxes[keep], self.features[keep], self.dropped,
                         None, **images)  # the crop is not the canvas: no aspect check

    def slots(self, slots: int = MAX_OBJECTS) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(boxes [1, S, 4], masks [1, S], features [1, S, D])`` padded with empty slots."""
        k = len(self)
        if k > slots:
            raise ValueError(f"{k} boxes do not fit {slots} slots")
        boxes = torch.zeros(1, slots, 4)
        masks = torch.zeros(1, slots)
        features = torch.zeros(1, slots, self.feature_dim)
        boxes[0, :k] = self.boxes
        masks[0, :k] = 1.0
        features[0, :k] = self.features
        return boxes, masks, features

    def box_slots(self, slots: int = MAX_OBJECTS) -> BoxSlots:
        """The slots the text-image tokenizer reads: box, text and image masks and both features."""
        boxes, masks, features = self.slots(slots)
        k = len(self)
        text_masks = torch.zeros(1, slots)
        text_masks[0, :k] = torch.tensor([1.0 if p else 0.0 for p in self.phrases])
        features[0, :k] *= text_masks[0, :k, None]
        image, flags = self._images(self.feature_dim)
        image_masks = torch.zeros(1, slots)
        image_masks[0, :k] = torch.tensor([1.0 if f else 0.0 for f in flags])
        image_features = torch.zeros(1, slots, image.shape[1])
        image_features[0, :k] = image * image_masks[0, :k, None]
        return BoxSlots(boxes, masks, text_masks, image_masks, features, image_features)
