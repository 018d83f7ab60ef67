"""Resumable training states and the finished GLIGEN file.

A state (``<output>/checkpoints/step_00001000.pt``) holds everything a run needs to continue exactly:
the adapter, the optimizer and scheduler, the gradient scaler, the step (which fixes the data
position and every random draw, see ``sampling``), the process RNG and the settings that shape the
data order. It holds tensors, numbers and text only, so it loads with ``weights_only=True``.
"""
from __future__ import annotations

import glob
import json
import os

import torch

from ..gligen_core import GLIGENAdapter, save_adapter
from ..gligen_core.errors import GLIGENError

# Settings that decide which rows and draws a step gets; a resumed run must keep them.
SCHEDULE_KEYS = ("seed", "batch_size", "gradient_accumulation", "processes", "flip", "caption_dropout",
                 "grounding_dropout", "rows")


def checkpoint_dir(output: str) -> str:
    return os.path.join(output, "checkpoints")


def list_states(output: str) -> list[str]:
    return sorted(glob.glob(os.path.join(checkpoint_dir(output), "step_*.pt")))


def save_state(output: str, step: int, state: dict, keep: int) -> str:
    d = checkpoint_dir(output)
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, f"step_{step:08d}.pt")
    tmp = path + ".part"
    torch.save(state, tmp)
    os.replace(tmp, path)
    for old in list_states(output)[:-keep]:
        os.remove(old)
    return path


def load_state(path: str) -> dict:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, EOFError) as e:
        raise GLIGENError(f"cannot read the training state {path!r} ({e}); delete it to resume from the one "
                          f"before, or start a new run in another output folder.") from None


def resume_path(output: str, resume: str | bool | None) -> str | None:
    """The state to continue from: ``True``/"latest" is the newest in the output folder, a path is that file.
    Without ``resume``, an output folder that already holds states is an error (never overwritten)."""
    states = list_states(output)
    if not resume:
        if states:
            raise GLIGENError(f"the output folder {output!r} already holds a run ({os.path.basename(states[-1])}); "
                              f"pass --resume to continue it, or choose another output folder.")
        return None
    if resume is True or resume == "latest":
        if not states:
            raise GLIGENError(f"--resume: no training state in {checkpoint_dir(output)!r} to continue from.")
        return states[-1]
    if not os.path.isfile(str(resume)):
        raise GLIGENError(f"--resume: the training state {resume!r} does not exist.")
    return str(resume)


def check_same_schedule(saved: dict, now: dict) -> None:
    changed = [f"{k} {saved.get(k)!r} -> {now.get(k)!r}" for k in SCHEDULE_KEYS if saved.get(k) != now.get(k)]
    if changed:
        raise GLIGENError("cannot resume exactly: settings that decide the data order changed since the state was "
                          f"saved ({'; '.join(changed)}). Resume with the same settings and number of processes, or "
                          f"start a new run.")


def write_adapter(adapter: GLIGENAdapter, path: str, info: dict) -> str:
    """The adapter in the ComfyUI pruned layout, fp32, with ``info`` in the header (values as text)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    metadata = {k: v if isinstance(v, str) else json.dumps(v) for k, v in info.items()}
    tmp = path + ".part"
    save_adapter(adapter, tmp, metadata)
    os.replace(tmp, path)
    return path
