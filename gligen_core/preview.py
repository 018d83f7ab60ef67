"""A picture of the layout: every box outlined in its own colour with its phrase."""
from __future__ import annotations

import colorsys

import numpy as np
import torch
from PIL import Image, ImageDraw

from .boxes import BoxLayout
from .fonts import draw_text, label_fonts, text_bbox

MAX_SIDE = 1024


def box_colour(i: int) -> tuple[int, int, int]:
    """Distinct, stable colours: golden-ratio steps around the hue circle."""
    r, g, b = colorsys.hsv_to_rgb((i * 0.618033988749895) % 1.0, 0.75, 1.0)
    return int(r * 255), int(g * 255), int(b * 255)


def preview_canvas(width: int, height: int, background: torch.Tensor | None = None) -> Image.Image:
    """An empty preview picture with the canvas aspect (longest side at most ``MAX_SIDE``): dark, or
    ``background`` (an IMAGE) stretched to it and dimmed."""
    scale = min(1.0, MAX_SIDE / max(width, height))
    w, h = max(1, round(width * scale)), max(1, round(height * scale))
    if background is None:
        return Image.new("RGB", (w, h), (28, 28, 32))
    pixels = (background[0, ..., :3].clamp(0, 1) * 255 * 0.6).round().to(torch.uint8).cpu().numpy()
    return Image.fromarray(pixels, "RGB").resize((w, h), Image.BILINEAR)


def render_layout(layout: BoxLayout, note: str = "", background: torch.Tensor | None = None) -> torch.Tensor:
    """An IMAGE tensor ``[1, H, W, 3]`` in 0..1 with the canvas aspect (longest side at most 1024),
    drawn over ``background`` (an IMAGE, stretched to the canvas and dimmed) when given."""
    img = preview_canvas(layout.width, layout.height, background)
    w, h = img.size
    draw = ImageDraw.Draw(img)
    fonts = label_fonts(max(10, min(w, h) // 28))
    line = max(2, min(w, h) // 160)
    for i, b in enumerate(layout.boxes):
        c = box_colour(i)
        x0, y0, x1, y1 = b.box[0] * w, b.box[1] * h, b.box[2] * w, b.box[3] * h
        draw.rectangle((x0, y0, max(x0, x1 - 1), max(y0, y1 - 1)), outline=c, width=line)
        label = f"{i + 1}. {b.phrase}" + ("" if b.image is None else f" [image {b.image}]")
        tx, ty = x0 + line + 2, y0 + line + 1
        bbox = text_bbox(draw, (tx, ty), label, fonts)
        draw.rectangle((bbox[0] - 2, bbox[1] - 1, bbox[2] + 2, bbox[3] + 1), fill=(0, 0, 0))
        draw_text(draw, (tx, ty), label, fonts, c)
    if note:
        size = max(10, min(w, h) // 28)
        while size > 8 and text_bbox(draw, (0, 0), note, label_fonts(size))[2] > w - 8:  # fit the width
            size -= 1
        fonts = label_fonts(size)
        top = h - 4 - (text_bbox(draw, (0, 0), note, fonts)[3])
        bbox = text_bbox(draw, (4, top), note, fonts)
        draw.rectangle((bbox[0] - 2, bbox[1] - 2, bbox[2] + 2, bbox[3] + 2), fill=(120, 20, 20))
        draw_text(draw, (4, top), note, fonts, (255, 255, 255))
    return torch.from_numpy(np.asarray(img, dtype=np.float32) / 255.0).unsqueeze(0)
