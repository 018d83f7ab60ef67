"""Load a GLIGEN adapter from any published layout and container, strictly.

Reading containers (safetensors, shard indexes, pickles) is :mod:`.files`; deciding which tensors make
an adapter and checking them is :mod:`.layouts`. Here the checked tensors become a module, and files
are checked (from headers alone, when a prompt is queued), loaded and saved.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from .adapter import GLIGENAdapter, family_of
from .files import Tensors, read_tensors
from .layouts import FUSER_SHAPES, check_layout
from .tokenizers.text_box import KIND as TEXT_BOX
from .tokenizers.text_image import KIND as TEXT_IMAGE
from .errors import GLIGENFileError
from .image_features import projection_from_diffusers


@dataclass
class LoadedAdapter:
    adapter: GLIGENAdapter
    layout: str
    source: str
    image_projection: torch.Tensor | None = None   # P (y = x P) from diffusers' image_project, when the file has it

    def describe(self) -> str:
        return f"{self.adapter.describe()} [{self.layout} layout, {self.source}]"


def adapter_from_tensors(tensors: Tensors, name: str) -> LoadedAdapter:
    """Check every tensor and build the adapter; every problem found is reported at once."""
    checked = check_layout(tensors, name)
    shape = checked.shape
    state = {f"fusers.{pos.module_key}.{param}": t.reshape(FUSER_SHAPES[param](shape.fusers[pos], shape.token_dim))
             for pos, group in checked.fusers.items() for param, (_, t) in group.items()}
    state.update({f"position_net.{param}": t for param, (_, t) in checked.tokenizer.items()})
    if checked.first_conv is not None:
        state["first_conv.weight"] = checked.first_conv[1]
    with torch.device("meta"):
        adapter = GLIGENAdapter(shape)
    adapter.load_state_dict(state, strict=True, assign=True)
    adapter.requires_grad_(False)
    adapter.eval()
    projection = None
    if checked.image_projection is not None:
        projection = projection_from_diffusers(checked.image_projection[1].float())
    return LoadedAdapter(adapter, checked.layout, name, projection)


def check_file(path: str) -> str:
    """Check a GLIGEN file without reading its weights: the full strict check for safetensors and
    sharded UNets (headers only), the container for pickles. Returns a one-line description; raises
    ``GLIGENFileError``."""
    tensors = read_tensors(path, header_only=True)
    if tensors is None:
        return "PyTorch checkpoint (checked when loaded)"
    loaded = adapter_from_tensors(tensors, tensors.source)
    kind = "" if loaded.adapter.kind == TEXT_BOX else f" {loaded.adapter.kind}"
    return (f"{loaded.adapter.family}{kind}, {len(loaded.adapter.positions())} fusers, {loaded.layout} layout"
            + (" (sharded)" if tensors.sharded else ""))


def file_family(path: str) -> str | None:
    """The base-model family of a GLIGEN file from its header alone (its tokens' width), after the same
    strict layout check as ``check_file``; None for a pickle, whose family is known only once loaded."""
    tensors = read_tensors(path, header_only=True)
    if tensors is None:
        return None
    return family_of(check_layout(tensors, tensors.source).shape.token_dim)


def load_adapter(path: str) -> LoadedAdapter:
    """Read ``path`` (any supported layout and container; a sharded UNet by its index, a shard or its
    folder) into a ready adapter on the CPU."""
    tensors = read_tensors(path)
    assert tensors is not None
    loaded = adapter_from_tensors(tensors, os.path.basename(os.path.normpath(path)))
    if loaded.adapter.shape.family == TEXT_IMAGE and loaded.image_projection is None and loaded.layout == "diffusers":
        loaded.image_projection = sibling_image_project(path)
    return loaded


def sibling_image_project(path: str) -> torch.Tensor | None:
    """A diffusers text-image pipeline keeps ``image_project/`` beside ``unet/``: its ``project.weight`` as P."""
    unet_dir = path if os.path.isdir(path) else os.path.dirname(path)
    folder = os.path.join(os.path.dirname(os.path.normpath(unet_dir)), "image_project")
    for name in ("diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.fp16.safetensors"):
        candidate = os.path.join(folder, name)
        if os.path.isfile(candidate):
            from safetensors import safe_open
            with safe_open(candidate, "pt") as f:
                if "project.weight" in f.keys():
                    w = f.get_tensor("project.weight")
                    if tuple(w.shape) == (768, 768) and torch.isfinite(w).all():
                        return projection_from_diffusers(w.float())
                    raise GLIGENFileError(f"'{candidate}': 'project.weight' has shape {list(w.shape)} or non-finite "
                                          f"values; expected a finite [768, 768] matrix.")
    return None


def save_adapter(adapter: GLIGENAdapter, path: str, metadata: dict[str, str] | None = None) -> None:
    """Write ``adapter`` in the ComfyUI pruned layout (safetensors), loadable by core ComfyUI too;
    ``metadata`` goes into the file's header."""
    from safetensors.torch import save_file
    save_file({k: v.detach().contiguous() for k, v in adapter.canonical_state_dict().items()}, path, metadata=metadata)
