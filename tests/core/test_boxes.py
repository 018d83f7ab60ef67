"""Box layouts: the report, keep-30-largest, grounding slots and the preview. What the parser accepts and
refuses is the shared case list (tests/cases/boxes_parse_cases.json, test_boxes_cases.py)."""
from __future__ import annotations

import json

import pytest
import torch

from gligen_pack.gligen_core import Grounding, parse_boxes
from gligen_pack.gligen_core.boxes import check_boxes
from gligen_pack.gligen_core.errors import BoxesError
from helpers.box_texts import load_cases
from gligen_pack.gligen_core.preview import box_colour, render_layout


def test_report_gives_pixels_exactly():
    text = json.dumps([{"phrase": "a red car", "box": [0.1, 0.2, 0.55, 0.9]},
                       {"phrase": " a corgi ", "box_px": [301, 13, 509, 250]}])
    report = parse_boxes(text, 512, 384).report()
    assert "2 boxes on a 512x384 canvas" in report
    assert "2. 'a corgi': x 301-509, y 13-250 px" in report     # no 8-px snapping


def test_report_shows_minus_zero_as_zero():
    layout = parse_boxes('[{"phrase": "edge", "box": [-0.0, -0.0, 0.5, 1]}]', 64, 32)
    assert layout.boxes[0].box[0] == 0
    assert "1. 'edge': x 0-32, y 0-32 px" in layout.report()
    assert "-0" not in layout.report()

CASES = load_cases()


def about_the_canvas(case) -> bool:
    return "error" in case and case["error"].startswith("canvas ")


@pytest.mark.parametrize("case", [c for c in CASES if not about_the_canvas(c)], ids=lambda c: c["name"])
def test_without_a_canvas_every_other_check_runs(case):
    """check_boxes (queue time: width/height linked or unseen) refuses what parse_boxes refuses, except
    'box_px' beyond the canvas, which only the canvas can tell (a negative pixel is refused either way)."""
    if "error" not in case:
        check_boxes(case["text"])
    elif "px is outside" in case["error"]:
        try:
            check_boxes(case["text"])
        except BoxesError as e:
            assert "px is outside the canvas (" in str(e)
    else:
        with pytest.raises(BoxesError) as e:
            check_boxes(case["text"])
        assert case["error"] in str(e.value)


def test_without_a_canvas_pixel_boxes_beyond_any_size_wait_for_the_canvas():
    text = '[{"phrase": "cat", "box_px": [0, 0, 600, 10]}]'
    check_boxes(text)
    with pytest.raises(BoxesError, match="x1 = 600 px is outside the 512x256 canvas"):
        parse_boxes(text, 512, 256)
    with pytest.raises(BoxesError, match=r"y0 = -3 px is outside the canvas \(above it\)"):
        check_boxes('[{"phrase": "cat", "box_px": [0, -3, 10, 10]}]')


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
