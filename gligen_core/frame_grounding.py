"""Grounding that differs per latent of the batch: moving boxes (frame i of an animation) and a layout
per image (image j of a batch).

Both answer ``at(i) -> Grounding`` for latent ``i`` of the whole batch the sampler runs; the patch
asks for the latents each UNet call holds (all of them, or a context window's frames) and makes
their tokens. A plain ``Grounding`` is the same on every latent and takes the path it always took.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from .grounding import Grounding
from .keyframes import AnimatedLayout, Track
from .tokenizer import MAX_OBJECTS


@dataclass(frozen=True, eq=False)
class AnimatedGrounding:
    """Tracks (phrases with boxes over frames) and one phrase feature per track."""
    kind = "boxes"
    tracks: tuple[Track, ...]
    features: torch.Tensor                                  # [K, D]
    crop: tuple[float, float, float, float] | None = None  # seen from an area of the canvas
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.features.ndim != 2 or self.features.shape[0] != len(self.tracks):
            raise ValueError(f"{len(self.tracks)} tracks and features {tuple(self.features.shape)}")

    @classmethod
    def from_layout(cls, layout: AnimatedLayout, features: torch.Tensor) -> "AnimatedGrounding":
        return cls(layout.tracks, features)

    @classmethod
    def still(cls, g: Grounding) -> "AnimatedGrounding":
        from .keyframes import Keyframe
        if g.with_images:
            raise ValueError("boxes with reference images ('image') cannot be joined with boxes that have keyframes "
                             "yet; ground them in a layout without keyframes, or remove 'image'")
        tracks = tuple(Track(p, (Keyframe(0, tuple(b)),)) for p, b in zip(g.phrases, g.boxes.tolist()))
        return cls(tracks, g.features)

    @property
    def phrases(self) -> tuple[str, ...]:
        return tuple(t.phrase for t in self.tracks)

    @property
    def dropped(self) -> int:
        return 0

    @property
    def period(self) -> int | None:
        return None

    def __len__(self) -> int:
        return len(self.tracks)

    def at(self, frame: int) -> Grounding:
        """The boxes shown at ``frame`` (one object per frame, so tokens can be cached by identity)."""
        g = self._cache.get(frame)
        if g is None:
            shown = [(k, b) for k, t in enumerate(self.tracks) if (b := t.box_at(frame)) is not None]
            idx = [k for k, _ in shown]
            g = Grounding(tuple(self.tracks[k].phrase for k in idx),
                          torch.tensor([b for _, b in shown], dtype=torch.float32).reshape(-1, 4),
                          self.features[idx].reshape(len(idx), self.features.shape[1]))
            if self.crop is not None:
                g = g.within(*self.crop)
            self._cache[frame] = g
        return g

    def within(self, x0: float, y0: float, x1: float, y1: float) -> "AnimatedGrounding":
        if self.crop is not None:
            raise ValueError("a grounding already seen from an area cannot be cropped again")
        if (x0, y0, x1, y1) == (0.0, 0.0, 1.0, 1.0):
            return self
        return AnimatedGrounding(self.tracks, self.features, (x0, y0, x1, y1))

    def joined(self, other: "Grounding | AnimatedGrounding", limit: int = MAX_OBJECTS) -> tuple["AnimatedGrounding", list]:
        """This grounding's tracks followed by ``other``'s (chained encoders); more than ``limit`` tracks
        is an error (keep-the-largest has no single answer when boxes change size)."""
        other = AnimatedGrounding.still(other) if isinstance(other, Grounding) else other
        if self.crop is not None or other.crop is not None:
            raise ValueError("cropped groundings cannot be joined")
        if len(self) and len(other) and self.features.shape[1] != other.features.shape[1]:
            raise ValueError(f"cannot join {self.features.shape[1]}-d and {other.features.shape[1]}-d phrase features")
        tracks = self.tracks + other.tracks
        if len(tracks) > limit:
            raise ValueError(f"chained GroundingEncoders put {len(tracks)} boxes with keyframes on one conditioning; "
                             f"GLIGEN grounds at most {limit}. Remove {len(tracks) - limit}.")
        features = torch.cat((self.features, other.features)) if len(self) else other.features
        return AnimatedGrounding(tracks, features), []


PerLatent = "Grounding | AnimatedGrounding"


@dataclass(frozen=True, eq=False)
class GroundingBatch:
    """One grounding per image of a batch, repeated: latent ``i`` gets ``items[i % len(items)]``. The
    batch must be a whole number of times as long as ``items``."""
    kind = "boxes"
    items: tuple  # of Grounding | AnimatedGrounding

    def __post_init__(self) -> None:
        if not self.items:
            raise ValueError("a grounding batch needs at least one grounding")

    @property
    def period(self) -> int:
        return len(self.items)

    @property
    def phrases(self) -> tuple[str, ...]:
        return tuple(p for g in self.items for p in g.phrases)

    @property
    def dropped(self) -> int:
        return sum(g.dropped for g in self.items)

    def __len__(self) -> int:
        return max(len(g) for g in self.items)

    def at(self, index: int) -> Grounding:
        g = self.items[index % len(self.items)]
        return g.at(index) if isinstance(g, AnimatedGrounding) else g

    def within(self, x0: float, y0: float, x1: float, y1: float) -> "GroundingBatch":
        return GroundingBatch(tuple(g.within(x0, y0, x1, y1) for g in self.items))

    def joined(self, other, limit: int = MAX_OBJECTS) -> tuple["GroundingBatch", list]:
        """Item by item; a single grounding joins every item; two batches must be as long."""
        others = other.items if isinstance(other, GroundingBatch) else (other,) * len(self.items)
        if len(others) != len(self.items):
            raise ValueError(f"cannot join a batch of {len(self.items)} layouts with one of {len(others)}; chain "
                             f"layout batches of the same length")
        out, dropped = [], []
        for a, b in zip(self.items, others):
            g, d = a.joined(b, limit) if not isinstance(a, Grounding) or isinstance(b, Grounding) \
                else AnimatedGrounding.still(a).joined(b, limit)
            out.append(g)
            dropped.extend(d)
        return GroundingBatch(tuple(out)), dropped


def per_latent(g) -> bool:
    """Whether ``g`` differs between the latents of a batch (an ``at(i)`` is needed)."""
    return isinstance(g, (AnimatedGrounding, GroundingBatch))


def join(previous, added, limit: int = MAX_OBJECTS) -> tuple[object, list]:
    """``previous`` followed by ``added`` (chained encoders), whatever kind each is; and what was dropped."""
    if isinstance(added, GroundingBatch) and not isinstance(previous, GroundingBatch):
        previous = GroundingBatch((previous,) * len(added.items))
    if isinstance(previous, Grounding) and isinstance(added, AnimatedGrounding):
        previous = AnimatedGrounding.still(previous)
    return previous.joined(added, limit)
