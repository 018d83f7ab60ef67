"""Keyframed layouts: boxes interpolated between keyframes, absent outside [appear, leave), and the
per-latent groundings built from them."""
from __future__ import annotations

import json

import pytest
import torch

from gligen_pack.gligen_core import BoxesError, BoxLayout, Grounding, parse_boxes
from gligen_pack.gligen_core.frame_grounding import AnimatedGrounding, GroundingBatch, join, per_latent
from gligen_pack.gligen_core.keyframes import AnimatedLayout

A, B = [0.0, 0.2, 0.4, 0.6], [0.4, 0.0, 1.0, 0.8]


def layout(*entries, frames=None) -> AnimatedLayout:
    data = {"boxes": list(entries)} if frames is None else {"frames": frames, "boxes": list(entries)}
    out = parse_boxes(json.dumps(data), 100, 50)
    assert isinstance(out, AnimatedLayout)
    return out


def boxes_at(lay: AnimatedLayout, frame: int) -> dict:
    return {b.phrase: list(b.box) for b in lay.at(frame).boxes}


def test_linear_interpolation_at_between_and_outside_keyframes():
    lay = layout({"phrase": "a dog", "keyframes": [{"frame": 2, "box": A}, {"frame": 6, "box": B}]})
    assert boxes_at(lay, 2) == {"a dog": A}                      # at a keyframe: exactly it
    assert boxes_at(lay, 6) == {"a dog": B}
    assert boxes_at(lay, 0) == {"a dog": A}                      # before the first: held
    assert boxes_at(lay, 40) == {"a dog": B}                     # after the last: held
    mid = boxes_at(lay, 3)["a dog"]                              # a quarter of the way
    assert mid == pytest.approx([a + (b - a) * 0.25 for a, b in zip(A, B)], abs=1e-12)
    assert boxes_at(lay, 4)["a dog"] == pytest.approx([0.2, 0.1, 0.7, 0.7], abs=1e-12)


@pytest.mark.parametrize("ease,t", [("linear", 0.25), ("ease_in", 0.0625), ("ease_out", 0.4375),
                                    ("ease_in_out", 0.15625)])
def test_eases(ease, t):
    lay = layout({"phrase": "a dog", "ease": ease, "keyframes": [{"frame": 0, "box": A}, {"frame": 4, "box": B}]})
    assert boxes_at(lay, 1)["a dog"] == pytest.approx([a + (b - a) * t for a, b in zip(A, B)], abs=1e-12)


def test_appear_and_leave():
    lay = layout({"phrase": "a dog", "box": A, "appear": 3, "leave": 5},
                 {"phrase": "a cat", "keyframes": [{"frame": 0, "box_px": [0, 0, 50, 25]}], "leave": 2})
    assert boxes_at(lay, 0) == {"a cat": [0.0, 0.0, 0.5, 0.5]}
    assert boxes_at(lay, 2) == {}                                # the cat left, the dog is not there yet
    assert boxes_at(lay, 3) == boxes_at(lay, 4) == {"a dog": A}
    assert boxes_at(lay, 5) == {}
    assert lay.frame_count == 5


def test_frames_key_sets_the_frame_count():
    assert layout({"phrase": "a dog", "box": A, "appear": 1}, frames=16).frame_count == 16


def test_layout_without_keyframes_is_a_plain_layout():
    text = json.dumps({"frames": 16, "boxes": [{"phrase": "a dog", "box": A, "id": "b1"}]})
    assert type(parse_boxes(text, 100, 50)) is BoxLayout


