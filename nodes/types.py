"""Socket types the pack's nodes pass between each other, and the conditioning key they use."""
from __future__ import annotations

from comfy_api.latest import io

from ..gligen_core import GLIGENAdapter, LoadedAdapter
from .runtime import RuntimeAdapters

GLIGENAdapterIO = io.Custom("GLIGEN_ADAPTER")
GroundingBoxesIO = io.Custom("GROUNDING_BOXES")

# Key of the ``Grounding`` a GroundingEncoder attaches to a conditioning. Deliberately not core's
# ``gligen`` key: core's sampler would try to run its own GLIGEN with it.
GROUNDING_KEY = "gligen_grounding"
# Key of the ``InpaintInput`` GLIGENInpaint attaches to the positive and negative conditionings.
INPAINT_KEY = "gligen_inpaint"
# Key under which a patched model's extra weights ride with the UNet, and our wrapper's key.
PATCH_KEY = "gligen_pack"


class AdapterRef:
    """What GLIGENAdapterLoader outputs: the loaded adapter (its shapes and description) and the
    runtime copies GLIGENApply makes of it, one per UNet compute dtype (see ``runtime.py``)."""

    def __init__(self, loaded: LoadedAdapter) -> None:
        self.loaded = loaded
        self._runtime: RuntimeAdapters | None = None

    @property
    def adapter(self) -> GLIGENAdapter:
        """The loaded adapter: its shapes, family and phrase width. Once a model is patched its
        weights live in the runtime copy (``runtime``), so compute with that one."""
        return self.loaded.adapter

    @property
    def image_projection(self):
        """P from the file (diffusers' image_project) for text-image adapters, or None: the shipped one."""
        return self.loaded.image_projection

    def runtime(self, dtype):
        """``(adapter, patcher)`` in ``dtype``, made once per dtype; ComfyUI's layers and memory management."""
        if self._runtime is None:
            self._runtime = RuntimeAdapters(self.loaded.adapter)
        return self._runtime.get(dtype)

    def __deepcopy__(self, memo):  # a patched model's clone shares the adapter, never copies it
        return self
