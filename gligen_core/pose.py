"""Human poses for the keypoint GLIGEN model (GLIGEN spec 2.3): OpenPose people in, COCO-17 slots out.

The community pose preprocessors (OpenPose, DWPose; ComfyUI type ``POSE_KEYPOINT``) give, per frame,
``{"people": [{"pose_keypoints_2d": [x, y, confidence] * 18, ...}], "canvas_width": W,
"canvas_height": H}`` in OpenPose's 18-point body order (the OpenPose JSON output format). The model
was trained on COCO person keypoints, 17 per person in COCO order. The conversion:

| COCO-17 slot | name | OpenPose-18 point |
|---|---|---|
| 0 | nose | 0 nose |
| 1 | left eye | 15 left eye |
| 2 | right eye | 14 right eye |
| 3 | left ear | 17 left ear |
| 4 | right ear | 16 right ear |
| 5 | left shoulder | 5 left shoulder |
| 6 | right shoulder | 2 right shoulder |
| 7 | left elbow | 6 left elbow |
| 8 | right elbow | 3 right elbow |
| 9 | left wrist | 7 left wrist |
| 10 | right wrist | 4 right wrist |
| 11 | left hip | 11 left hip |
| 12 | right hip | 8 right hip |
| 13 | left knee | 12 left knee |
| 14 | right knee | 9 right knee |
| 15 | left ankle | 13 left ankle |
| 16 | right ankle | 10 right ankle |

OpenPose's point 1 (neck, the shoulders' midpoint) has no COCO slot and is not used. A point whose
confidence is below ``min_confidence`` (OpenPose writes ``0, 0, 0`` for an undetected point) is
absent: mask 0, as an unlabelled keypoint was in training. Coordinates are pixels of the canvas, or
already normalised when every coordinate lies in [0, 1]; they are normalised per axis by the canvas
width and height, so the whole canvas maps onto the whole image.

The model has 8 person slots. With more people the 8 largest are kept (area of the box around each
person's present points: the policy the model was trained with) and the number dropped is reported.
People are placed largest first, as in training.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Sequence

import torch

from .errors import GLIGENError
from .tokenizers.keypoint import KEYPOINTS, PERSONS

OPENPOSE_18 = ("nose", "neck", "right shoulder", "right elbow", "right wrist", "left shoulder", "left elbow",
               "left wrist", "right hip", "right knee", "right ankle", "left hip", "left knee", "left ankle",
               "right eye", "left eye", "right ear", "left ear")
COCO_17 = ("nose", "left eye", "right eye", "left ear", "right ear", "left shoulder", "right shoulder",
           "left elbow", "right elbow", "left wrist", "right wrist", "left hip", "right hip", "left knee",
           "right knee", "left ankle", "right ankle")
# COCO_FROM_OPENPOSE[k] = the OpenPose-18 index of COCO-17 keypoint k (the table above)
COCO_FROM_OPENPOSE = tuple(OPENPOSE_18.index(name) for name in COCO_17)
DEFAULT_MIN_CONFIDENCE = 0.3

Point = tuple[float, float]


class PoseError(GLIGENError):
    """Pose input that cannot be used for keypoint grounding."""


@dataclass(frozen=True)
class Person:
    """17 COCO keypoints, each normalised ``(x, y)`` or ``None`` when absent."""
    points: tuple[Point | None, ...]

    def area(self) -> float:
        pts = [p for p in self.points if p is not None]
        if not pts:
            return 0.0
        xs, ys = [p[0] for p in pts], [p[1] for p in pts]
        return (max(xs) - min(xs)) * (max(ys) - min(ys))

    def present(self) -> int:
        return sum(p is not None for p in self.points)


@dataclass(frozen=True)
class Pose:
    """One frame: its people (largest first, at most 8), the canvas size and how many were dropped."""
    people: tuple[Person, ...]
    width: int
    height: int
    dropped: int = 0

    def tensors(self, persons: int = PERSONS) -> tuple[torch.Tensor, torch.Tensor]:
        """``points [persons*17, 2]`` and ``masks [persons*17]`` for the keypoint tokenizer: person p's
        keypoint k in slot ``17 p + k``; absent points and empty slots are ``(0, 0)`` with mask 0."""
        points = torch.zeros(persons * KEYPOINTS, 2)
        masks = torch.zeros(persons * KEYPOINTS)
        for p, person in enumerate(self.people[:persons]):
            for k, pt in enumerate(person.points):
                if pt is not None:
                    points[p * KEYPOINTS + k] = torch.tensor(pt)
                    masks[p * KEYPOINTS + k] = 1.0
        return points, masks

    def note(self) -> str:
        if not self.dropped:
            return ""
        return (f"{len(self.people) + self.dropped} people: kept the {len(self.people)} largest, "
                f"dropped {self.dropped}")


def _number(v: Any, where: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise PoseError(f"{where} is {v!r}; expected a number")
    return float(v)


def _canvas(frame: dict, field: str, i: int) -> tuple[int | None, int | None]:
    w, h = frame.get("canvas_width"), frame.get("canvas_height")
    for name, v in (("canvas_width", w), ("canvas_height", h)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0):
            raise PoseError(f"{field}: frame {i} has {name} = {v!r}; it must be a positive number of pixels")
    return (int(w) if w is not None else None), (int(h) if h is not None else None)


def convert_person(values: Sequence[Any], min_confidence: float, where: str) -> list[tuple[float, float] | None]:
    """OpenPose-18 ``[x, y, c] * 18`` -> 17 COCO points in the input's units (``None`` = absent)."""
    if not isinstance(values, (list, tuple)) or len(values) != 18 * 3:
        n = len(values) if isinstance(values, (list, tuple)) else type(values).__name__
        hint = (" (75 values is OpenPose's BODY_25 model; export BODY_18/COCO instead)" if n == 75 else "")
        raise PoseError(f"{where}.pose_keypoints_2d has {n} values; expected 54 (18 OpenPose body "
                               f"points x [x, y, confidence]){hint}")
    nums = [_number(v, f"{where}.pose_keypoints_2d[{j}]") for j, v in enumerate(values)]
    out: list[tuple[float, float] | None] = []
    for src in COCO_FROM_OPENPOSE:
        x, y, c = nums[3 * src: 3 * src + 3]
        out.append((x, y) if c >= min_confidence and c > 0 else None)
    return out


