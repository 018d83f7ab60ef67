"""Import COCO-style detection annotations into a training manifest (JSONL, see ``data``).

Each image becomes a row: its boxes (COCO's ``[x, y, width, height]`` in pixels) as ``box_px`` with the
category name as the phrase. The caption is the image's first caption from a COCO captions file when
one is given, else the category names joined by ", " (the official recipe's pseudo-caption for
detection data). Crowd annotations are left out unless asked for. Images without annotations are kept
(they train the null grounding) unless ``skip_empty``. Plain Python: no ComfyUI, no torch.
"""
from __future__ import annotations

import json
import os
from collections import defaultdict
from dataclasses import dataclass

from ..gligen_core.errors import GLIGENError


@dataclass
class ImportReport:
    images: int = 0
    rows: int = 0
    boxes: int = 0
    crowd_skipped: int = 0
    empty_skipped: int = 0
    clamped: int = 0

    def summary(self) -> str:
        return (f"{self.rows} rows from {self.images} images, {self.boxes} boxes"
                + (f"; {self.crowd_skipped} crowd annotations left out" if self.crowd_skipped else "")
                + (f"; {self.empty_skipped} images without boxes left out" if self.empty_skipped else "")
                + (f"; {self.clamped} boxes reaching past their image cut at its edge" if self.clamped else ""))


def _load(path: str, what: str) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError) as e:
        raise GLIGENError(f"cannot read the COCO {what} file {path!r}: {e}") from None
    if not isinstance(data, dict) or "images" not in data:
        raise GLIGENError(f"{path!r} is not a COCO {what} file (no 'images' list).")
    return data


def coco_rows(annotations: str, images_dir: str, captions: str | None = None, include_crowd: bool = False,
              skip_empty: bool = False) -> tuple[list[dict], ImportReport]:
    """Manifest rows (dicts) for every image of a COCO instances file."""
    data = _load(annotations, "annotations")
    names = {c["id"]: c["name"] for c in data.get("categories", [])}
    by_image: dict[int, list[dict]] = defaultdict(list)
    report = ImportReport()
    for a in data.get("annotations", []):
        if a.get("iscrowd") and not include_crowd:
            report.crowd_skipped += 1
            continue
        by_image[a["image_id"]].append(a)
    first_caption: dict[int, str] = {}
    if captions:
        for c in _load(captions, "captions").get("annotations", []):
            first_caption.setdefault(c["image_id"], c["caption"].strip())
    rows = []
    for im in data["images"]:
        report.images += 1
        boxes = []
        for a in by_image.get(im["id"], []):
            x, y, w, h = a["bbox"]
            box = [x, y, x + w, y + h]
            if "width" in im and "height" in im:  # COCO boxes may pass the edge by a rounding error
                limits = (im["width"], im["height"], im["width"], im["height"])
                cut = [min(max(v, 0), lim) for v, lim in zip(box, limits)]
                report.clamped += cut != box
                box = cut
            boxes.append({"phrase": names.get(a["category_id"], ""), "box_px": box})
        if not boxes and skip_empty:
            report.empty_skipped += 1
            continue
        caption = first_caption.get(im["id"])
        if caption is None:
            caption = ", ".join(dict.fromkeys(b["phrase"] for b in boxes))
        rows.append({"image": os.path.join(os.path.abspath(images_dir), im["file_name"]), "caption": caption,
                     "boxes": boxes})
        report.boxes += len(boxes)
    report.rows = len(rows)
    return rows, report


def write_manifest(rows: list[dict], path: str) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
