"""Boxes that move, appear and leave over frames: keyframes, interpolated between.

In the boxes JSON a box may carry, instead of one 'box' (or 'box_px'), a list of keyframes, and the
frames where it appears and leaves::

    {"frames": 16, "boxes": [
      {"phrase": "a corgi", "id": "b1",
       "keyframes": [{"frame": 0, "box": [0.05, 0.5, 0.35, 0.9]}, {"frame": 15, "box_px": [320, 256, 500, 460]}],
       "appear": 0, "leave": 12, "ease": "ease_in_out"},
      {"phrase": "a balloon", "box": [0.6, 0.05, 0.9, 0.4], "appear": 4}
    ]}

- ``frame``: a whole number from 0 (the first latent of the batch); each frame at most once per box.
- Between two keyframes the box is interpolated, coordinate by coordinate, at ``ease(t)`` where ``t``
  runs 0..1 between them: ``linear`` (default) ``t``, ``ease_in`` ``t^2``, ``ease_out`` ``1-(1-t)^2``,
  ``ease_in_out`` ``t^2(3-2t)``. Before the first keyframe and after the last the box stays at it.
- ``appear`` (default 0) is the first frame with the box, ``leave`` (default: never) the first frame
  without it; outside ``[appear, leave)`` the box is absent (its slot is masked out, as an unused one).
- ``frames`` (beside ``boxes``) is how many frames the editor's slider and the preview show.

Frame ``i`` is latent ``i`` of the batch the sampler runs. A layout with none of these keys is the
same boxes on every frame, exactly as before (``boxes.BoxLayout``). ``web/js/box_editor/keyframes.js``
reads the same JSON the same way, with the same messages.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable

from .boxes import (EDITOR_KEYS, ENTRY_KEYS, MAX_FRAMES, TIMING_KEYS, BoxLayout, GroundingBox, _parse_entry, _px,
                    _where, box_of, entry_phrase)
from .errors import BoxesError
from .tokenizer import MAX_OBJECTS

Box = tuple[float, float, float, float]

EASES: dict[str, Callable[[float], float]] = {
    "linear": lambda t: t,
    "ease_in": lambda t: t * t,
    "ease_out": lambda t: 1.0 - (1.0 - t) * (1.0 - t),
    "ease_in_out": lambda t: t * t * (3.0 - 2.0 * t),
}
KEYFRAME_KEYS = {"frame", "box", "box_px"}
TIMED_SHAPE = ("an entry has 'phrase', either 'box'/'box_px' or 'keyframes' (a list of {\"frame\": n, "
               "\"box\": [x0, y0, x1, y1]}), and optionally 'appear', 'leave' and 'ease'")


@dataclass(frozen=True)
class Keyframe:
    frame: int
    box: Box


@dataclass(frozen=True)
class Track:
    """One box over time: its keyframes (sorted by frame), the frames it is shown in and its easing."""
    phrase: str
    keyframes: tuple[Keyframe, ...]
    appear: int = 0
    leave: int | None = None
    ease: str = "linear"

    @classmethod
    def still(cls, box: GroundingBox) -> "Track":
        return cls(box.phrase, (Keyframe(0, box.box),))

    def shown_at(self, frame: int) -> bool:
        return self.appear <= frame and (self.leave is None or frame < self.leave)

    def box_at(self, frame: int) -> Box | None:
        """The box at ``frame``, or None where the box is absent."""
        if not self.shown_at(frame):
            return None
        kf = self.keyframes
        if frame <= kf[0].frame:
            return kf[0].box
        if frame >= kf[-1].frame:
            return kf[-1].box
        b = next(k for k in range(1, len(kf)) if kf[k].frame >= frame)
        a, z = kf[b - 1], kf[b]
        t = EASES[self.ease]((frame - a.frame) / (z.frame - a.frame))
        return tuple(p + (q - p) * t for p, q in zip(a.box, z.box))  # type: ignore[return-value]

    @property
    def last_frame(self) -> int:
        """The last frame this track says anything about."""
        return max(self.keyframes[-1].frame, self.appear, (self.leave or 1) - 1)


@dataclass(frozen=True)
class AnimatedLayout:
    """A layout whose boxes change with the frame (the latent's index in the batch)."""
    width: int
    height: int
    tracks: tuple[Track, ...]
    frames: int | None = None   # as given in the JSON ('frames'), for the slider and the preview
    node: str | None = None     # the GroundingBoxes node that made it, when known

    @property
    def frame_count(self) -> int:
        """Frames to preview: 'frames' when given, else up to the last frame any box mentions."""
        if self.frames is not None:
            return self.frames
        return 1 + max((t.last_frame for t in self.tracks), default=0)

    def at(self, frame: int) -> BoxLayout:
        boxes = tuple(GroundingBox(t.phrase, b) for t in self.tracks if (b := t.box_at(frame)) is not None)
        return BoxLayout(self.width, self.height, boxes)

    def report(self) -> str:
        lines = [f"{len(self.tracks)} box{'es' if len(self.tracks) != 1 else ''} with keyframes on a "
                 f"{self.width}x{self.height} canvas, {self.frame_count} frames"]
        for i, t in enumerate(self.tracks, 1):
            keys = "; ".join(f"frame {k.frame}: " + self._px(k.box) for k in t.keyframes)
            span = f"frames {t.appear}-" + ("end" if t.leave is None else str(t.leave - 1))
            lines.append(f"  {i}. {t.phrase!r} ({span}, {t.ease}): {keys}")
        return "\n".join(lines)

    def _px(self, b: Box) -> str:
        w, h = self.width, self.height
        return f"x {_px(b[0] * w)}-{_px(b[2] * w)}, y {_px(b[1] * h)}-{_px(b[3] * h)} px"


def _whole(where: str, key: str, v: Any, low: int) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or not low <= v <= MAX_FRAMES:
        raise BoxesError(f"{where}: '{key}' must be a whole number of frames from {low} to {MAX_FRAMES}, "
                         f"got {json.dumps(v)}.")
    return v


def _keyframes(where: str, raw: Any, width: int | None, height: int | None) -> tuple[Keyframe, ...]:
    if not isinstance(raw, list) or not raw:
        raise BoxesError(f"{where}: 'keyframes' must be a non-empty list like [{{\"frame\": 0, \"box\": "
                         f"[0.1, 0.1, 0.5, 0.5]}}], got {json.dumps(raw)[:80]}.")
    out: dict[int, Keyframe] = {}
    for n, k in enumerate(raw):
        at = f"{where}, keyframe #{n + 1}"
        if not isinstance(k, dict):
            raise BoxesError(f"{at} must be an object like {{\"frame\": 0, \"box\": [0.1, 0.1, 0.5, 0.5]}}, "
                             f"got {json.dumps(k)[:80]}.")
        unknown = sorted(set(k) - KEYFRAME_KEYS)
        if unknown:
            raise BoxesError(f"{at}: unknown key{'s' if len(unknown) > 1 else ''} "
                             f"{', '.join(repr(u) for u in unknown)}; a keyframe has 'frame' and either 'box' "
                             f"(normalised 0..1) or 'box_px' (pixels).")
        if "frame" not in k:
            raise BoxesError(f"{at}: 'frame' is missing; say which frame (from 0) this box is at.")
        frame = _whole(at, "frame", k["frame"], 0)
        at = f"{where}, keyframe at frame {frame}"
        if frame in out:
            raise BoxesError(f"{at}: the box has two keyframes at this frame; keep one.")
        out[frame] = Keyframe(frame, box_of(at, k, width, height))
    return tuple(out[f] for f in sorted(out))


def parse_track(i: int, entry: Any, width: int | None, height: int | None) -> Track:
    """One entry with keyframes, 'appear', 'leave' or 'ease'."""
    phrase = entry_phrase(i, entry, ENTRY_KEYS | EDITOR_KEYS | TIMING_KEYS, TIMED_SHAPE)
    where = _where(i, entry)
    if "keyframes" in entry:
        if "box" in entry or "box_px" in entry:
            raise BoxesError(f"{where}: give either 'keyframes' or one '{'box' if 'box' in entry else 'box_px'}', "
                             f"not both (a box that does not move needs no keyframes).")
        keyframes = _keyframes(where, entry["keyframes"], width, height)
    else:
        keyframes = (Keyframe(0, box_of(where, entry, width, height)),)
    appear = _whole(where, "appear", entry.get("appear", 0), 0)
    leave = entry.get("leave")
    if leave is not None:
        leave = _whole(where, "leave", leave, 1)
        if leave <= appear:
            raise BoxesError(f"{where}: 'leave' = {leave} is not after 'appear' = {appear}; 'leave' is the first "
                             f"frame without the box, so the box would never be shown.")
    ease = entry.get("ease", "linear")
    if not isinstance(ease, str) or ease not in EASES:
        raise BoxesError(f"{where}: 'ease' = {json.dumps(ease)} is not one of "
                         f"{', '.join(repr(e) for e in EASES)}.")
    return Track(phrase, keyframes, appear, leave, ease)


def parse_animated(entries: list, frames: int | None, width: int | None, height: int | None,
                   max_boxes: int = MAX_OBJECTS) -> AnimatedLayout:
    tracks = []
    for i, e in enumerate(entries):
        if isinstance(e, dict) and not TIMING_KEYS.isdisjoint(e):
            tracks.append(parse_track(i, e, width, height))
        else:
            tracks.append(Track.still(_parse_entry(i, e, width, height)))
    with_image = next((i for i, e in enumerate(entries) if isinstance(e, dict) and "image" in e), None)
    if with_image is not None:
        raise BoxesError(f"{_where(with_image, entries[with_image])}: a reference image ('image') is not supported "
                         f"yet in a layout with keyframes, 'appear' or 'leave'; remove 'image' from the box, or "
                         f"ground the image boxes in a layout without keyframes.")
    if len(tracks) > max_boxes:
        raise BoxesError(f"a layout with keyframes grounds at most {max_boxes} boxes and this one has "
                         f"{len(tracks)}; remove {len(tracks) - max_boxes} (the keep-the-largest rule of a still "
                         f"layout has no single answer when boxes change size).")
    return AnimatedLayout(width, height, tuple(tracks), frames)
