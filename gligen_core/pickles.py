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


def _globals_of_plain_pickle(path: str) -> tuple[list[str], bool]:
    """The ``module.name`` globals a non-zip pickle refers to, read from its opcodes (nothing runs),
    and whether its first pickle reads to the end (False: not a pickle, or a damaged one)."""
    found: list[str] = []
    strings: list[str] = []
    whole = False
    try:
        with open(path, "rb") as f:
            for op, arg, _ in pickletools.genops(f):
                if op.name == "GLOBAL":
                    found.append(str(arg).replace(" ", "."))
                elif op.name == "STACK_GLOBAL" and len(strings) >= 2:
                    found.append(f"{strings[-2]}.{strings[-1]}")
                elif isinstance(arg, str):
                    strings.append(arg)
        whole = True
    except Exception:
        pass
    return [g for g in dict.fromkeys(found) if not g.startswith(("torch.", "collections.OrderedDict"))], whole


def _is_zip(path: str) -> bool:
    with open(path, "rb") as f:
        return f.read(2) == b"PK"


GLOBAL_NAME = re.compile(r"^[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+$")


def _names(found: list[str]) -> list[str]:
    """Only what reads as ``module.name`` (and not too long) is ever shown: the rest of a pickle's
    strings are its data, and an error must not quote a file's contents."""
    return [g for g in found if len(g) <= 100 and GLOBAL_NAME.match(g)]


def _unreadable(name: str) -> GLIGENFileError:
    return GLIGENFileError(f"'{name}' is not a readable PyTorch checkpoint (truncated, corrupt, or not a "
                           f"checkpoint at all). Download it again; prefer the .safetensors release of the file.")


def load_pickle(path: str) -> Any:
    """The object pickled in ``path``, read without running code. Errors are ours alone: PyTorch's
    own messages advise turning the weights-only loader off, which must never be done for a file
    that was refused, so they are never relayed."""
    name = os.path.basename(path)
    try:
        return _load(path)
    except pickle.UnpicklingError as first:
        try:
            needed = _names(torch.serialization.get_unsafe_globals_in_checkpoint(path))
        except Exception:
            needed = []
        if not needed:
            plain, whole = _globals_of_plain_pickle(path)
            if not plain and not whole and not _is_zip(path):
                raise _unreadable(name) from None
            needed = _names(plain or re.findall(r"GLOBAL ([\w.]+)", str(first))[:1])
        refused = [g for g in needed if not g.startswith(INERT_MODULES)]
        if not needed or refused:
            shown = ", ".join(refused[:5]) or "objects beyond tensors"
            raise GLIGENFileError(
                f"Refused to load '{name}': the pickle asks to run or build code objects when loaded "
                f"({shown}). GLIGEN weights never need code, so this file is either damaged or not a plain "
                f"weight file. Delete it and use the .safetensors release of the GLIGEN file instead.") from None
        try:
            with torch.serialization.safe_globals(_stand_ins(needed)):
                return _load(path)
        except Exception:
            raise GLIGENFileError(
                f"Refused to load '{name}': beyond its tensors and training config the pickle holds data "
                f"the weights-only reader does not accept, so it is damaged or not a plain weight file. "
                f"Delete it and use the .safetensors release of the GLIGEN file instead.") from None
    except GLIGENFileError:
        raise
    except Exception:  # whatever a damaged file makes the unpickler raise
        raise _unreadable(name) from None