@pytest.mark.parametrize("entry,message", [
    ({"phrase": "a", "keyframes": []}, "'keyframes' must be a non-empty list"),
    ({"phrase": "a", "keyframes": [{"frame": 1, "box": A}, {"frame": 1, "box": B}]},
     "box #1 ('a'), keyframe at frame 1: the box has two keyframes at this frame"),
    ({"phrase": "a", "keyframes": [{"frame": 1.0, "box": A}]}, "'frame' must be a whole number of frames"),
    ({"phrase": "a", "keyframes": [{"frame": -1, "box": A}]}, "'frame' must be a whole number of frames from 0"),
    ({"phrase": "a", "keyframes": [{"box": A}]}, "keyframe #1: 'frame' is missing"),
    ({"phrase": "a", "keyframes": [{"frame": 2, "box": [0, 0, 1.5, 1]}]},
     "keyframe at frame 2: x1 = 1.5 is outside 0..1"),
    ({"phrase": "a", "keyframes": [{"frame": 2, "box_px": [0, 0, 101, 10]}]}, "outside the 100x50 canvas"),
    ({"phrase": "a", "keyframes": [{"frame": 2, "box": A, "ease": "linear"}]}, "keyframe #1: unknown key 'ease'"),
    ({"phrase": "a", "box": A, "keyframes": [{"frame": 2, "box": A}]}, "give either 'keyframes' or one 'box'"),
    ({"phrase": "a", "box": A, "appear": 3, "leave": 3}, "'leave' = 3 is not after 'appear' = 3"),
    ({"phrase": "a", "box": A, "appear": None}, "'appear' must be a whole number of frames from 0 to 100000, got null"),
    ({"phrase": "a", "box": A, "ease": "bounce"}, "'ease' = \"bounce\" is not one of 'linear'"),
    ({"phrase": " ", "box": A, "appear": 1}, "the phrase is empty"),
    ({"phrase": "a", "bbox": A, "appear": 1}, "unknown key 'bbox'"),
])
def test_bad_keyframes_name_the_box_the_value_and_the_fix(entry, message):
    with pytest.raises(BoxesError) as e:
        parse_boxes(json.dumps([entry]), 100, 50)
    assert message in str(e.value)


def test_bad_frames_count():
    with pytest.raises(BoxesError, match="'frames' must be a whole number of frames from 1"):
        parse_boxes(json.dumps({"frames": 0, "boxes": []}), 100, 50)


def test_more_than_30_boxes_with_keyframes_is_an_error():
    entries = [{"phrase": f"p{i}", "box": A, "appear": 1} for i in range(31)]
    with pytest.raises(BoxesError, match="at most 30 boxes and this one has 31"):
        parse_boxes(json.dumps(entries), 100, 50)


def test_animated_grounding_per_frame_and_in_an_area():
    lay = layout({"phrase": "a dog", "keyframes": [{"frame": 0, "box": A}, {"frame": 4, "box": B}]},
                 {"phrase": "a cat", "box": [0.5, 0.5, 1.0, 1.0], "appear": 2})
    feats = torch.arange(6.0).reshape(2, 3)
    g = AnimatedGrounding.from_layout(lay, feats)
    assert per_latent(g) and not per_latent(Grounding(("x",), torch.tensor([A]), feats[:1]))
    f0, f2 = g.at(0), g.at(2)
    assert f0.phrases == ("a dog",) and torch.equal(f0.features, feats[:1])
    assert f2.phrases == ("a dog", "a cat") and torch.allclose(f2.boxes[0], torch.tensor([0.2, 0.1, 0.7, 0.7]))
    assert g.at(2) is f2                                          # one object per frame: tokens cached by it
    cropped = g.within(0.5, 0.5, 1.0, 1.0)                        # the bottom-right quarter
    assert cropped.at(0).phrases == ()                            # frame 0: the dog is outside it
    assert cropped.at(2).phrases == ("a dog", "a cat")
    assert torch.allclose(cropped.at(2).boxes, torch.tensor([[0.0, 0.0, 0.4, 0.4], [0.0, 0.0, 1.0, 1.0]]))


def test_grounding_batch_cycles_and_joins():
    one = Grounding(("a",), torch.tensor([A]), torch.ones(1, 3))
    two = Grounding(("b",), torch.tensor([B]), torch.zeros(1, 3))
    batch = GroundingBatch((one, two))
    assert [batch.at(i).phrases for i in range(4)] == [("a",), ("b",), ("a",), ("b",)]
    extra = Grounding(("c",), torch.tensor([A]), torch.ones(1, 3))
    joined, _ = join(extra, batch)                                # a plain grounding first: every image gets it
    assert [joined.at(i).phrases for i in range(2)] == [("c", "a"), ("c", "b")]
    with pytest.raises(ValueError, match="batch of 2 layouts with one of 3"):
        join(batch, GroundingBatch((one, two, one)))
