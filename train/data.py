"""The training data: a JSONL manifest, one image per line, read and checked row by row.

A row::

    {"image": "images/0001.jpg", "caption": "a dog on a sofa",
     "boxes": [{"phrase": "a dog", "box": [0.1, 0.4, 0.5, 0.9]},          # normalised xyxy
               {"phrase": "a sofa", "box_px": [0, 200, 640, 480]}]}      # pixels of the image

``image`` is relative to the manifest's folder (or absolute). Boxes use the GroundingBoxes node's own
format and rules (``gligen_core.boxes.parse_boxes``), so what trains is what a user can draw. Instead
of ``image`` a row may give ``latent``: a ``.safetensors`` / ``.pt`` file holding an already encoded
latent ``[4, h, w]`` (in the model's latent space, as ``process_latent_in`` leaves it).

A bad row (not JSON, no image file, an unreadable image, a box off the image, an empty phrase, ...)
is skipped, never a crash halfway through training: the reader counts skipped rows per reason and
keeps the first few messages. Boxes under ``min_box_area`` of the image are dropped from their row
(as the official training data does) and counted; more than ``max_boxes`` keep the largest.
Plain Python and Pillow: no ComfyUI, no torch.
"""
from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass, field

from ..gligen_core.boxes import keep_largest, parse_boxes
from ..gligen_core.errors import BoxesError
from ..gligen_core.tokenizer import MAX_OBJECTS

ROW_KEYS = {"image", "latent", "caption", "boxes", "width", "height"}
SHOWN_REASONS = 5


@dataclass(frozen=True)
class Row:
    """One checked training example: boxes normalised xyxy, at most ``max_boxes`` of them."""
    source: str                                   # the image (or latent) file, absolute
    caption: str
    phrases: tuple[str, ...]
    boxes: tuple[tuple[float, float, float, float], ...]
    size: tuple[int, int]                         # (width, height) of the image, in pixels
    is_latent: bool = False


@dataclass
class ReadReport:
    """What reading a manifest kept and skipped, with the first reasons (line numbers 1-based)."""
    path: str
    rows: int = 0
    kept: int = 0
    skipped: Counter = field(default_factory=Counter)        # reason kind -> rows
    reasons: list[str] = field(default_factory=list)          # the first SHOWN_REASONS messages
    small_boxes_dropped: int = 0
    extra_boxes_dropped: int = 0

    def skip(self, line: int, kind: str, message: str) -> None:
        self.skipped[kind] += 1
        if len(self.reasons) < SHOWN_REASONS:
            self.reasons.append(f"line {line}: {message}")

    def summary(self) -> str:
        out = [f"{self.path}: {self.kept} of {self.rows} rows kept"]
        if self.skipped:
            out.append("skipped: " + ", ".join(f"{n} {kind}" for kind, n in sorted(self.skipped.items())))
            out.extend(f"  {r}" for r in self.reasons)
            if sum(self.skipped.values()) > len(self.reasons):
                out.append(f"  ... and {sum(self.skipped.values()) - len(self.reasons)} more")
        if self.small_boxes_dropped:
            out.append(f"{self.small_boxes_dropped} boxes under the minimum area dropped from their rows")
        if self.extra_boxes_dropped:
            out.append(f"{self.extra_boxes_dropped} boxes past {MAX_OBJECTS} per image dropped (kept the largest)")
        return "\n".join(out)


class BadRow(Exception):
    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def image_size(path: str) -> tuple[int, int]:
    """``(width, height)`` from the image header; raises ``BadRow`` for a file Pillow cannot read."""
    from PIL import Image, UnidentifiedImageError
    try:
        with Image.open(path) as im:
            return im.size
    except (OSError, UnidentifiedImageError) as e:
        raise BadRow("unreadable image", f"the image {path!r} cannot be read ({e}); re-export it or remove the row")


def _latent_size(row: dict, path: str) -> tuple[int, int]:
    w, h = row.get("width"), row.get("height")
    if isinstance(w, int) and isinstance(h, int) and w > 0 and h > 0:
        return w, h
    raise BadRow("bad row", f"the latent row for {path!r} needs 'width' and 'height' (positive whole numbers, "
                            f"in the latent's pixels) for its boxes")


