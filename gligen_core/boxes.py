"""Parse and check the boxes a user places: JSON in, normalised xyxy out.

The JSON is the whole state of the GroundingBoxes node (the box editor writes the same text)::

    [{"phrase": "a red car", "box": [0.05, 0.55, 0.60, 0.95]},      # normalised xyxy, 0..1
     {"phrase": "a corgi",   "box_px": [300, 180, 500, 400]}]       # pixels of the canvas

or an object ``{"boxes": [...], ...}`` whose other keys belong to the editor. Origin is the top-left
corner, x grows to the right, y downwards. Coordinates are kept exactly (no snapping to the 8-pixel
latent grid). Nothing is clamped or dropped silently: a bad box is an error naming it, and more than
``max_boxes`` boxes keep the largest ones (the policy GLIGEN was trained with) and say so. A key given
twice in one entry is refused too (plain JSON would keep the last one silently).

A box can move, appear and leave over the frames of an animation (or the latents of a batch): see
``keyframes.py`` for its keys (``keyframes``, ``appear``, ``leave``, ``ease``) and ``{"frames": n, "boxes":
[...]}`` for the frame count. A layout without them is the same boxes on every frame.

The box editor checks the same text with ``web/js/box_editor/state.js``, which accepts and refuses
exactly what ``parse_boxes`` does, with the same messages; ``tests/cases/boxes_parse_cases.json`` is
the list of cases both are tested on. Change them together.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import box_json
from .errors import BoxesError
from .tokenizer import MAX_OBJECTS

if TYPE_CHECKING:
    from .keyframes import AnimatedLayout

ENTRY_KEYS = {"phrase", "box", "box_px", "image"}
MAX_SAFE_INDEX = 2 ** 53 - 1  # the largest whole number JavaScript (the box editor) holds exactly
EDITOR_KEYS = {"color", "id"}  # written by the box editor, ignored here
TIMING_KEYS = {"keyframes", "appear", "leave", "ease"}  # a box that moves or comes and goes (keyframes.py)
MAX_FRAMES = 100_000


@dataclass(frozen=True)
class GroundingBox:
    phrase: str                              # "" for an image-only box
    box: tuple[float, float, float, float]  # normalised x0, y0, x1, y1
    image: int | None = None                 # index of its reference image in the node's IMAGE batch

    @property
    def area(self) -> float:
        return (self.box[2] - self.box[0]) * (self.box[3] - self.box[1])


@dataclass(frozen=True)
class BoxLayout:
    width: int
    height: int
    boxes: tuple[GroundingBox, ...]
    dropped: tuple[GroundingBox, ...] = field(default=())
    node: str | None = None  # the GroundingBoxes node that made it, when known
    images: Any = None    # the reference images the boxes' "image" indexes name (an IMAGE batch), or None

    def report(self) -> str:
        lines = [f"{len(self.boxes)} box{'es' if len(self.boxes) != 1 else ''} on a "
                 f"{self.width}x{self.height} canvas"]
        for i, b in enumerate(self.boxes, 1):
            px = (b.box[0] * self.width, b.box[1] * self.height, b.box[2] * self.width, b.box[3] * self.height)
            image = "" if b.image is None else f" + image {b.image}"
            lines.append(f"  {i}. {b.phrase!r}{image}: x {_px(px[0])}-{_px(px[2])}, y {_px(px[1])}-{_px(px[3])} px")
        if self.dropped:
            lines.append(drop_note(len(self.boxes) + len(self.dropped), len(self.boxes)) + ": "
                         + ", ".join(repr(b.phrase) for b in self.dropped))
        return "\n".join(lines)


def _px(v: float) -> str:
    return f"{v + 0.0:g}"  # + 0.0 turns -0.0 (from a "-0.0" in the JSON) into 0: never "-0"


def drop_note(total: int, kept: int) -> str:
    return (f"GLIGEN grounds at most {kept} boxes: kept the {kept} largest of {total}, "
            f"dropped {total - kept}")


def keep_largest(boxes: list[GroundingBox], limit: int = MAX_OBJECTS) -> tuple[list[GroundingBox], list[GroundingBox]]:
    """Keep the ``limit`` largest boxes (ties: earlier first), in their original order."""
    if len(boxes) <= limit:
        return list(boxes), []
    order = sorted(range(len(boxes)), key=lambda i: (-boxes[i].area, i))
    keep = set(order[:limit])
    return ([b for i, b in enumerate(boxes) if i in keep], [b for i, b in enumerate(boxes) if i not in keep])


def _where(i: int, entry: Any) -> str:
    phrase = entry.get("phrase") if isinstance(entry, dict) else None
    return f"box #{i + 1}" + (f" ({phrase!r})" if isinstance(phrase, str) and phrase.strip() else "")


def _coords(where: str, raw: Any, key: str) -> list[float]:
    if not isinstance(raw, (list, tuple)) or len(raw) != 4:
        raise BoxesError(f"{where}: '{key}' must be a list of 4 numbers [x0, y0, x1, y1], "
                         f"got {json.dumps(raw)}.")
    out = []
    for name, v in zip(("x0", "y0", "x1", "y1"), raw):
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise BoxesError(f"{where}: {name} in '{key}' must be a number, got {json.dumps(v)}.")
        f = _float(v)
        if not math.isfinite(f):
            raise BoxesError(f"{where}: {name} in '{key}' is {f}; give a finite number.")
        out.append(f)
    return out


def _float(v: int | float) -> float:
    try:
        return float(v)
    except OverflowError:  # an integer beyond the float range
        return math.inf if v > 0 else -math.inf


def box_of(where: str, entry: dict, width: int | None, height: int | None) -> tuple[float, float, float, float]:
    """The checked box of ``entry`` (its 'box' or 'box_px'), normalised; ``where`` names it in errors.
    Without a canvas (check mode) 'box_px' stays in pixels."""
    has_norm, has_px = "box" in entry, "box_px" in entry
    if has_norm == has_px:
        raise BoxesError(f"{where}: give exactly one of 'box' (normalised 0..1) or 'box_px' (pixels), "
                         f"{'not both' if has_norm else 'none was given'}.")
    if has_norm:
        x0, y0, x1, y1 = _coords(where, entry["box"], "box")
        for name, v in zip(("x0", "y0", "x1", "y1"), (x0, y0, x1, y1)):
            if not 0.0 <= v <= 1.0:
                raise BoxesError(f"{where}: {name} = {v:g} is outside 0..1. 'box' is normalised to the "
                                 f"canvas; use 'box_px' for pixel coordinates.")
    elif width is None:  # no canvas yet (check mode): everything but the canvas bounds
        x0, y0, x1, y1 = px = _coords(where, entry["box_px"], "box_px")
        for name, v in zip(("x0", "y0", "x1", "y1"), px):
            if v < 0.0:
                raise BoxesError(f"{where}: {name} = {v:g} px is outside the canvas "
                                 f"({'left of' if name[0] == 'x' else 'above'} it); pixels count from 0 at the "
                                 f"top-left corner.")
    else:
        px = _coords(where, entry["box_px"], "box_px")
        for name, v, limit in zip(("x0", "y0", "x1", "y1"), px, (width, height, width, height)):
            if not 0.0 <= v <= limit:
                raise BoxesError(f"{where}: {name} = {v:g} px is outside the {width}x{height} canvas "
                                 f"(0..{limit}). Move the box inside or enlarge the canvas.")
        x0, y0, x1, y1 = px[0] / width, px[1] / height, px[2] / width, px[3] / height
    if x1 < x0 or y1 < y0:
        axis = "x1 is left of x0" if x1 < x0 else "y1 is above y0"
        raise BoxesError(f"{where}: {axis}; boxes are [x0, y0, x1, y1] with the top-left corner first. "
                         f"Swap the coordinates.")
    if x1 == x0 or y1 == y0:
        raise BoxesError(f"{where}: the box has zero area; give it a width and a height.")
    return x0, y0, x1, y1


def entry_phrase(i: int, entry: Any, allowed: set[str], shape: str) -> str:
    """The checks every entry gets (an object, no key twice, only ``allowed`` keys, a phrase); its phrase.
    ``shape`` says what an entry has, for the unknown-key message."""
    if not isinstance(entry, dict):
        raise BoxesError(f"box #{i + 1} must be an object like {{\"phrase\": \"a cat\", \"box\": [0.1, 0.1, 0.5, 0.5]}}, "
                         f"got {json.dumps(entry)[:80]}.")
    repeated = box_json.repeated_key([entry])
    if repeated is not None:
        raise BoxesError(f"{_where(i, entry)}: the key {repeated!r} is given twice; remove one "
                         f"(JSON would silently keep the last).")
    unknown = sorted(set(entry) - allowed)
    if unknown:
        raise BoxesError(f"{_where(i, entry)}: unknown key{'s' if len(unknown) > 1 else ''} "
                         f"{', '.join(repr(k) for k in unknown)}; {shape}.")
    image = _image_index(i, entry)
    phrase = entry.get("phrase", "" if image is not None else None)
    if not isinstance(phrase, str):
        raise BoxesError(f"{_where(i, entry)}: 'phrase' must be text, got {json.dumps(phrase)}.")
    if not phrase.strip() and image is None:
        raise BoxesError(f"{_where(i, entry)}: the phrase is empty; name what goes in the box (e.g. \"a red car\") "
                         f"or delete the box.")
    return phrase.strip()


def _image_index(i: int, entry: dict) -> int | None:
    """The entry's ``"image"``: a whole number >= 0 naming a reference image (``None`` when absent)."""
    if "image" not in entry:
        return None
    v = entry["image"]
    if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= MAX_SAFE_INDEX:
        raise BoxesError(f"{_where(i, entry)}: 'image' must be the index of a reference image in the IMAGE batch "
                         f"connected to 'images' (0 for the first), got {json.dumps(v)}.")
    return v


