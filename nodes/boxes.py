"""GroundingBoxes: any number of (phrase, box) pairs in one node, as JSON the box editor also writes.

Checks: when the prompt is queued, ComfyUI checks width and height (whole numbers, 8..MAX_RESOLUTION)
and ``validate_inputs`` checks the JSON alone (everything but 'box_px' against the canvas, which it
cannot see); a linked JSON is checked when the node runs. When it runs, every value is checked again,
linked or typed, and the boxes against the canvas. It is not an output node: a prompt with an invalid
node anywhere is refused as a whole, as for core nodes, and the preview is shown when the graph runs.
"""
from __future__ import annotations

import dataclasses
import logging

import nodes as comfy_nodes
from comfy_api.latest import io, ui

from ..gligen_core import BoxesError, dump_boxes, format_boxes, parse_boxes
from ..gligen_core.boxes import check_boxes, drop_note
from ..gligen_core.preview import render_layout
from ..gligen_core.keyframes import AnimatedLayout
from .animated_boxes import animated_outputs
from .canvas import canvas_of
from .checks import check_widgets
from .images import check_image_indexes, check_images
from .types import GroundingBoxesIO

log = logging.getLogger(__name__)

DEFAULT_BOXES = format_boxes([
    {"phrase": "a red car", "box": [0.05, 0.55, 0.6, 0.95]},
    {"phrase": "a corgi", "box": [0.6, 0.35, 0.95, 0.9]},
])


class GroundingBoxes(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="GLIGENGroundingBoxes",
            display_name="GroundingBoxes",
            category="conditioning/gligen",
            description="Place boxes on a canvas and name what goes in each; outputs the layout and a preview.",
            inputs=[
                io.Int.Input("width", default=512, min=8, max=comfy_nodes.MAX_RESOLUTION, step=8,
                             tooltip="Canvas width in pixels: the image you will generate. 'box_px' coordinates "
                                     "are pixels of this canvas."),
                io.Int.Input("height", default=512, min=8, max=comfy_nodes.MAX_RESOLUTION, step=8,
                             tooltip="Canvas height in pixels."),
                io.String.Input("boxes_json", default=DEFAULT_BOXES, multiline=True,
                                tooltip='A JSON list of boxes: {"phrase": "a corgi", "box": [x0, y0, x1, y1]} with '
                                        'coordinates normalised to 0..1 (top-left origin), or "box_px" in pixels of '
                                        'the canvas. Up to 30 boxes are grounded; beyond that the 30 largest are kept. '
                                        'The box editor above writes this text; you can also edit it by hand.'),
                io.Image.Input("background", optional=True,
                               tooltip="An image to place the boxes over: shown behind the boxes in the editor "
                                       "(after a run) and in the preview. Not used for generation."),
                io.MultiType.Input("canvas_from", types=[io.Latent, io.Image], optional=True,
                                   tooltip="Optional: the LATENT you sample (or an IMAGE of the size you generate); "
                                           "its size becomes the canvas and width/height are not used."),
                io.Image.Input("images", optional=True,
                               tooltip='Reference images for text-image GLIGEN: a box with "image": 0 is grounded '
                                       'with the first image of this batch ("this dog, here"), with or without a '
                                       'phrase. Batch several images with core\'s Batch Images node.'),
            ],
            outputs=[
                GroundingBoxesIO.Output(display_name="grounding",
                                        tooltip="The boxes and phrases, for GroundingEncoder."),
                io.Image.Output(display_name="preview",
                                tooltip="The canvas with every box outlined and labelled with its phrase."),
                io.String.Output(display_name="report",
                                 tooltip="The boxes in pixels, and which boxes were dropped if there were more than 30."),
            ],
            hidden=[io.Hidden.unique_id],
        )

    @classmethod
    def validate_inputs(cls, boxes_json: str | None) -> bool | str:
        """The JSON alone, when typed in (None: linked, checked when the node runs)."""
        if boxes_json is None:
            return True
        try:
            check_boxes(boxes_json)
        except BoxesError as e:
            return str(e)
        return True

    @classmethod
    def execute(cls, width: int, height: int, boxes_json: str, background=None, canvas_from=None,
                images=None) -> io.NodeOutput:
        check_widgets(cls, width=width, height=height, boxes_json=boxes_json)
        check_images(images)
        if canvas_from is not None:
            width, height = canvas_of(canvas_from)
        try:
            layout = parse_boxes(boxes_json, width, height)
            if not isinstance(layout, AnimatedLayout):  # parse_boxes refuses 'image' with keyframes
                check_image_indexes(layout, images)
        except BoxesError as e:
            raise BoxesError(f"boxes_json: {e}") from None
        node = cls.hidden.unique_id if cls.hidden else None
        if isinstance(layout, AnimatedLayout):  # boxes with keyframes (no reference images yet): a preview per frame
            return animated_outputs(cls, dataclasses.replace(layout, node=node), background)
        layout = dataclasses.replace(layout, node=node, images=images)
        note = ""
        if layout.dropped:
            note = drop_note(len(layout.boxes) + len(layout.dropped), len(layout.boxes))
            log.warning("GroundingBoxes: %s: %s", note, ", ".join(repr(b.phrase) for b in layout.dropped))
        preview = render_layout(layout, note, background)
        shown = ui.PreviewImage(preview, cls=cls).as_dict()
        shown["boxes"] = [dump_boxes(layout)]  # what the backend received, normalised
        if images is not None:   # the editor shows each box's reference image
            shown["gligen_images"] = ui.PreviewImage(images, cls=cls).as_dict()["images"]
        if background is not None:
            shown["gligen_background"] = ui.PreviewImage(background[:1], cls=cls).as_dict()["images"]
        return io.NodeOutput(layout, preview, layout.report(), ui=shown)
