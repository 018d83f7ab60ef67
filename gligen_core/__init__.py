"""GLIGEN in pure PyTorch: Fourier box embedding, grounding tokenizer, gated self-attention,
adapter loading and conversion, box parsing. Imports nothing from ComfyUI."""
from .adapter import AdapterShape, GLIGENAdapter, TokenizerShape, family_of
from .first_conv import FirstConvShape
from .boxes import BoxLayout, GroundingBox, dump_boxes, format_boxes, keep_largest, parse_boxes
from .errors import BoxesError, GLIGENError, GLIGENFileError, ModelMismatchError
from .fourier import fourier_embed, fourier_frequencies
from .fuser import GatedSelfAttention
from .grounding import Grounding
from .files import read_tensors
from .loading import LoadedAdapter, adapter_from_tensors, check_file, load_adapter, save_adapter
from .positions import BlockPosition
from .tokenizer import MAX_OBJECTS, TextBoxTokenizer
from .tokenizers import FAMILIES, GroundingTokenizer, TextImageTokenizer

__all__ = [
    "AdapterShape", "BlockPosition", "FAMILIES", "FirstConvShape", "GroundingTokenizer", "TextImageTokenizer", "BoxLayout", "BoxesError", "GLIGENAdapter", "GLIGENError",
    "GLIGENFileError", "GatedSelfAttention", "Grounding", "GroundingBox", "LoadedAdapter", "MAX_OBJECTS",
    "ModelMismatchError", "TextBoxTokenizer", "TokenizerShape", "adapter_from_tensors", "check_file", "dump_boxes",
    "family_of", "format_boxes", "fourier_embed", "fourier_frequencies", "keep_largest", "load_adapter", "parse_boxes",
    "read_tensors", "save_adapter",
]