def frames_from(data: Any, field: str, min_confidence: float = DEFAULT_MIN_CONFIDENCE,
                max_people: int = PERSONS) -> list[Pose]:
    """Every frame of POSE_KEYPOINT data (a list of frames, or one frame dict) as a :class:`Pose`."""
    frames = [data] if isinstance(data, dict) else data
    if not isinstance(frames, (list, tuple)) or not frames:
        raise PoseError(f"{field}: expected pose data (a frame {{'people': [...], 'canvas_width': W, "
                               f"'canvas_height': H}} or a list of them), got {type(data).__name__}"
                               f"{' (empty)' if isinstance(frames, (list, tuple)) else ''}")
    out = []
    for i, frame in enumerate(frames):
        if not isinstance(frame, dict) or not isinstance(frame.get("people", None), list):
            raise PoseError(f"{field}: frame {i} has no 'people' list; expected OpenPose JSON "
                                   f"({{'people': [{{'pose_keypoints_2d': [...]}}], 'canvas_width': W, ...}})")
        w, h = _canvas(frame, field, i)
        raw = []
        for j, person in enumerate(frame["people"]):
            where = f"{field}: frame {i}, person {j}"
            if not isinstance(person, dict):
                raise PoseError(f"{where} is {type(person).__name__}; expected {{'pose_keypoints_2d': [...]}}")
            kps = person.get("pose_keypoints_2d")
            if kps is None:                      # a person the preprocessor found no body for
                continue
            raw.append(convert_person(kps, min_confidence, where))
        out.append(_normalise(raw, w, h, field, i, max_people))
    return out


