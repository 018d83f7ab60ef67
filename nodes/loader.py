"""GLIGENAdapterLoader: a GLIGEN file from ComfyUI's ``models/gligen`` folder, in any layout."""
from __future__ import annotations

import logging
import os

import folder_paths
from comfy_api.latest import io

from ..gligen_core import GLIGENFileError, check_file, load_adapter
from ..gligen_core.files import broken_link
from .adapter_files import adapter_names
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


def gligen_path(name: object) -> str:
    """The full path of ``name`` in models/gligen; else a ``GLIGENFileError`` saying what is wrong and
    the fix. The same checks run when the prompt is queued and, for a name fed by a link, at execution."""
    files = folder_paths.get_filename_list("gligen")
    listed = adapter_names(files)  # what the loader lists: a sharded UNet once, by its index
    if not isinstance(name, str) or (name not in files and name not in listed):
        if not files:
            raise GLIGENFileError(NO_FILES_HINT)
        shown = f"'{name}'" if isinstance(name, str) else f"{name!r} ({type(name).__name__}, not a file name)"
        raise GLIGENFileError(f"GLIGEN file {shown} is not in models/gligen (found: {', '.join(listed[:8])}"
                              f"{', ...' if len(listed) > 8 else ''}). Pick one of the files listed, or put the "
                              f"file in models/gligen and refresh the page.")
    path = folder_paths.get_full_path("gligen", name)
    if path is None:  # listed, yet no file behind the name: a broken symbolic link, or gone since listed
        for folder in folder_paths.get_folder_paths("gligen"):
            why = broken_link(os.path.join(folder, name), root=folder)
            if why:
                raise GLIGENFileError(f"GLIGEN file '{name}' in models/gligen cannot be opened: {why}.")
        raise GLIGENFileError(f"GLIGEN file '{name}' is listed in models/gligen but is no longer there (moved or "
                              f"deleted?). Refresh the page and pick it again.")
    return path


def load_ref(path: str) -> AdapterRef:
    loaded = load_adapter(path)
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
                io.Combo.Input("gligen_name", options=adapter_names(),
                               tooltip="A GLIGEN file in models/gligen: the pruned .safetensors, the official "
                                       "checkpoint or a diffusers GLIGEN UNet. The layout is detected from its keys."),
            ],
            outputs=[
                GLIGENAdapterIO.Output(display_name="gligen",
                                       tooltip="The GLIGEN adapter: gated self-attention layers and the grounding tokenizer."),
            ],
        )

    @classmethod
    def validate_inputs(cls, gligen_name: str | None) -> bool | str:
        """Checked when the prompt is queued: the file exists and, for safetensors, its header holds a
        complete GLIGEN adapter (no weights are read). A name fed by a link is ``None`` here (ComfyUI
        knows it only when the graph runs); ``execute`` checks it then, with the same errors."""
        if gligen_name is None:
            return True
        try:
            checked(gligen_path(gligen_name))
        except GLIGENFileError as e:
            return str(e)
        return True

    @classmethod
    def execute(cls, gligen_name: str) -> io.NodeOutput:
        path = gligen_path(gligen_name)
        checked(path)  # the queue-time check, for a name fed by a link (cached otherwise)
        return io.NodeOutput(load_ref(path))