def _parse_entry(i: int, entry: Any, width: int | None, height: int | None) -> GroundingBox:
    phrase = entry_phrase(i, entry, ENTRY_KEYS | EDITOR_KEYS,
                          "an entry has 'phrase' and either 'box' (normalised 0..1) or 'box_px' (pixels)")
    return GroundingBox(phrase, box_of(_where(i, entry), entry, width, height), _image_index(i, entry))


def _frames(data: dict) -> int | None:
    """The layout's frame count ('frames' beside 'boxes': the editor's slider and the preview), if given."""
    if "frames" not in data:
        return None
    v = data["frames"]
    if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= MAX_FRAMES:
        raise BoxesError(f"the boxes JSON: 'frames' must be a whole number of frames from 1 to {MAX_FRAMES}, "
                         f"got {json.dumps(v)}.")
    return v


def parse_boxes(text: str, width: int | None, height: int | None,
                max_boxes: int = MAX_OBJECTS) -> "BoxLayout | AnimatedLayout":
    """Parse the node's JSON. Raises ``BoxesError`` naming the box, the value and the fix. A layout
    where a box has keyframes, 'appear' or 'leave' is an ``AnimatedLayout`` (``keyframes.py``); any
    other is a ``BoxLayout``, the same boxes on every frame.

    Without a canvas (``width`` and ``height`` both None: not known yet, e.g. a linked widget when the
    prompt is queued) every check runs except 'box_px' against the canvas, and 'box_px' boxes stay in
    pixels: such a layout is a check only (see ``check_boxes``), never one to draw or ground."""
    check_only = width is None and height is None
    for name, v in (("width", width), ("height", height)):
        if not check_only and (isinstance(v, bool) or not isinstance(v, int) or v <= 0):
            raise BoxesError(f"canvas {name} must be a positive whole number of pixels, got {v!r}.")
    if text is None or not str(text).strip():
        return BoxLayout(width, height, ())
    if box_json.nesting_depth_exceeded(text):
        raise BoxesError(f"the boxes JSON is nested more than {box_json.MAX_DEPTH} levels deep; a list of boxes "
                         f"needs 3 levels (4 inside {{\"boxes\": [...]}}).")
    try:
        data = box_json.loads(text)
    except json.JSONDecodeError as e:
        msg = e.msg.removesuffix(" at")  # "Unterminated string starting at", "Invalid control character at"
        raise BoxesError(f"the boxes are not valid JSON ({msg} at line {e.lineno}, column {e.colno}). "
                         f"Expected a list like [{{\"phrase\": \"a cat\", \"box\": [0.1, 0.2, 0.5, 0.9]}}].") from None
    if isinstance(data, dict):
        repeated = data.repeated  # this object's own keys, then the editor's keys beside 'boxes';
        if repeated is None:      # each box is checked on its own, where its error can name it
            repeated = box_json.repeated_key(v for k, v in data.items() if k != "boxes")
        if repeated is not None:
            raise BoxesError(f"the boxes JSON gives the key {repeated!r} twice in one object; remove one "
                             f"(JSON would silently keep the last).")
        if "boxes" not in data:
            raise BoxesError("the boxes JSON is an object without a 'boxes' list; give a list of boxes "
                             "or {\"boxes\": [...]}.")
        frames = _frames(data)
        data = data["boxes"]
    else:
        frames = None
    if not isinstance(data, list):
        raise BoxesError(f"the boxes JSON must be a list of boxes, got {json.dumps(data)[:80]}.")
    if any(isinstance(e, dict) and not TIMING_KEYS.isdisjoint(e) for e in data):
        from .keyframes import parse_animated  # keyframes builds on this module
        return parse_animated(data, frames, width, height, max_boxes)
    boxes = [_parse_entry(i, e, width, height) for i, e in enumerate(data)]
    kept, dropped = keep_largest(boxes, max_boxes)
    return BoxLayout(width, height, tuple(kept), tuple(dropped))


def check_boxes(text: str) -> None:
    """Every check of ``parse_boxes`` that needs no canvas. Raises ``BoxesError``."""
    parse_boxes(text, None, None)


def format_boxes(entries: list[dict]) -> str:
    """Box JSON with one box per line: easy to read and to edit by hand in the node's text field."""
    return "[\n" + ",\n".join(" " + json.dumps(e, ensure_ascii=False) for e in entries) + "\n]"


def dump_boxes(layout: BoxLayout) -> str:
    """The normalised JSON of ``layout`` (kept boxes only)."""
    return format_boxes([{"phrase": b.phrase, "box": list(b.box), **({} if b.image is None else {"image": b.image})}
                         for b in layout.boxes])
