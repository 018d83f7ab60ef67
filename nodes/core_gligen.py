"""ComfyUI core's GLIGENLoader output (socket type GLIGEN) as the pack's adapter, so a core graph can
feed GLIGENApply without loading the file twice.

Core's loader keeps a ``comfy.gligen.Gligen`` in a ModelPatcher: its fusers in a flat list sorted by
UNet block, and its grounding tokenizer; core applies the k-th fuser to the model's k-th transformer
block, and reads only files with one transformer block per UNet block (SD1.x, SD2.x). The same
placing is made here against the model GLIGENApply patches: the tensors are put back under the
ComfyUI pruned names of those blocks and go through the same strict checks as a file.
"""
from __future__ import annotations

import logging

from ..gligen_core import BlockPosition, GLIGENError, ModelMismatchError, adapter_from_tensors
from ..gligen_core.files import Tensors
from .model_fit import transformer_blocks
from .types import AdapterRef

log = logging.getLogger(__name__)

CACHE_ATTR = "_gligen_pack_adapters"


def is_core_gligen(value: object) -> bool:
    model = getattr(value, "model", None)
    return hasattr(model, "module_list") and hasattr(model, "position_net")


def core_tensors(gligen, positions: list[BlockPosition]) -> Tensors:
    """Core's fusers at ``positions`` (the model's transformer blocks, in order), under pruned names."""
    modules = list(gligen.module_list)
    if len(modules) != len(positions) or any(p.inner for p in positions):
        raise ModelMismatchError(
            f"gligen: the GLIGEN from core's GLIGENLoader has {len(modules)} fusers, for a UNet with one "
            f"transformer block per block (SD1.x, SD2.x); your model has {len(positions)} transformer blocks"
            f"{' (several per block, as SDXL)' if any(p.inner for p in positions) else ''}. Load the GLIGEN "
            f"file made for your model with GLIGEN Adapter Loader.")
    state = {}
    for pos, module in zip(positions, modules):
        for key, tensor in module.state_dict().items():
            state[f"{pos.ldm_prefix()}.fuser.{key}"] = tensor
    for key, tensor in gligen.position_net.state_dict().items():
        state[f"position_net.{key}"] = tensor
    return Tensors(state.keys(), state.__getitem__, source="core GLIGENLoader output")


def adapter_ref(gligen, model) -> AdapterRef:
    """The pack's adapter for GLIGENApply's ``gligen`` input: ours as is, core's placed on ``model``'s
    transformer blocks (once per layout of blocks)."""
    if isinstance(gligen, AdapterRef):
        return gligen
    if not is_core_gligen(gligen):
        raise GLIGENError(f"gligen: expected a GLIGEN adapter (GLIGEN Adapter Loader or core's GLIGENLoader), got "
                          f"{type(gligen).__name__}.")
    positions = sorted(transformer_blocks(model.get_model_object("diffusion_model")), key=BlockPosition.sort_key)
    cache: dict = gligen.__dict__.setdefault(CACHE_ATTR, {})
    key = tuple(positions)
    if key not in cache:
        loaded = adapter_from_tensors(core_tensors(gligen.model, positions), "core GLIGENLoader output")
        log.info("GLIGEN: using core GLIGENLoader's adapter: %s", loaded.describe())
        cache[key] = AdapterRef(loaded)
    return cache[key]
