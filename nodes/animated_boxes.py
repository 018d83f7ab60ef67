"""GroundingBoxes' outputs for a layout with keyframes: the preview is a batch, one image per frame."""
from __future__ import annotations

import torch
from comfy_api.latest import io, ui

from ..gligen_core import dump_boxes
from ..gligen_core.keyframes import AnimatedLayout
from ..gligen_core.preview import render_layout

MAX_PREVIEW_FRAMES = 256


def animated_outputs(cls, layout: AnimatedLayout, background=None) -> io.NodeOutput:
    """(layout, preview batch, report), and the UI: the frames' images and each frame's boxes as the
    backend reads them (normalised), so a user can scrub the preview and check any frame."""
    count = layout.frame_count
    shown_frames = min(count, MAX_PREVIEW_FRAMES)
    note = "" if count == shown_frames else f"preview shows frames 0-{shown_frames - 1} of {count}"
    frames = [layout.at(f) for f in range(shown_frames)]
    preview = torch.cat([render_layout(f, f"frame {i}" + (f" ({note})" if note else ""), background)
                         for i, f in enumerate(frames)])
    shown = ui.PreviewImage(preview, cls=cls).as_dict()
    shown["boxes"] = [dump_boxes(f) for f in frames]
    if background is not None:
        shown["gligen_background"] = ui.PreviewImage(background[:1], cls=cls).as_dict()["images"]
    report = layout.report() + (f"\n{note}" if note else "")
    return io.NodeOutput(layout, preview, report, ui=shown)
