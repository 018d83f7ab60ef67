"""Reading pickled PyTorch checkpoints without running code from them.

Everything goes through ``torch.load(weights_only=True)``. The official GLIGEN checkpoints also pickle
their OmegaConf training config (``config_dict``), which the weights-only unpickler refuses. Such
data-only config classes (from the modules in ``INERT_MODULES``) are replaced by inert stand-ins that
store nothing and run nothing; any other global (``os.system``, ``builtins.eval`` ...) is refused.
"""
from __future__ import annotations

import os
import pickle
import pickletools
import re
from typing import Any

import torch

from .errors import GLIGENFileError

INERT_MODULES = ("omegaconf.", "typing.")


class _InertConfigObject:
    """Stands in for a data-only config class of a pickled checkpoint; keeps no state."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __setstate__(self, state: Any) -> None:
        pass

    def __call__(self, *args: Any, **kwargs: Any) -> "_InertConfigObject":
        return _InertConfigObject()


def _stand_ins(names: list[str]) -> list[tuple[type, str]]:
    return [(type(n.rsplit(".", 1)[-1], (_InertConfigObject,), {}), n) for n in names]


def _load(path: str, **kw: Any) -> Any:
    try:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=True, **kw)
    except RuntimeError as e:  # legacy (non-zip) files cannot be memory-mapped
        if "mmap" not in str(e):
            raise
        return torch.load(path, map_location="cpu", weights_only=True, **kw)


def _globals_of_plain_pickle(path: str) -> list[str]:
    """The ``module.name`` globals a non-zip pickle refers to, read from its opcodes (nothing runs)."""
    found: list[str] = []
    strings: list[str] = []
    try:
        with open(path, "rb") as f:
            for op, arg, _ in pickletools.genops(f):
                if op.name == "GLOBAL":
                    found.append(str(arg).replace(" ", "."))
                elif op.name == "STACK_GLOBAL" and len(strings) >= 2:
                    found.append(f"{strings[-2]}.{strings[-1]}")
                elif isinstance(arg, str):
                    strings.append(arg)
    except Exception:
        pass
    return [g for g in dict.fromkeys(found) if not g.startswith(("torch.", "collections.OrderedDict"))]


def load_pickle(path: str) -> Any:
    name = os.path.basename(path)
    try:
        return _load(path)
    except pickle.UnpicklingError as first:
        try:
            needed = torch.serialization.get_unsafe_globals_in_checkpoint(path)
        except Exception:
            needed = []
        if not needed:
            needed = _globals_of_plain_pickle(path) or re.findall(r"GLOBAL ([\w.]+)", str(first))[:1]
        refused = [g for g in needed if not g.startswith(INERT_MODULES)]
        if not needed or refused:
            shown = ", ".join(refused[:5]) or "objects beyond tensors"
            raise GLIGENFileError(
                f"Refused to load '{name}': the pickle asks to run or build code objects when loaded "
                f"({shown}). GLIGEN weights never need code. Use the .safetensors release of this file, "
                f"or convert it to safetensors in an environment you trust.") from None
        try:
            with torch.serialization.safe_globals(_stand_ins(needed)):
                return _load(path)
        except Exception as e:
            raise GLIGENFileError(f"Could not read '{name}' as a PyTorch checkpoint: {e}") from None
    except GLIGENFileError:
        raise
    except Exception as e:  # whatever a damaged file makes the unpickler raise
        raise GLIGENFileError(
            f"'{name}' is not a readable PyTorch checkpoint (truncated or corrupt: "
            f"{str(e).splitlines()[0] if str(e) else type(e).__name__}). Download it again.") from None
