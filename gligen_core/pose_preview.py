"""A picture of a keypoint grounding: each person's COCO-17 skeleton in its own colour, numbered by slot."""
from __future__ import annotations

import numpy as np
import torch
from PIL import ImageDraw

from .fonts import draw_text, label_fonts
from .pose import Pose
from .preview import box_colour, preview_canvas

# limbs between COCO-17 keypoints: face, arms, torso, legs
SKELETON = ((0, 1), (0, 2), (1, 3), (2, 4), (5, 6), (5, 7), (7, 9), (6, 8), (8, 10),
            (5, 11), (6, 12), (11, 12), (11, 13), (13, 15), (12, 14), (14, 16))


def render_pose(pose: Pose, background: torch.Tensor | None = None) -> torch.Tensor:
    """An IMAGE ``[1, H, W, 3]`` in 0..1 with the canvas aspect (longest side at most 1024)."""
    img = preview_canvas(pose.width, pose.height, background)
    w, h = img.size
    draw = ImageDraw.Draw(img)
    line, dot = max(2, min(w, h) // 128), max(3, min(w, h) // 96)
    fonts = label_fonts(max(10, min(w, h) // 32))
    for i, person in enumerate(pose.people):
        c = box_colour(i)
        pts = [None if p is None else (p[0] * w, p[1] * h) for p in person.points]
        for a, b in SKELETON:
            if pts[a] is not None and pts[b] is not None:
                draw.line((pts[a], pts[b]), fill=c, width=line)
        for p in pts:
            if p is not None:
                draw.ellipse((p[0] - dot, p[1] - dot, p[0] + dot, p[1] + dot), fill=c, outline=(0, 0, 0))
        top = min((p for p in pts if p is not None), key=lambda p: p[1])
        draw_text(draw, (top[0] + dot + 2, max(0, top[1] - 3 * dot)), str(i + 1), fonts, c)
    if pose.dropped:
        draw_text(draw, (4, h - max(12, min(w, h) // 28) - 4), pose.note(), label_fonts(max(10, min(w, h) // 36)),
                  (255, 120, 120))
    return torch.from_numpy(np.asarray(img, dtype=np.float32) / 255.0).unsqueeze(0)
