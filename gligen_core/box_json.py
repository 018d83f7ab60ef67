"""Read the boxes text as JSON, closing the gaps ``json.loads`` leaves open for user input.

- A key given twice in one object is remembered (``json.loads`` keeps the last value silently), so the
  parser can refuse it and name the key.
- Nesting is limited to ``MAX_DEPTH`` levels, counted on the raw text before parsing, so deep input is
  one clear error instead of a ``RecursionError``.
- An integer too long for Python's int-from-text limit becomes a float (infinite), refused later as a
  coordinate like ``1e400``, instead of a ``ValueError`` from inside ``json``.

The box editor (``web/js/box_editor/pyjson.js``) reads the text the same way, step for step, so the
editor and the backend accept and refuse the same text; ``tests/cases/boxes_parse_cases.json`` holds
the cases both are checked on.
"""
from __future__ import annotations

import json
import re
from typing import Any, Iterable

MAX_DEPTH = 32  # levels of arrays and objects; {"boxes": [{"box": [...]}]} needs 4

# A string (possibly unterminated) or one bracket: brackets inside strings are not nesting.
_TOKENS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?|[\[\]{}]', re.S)


class JSONObject(dict):
    """A JSON object that remembers the first key given twice in it (the value kept is the last)."""

    repeated: str | None = None


def _object(pairs: list[tuple[str, Any]]) -> JSONObject:
    obj = JSONObject()
    for key, value in pairs:
        if key in obj and obj.repeated is None:
            obj.repeated = key
        obj[key] = value
    return obj


def _int(text: str) -> int | float:
    try:
        return int(text)
    except ValueError:  # more digits than sys.get_int_max_str_digits(): a coordinate far off any canvas
        return float(text)


def nesting_depth_exceeded(text: str, limit: int = MAX_DEPTH) -> bool:
    depth = 0
    for m in _TOKENS.finditer(text):
        c = m.group()
        if c in "[{":
            depth += 1
            if depth > limit:
                return True
        elif c in "]}":
            depth -= 1
    return False


def loads(text: str) -> Any:
    """``json.loads`` with repeated keys remembered (:class:`JSONObject`) and long integers as floats.
    Raises ``json.JSONDecodeError`` as ``json.loads`` does."""
    return json.loads(text, object_pairs_hook=_object, parse_int=_int)


def repeated_key(values: Iterable[Any]) -> str | None:
    """The first key given twice in one object anywhere in ``values``, depth first in document order."""
    stack = list(values)[::-1]
    while stack:
        v = stack.pop()
        if isinstance(v, JSONObject):
            if v.repeated is not None:
                return v.repeated
            stack.extend(reversed(list(v.values())))
        elif isinstance(v, list):
            stack.extend(reversed(v))
    return None
