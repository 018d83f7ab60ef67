"""GroundingPose: human poses for the keypoint GLIGEN model, attached to a conditioning."""
from __future__ import annotations

import logging

from comfy_api.latest import io, ui

from ..gligen_core.pose import DEFAULT_MIN_CONFIDENCE, PoseError, PoseGrounding, frames_from, frames_from_json
from ..gligen_core.pose_preview import render_pose
from .checks import check_widgets
from .encoder import show_on_node
from .grounding_kinds import KEYPOINTS, require_kind
from .types import GROUNDING_KEY, AdapterRef, GLIGENAdapterIO
from .unpatched import attach_check

log = logging.getLogger(__name__)

PoseKeypointIO = io.Custom("POSE_KEYPOINT")   # the community pose preprocessors' output type


class GroundingPose(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="GLIGENGroundingPose",
            display_name="GroundingPose",
            category="conditioning/gligen",
            description="Ground the keypoint GLIGEN model with human poses (up to 8 people, COCO's 17 keypoints).",
            inputs=[
                io.Conditioning.Input("conditioning", tooltip="The prompt's conditioning (usually the positive)."),
                GLIGENAdapterIO.Input("gligen", tooltip="The keypoint GLIGEN adapter (gligen-generation-keypoint)."),
                PoseKeypointIO.Input("pose", optional=True,
                                     tooltip="POSE_KEYPOINT from an OpenPose or DWPose preprocessor: OpenPose's 18 "
                                             "body points per person, converted to COCO's 17 (the neck is not used). "
                                             "One frame grounds every latent; several frames ground one latent each."),
                io.String.Input("pose_json", default="", multiline=True, optional=True,
                                tooltip='Instead of a pose input: OpenPose JSON, {"people": [{"pose_keypoints_2d": '
                                        '[x, y, confidence, ...18 points]}], "canvas_width": W, "canvas_height": H} '
                                        'or a list of such frames. Pixels of the canvas, or 0..1.'),
                io.Float.Input("min_confidence", default=DEFAULT_MIN_CONFIDENCE, min=0.0, max=1.0, step=0.01,
                               optional=True,
                               tooltip="A point below this confidence counts as not seen (absent, as unlabelled "
                                       "points were in training)."),
                io.Image.Input("background", optional=True,
                               tooltip="An image to draw the skeletons over in the preview. Not used for generation."),
            ],
            outputs=[
                io.Conditioning.Output(tooltip="The conditioning carrying the poses. More than 8 people: the 8 "
                                               "largest are kept and the node says so."),
                io.Image.Output(display_name="preview", tooltip="Each person's skeleton as the model reads it "
                                                               "(COCO-17, absent points left out), numbered by slot."),
            ],
            hidden=[io.Hidden.unique_id],
        )

    @classmethod
    def execute(cls, conditioning, gligen: AdapterRef, pose=None, pose_json: str = "",
                min_confidence: float = DEFAULT_MIN_CONFIDENCE, background=None) -> io.NodeOutput:
        check_widgets(cls, min_confidence=min_confidence, pose_json=pose_json)
        require_kind("GroundingPose", gligen.adapter, KEYPOINTS, "poses")
        if pose is not None and pose_json.strip():
            raise PoseError("GroundingPose: both 'pose' and 'pose_json' are given; use one (disconnect 'pose' or "
                            "clear 'pose_json').")
        if pose is not None:
            frames = frames_from(pose, "pose", min_confidence)
        elif pose_json.strip():
            frames = frames_from_json(pose_json, "pose_json", min_confidence)
        else:
            raise PoseError("GroundingPose: no pose. Connect 'pose' (POSE_KEYPOINT from an OpenPose or DWPose "
                            "preprocessor) or write OpenPose JSON in 'pose_json'.")
        grounding = PoseGrounding(tuple(frames))
        out = []
        for cond, extra in conditioning:
            extra = extra.copy()
            extra[GROUNDING_KEY] = grounding
            attach_check(extra, ("a pose",))
            out.append([cond, extra])
        people = sum(len(f.people) for f in frames)
        notes = [f"frame {i}: {f.note()}" if len(frames) > 1 else f.note() for i, f in enumerate(frames) if f.dropped]
        for note in notes:
            log.warning("GroundingPose: %s", note)
        text = "\n".join(notes) or (f"{people} {'person' if people == 1 else 'people'} in {len(frames)} "
                                    f"frame{'s' if len(frames) != 1 else ''} grounded")
        show_on_node(cls.hidden.unique_id if cls.hidden else None, text)
        preview = render_pose(frames[0], background)
        shown = ui.PreviewImage(preview, cls=cls).as_dict()
        shown["text"] = [text]
        return io.NodeOutput(out, preview, ui=shown)
