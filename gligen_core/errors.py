"""Errors meant to be read by a ComfyUI user: each names what is wrong, the value, and the fix."""
from __future__ import annotations


class GLIGENError(ValueError):
    """Base class of the pack's user-facing errors."""


class GLIGENFileError(GLIGENError):
    """A weight file that cannot be used as a GLIGEN adapter."""


class BoxesError(GLIGENError):
    """Box input that cannot be used for grounding."""


class ModelMismatchError(GLIGENError):
    """A GLIGEN adapter that does not fit the model or CLIP it meets."""


class InputValueError(GLIGENError):
    """A node's number, flag or text input (typed or fed by a link) outside what the node accepts."""
