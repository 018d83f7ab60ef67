"""OpenPose-18 people -> the keypoint model's COCO-17 slots, the JSON form, and the skeleton preview."""
from __future__ import annotations

import json

import pytest
import torch

from gligen_pack.gligen_core.pose import PoseError, frames_from, frames_from_json
from gligen_pack.gligen_core.pose_preview import render_pose

# OpenPose BODY_18 order, written out by hand, and for each COCO-17 keypoint the OpenPose name it is
OPENPOSE = ["nose", "neck", "r_shoulder", "r_elbow", "r_wrist", "l_shoulder", "l_elbow", "l_wrist", "r_hip",
            "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle", "r_eye", "l_eye", "r_ear", "l_ear"]
COCO = ["nose", "l_eye", "r_eye", "l_ear", "r_ear", "l_shoulder", "r_shoulder", "l_elbow", "r_elbow",
        "l_wrist", "r_wrist", "l_hip", "r_hip", "l_knee", "r_knee", "l_ankle", "r_ankle"]


def person(points: dict[str, tuple[float, float, float]]) -> dict:
    flat = []
    for name in OPENPOSE:
        flat += list(points.get(name, (0.0, 0.0, 0.0)))
    return {"pose_keypoints_2d": flat, "face_keypoints_2d": None}


def hand_made() -> dict:
    """One person on a 640x320 canvas, each point at a distinct pixel; the right knee undetected, the
    left ankle at low confidence."""
    pts = {name: (10.0 * (i + 1), 5.0 * (i + 1), 0.9) for i, name in enumerate(OPENPOSE)}
    pts["r_knee"] = (0.0, 0.0, 0.0)
    pts["l_ankle"] = (300.0, 200.0, 0.1)
    return {"people": [person(pts)], "canvas_width": 640, "canvas_height": 320}


def test_openpose_18_points_land_in_their_coco_17_slots():
    (pose,) = frames_from([hand_made()], "pose")
    assert (pose.width, pose.height, pose.dropped) == (640, 320, 0)
    points, masks = pose.tensors()
    assert points.shape == (136, 2) and masks.shape == (136,)
    for k, name in enumerate(COCO):
        i = OPENPOSE.index(name)
        if name in ("r_knee", "l_ankle"):                  # undetected / below the 0.3 default
            assert masks[k] == 0 and points[k].tolist() == [0.0, 0.0], name
        else:
            assert masks[k] == 1, name
            torch.testing.assert_close(points[k], torch.tensor([10.0 * (i + 1) / 640, 5.0 * (i + 1) / 320]))
    assert masks[17:].sum() == 0 and points[17:].abs().sum() == 0   # the other 7 person slots are empty
    # the neck (OpenPose 1, at 20, 10 px) has no COCO slot
    assert not any(torch.allclose(p, torch.tensor([20 / 640, 10 / 320])) for p in points[:17])


def test_the_confidence_threshold_is_a_parameter():
    (pose,) = frames_from(hand_made(), "pose", min_confidence=0.05)
    _, masks = pose.tensors()
    assert masks[COCO.index("l_ankle")] == 1 and masks[COCO.index("r_knee")] == 0


def test_normalised_coordinates_are_kept_and_the_official_example_pose_round_trips():
    pts = {"nose": (0.7598, 0.2542, 1.0), "l_eye": (0.7431, 0.2104, 1.0), "r_ankle": (0.5, 0.9, 1.0)}
    (pose,) = frames_from({"people": [person(pts)], "canvas_width": 512, "canvas_height": 512}, "pose")
    points, masks = pose.tensors()
    torch.testing.assert_close(points[0], torch.tensor([0.7598, 0.2542]))
    torch.testing.assert_close(points[1], torch.tensor([0.7431, 0.2104]))
    torch.testing.assert_close(points[16], torch.tensor([0.5, 0.9]))
    assert masks.sum() == 3


