"""The pack's ComfyUI nodes: thin V3 nodes over ``gligen_core``."""
from comfy_api.latest import ComfyExtension, io

from .apply import GLIGENApply
from .boxes import GroundingBoxes
from .encoder import GroundingEncoder
from .inpaint import GLIGENInpaint
from .layout_batch import GroundingBatch
from .loader import GLIGENAdapterLoader
from .maps import GroundingMap
from .pose import GroundingPose
from .sampler import ScheduledSampler

NODES: list[type[io.ComfyNode]] = [GLIGENAdapterLoader, GroundingBoxes, GroundingEncoder, GLIGENApply, ScheduledSampler,
                                   GroundingPose, GroundingMap, GLIGENInpaint, GroundingBatch]


class GLIGENExtension(ComfyExtension):
    async def get_node_list(self) -> list[type[io.ComfyNode]]:
        return NODES
