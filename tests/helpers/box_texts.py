"""Box texts for checking the editor's parser against the backend's: the shared case list, and many
generated texts (seeded, so every run checks the same ones) that go where hand-written cases do not:
near-valid entries, repeated keys, number spellings, unicode, and broken JSON cut from valid JSON."""
from __future__ import annotations

import json
import os
import random

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CASES = os.path.join(ROOT, "tests", "cases", "boxes_parse_cases.json")


def load_cases() -> list[dict]:
    """The shared cases: each has name, text, width, height and either "boxes" (the normalised
    [phrase, [x0, y0, x1, y1]] kept, plus "dropped" phrases when more than 30) or "error" (a part of
    the message)."""
    with open(CASES, encoding="utf-8") as f:
        return json.load(f)


def outcome(parse, text, width, height) -> dict:
    """What one parser made of a text, in a form both parsers can be compared in."""
    from gligen_pack.gligen_core import BoxesError
    try:
        layout = parse(text, width, height)
    except BoxesError as e:
        return {"error": str(e)}
    return {"boxes": [[b.phrase, list(b.box)] + ([] if b.image is None else [b.image]) for b in layout.boxes],
            "dropped": [b.phrase for b in layout.dropped]}


PHRASES = ["a cat", "  a red car ", "", "   ", "un café ☕ 猫", "it's", 'say "hi"', "tab\there", "\u200bzero width",
           "👩\u200d💻", "\u3000", "\x85x", "line\nbreak", "\\", "\ud800", "\U0001f600", "\x1c"]
KEYS = ["phrase", "box", "box_px", "color", "id", "bbox", "boxes", "Phrase", "", "é", "\U0001f600", "__proto__"]
NUMBER_TEXTS = ["0", "-0", "1", "0.0", "-0.0", "1.0", "0.5", "1e-7", "1E2", "1e400", "-1e400", "NaN", "Infinity",
                "-Infinity", "1.5", "0.25", "1e0", "100", "7", "512", "256", "1234565", "0.1", "0.30000000000000004",
                "1" + "0" * 400, "9" * 5000, "123456789012345678901234567890", "2.5e-5", "1e16", "1e15"]