def test_more_than_8_people_keep_the_8_largest_largest_first():
    people = []
    for n in range(10):                         # person n spans (n+1)*10 px square
        s = 10.0 * (n + 1)
        people.append(person({"nose": (1.0, 1.0, 1.0), "r_ankle": (1.0 + s, 1.0 + s, 1.0)}))
    (pose,) = frames_from({"people": people, "canvas_width": 200, "canvas_height": 200}, "pose")
    assert len(pose.people) == 8 and pose.dropped == 2
    assert "kept the 8 largest" in pose.note() and "dropped 2" in pose.note()
    points, _ = pose.tensors()
    # slot 0 holds the largest (n = 9), slot 7 the eighth largest (n = 2); n = 0, 1 are dropped
    torch.testing.assert_close(points[16], torch.tensor([101.0 / 200, 101.0 / 200]))
    torch.testing.assert_close(points[7 * 17 + 16], torch.tensor([31.0 / 200, 31.0 / 200]))


def test_the_json_form_reads_openpose_json_text():
    text = json.dumps([hand_made(), {"people": [], "canvas_width": 64, "canvas_height": 64}])
    a, b = frames_from_json(text, "pose_json")
    assert len(a.people) == 1 and len(b.people) == 0 and b.tensors()[1].sum() == 0


@pytest.mark.parametrize("data, match", [
    ({"people": [{"pose_keypoints_2d": [0.0] * 75}], "canvas_width": 8, "canvas_height": 8}, "BODY_25"),
    ({"people": [{"pose_keypoints_2d": [0.0] * 53 + ["x"]}]}, r"pose_keypoints_2d\[53\]"),
    ({"persons": []}, "no 'people' list"),
    ({"people": [person({"nose": (100.0, 50.0, 1.0)})]}, "no canvas_width"),
    ({"people": [person({"nose": (900.0, 50.0, 1.0)})], "canvas_width": 64, "canvas_height": 64}, "outside"),
    ({"people": [], "canvas_width": -3, "canvas_height": 64}, "canvas_width = -3"),
    ([], "empty"),
])
def test_bad_pose_data_is_an_error_naming_the_field_and_value(data, match):
    with pytest.raises(PoseError, match=match) as e:
        frames_from(data, "pose")
    assert str(e.value).startswith("pose")


def test_bad_json_text_is_an_error_with_its_position():
    with pytest.raises(PoseError, match="not valid JSON.*line 1"):
        frames_from_json("{people: }", "pose_json")


def test_the_preview_draws_each_person_in_its_own_colour_on_the_canvas_aspect():
    two = hand_made()
    pts = {"l_shoulder": (500.0, 100.0, 1.0), "l_elbow": (600.0, 300.0, 1.0)}
    two["people"].append(person(pts))
    (pose,) = frames_from(two, "pose")
    img = render_pose(pose)
    assert img.shape == (1, 320, 640, 3)
    background = torch.tensor([28, 28, 32]) / 255
    drawn = (img[0] - background).abs().sum(-1) > 0.05
    assert drawn.sum() > 200
    # the second person's upper arm, from (500, 100) to (600, 300): its midpoint is drawn
    assert drawn[200, 550]
    colours = {tuple((img[0, y, x] * 255).round().int().tolist()) for y, x in ((200, 550), (40, 80))}   # + the first person's nose-right eye line
    assert len(colours) == 2


def test_a_pose_seen_from_a_crop_maps_points_into_it_and_leaves_the_rest_out():
    from gligen_pack.gligen_core.pose import PoseGrounding
    left = person({"nose": (20.0, 10.0, 1.0), "r_wrist": (60.0, 30.0, 1.0)})     # in the left half, then not
    right = person({"nose": (150.0, 50.0, 1.0)})                                   # in the right half only
    (pose,) = frames_from({"people": [left, right], "canvas_width": 200, "canvas_height": 100}, "pose")
    g = PoseGrounding((pose,))
    assert g.within(0.0, 0.0, 1.0, 1.0) is g
    crop = g.within(0.0, 0.0, 0.5, 1.0)                                            # the left half
    (p,) = crop.poses
    assert len(p.people) == 1 and (p.width, p.height) == (100, 100)
    points, masks = crop.slots()
    torch.testing.assert_close(points[0, 0], torch.tensor([0.2, 0.1]))             # nose: 20/100, 10/100
    torch.testing.assert_close(points[0, 10], torch.tensor([0.6, 0.3]))            # right wrist, COCO 10
    assert masks[0].sum() == 2
    with pytest.raises(ValueError):
        g.within(0.5, 0.0, 0.5, 1.0)
