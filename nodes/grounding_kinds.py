"""Which grounding an adapter reads, and which node makes it: the one rule behind every wrong-kind error.

Each adapter's tokenizer names the grounding it reads (``input_kind``: ``"boxes"``, ``"keypoints"``,
``"depth map"``, ...). A grounding node checks the adapter it is wired to before it attaches anything,
so a graph that feeds the wrong kind stops at that node with an error that names what to connect.
"""
from __future__ import annotations

from ..gligen_core import GLIGENError

BOXES = "boxes"
KEYPOINTS = "keypoints"
MAP_SUFFIX = " map"
MAP_NAMES = {"hed": "HED edge", "canny": "Canny edge", "depth": "depth", "canny-depth": "Canny edge or depth",
             "normal": "surface normal", "semantic": "ADE20K semantic"}


def input_kind_of(adapter) -> str:
    """The grounding kind ``adapter`` reads (box families when the tokenizer does not say)."""
    return getattr(adapter.position_net, "input_kind", BOXES)


def adapter_title(adapter) -> str:
    modality = getattr(adapter.position_net, "modality", None)
    if modality is not None:
        return f"a {MAP_NAMES.get(modality, modality)} map GLIGEN"
    return f"a {getattr(adapter, 'kind', None) or 'text-box'} GLIGEN"


def how_to_feed(kind: str) -> str:
    """What to connect for an adapter that reads ``kind``."""
    if kind == KEYPOINTS:
        return "a pose through GroundingPose (POSE_KEYPOINT from an OpenPose/DWPose preprocessor, or pose JSON)"
    if kind.endswith(MAP_SUFFIX):
        name = MAP_NAMES.get(kind.removesuffix(MAP_SUFFIX), kind.removesuffix(MAP_SUFFIX))
        return f"a {name} map through GroundingMap (an IMAGE from a {name} preprocessor)"
    return "boxes through GroundingBoxes and GroundingEncoder"


def require_kind(node: str, adapter, offered: str, offered_what: str) -> None:
    """Raise unless ``adapter`` reads ``offered`` (or, for maps, any map when ``offered`` is ' map')."""
    need = input_kind_of(adapter)
    fits = need == offered or (offered == MAP_SUFFIX and need.endswith(MAP_SUFFIX))
    if not fits:
        raise GLIGENError(f"{node}: the connected GLIGEN file is {adapter_title(adapter)}, which is grounded with "
                          f"{how_to_feed(need)}; {offered_what} cannot ground it. Connect that instead, or load a "
                          f"GLIGEN file made for {offered_what} in GLIGENAdapterLoader.")