class Writer:
    """Writes JSON text by hand, so it can repeat keys and spell numbers and strings many ways."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.noise = 1.0                  # 0: every entry well formed

    def odd(self, p: float) -> bool:
        return self.rng.random() < p * self.noise

    def ws(self) -> str:
        return self.rng.choice(["", "", "", " ", "\n ", "\t", "\r\n"])

    def string(self, s: str) -> str:
        if self.rng.random() < 0.6:
            return json.dumps(s, ensure_ascii=self.rng.random() < 0.5)
        out = []
        for ch in s:                      # escape some characters as \uXXXX, and those that must be
            must = ch in '"\\' or ord(ch) < 0x20 or 0xd800 <= ord(ch) <= 0xdfff
            out.append("".join(f"\\u{u:04x}" for u in _utf16(ch)) if must or self.rng.random() < 0.3 else ch)
        return '"' + "".join(out) + '"'

    def number(self) -> str:
        return self.rng.choice(NUMBER_TEXTS)

    def coord_list(self, key: str, width: int, height: int) -> str:
        if not self.odd(0.3):
            if key == "box":
                x0, x1 = self.span([0, 0.1, 0.25, 0.5, 0.75, 1], self.rng.random)
                y0, y1 = self.span([0, 0.1, 0.5, 0.9, 1], self.rng.random)
                vals = [repr(x0), repr(y0), repr(x1), repr(y1)]
            else:
                m = 2 if self.noise else 0
                x0, x1 = self.span(range(-m, width + m + 1), lambda: self.rng.randint(0, width))
                y0, y1 = self.span(range(-m, height + m + 1), lambda: self.rng.randint(0, height))
                vals = [str(x0), str(y0), str(x1), str(y1)]
            if self.odd(0.3):
                vals[self.rng.randrange(4)] = self.rng.choice(
                    [self.number(), "true", "null", '"1"', "[]", "{}", '{"a": 1, "a": 2}'])
            if self.odd(0.1):
                vals = vals[:self.rng.randint(0, 5)]
        else:
            vals = [self.value(1) for _ in range(self.rng.randint(0, 5))]
        return "[" + ("," + self.ws()).join(vals) + "]"

    def span(self, edges, inside) -> tuple:
        """Two coordinates, usually in order and apart (edge values and values inside)."""
        a, b = (self.rng.choice([self.rng.choice(edges), inside()]) for _ in range(2))
        if a == b and not self.odd(0.3):
            a, b = min(edges), max(edges)
        return (a, b) if a <= b or self.odd(0.5) else (b, a)

    def entry(self, width: int, height: int) -> str:
        phrases = PHRASES if self.noise else [p for p in PHRASES if p.strip()]
        pairs = [("phrase", self.string(self.rng.choice(phrases)))]
        key = "box" if self.rng.random() < 0.6 else "box_px"
        pairs.append((key, self.coord_list(key, width, height)))
        for _ in range(self.rng.choice([0, 0, 0, 1, 2]) if self.noise else 0):
            k = self.rng.choice(KEYS)
            pairs.append((k, self.coord_list(k, width, height) if k in ("box", "box_px")
                          else self.string(self.rng.choice(PHRASES)) if k == "phrase" else self.value(2)))
        if self.odd(0.15):
            pairs = [p for p in pairs if p[0] != "phrase"]
        self.rng.shuffle(pairs)
        return self.obj(pairs)

    def obj(self, pairs: list[tuple[str, str]]) -> str:
        return "{" + self.ws() + ("," + self.ws()).join(f"{self.string(k)}{self.ws()}:{self.ws()}{v}" for k, v in pairs) \
            + self.ws() + "}"

    def value(self, depth: int) -> str:
        r = self.rng.random()
        if depth > 3 or r < 0.5:
            return self.rng.choice([self.number(), "true", "false", "null", self.string(self.rng.choice(PHRASES))])
        if r < 0.75:
            return "[" + ", ".join(self.value(depth + 1) for _ in range(self.rng.randint(0, 3))) + "]"
        return self.obj([(self.rng.choice(KEYS), self.value(depth + 1)) for _ in range(self.rng.randint(0, 3))])

    def document(self, width: int, height: int) -> str:
        entries = [self.value(1) if self.odd(0.1) else self.entry(width, height)
                   for _ in range(self.rng.choice([0, 1, 2, 3, 5, 31, 33]))]
        text = "[" + self.ws() + ("," + self.ws()).join(entries) + self.ws() + "]"
        r = self.rng.random()
        if r < 0.25:
            extra = [("boxes", text)] + [(self.rng.choice(KEYS), self.value(2)) for _ in range(self.rng.randint(0, 2))]
            self.rng.shuffle(extra)
            text = self.obj(extra)
        elif r < 0.3:
            text = self.value(0)
        return self.ws() + text + self.ws()

    def broken(self, text: str) -> str:
        """A valid text cut, or with one character dropped, doubled or replaced."""
        if not text:
            return text
        i = self.rng.randrange(len(text))
        op = self.rng.random()
        if op < 0.25:
            return text[:i]
        if op < 0.5:
            return text[:i] + text[i + 1:]
        if op < 0.75:
            return text[:i] + text[i] + text[i:]
        return text[:i] + self.rng.choice(',:[]{}"\\ \n\x01x0-.eE') + text[i + 1:]


def _utf16(ch: str) -> list[int]:
    b = ch.encode("utf-16-be", "surrogatepass")
    return [int.from_bytes(b[k:k + 2], "big") for k in range(0, len(b), 2)]


def generated(n: int, seed: int = 10) -> list[tuple[str, int, int]]:
    """n (text, width, height): about a third valid, the rest each refused for some reason."""
    rng = random.Random(seed)
    w = Writer(rng)
    out = []
    for _ in range(n):
        width, height = rng.choice([(512, 512), (512, 384), (64, 48), (1, 1), (300, 7)])
        w.noise = rng.choice([0.0, 0.1, 1.0])
        text = w.document(width, height)
        if rng.random() < 0.25:
            text = w.broken(text)
        out.append((text, width, height))
    return out
