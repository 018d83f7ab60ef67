"""The preview's labels draw phrases in other scripts and emoji as glyphs, not as empty boxes.

A font draws every character it lacks as the same missing-glyph box ("tofu"), so two previews that
differ only in one such character are pixel-identical; with real glyphs they differ. The CJK case needs
a CJK font on the machine (.ci/run installs Debian's fonts-droid-fallback when none is found); Cyrillic
and the emoji come from DejaVu Sans, which Debian installs with fontconfig.
"""
from __future__ import annotations

import json

import pytest
import torch

from gligen_pack.gligen_core import parse_boxes
from gligen_pack.gligen_core.fonts import font_files, has_glyph, label_fonts
from gligen_pack.gligen_core.preview import render_layout


def preview(phrase: str, note: str = "") -> torch.Tensor:
    return render_layout(parse_boxes(json.dumps([{"phrase": phrase, "box": [0.1, 0.1, 0.9, 0.9]}]), 256, 256), note)


@pytest.mark.parametrize("one,other", [("猫", "狗"), ("一只猫", "一条狗"), ("Жук", "Дом"), ("🐱", "🐶"), ("☕", "★")],
                         ids=["cjk_char", "cjk_phrase", "cyrillic", "emoji", "symbols"])
def test_other_scripts_are_drawn_as_glyphs(one, other):
    assert font_files(), "no font found on this machine; the preview falls back to Pillow's ASCII-only font"
    assert not torch.equal(preview(one), preview(other)), f"{one!r} and {other!r} are drawn as the same empty boxes"


def test_mixed_phrase_uses_a_font_per_character():
    fonts = label_fonts(16)
    for ch in "a é Ж 猫 🐱":
        assert any(has_glyph(f, ch) for f in fonts), f"no font draws {ch!r}"
    assert not torch.equal(preview("a 猫 é"), preview("a 狗 é"))
    assert not torch.equal(preview("a 猫 é"), preview("a 猫 e"))


def test_a_character_no_font_has_still_renders():
    img = preview("\U000f0001 private use")
    assert img.shape == (1, 256, 256, 3) and torch.isfinite(img).all()


def test_long_note_fits_the_preview():
    note = "GLIGEN grounds at most 30 boxes: kept the 30 largest of 40, dropped 10"
    img = preview("a cat", note)[0]
    right_edge = img[-12:, -3:]                        # the note's red band stops before the right border
    assert not torch.allclose(right_edge, torch.tensor([120 / 255, 20 / 255, 20 / 255]).expand_as(right_edge), atol=1e-3)
