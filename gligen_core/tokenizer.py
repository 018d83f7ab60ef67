"""The text-box grounding tokenizer; it lives in :mod:`.tokenizers.text_box` (kept importable here)."""
from .tokenizers.base import MAX_OBJECTS
from .tokenizers.text_box import TextBoxTokenizer, TokenizerShape

__all__ = ["MAX_OBJECTS", "TextBoxTokenizer", "TokenizerShape"]
