"""GLIGENAdapterLoader: a GLIGEN file from ComfyUI's ``models/gligen`` folder, in any layout."""
from __future__ import annotations

import logging
import os

import folder_paths
from comfy_api.latest import io

from ..gligen_core import GLIGENFileError, check_file, load_adapter
from .types import AdapterRef, GLIGENAdapterIO

log = logging.getLogger(__name__)

NO_FILES_HINT = (
    "No GLIGEN file found in models/gligen. Put an SD1.x text-box GLIGEN there, in any of these "
    "layouts: gligen_sd14_textbox_pruned.safetensors or its _fp16 version (ComfyUI pruned, from "
    "comfyanonymous/GLIGEN_pruned_safetensors), the official gligen/gligen-generation-text-box "
    "checkpoint (diffusion_pytorch_model.bin), or a diffusers GLIGEN UNet "
    "(unet/diffusion_pytorch_model.safetensors of masterful/gligen-1-4-generation-text-box); then "
    "refresh the page.")


_checked: dict[tuple[str, float, int], str] = {}


def checked(path: str) -> str:
    """``check_file`` cached by path, modification time and size."""
    st = os.stat(path)
    key = (path, st.st_mtime, st.st_size)
    if key not in _checked:
        _checked[key] = check_file(path)
    return _checked[key]


def load_ref(name: str) -> AdapterRef:
    files = folder_paths.get_filename_list("gligen")
    if name not in files:
        raise GLIGENFileError(NO_FILES_HINT if not files else
                              f"GLIGEN file '{name}' is not in models/gligen (found: {', '.join(files[:8])}).")
    loaded = load_adapter(folder_paths.get_full_path_or_raise("gligen", name))
    log.info("GLIGEN: loaded %s", loaded.describe())
    return AdapterRef(loaded)  # cast once to the UNet's compute dtype when a model is patched


class GLIGENAdapterLoader(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="GLIGENAdapterLoader",
            display_name="GLIGEN Adapter Loader",
            category="conditioning/gligen",
            description="Load a GLIGEN file (ComfyUI pruned, official or diffusers layout) from models/gligen.",
            inputs=[
                io.Combo.Input("gligen_name", options=folder_paths.get_filename_list("gligen"),
                               tooltip="A GLIGEN file in models/gligen: the pruned .safetensors, the official "
                                       "checkpoint or a diffusers GLIGEN UNet. The layout is detected from its keys."),
            ],
            outputs=[
                GLIGENAdapterIO.Output(display_name="gligen",
                                       tooltip="The GLIGEN adapter: gated self-attention layers and the grounding tokenizer."),
            ],
        )

    @classmethod
    def validate_inputs(cls, gligen_name: str) -> bool | str:
        """Checked when the prompt is queued: the file exists and, for safetensors, its header holds a
        complete GLIGEN adapter (no weights are read)."""
        files = folder_paths.get_filename_list("gligen")
        if gligen_name not in files:
            return NO_FILES_HINT if not files else f"'{gligen_name}' is not in models/gligen."
        try:
            checked(folder_paths.get_full_path_or_raise("gligen", gligen_name))
        except GLIGENFileError as e:
            return str(e)
        return True

    @classmethod
    def execute(cls, gligen_name: str) -> io.NodeOutput:
        return io.NodeOutput(load_ref(gligen_name))
