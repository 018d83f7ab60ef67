"""GroundingBatch: one layout per image of a batch (image i gets layout i mod the number of layouts)."""
from __future__ import annotations

import torch
from comfy_api.latest import io

from ..gligen_core import BoxesError, BoxLayout
from ..gligen_core.keyframes import AnimatedLayout
from ..gligen_core.layout_batch import LayoutBatch
from ..gligen_core.preview import render_layout
from .types import GroundingBoxesIO

SLOTS = 8


def _first_frame(layout: BoxLayout | AnimatedLayout) -> BoxLayout:
    return layout.at(0) if isinstance(layout, AnimatedLayout) else layout


class GroundingBatch(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        inputs = [GroundingBoxesIO.Input("grounding_1", tooltip="The layout of image 0 (and every Nth image after it).")]
        inputs += [GroundingBoxesIO.Input(f"grounding_{k}", optional=True,
                                          tooltip=f"The layout of image {k - 1} (and every Nth image after it).")
                   for k in range(2, SLOTS + 1)]
        return io.Schema(
            node_id="GLIGENGroundingBatch",
            display_name="GroundingBatch",
            category="conditioning/gligen",
            description="One layout per image of a batch: with N layouts connected, image i gets layout i mod N. "
                        "The batch size must be a multiple of N. Chain batches to have more than 8.",
            inputs=inputs,
            outputs=[
                GroundingBoxesIO.Output(display_name="grounding",
                                        tooltip="The layouts, for GroundingEncoder: each image its own."),
                io.Image.Output(display_name="preview", tooltip="One image per layout (a layout with keyframes "
                                                                "shows its first frame)."),
            ],
        )

    @classmethod
    def execute(cls, grounding_1, **more) -> io.NodeOutput:
        given = [grounding_1] + [more[f"grounding_{k}"] for k in range(2, SLOTS + 1)
                                 if more.get(f"grounding_{k}") is not None]
        batch = LayoutBatch.of(given)
        sizes = {(lay.width, lay.height) for lay in batch.layouts}
        if len(sizes) > 1:
            raise BoxesError("GroundingBatch: the layouts have different canvases ("
                             + ", ".join(f"{w}x{h}" for w, h in sorted(sizes)) + "); the images of one batch "
                             "share one size, so give every GroundingBoxes the same width and height.")
        preview = torch.cat([render_layout(_first_frame(lay), f"image {i}") for i, lay in enumerate(batch.layouts)])
        return io.NodeOutput(batch, preview)
