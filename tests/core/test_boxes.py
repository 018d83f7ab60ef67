"""Box JSON: exact coordinates, clear errors naming the box, the value and the fix, keep-30-largest."""
from __future__ import annotations

import json

import pytest
import torch

from gligen_pack.gligen_core import BoxesError, Grounding, parse_boxes
from gligen_pack.gligen_core.boxes import check_boxes
from gligen_pack.gligen_core.preview import box_colour, render_layout


def test_normalised_and_pixel_boxes_are_kept_exactly():
    text = json.dumps([{"phrase": "a red car", "box": [0.1, 0.2, 0.55, 0.9]},
                       {"phrase": " a corgi ", "box_px": [301, 13, 509, 250]}])
    layout = parse_boxes(text, 512, 384)
    assert [b.phrase for b in layout.boxes] == ["a red car", "a corgi"]
    assert layout.boxes[0].box == (0.1, 0.2, 0.55, 0.9)
    assert layout.boxes[1].box == (301 / 512, 13 / 384, 509 / 512, 250 / 384)  # no 8-px snapping
    assert "x 301-509, y 13-250 px" in layout.report()


def test_object_form_and_editor_keys_are_accepted():
    text = json.dumps({"version": 1, "boxes": [{"phrase": "sun", "box": [0, 0, 0.2, 0.2], "color": "#f00", "id": 3}]})
    assert parse_boxes(text, 64, 64).boxes[0].phrase == "sun"


@pytest.mark.parametrize("text", ["", "  ", "[]", '{"boxes": []}'])
def test_zero_boxes_are_allowed(text):
    assert parse_boxes(text, 64, 64).boxes == ()


def test_non_ascii_phrase():
    assert parse_boxes(json.dumps([{"phrase": "un café ☕ 猫", "box": [0, 0, 1, 1]}]), 64, 64).boxes[0].phrase == "un café ☕ 猫"


BAD = [
    ("[{", "not valid JSON"),
    ('"boxes"', "must be a list"),
    ('{"items": []}', "without a 'boxes' list"),
    ('[42]', "box #1 must be an object"),
    ('[{"phrase": "cat", "box": [0, 0, 1]}]', "list of 4 numbers"),
    ('[{"phrase": "cat", "box": [0, "a", 1, 1]}]', "y0 in 'box' must be a number"),
    ('[{"phrase": "cat", "box": [0, true, 1, 1]}]', "y0 in 'box' must be a number"),
    ('[{"phrase": "cat", "box": [0, NaN, 1, 1]}]', "y0 in 'box' is nan"),
    ('[{"phrase": "cat", "box": [0, 0, Infinity, 1]}]', "x1 in 'box' is inf"),
    ('[{"phrase": "cat", "box": [-0.1, 0, 1, 1]}]', "x0 = -0.1 is outside 0..1"),
    ('[{"phrase": "cat", "box": [0, 0, 1.5, 1]}]', "x1 = 1.5 is outside 0..1"),
    ('[{"phrase": "cat", "box": [0.5, 0, 0.2, 1]}]', "x1 is left of x0"),
    ('[{"phrase": "cat", "box": [0, 0.8, 1, 0.1]}]', "y1 is above y0"),
    ('[{"phrase": "cat", "box": [0.3, 0.1, 0.3, 0.9]}]', "zero area"),
    ('[{"phrase": "cat", "box_px": [0, 0, 600, 10]}]', "x1 = 600 px is outside the 512x256 canvas"),
    ('[{"phrase": "cat", "box_px": [0, -3, 10, 10]}]', "y0 = -3 px is outside"),
    ('[{"phrase": "", "box": [0, 0, 1, 1]}]', "the phrase is empty"),
    ('[{"phrase": "   ", "box": [0, 0, 1, 1]}]', "the phrase is empty"),
    ('[{"phrase": 5, "box": [0, 0, 1, 1]}]', "'phrase' must be text"),
    ('[{"box": [0, 0, 1, 1]}]', "'phrase' must be text"),
    ('[{"phrase": "cat"}]', "exactly one of 'box'"),
    ('[{"phrase": "cat", "box": [0, 0, 1, 1], "box_px": [0, 0, 1, 1]}]', "not both"),
    ('[{"phrase": "cat", "bbox": [0, 0, 1, 1]}]', "unknown key 'bbox'"),
]