def _normalise(raw: list[list[Point | None]], w: int | None, h: int | None, field: str, i: int,
               max_people: int) -> Pose:
    coords = [c for person in raw for p in person if p is not None for c in p]
    normalised = all(0.0 <= c <= 1.0 for c in coords)
    if not normalised and (w is None or h is None):
        raise PoseError(f"{field}: frame {i} has pixel coordinates but no canvas_width/canvas_height; "
                               f"add the canvas size or give coordinates normalised to 0..1")
    sx, sy = (1.0, 1.0) if normalised else (1.0 / w, 1.0 / h)
    people = []
    for person in raw:
        pts = tuple(None if p is None else (p[0] * sx, p[1] * sy) for p in person)
        for k, p in enumerate(pts):
            if p is not None and not (-0.5 <= p[0] <= 1.5 and -0.5 <= p[1] <= 1.5):
                raise PoseError(f"{field}: frame {i}, the {COCO_17[k]} at {p} lies far outside the "
                                       f"{w}x{h} canvas; is the canvas size right?")
        if any(p is not None for p in pts):
            people.append(Person(pts))
    people.sort(key=lambda p: -p.area())           # stable: equal areas keep their order
    kept = people[:max_people]
    return Pose(tuple(kept), w or 512, h or 512, dropped=len(people) - len(kept))


def frames_from_json(text: str, field: str, min_confidence: float = DEFAULT_MIN_CONFIDENCE) -> list[Pose]:
    """The JSON form: OpenPose JSON text, one frame or a list of frames (what POSE_KEYPOINT holds)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise PoseError(f"{field}: not valid JSON ({e.msg} at line {e.lineno}, column {e.colno})") from None
    return frames_from(data, field, min_confidence)


@dataclass(frozen=True)
class PoseGrounding:
    """What a conditioning carries for the keypoint model: one pose, or one per latent of the batch."""
    poses: tuple[Pose, ...]
    kind = "keypoints"

    def slots(self, persons: int = PERSONS) -> tuple[torch.Tensor, torch.Tensor]:
        """``points [F, persons*17, 2]`` and ``masks [F, persons*17]`` for the F poses."""
        pairs = [p.tensors(persons) for p in self.poses]
        return torch.stack([a for a, _ in pairs]), torch.stack([m for _, m in pairs])

    @property
    def dropped(self) -> int:
        return sum(p.dropped for p in self.poses)

    def within(self, x0: float, y0: float, x1: float, y1: float) -> "PoseGrounding":
        """The poses as seen from the crop ``[x0, y0, x1, y1]`` of the canvas (area conditioning): points
        mapped into the crop, points outside it absent, people with no point left out."""
        if (x0, y0, x1, y1) == (0.0, 0.0, 1.0, 1.0):
            return self
        if not (0.0 <= x0 < x1 <= 1.0 and 0.0 <= y0 < y1 <= 1.0):
            raise ValueError(f"crop {[x0, y0, x1, y1]} is not inside the canvas")
        w, h = x1 - x0, y1 - y0

        def inside(p: Point | None) -> Point | None:
            if p is None:
                return None
            q = ((p[0] - x0) / w, (p[1] - y0) / h)
            return q if 0.0 <= q[0] <= 1.0 and 0.0 <= q[1] <= 1.0 else None

        poses = []
        for pose in self.poses:
            people = [Person(tuple(inside(p) for p in person.points)) for person in pose.people]
            poses.append(Pose(tuple(p for p in people if p.present()), max(1, round(pose.width * w)),
                              max(1, round(pose.height * h)), pose.dropped))
        return PoseGrounding(tuple(poses))

    def __len__(self) -> int:
        return len(self.poses)
