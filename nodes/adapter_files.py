"""The loader's list of GLIGEN files: every file in models/gligen, a sharded UNet once.

A sharded diffusers UNet is listed by its index (``diffusion_pytorch_model.safetensors.index.json``)
instead of one entry per shard; without an index next to them, its first shard stands for it (loading
it then says the index is missing). Names saved with a shard keep loading: the loader accepts any
file of the folder, listed or not."""
from __future__ import annotations

import os

import folder_paths

from ..gligen_core.files import INDEX_SUFFIX, SHARD


def adapter_names(files: list[str] | None = None) -> list[str]:
    files = folder_paths.get_filename_list("gligen") if files is None else files
    listed: list[str] = []
    seen: set[str] = set()
    for name in files:
        folder, base = os.path.split(name)
        m = SHARD.match(base)
        if not m:
            listed.append(name)
            continue
        group = os.path.join(folder, m["stem"])
        if group in seen:
            continue
        seen.add(group)
        index = (folder + "/" if folder else "") + m["stem"] + INDEX_SUFFIX
        listed.append(index if folder_paths.get_full_path("gligen", index) else name)
    return listed