@pytest.mark.parametrize("text,expected", BAD)
def test_bad_boxes_name_the_problem(text, expected):
    with pytest.raises(BoxesError) as e:
        parse_boxes(text, 512, 256)
    assert expected in str(e.value)


@pytest.mark.parametrize("text,expected", [(t, e) for t, e in BAD if "px is outside the 512x256" not in e])
def test_without_a_canvas_every_other_check_runs(text, expected):
    """check_boxes (queue time, width/height linked or unseen) refuses what parse_boxes refuses, except
    'box_px' beyond the canvas, which only the canvas can tell."""
    with pytest.raises(BoxesError) as e:
        check_boxes(text)
    assert expected in str(e.value) or "y0 = -3 px is outside the canvas (above it)" in str(e.value)


def test_without_a_canvas_pixel_boxes_beyond_any_size_wait_for_the_canvas():
    text = '[{"phrase": "cat", "box_px": [0, 0, 600, 10]}]'
    check_boxes(text)
    with pytest.raises(BoxesError, match="x1 = 600 px is outside the 512x256 canvas"):
        parse_boxes(text, 512, 256)


def test_error_names_the_box_number_and_phrase():
    text = json.dumps([{"phrase": "ok", "box": [0, 0, 1, 1]}, {"phrase": "a corgi", "box": [0.9, 0, 0.1, 1]}])
    with pytest.raises(BoxesError, match=r"box #2 \('a corgi'\): x1 is left of x0.*Swap"):
        parse_boxes(text, 64, 64)


@pytest.mark.parametrize("w,h", [(0, 64), (64, -1), (64.5, 64)])
def test_bad_canvas(w, h):
    with pytest.raises(BoxesError, match="canvas"):
        parse_boxes("[]", w, h)


@pytest.mark.parametrize("n", [31, 45, 1000])
def test_more_than_30_boxes_keep_the_30_largest_in_order(n):
    entries = [{"phrase": f"thing {i}", "box": [0, 0, ((i * 37) % n + 1) / n, 1.0]} for i in range(n)]
    layout = parse_boxes(json.dumps(entries), 64, 64)
    assert len(layout.boxes) == 30 and len(layout.dropped) == n - 30
    kept_widths = sorted((b.box[2] for b in layout.boxes), reverse=True)
    all_widths = sorted((e["box"][2] for e in entries), reverse=True)
    assert kept_widths == all_widths[:30]
    order = [int(b.phrase.split()[1]) for b in layout.boxes]
    assert order == sorted(order)                   # original order preserved
    assert f"kept the 30 largest of {n}" in layout.report()


def test_grounding_slots_and_extension():
    f = torch.arange(6, dtype=torch.float32).reshape(2, 3)
    g = Grounding(("a", "b"), torch.tensor([[0, 0, 0.5, 0.5], [0.5, 0.5, 1, 1]]), f)
    boxes, masks, feats = g.slots(30)
    assert boxes.shape == (1, 30, 4) and masks[0].tolist() == [1, 1] + [0] * 28
    assert torch.equal(feats[0, :2], f) and not feats[0, 2:].any()
    many = Grounding(tuple(f"x{i}" for i in range(29)), torch.tensor([[0, 0, 0.1, 0.1]] * 29), torch.ones(29, 3))
    joined = g.extended(many)
    assert len(joined) == 30 and joined.dropped == 1
    assert joined.phrases[:2] == ("a", "b")        # the two large boxes stay


def test_preview_draws_each_box_in_its_colour():
    layout = parse_boxes(json.dumps([{"phrase": "left", "box": [0.0, 0.0, 0.5, 1.0]},
                                     {"phrase": "right", "box": [0.5, 0.25, 1.0, 0.75]}]), 400, 200)
    img = render_layout(layout)
    assert img.shape == (1, 200, 400, 3) and 0 <= img.min() and img.max() <= 1
    px = (img[0] * 255).round().to(torch.int64)
    assert tuple(px[100, 0].tolist()) == box_colour(0)          # left edge of box 1
    assert tuple(px[100, 399].tolist()) == box_colour(1)        # right edge of box 2
    assert tuple(px[10, 300].tolist()) == (28, 28, 32)          # background outside both
    assert box_colour(0) != box_colour(1)