def parse_row(row: object, base_dir: str, min_box_area: float = 0.01,
              max_boxes: int = MAX_OBJECTS) -> tuple[Row, int, int]:
    """A checked ``Row`` and the counts of boxes dropped for size and for the box limit; raises ``BadRow``."""
    if not isinstance(row, dict):
        raise BadRow("bad row", f"a row must be a JSON object with 'image', 'caption' and 'boxes', got {str(row)[:60]}")
    unknown = sorted(set(row) - ROW_KEYS)
    if unknown:
        raise BadRow("bad row", f"unknown key(s) {', '.join(map(repr, unknown))}; a row has {sorted(ROW_KEYS)}")
    if ("image" in row) == ("latent" in row):
        raise BadRow("bad row", "give exactly one of 'image' (a picture) or 'latent' (an encoded latent file)")
    key = "image" if "image" in row else "latent"
    rel = row[key]
    if not isinstance(rel, str) or not rel.strip():
        raise BadRow("bad row", f"'{key}' must be a file path, got {json.dumps(rel)}")
    path = rel if os.path.isabs(rel) else os.path.join(base_dir, rel)
    if not os.path.isfile(path):
        raise BadRow("missing image", f"the {key} file {path!r} does not exist")
    caption = row.get("caption", "")
    if not isinstance(caption, str):
        raise BadRow("bad row", f"'caption' must be text, got {json.dumps(caption)[:60]}")
    boxes = row.get("boxes", [])
    if not isinstance(boxes, list):
        raise BadRow("bad row", f"'boxes' must be a list of {{\"phrase\", \"box\"|\"box_px\"}} entries, "
                                f"got {json.dumps(boxes)[:60]}")
    width, height = image_size(path) if key == "image" else _latent_size(row, path)
    try:
        layout = parse_boxes(json.dumps(boxes), width, height, max_boxes=10 ** 9)
    except BoxesError as e:
        text = str(e)
        kind = ("empty phrase" if "phrase is empty" in text or "'phrase' must be text" in text
                else "box off the image" if "outside" in text else "bad box")
        raise BadRow(kind, text) from None
    kept = [b for b in layout.boxes if b.area >= min_box_area]
    small = len(layout.boxes) - len(kept)
    kept, extra = keep_largest(kept, max_boxes)
    return (Row(os.path.abspath(path), caption, tuple(b.phrase for b in kept), tuple(b.box for b in kept),
                (width, height), key == "latent"), small, len(extra))


def read_manifest(path: str, min_box_area: float = 0.01, max_boxes: int = MAX_OBJECTS) -> tuple[list[Row], ReadReport]:
    """Every good row of a JSONL manifest, and the report of what was skipped and why."""
    report = ReadReport(path)
    rows: list[Row] = []
    base_dir = os.path.dirname(os.path.abspath(path))
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            report.rows += 1
            try:
                try:
                    data = json.loads(line)
                except json.JSONDecodeError as e:
                    raise BadRow("not JSON", f"not valid JSON ({e.msg}, column {e.colno})") from None
                row, small, extra = parse_row(data, base_dir, min_box_area, max_boxes)
            except BadRow as e:
                report.skip(number, e.kind, str(e))
                continue
            report.small_boxes_dropped += small
            report.extra_boxes_dropped += extra
            rows.append(row)
    report.kept = len(rows)
    return rows, report


def flipped(boxes: tuple[tuple[float, float, float, float], ...]) -> tuple[tuple[float, float, float, float], ...]:
    """Boxes of the horizontally mirrored image."""
    return tuple((1.0 - x1, y0, 1.0 - x0, y1) for x0, y0, x1, y1 in boxes)


def square_crop(row: Row, min_box_area: float) -> tuple[tuple[str, ...], tuple[tuple[float, float, float, float], ...]]:
    """The row's phrases and boxes in the centre square crop of its image (the crop the trainer trains
    on): boxes cut at the crop's edges, those left under ``min_box_area`` of the crop dropped. A latent
    row is used whole."""
    if row.is_latent:
        return row.phrases, row.boxes
    w, h = row.size
    s = min(w, h)
    ox, oy = (w - s) // 2, (h - s) // 2
    phrases, boxes = [], []
    for phrase, (x0, y0, x1, y1) in zip(row.phrases, row.boxes):
        c = [min(max((x0 * w - ox) / s, 0.0), 1.0), min(max((y0 * h - oy) / s, 0.0), 1.0),
             min(max((x1 * w - ox) / s, 0.0), 1.0), min(max((y1 * h - oy) / s, 0.0), 1.0)]
        if (c[2] - c[0]) * (c[3] - c[1]) >= max(min_box_area, 1e-12):
            phrases.append(phrase)
            boxes.append(tuple(c))
    return tuple(phrases), tuple(boxes)
