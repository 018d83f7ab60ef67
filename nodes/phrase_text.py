"""How a phrase becomes CLIP tokens: literally (the default) or with ComfyUI's prompt syntax.

ComfyUI's tokenizer reads prompt syntax in any text it is given: ``(word:1.2)`` and ``(word)`` are
weights (the parentheses vanish and the tokens are scaled), ``\\(`` is an escaped parenthesis and
``embedding:name`` loads a textual-inversion embedding (or is dropped with a log line when there is
none). A box's phrase names a thing ("a cup (empty)"), so by default it is encoded as typed: weights
are switched off and escapes are doubled so the tokenizer leaves them as they are. The ``prompt``
syntax gives a phrase the tokenizer's full reading, as ComfyUI core's GLIGENTextBoxApply does.
"""
from __future__ import annotations

from ..gligen_core import GLIGENError

LITERAL = "literal"
PROMPT = "prompt"
PHRASE_SYNTAXES = [LITERAL, PROMPT]
EMBEDDING_WORD = "embedding:"


def phrase_syntax(value: object) -> str:
    """The stable value of the encoder's ``phrase_syntax``; None (linked, unset) is the default."""
    if value is None:
        return LITERAL
    if value not in PHRASE_SYNTAXES:
        raise GLIGENError(f"phrase_syntax = {value!r} is not a choice; use 'literal' (phrases encoded as typed) or "
                          f"'prompt' (ComfyUI's prompt syntax: weights, escapes, embeddings).")
    return str(value)


def literal_text(phrase: str, index: int) -> str:
    """The text to hand ComfyUI's tokenizer (with ``disable_weights``) so it encodes ``phrase`` as typed.

    The tokenizer turns ``\\(`` and ``\\)`` into bare parentheses even with weights off; a doubled
    backslash survives that as one backslash. ``embedding:`` is read as an embedding name whatever
    the options, so a literal phrase containing it is refused rather than silently changed."""
    if EMBEDDING_WORD in phrase:
        raise GLIGENError(f"box #{index + 1}: the phrase {phrase[:60]!r} contains 'embedding:', which ComfyUI's "
                          f"tokenizer always reads as an embedding name, so it cannot be encoded literally. Set "
                          f"GroundingEncoder's phrase_syntax to 'prompt' to use the embedding, or reword the phrase.")
    return phrase.replace("\\(", "\\\\(").replace("\\)", "\\\\)")


def tokenize(clip, phrase: str, index: int, syntax: str) -> dict:
    """ComfyUI tokens of one phrase in the chosen syntax."""
    if syntax == PROMPT:
        return clip.tokenize(phrase)
    return clip.tokenize(literal_text(phrase, index), disable_weights=True)


def prompt_reading(phrase: str) -> str:
    """What ComfyUI's prompt syntax makes of ``phrase``: its text with each weighted part marked, e.g.
    ``'a (red:1.2) car'`` -> ``a [red ×1.2] car`` (the weights scale those tokens' embeddings)."""
    from comfy.sd1_clip import escape_important, token_weights, unescape_important

    parts = []
    for segment, weight in token_weights(escape_important(phrase), 1.0):
        text = unescape_important(segment)
        parts.append(text if weight == 1.0 else f"[{text} ×{weight:g}]")
    return "".join(parts)


def encoded_note(phrases: list[str], syntax: str) -> str:
    """The text that was encoded for each distinct phrase, for the node's report."""
    seen = list(dict.fromkeys(phrases))
    if not seen:
        return "no phrases encoded"
    if syntax == LITERAL:
        return "phrases encoded as typed: " + ", ".join(repr(p) for p in seen)
    return "phrases encoded with the prompt syntax: " + ", ".join(
        repr(p) if prompt_reading(p) == p else f"{p!r} -> {prompt_reading(p)}" for p in seen)
