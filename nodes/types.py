"""Socket types the pack's nodes pass between each other, and the conditioning key they use."""
from __future__ import annotations

from dataclasses import dataclass

from comfy_api.latest import io

from ..gligen_core import LoadedAdapter

GLIGENAdapterIO = io.Custom("GLIGEN_ADAPTER")
GroundingBoxesIO = io.Custom("GROUNDING_BOXES")

# Key of the ``Grounding`` a GroundingEncoder attaches to a conditioning. Deliberately not core's
# ``gligen`` key: core's sampler would try to run its own GLIGEN with it.
GROUNDING_KEY = "gligen_grounding"
# Key under which a patched model's extra weights ride with the UNet, and our wrapper's key.
PATCH_KEY = "gligen_pack"


@dataclass(frozen=True)
class AdapterRef:
    """A loaded adapter and the ModelPatcher that lets ComfyUI load and offload it with the UNet."""
    loaded: LoadedAdapter
    patcher: object  # comfy.model_patcher.ModelPatcher wrapping ``loaded.adapter``

    @property
    def adapter(self):
        return self.loaded.adapter

    def __deepcopy__(self, memo):  # a patched model's clone shares the adapter, never copies it
        return self
