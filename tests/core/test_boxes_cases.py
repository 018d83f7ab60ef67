"""The shared list of box texts (tests/cases/boxes_parse_cases.json) through the backend's parser.
The browser suite runs the same list through the box editor's parser and checks that both agree."""
from __future__ import annotations

import pytest

from gligen_pack.gligen_core import BoxesError, parse_boxes
from helpers.box_texts import load_cases

CASES = load_cases()


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_shared_case(case):
    if "error" in case:
        with pytest.raises(BoxesError) as e:
            parse_boxes(case["text"], case["width"], case["height"])
        assert case["error"] in str(e.value)
        return
    layout = parse_boxes(case["text"], case["width"], case["height"])
    assert [[b.phrase, list(b.box)] + ([] if b.image is None else [b.image]) for b in layout.boxes] == case["boxes"]
    assert [b.phrase for b in layout.dropped] == case.get("dropped", [])


def test_cases_cover_what_the_issue_asks():
    names = [c["name"] for c in CASES]
    assert len(names) == len(set(names))
    errors = " ".join(c["error"] for c in CASES if "error" in c)
    for part in ("is given twice", "gives the key 'boxes' twice", "not valid JSON", "canvas width", "is nan", "is inf",
                 "zero area", "outside 0..1", "px is outside", "the phrase is empty", "unknown key"):
        assert part in errors
    accepted = [c for c in CASES if "boxes" in c]
    assert any(c.get("dropped") for c in accepted) and any(c["text"].lstrip().startswith("{") for c in accepted)
    assert any(any(ord(ch) > 0x7f for ch in c["text"]) for c in accepted)
