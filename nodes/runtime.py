"""The adapter as it runs inside ComfyUI: ComfyUI's own layers, dtype, attention and memory management.

- Layers: ``comfy.ops.disable_weight_init``, as the UNet's own layers, so ComfyUI's model management
  can leave them on the offload device in low-VRAM mode and stream their weights per call, as it does
  its own (``comfy_cast_weights``); fully loaded they are plain layers with no per-call casting.
- dtype: the weights are cast once, when a model is patched, to that UNet's compute dtype (its
  ``manual_cast_dtype`` where ComfyUI computes in another dtype than it stores, else its dtype). One
  runtime copy exists per compute dtype in use; the first takes over the loaded weights (the loaded
  adapter keeps only its shapes), so one file in one dtype is in memory once.
- Attention: ComfyUI's selected backend (``optimized_attention``: PyTorch, xformers, sage, sub-quadratic
  ...), with the block's ``attn_precision`` (SD2.x upcasts attention in fp16) and the block's
  ``transformer_options`` (attention overrides other nodes install apply here too).
"""
from __future__ import annotations

import comfy.ldm.modules.attention as comfy_attention_module
import comfy.model_management as mm
import comfy.model_patcher
import comfy.ops
import torch

from ..gligen_core import GLIGENAdapter
from ..gligen_core._ops import Ops

COMFY_OPS = Ops(Linear=comfy.ops.disable_weight_init.Linear, LayerNorm=comfy.ops.disable_weight_init.LayerNorm)


def comfy_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int, attn_precision=None,
                    transformer_options: dict | None = None) -> torch.Tensor:
    """ComfyUI's attention backend of the moment, looked up per call as ComfyUI's own layers do."""
    return comfy_attention_module.optimized_attention(q, k, v, heads, attn_precision=attn_precision,
                                                      transformer_options=transformer_options or {})


def compute_dtype(base_model) -> torch.dtype:
    """The dtype a ComfyUI model (``BaseModel``, a ModelPatcher's ``.model``) computes in."""
    return base_model.manual_cast_dtype or base_model.get_dtype()


class RuntimeAdapters:
    """The runtime copies of one loaded adapter, one per compute dtype, each with the ModelPatcher that
    loads and offloads it with the UNet."""

    def __init__(self, loaded: GLIGENAdapter) -> None:
        self._loaded = loaded
        self._by_dtype: dict[torch.dtype, tuple[GLIGENAdapter, comfy.model_patcher.ModelPatcher]] = {}

    def get(self, dtype: torch.dtype) -> tuple[GLIGENAdapter, comfy.model_patcher.ModelPatcher]:
        if dtype not in self._by_dtype:
            first = not self._by_dtype
            source = self._loaded if first else next(iter(self._by_dtype.values()))[0]
            adapter = source.rebuilt(COMFY_OPS, dtype, device=mm.unet_offload_device())
            if first:  # the runtime copy owns the weights now; the loaded adapter keeps its shapes
                self._loaded.to("meta")
            patcher = comfy.model_patcher.ModelPatcher(adapter, load_device=mm.get_torch_device(),
                                                       offload_device=mm.unet_offload_device())
            self._by_dtype[dtype] = (adapter, patcher)
        return self._by_dtype[dtype]
