"""Phrase features against the adapter that grounds them.

GroundingEncoder checks them when an adapter is wired to it; without one it encodes the feature of
the connected CLIP's family, and GLIGENApply's patch checks each grounding against its own adapter
when sampling starts, with the same error."""
from __future__ import annotations

from ..gligen_core import Grounding, ModelMismatchError, family_of


def feature_mismatch(need: int, family: str, got: int) -> ModelMismatchError:
    return ModelMismatchError(
        f"This GLIGEN file is for {family} and needs {need}-d phrase features; this CLIP gives {got}-d ones "
        f"({family_of(got)} CLIP). Connect the CLIP of a {family} checkpoint, or load the GLIGEN file made "
        f"for your model.")


def check_features(grounding: Grounding | None, need: int, family: str) -> None:
    """Raise ``feature_mismatch`` unless ``grounding``'s phrase features are ``need`` wide (no boxes: no feature)."""
    if grounding is not None and len(grounding) and grounding.feature_dim != need:
        raise feature_mismatch(need, family, grounding.feature_dim)
