"""Fonts for the preview's labels, so phrases in any script the computer has a font for are readable.

Pillow's built-in font covers ASCII only (even 'é' is drawn as an empty box), and no package the pack
depends on ships a font with wider coverage. So the labels use fonts found on the system, chosen per
character: DejaVu Sans when present (Latin, Greek, Cyrillic, Arabic, Hebrew, many symbols and
monochrome emoji), then fonts that cover CJK and other scripts (Noto Sans CJK, Droid Sans Fallback,
WenQuanYi, Microsoft YaHei, Arial Unicode, Segoe UI Symbol, Symbola, any Noto Sans), then Pillow's own.
``GLIGEN_PREVIEW_FONTS`` (paths separated by the OS path separator) puts fonts of your choice first.
A character no font has is drawn as the first font's empty box; nothing fails.
"""
from __future__ import annotations

import functools
import os
import sys

from PIL import ImageDraw, ImageFont

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont

# File names (lower case) in order of preference: the first that has a character draws it.
PREFERRED = (
    "dejavusans.ttf", "notosans-regular.ttf", "segoeui.ttf", "arial.ttf",
    "notosanscjk-regular.ttc", "notosanscjksc-regular.otf", "notosanscjkjp-regular.otf", "sourcehansans.ttc",
    "droidsansfallbackfull.ttf", "droidsansfallback.ttf", "wqy-microhei.ttc", "wqy-zenhei.ttc",
    "msyh.ttc", "msyh.ttf", "yugothr.ttc", "malgun.ttf", "nirmala.ttf", "arialuni.ttf", "arial unicode.ttf",
    "hiragino sans gb.ttc", "applesdgothicneo.ttc", "seguisym.ttf", "symbola.ttf", "notoemoji-regular.ttf",
    "notosanssymbols-regular.ttf", "notosanssymbols2-regular.ttf",
)
MAX_FONTS = 48
_MISSING = "\U0010fffd"  # a private-use code point: fonts draw their missing-glyph box for it


def font_dirs() -> list[str]:
    home = os.path.expanduser("~")
    if sys.platform == "win32":
        windir = os.environ.get("WINDIR", r"C:\Windows")
        local = os.environ.get("LOCALAPPDATA", "")
        return [os.path.join(windir, "Fonts")] + ([os.path.join(local, "Microsoft", "Windows", "Fonts")] if local else [])
    if sys.platform == "darwin":
        return ["/System/Library/Fonts", "/Library/Fonts", os.path.join(home, "Library", "Fonts")]
    return ["/usr/share/fonts", "/usr/local/share/fonts", os.path.join(home, ".local", "share", "fonts"),
            os.path.join(home, ".fonts")]


@functools.lru_cache(maxsize=1)
def font_files() -> tuple[str, ...]:
    """The font files used, best first: ``GLIGEN_PREVIEW_FONTS``, then ``PREFERRED``, then other Noto Sans."""
    found: dict[str, str] = {}
    for d in font_dirs():
        for root, _, files in os.walk(d):
            for f in files:
                found.setdefault(f.lower(), os.path.join(root, f))
    chosen = [p for p in os.environ.get("GLIGEN_PREVIEW_FONTS", "").split(os.pathsep) if p and os.path.isfile(p)]
    chosen += [found[name] for name in PREFERRED if name in found]
    chosen += sorted(path for name, path in found.items()
                     if name.startswith("notosans") and "-regular." in name and name.endswith((".ttf", ".otf"))
                     and path not in chosen)
    return tuple(dict.fromkeys(chosen))[:MAX_FONTS]


def _builtin(size: int) -> Font:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()


@functools.lru_cache(maxsize=8)
def label_fonts(size: int) -> tuple[Font, ...]:
    """The fallback chain at ``size`` pixels; Pillow's built-in font last (first when none is found)."""
    fonts: list[Font] = []
    for path in font_files():
        try:
            fonts.append(ImageFont.truetype(path, size))
        except OSError:  # unreadable, or a bitmap colour-emoji font that only opens at its own size
            continue
    return tuple(fonts) + (_builtin(size),)


def _mask(font: Font, ch: str) -> tuple[tuple[int, int], bytes]:
    m = font.getmask(ch)
    return m.size, bytes(m)


@functools.lru_cache(maxsize=65536)
def has_glyph(font: Font, ch: str) -> bool:
    """Whether ``font`` draws ``ch`` as something other than its missing-glyph box."""
    return ch.isspace() or _mask(font, ch) != _mask(font, _MISSING)


def runs(text: str, fonts: tuple[Font, ...]) -> list[tuple[str, Font]]:
    """``text`` split into pieces, each with the first font that has all its characters."""
    out: list[tuple[str, Font]] = []
    for ch in text:
        font = next((f for f in fonts if has_glyph(f, ch)), fonts[0])
        if out and out[-1][1] is font:
            out[-1] = (out[-1][0] + ch, font)
        else:
            out.append((ch, font))
    return out


def text_bbox(draw: ImageDraw.ImageDraw, xy: tuple[float, float], text: str,
              fonts: tuple[Font, ...]) -> tuple[float, float, float, float]:
    """The box ``draw_text`` covers; ``xy`` is the top left of the first font's line."""
    boxes = [draw.textbbox(pos, piece, font=font, anchor="ls") for pos, piece, font in _placed(draw, xy, text, fonts)]
    if not boxes:
        return xy[0], xy[1], xy[0], xy[1]
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))


def draw_text(draw: ImageDraw.ImageDraw, xy: tuple[float, float], text: str, fonts: tuple[Font, ...],
              fill: tuple[int, int, int]) -> None:
    for pos, piece, font in _placed(draw, xy, text, fonts):
        draw.text(pos, piece, fill=fill, font=font, anchor="ls")


def _placed(draw: ImageDraw.ImageDraw, xy: tuple[float, float], text: str, fonts: tuple[Font, ...]):
    """(position, piece, font) along one shared baseline."""
    x, y = xy
    baseline = y + fonts[0].getmetrics()[0]
    out = []
    for piece, font in runs(text, fonts):
        out.append(((x, baseline), piece, font))
        x += draw.textlength(piece, font=font)
    return out
