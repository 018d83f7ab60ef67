"""The text the frontend rewrites when it queues a prompt.

- Widgets whose input has ``dynamicPrompts`` (CLIPTextEncode's text, ...): C-style comments are
  stripped and ``{a|b|c}`` is replaced by one option (``processDynamicPrompt`` in the frontend's
  utils/formatUtil.ts). The frontend picks the option with ``Math.random()``, which cannot be
  reproduced; a choice between different options is therefore refused here (``RandomChoice``).
- Save nodes' ``filename_prefix`` (and primitives with "Run widget replace on values"): ``%Node.widget%``
  becomes that widget's value, ``%date:FORMAT%`` the local date (utils/searchAndReplace.ts).
"""
from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Any, Callable

_COMMENTS = re.compile(r"/\*[\s\S]*?\*/|//[^\n\r\u2028\u2029]*")
_UNESCAPE = re.compile(r"\\([{}|])")
_BAD_FILENAME = re.compile(r'[/?<>\\:*|"\x00-\x1F\x7F]')
_DATE = re.compile(r"dd?|MM?|hh?|mm?|ss?|yyy?y?")


class RandomChoice(ValueError):
    """The text holds a ``{a|b}`` choice between different options."""

    def __init__(self, options: list[str]) -> None:
        self.options = options
        super().__init__("{" + "|".join(options) + "}")


def dynamic_prompt(text: str) -> str:
    """``processDynamicPrompt`` for texts whose every choice has one distinct option."""
    text = _COMMENTS.sub("", text)
    pos = 0
    out = []

    def escape() -> str:
        nonlocal pos
        nxt = text[pos] if pos < len(text) else "undefined"   # JS: '\\' + input[i++] past the end
        pos += 1
        return "\\" + nxt

    def choice() -> str:
        nonlocal pos
        options: list[str] = []
        current = ""
        depth = 0
        while pos < len(text):
            ch = text[pos]
            pos += 1
            if ch == "\\":
                current += escape()
                continue
            if ch == "{":
                depth += 1
            elif ch == "}":
                if not depth:
                    break
                depth -= 1
            elif ch == "|" and not depth:
                options.append(current)
                current = ""
                continue
            current += ch
        options.append(current)
        if len(set(options)) > 1:
            raise RandomChoice(options)
        return dynamic_prompt(options[0])

    while pos < len(text):
        ch = text[pos]
        pos += 1
        if ch == "\\":
            out.append(escape())
        elif ch == "{":
            out.append(choice())
        else:
            out.append(ch)
    return _UNESCAPE.sub(r"\1", "".join(out))


def js_string(value: Any) -> str:
    """``(value ?? '') + ''`` as JavaScript writes it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        if value.is_integer() and abs(value) < 1e21:
            return str(int(value))
        return repr(value)
    if isinstance(value, (list, tuple)):
        return ",".join("" if v is None else js_string(v) for v in value)
    if isinstance(value, dict):
        return "[object Object]"
    return str(value)


def format_date(fmt: str, now: datetime) -> str:
    parts = {"d": now.day, "M": now.month, "h": now.hour, "m": now.minute, "s": now.second}

    def one(m: re.Match) -> str:
        token = m.group(0)
        if token == "yy":
            return str(now.year)[2:]
        if token == "yyyy":
            return str(now.year)
        if token[0] in parts:
            return str(parts[token[0]]).rjust(len(token), "0")
        return token
    return _DATE.sub(one, fmt)


def text_replacements(value: str, find_widget: Callable[[str, str], tuple[bool, Any]], now: datetime) -> str:
    """``applyTextReplacements``: ``find_widget(node_name, widget)`` gives (found, value)."""
    def one(m: re.Match) -> str:
        text = m.group(1)
        split = text.split(".")
        if len(split) != 2:
            if split[0].startswith("date:"):
                return format_date(split[0][5:], now)
            return m.group(0)
        found, widget_value = find_widget(split[0], split[1])
        if not found:
            return m.group(0)
        return _BAD_FILENAME.sub("_", js_string(widget_value))
    return re.sub(r"%([^%]+)%", one, value)
