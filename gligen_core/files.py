"""Reading weight containers: safetensors files (whole, or their header alone as meta tensors),
sharded UNets (``*.safetensors.index.json``, one of its shards, or the folder holding them) and
pickled PyTorch checkpoints (through :mod:`.pickles`, which never runs code).

``read_tensors`` is the one entry: it resolves a path to its container and returns its tensors.
Errors name the file and the fix and never quote the bytes of a file: a path may lead to something
that is not a weight file at all, and an error message travels to whoever queued the prompt.
"""
from __future__ import annotations

import errno
import json
import os
import re
from dataclasses import dataclass
from typing import BinaryIO, Callable, Iterable

import torch

from .errors import GLIGENFileError
from .pickles import load_pickle

SAFETENSORS_EXT = (".safetensors", ".sft")
PICKLE_EXT = (".bin", ".pt", ".pth", ".ckpt")
INDEX_SUFFIX = ".safetensors.index.json"
SHARD = re.compile(r"^(?P<stem>.+)-\d{5}-of-\d{5}\.safetensors$")
MAX_HEADER = 100_000_000  # bytes; the limit the safetensors library itself enforces

SAFETENSORS_DTYPES = {"F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
                      "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8,
                      "BOOL": torch.bool, "F8_E4M3": torch.float8_e4m3fn, "F8_E5M2": torch.float8_e5m2}


class Tensors:
    """Key list plus lazy access, so a 4 GB diffusers UNet only reads its GLIGEN tensors."""

    def __init__(self, keys: Iterable[str], get: Callable[[str], torch.Tensor], wrapped: str | None = None,
                 sharded: bool = False, source: str = "") -> None:
        self.keys = list(keys)
        self.get = get
        self.wrapped = wrapped  # e.g. "model" when taken from a training checkpoint's 'model' entry
        self.sharded = sharded  # read through a *.safetensors.index.json
        self.source = source    # file name of what was opened (the index of a sharded UNet)


@dataclass(frozen=True)
class Container:
    """What a path resolves to: ``kind`` is ``safetensors``, ``index`` or ``pickle``; ``path`` the file to open."""
    kind: str
    path: str


# ---- finding the container ---------------------------------------------------------------------------

def locate(path: str) -> Container:
    """Resolve ``path`` (a file, an index, a shard or a UNet folder) to the container to read."""
    if not os.path.exists(path):
        raise GLIGENFileError(f"GLIGEN file '{path}' does not exist.")
    if os.path.isdir(path):
        return _in_folder(path)
    name = os.path.basename(path)
    if name.endswith(".index.json"):
        return Container("index", path)
    m = SHARD.match(name)
    if m:
        index = os.path.join(os.path.dirname(path), m["stem"] + INDEX_SUFFIX)
        if not os.path.isfile(index):
            raise GLIGENFileError(f"'{name}' is one shard of a sharded UNet, but its index "
                                  f"'{os.path.basename(index)}' is not next to it. Copy the whole unet folder "
                                  f"(every shard and the index) together.")
        return Container("index", index)
    return Container(_kind_of_file(path), path)


def _in_folder(path: str) -> Container:
    name = os.path.basename(os.path.normpath(path))
    for sub in ("", "unet"):
        folder = os.path.join(path, sub)
        if not os.path.isdir(folder):
            continue
        indexes = sorted(f for f in os.listdir(folder) if f.endswith(INDEX_SUFFIX))
        if indexes:
            return Container("index", os.path.join(folder, indexes[0]))
        singles = sorted(f for f in os.listdir(folder) if f.endswith(".safetensors") and not SHARD.match(f))
        if len(singles) == 1:
            return locate(os.path.join(folder, singles[0]))
    raise GLIGENFileError(f"folder '{name}' holds no *.safetensors.index.json and no single .safetensors file "
                          f"(also looked in '{name}/unet'). Point at the GLIGEN file or the UNet folder.")


def _kind_of_file(path: str) -> str:
    name = os.path.basename(path)
    if os.path.getsize(path) == 0:
        raise GLIGENFileError(f"'{name}' is empty (0 bytes). Download it again.")
    ext = os.path.splitext(path)[1].lower()
    kind = "safetensors" if ext in SAFETENSORS_EXT else "pickle" if ext in PICKLE_EXT else _sniff(path)
    if kind == "unknown":
        raise GLIGENFileError(f"'{name}' is neither a safetensors file nor a PyTorch checkpoint. GLIGEN files "
                              f"end in .safetensors (preferred) or .bin/.pt/.pth/.ckpt.")
    return kind


def _sniff(path: str) -> str:
    with _opened(path) as f:
        head = f.read(16)
    if head[:2] == b"PK" or head[:1] == b"\x80":
        return "pickle"
    if len(head) >= 9 and head[8:9] == b"{":
        return "safetensors"
    return "unknown"


def _opened(path: str) -> BinaryIO:
    try:
        return open(path, "rb")
    except OSError as e:
        raise GLIGENFileError(f"'{os.path.basename(path)}' cannot be opened ({e.strerror or type(e).__name__}). "
                              f"Check that the file is readable by the user ComfyUI runs as.") from None


# ---- the one dispatch ------------------------------------------------------------------------------------

def read_tensors(path: str, header_only: bool = False) -> Tensors | None:
    """The tensors of the file, index, shard or folder at ``path``. With ``header_only`` nothing but
    names, shapes and dtypes is read (as meta tensors); a pickle cannot be inspected without being
    read, so then the answer is ``None`` once the container itself is known to be a pickle."""
    container = locate(path)
    if container.kind == "index":
        return read_index(container.path, header_only)
    if container.kind == "safetensors":
        return read_safetensors(container.path, header_only)
    return None if header_only else read_pickle(container.path)


# ---- safetensors -----------------------------------------------------------------------------------------

def _unreadable(name: str, why: str) -> GLIGENFileError:
    return GLIGENFileError(f"'{name}' is not a readable safetensors file (truncated or corrupt: {why}). "
                           f"Download it again; a partial download is the usual cause.")


def read_header(path: str) -> dict[str, tuple[tuple[int, ...], torch.dtype]]:
    """Shape and dtype of every tensor, from the header alone, each checked against the file's size.
    No error quotes the file: its first bytes may be anything (a text file, a secret)."""
    name = os.path.basename(path)
    size = os.path.getsize(path)
    with _opened(path) as f:
        head = f.read(8)
        if len(head) < 8:
            raise _unreadable(name, "shorter than its 8-byte header length")
        n = int.from_bytes(head, "little")
        if n <= 0 or n > size - 8 or n > MAX_HEADER:
            raise _unreadable(name, f"its first 8 bytes do not give a header length that fits a {size}-byte file")
        raw = f.read(n)
    try:
        header = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise _unreadable(name, "the header is not JSON") from None
    if not isinstance(header, dict):
        raise _unreadable(name, "the header is not a table of tensors")
    meta: dict[str, tuple[tuple[int, ...], torch.dtype]] = {}
    data = size - 8 - n
    for key, info in header.items():
        if key == "__metadata__":
            if not isinstance(info, dict) or not all(isinstance(v, str) for v in info.values()):
                raise _unreadable(name, "its '__metadata__' is not a table of text")
            continue
        try:
            dtype = SAFETENSORS_DTYPES[info["dtype"]]
            shape = tuple(int(v) for v in info["shape"])
            start, end = (int(v) for v in info["data_offsets"])
        except (KeyError, TypeError, ValueError):
            raise _unreadable(name, f"tensor {_short(key)} has no valid dtype, shape and offsets") from None
        if min(shape, default=0) < 0:
            raise _unreadable(name, f"tensor {_short(key)} has a negative dimension")
        if start < 0 or end > data or start > end:
            raise _unreadable(name, f"tensor {_short(key)} ends at byte {end} of {data} data bytes")
        numel = 1
        for v in shape:
            numel *= v
        if (end - start) != numel * dtype.itemsize:
            raise _unreadable(name, f"tensor {_short(key)} has {end - start} bytes for {numel} values of "
                                    f"{dtype.itemsize} bytes")
        meta[key] = (shape, dtype)
    return meta


def read_safetensors(path: str, header_only: bool = False) -> Tensors:
    meta = read_header(path)  # every header problem is named here, in our words, before the library opens it
    if header_only:
        return Tensors(meta, lambda k: torch.empty(meta[k][0], dtype=meta[k][1], device="meta"),
                       source=os.path.basename(path))
    from safetensors import safe_open
    name = os.path.basename(path)
    try:
        f = safe_open(path, framework="pt", device="cpu")
    except Exception:  # its message may quote the file (serde errors cite header strings): never relay it
        raise _unreadable(name, "the header does not describe the data that follows") from None

    def get(key: str) -> torch.Tensor:
        try:  # own the memory: a memory-mapped tensor would break if the file were replaced while in use
            return f.get_tensor(key).clone()
        except Exception:
            raise GLIGENFileError(f"'{name}': tensor '{key}' cannot be read; the file is truncated or corrupt. "
                                  f"Download it again.") from None
    return Tensors(meta, get, source=name)


# ---- sharded UNets ---------------------------------------------------------------------------------------

def _shard_name_problem(value: object) -> str | None:
    """Why ``value`` is not a plain file name of the index's own folder, or None."""
    if not isinstance(value, str):
        return "it is not a file name"
    if not value.strip():
        return "it is empty"
    if "/" in value or "\\" in value:
        return "it contains a path separator"
    if value in (".", ".."):
        return "it names a folder"
    if ":" in value or any(ord(c) < 32 for c in value):
        return "it contains a drive colon or a control character"
    return None


def _short(value: object, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + "...'"


def read_index(index_path: str, header_only: bool = False) -> Tensors:
    """A sharded diffusers UNet: keys from the index, tensors from the shard that holds each. Shards
    are plain file names in the index's own folder; anything else is refused before any file is opened."""
    name = os.path.basename(index_path)
    folder = os.path.dirname(index_path)
    try:
        with open(index_path, encoding="utf-8") as f:
            weight_map = json.load(f)["weight_map"]
        assert isinstance(weight_map, dict)
    except (OSError, ValueError, KeyError, TypeError, AssertionError, RecursionError):
        raise GLIGENFileError(f"'{name}' is not a safetensors index (a JSON file with a 'weight_map').") from None
    for key, value in weight_map.items():
        why = _shard_name_problem(value)
        if why:
            raise GLIGENFileError(
                f"'{name}' maps tensor {_short(key)} to {_short(value)}, which is not a plain file name in the "
                f"index's own folder ({why}). An index names its shards by file name only, e.g. "
                f"'diffusion_pytorch_model-00001-of-00003.safetensors', and they must sit next to it: "
                f"download the index again, or fix that entry of its weight_map.")
    shards: dict[str, tuple[Tensors, set[str]]] = {}

    def shard(filename: str) -> tuple[Tensors, set[str]]:
        if filename not in shards:
            path = os.path.join(folder, filename)
            if not os.path.isfile(path):
                missing = sorted({f for f in weight_map.values() if not os.path.isfile(os.path.join(folder, f))})
                raise GLIGENFileError(f"shard '{filename}' listed in '{name}' is missing ({len(missing)} of "
                                      f"{len(set(weight_map.values()))} shards missing: {', '.join(missing[:4])}). "
                                      f"Download every shard of the unet folder.")
            tensors = read_safetensors(path, header_only)
            shards[filename] = (tensors, set(tensors.keys))
        return shards[filename]

    def get(key: str) -> torch.Tensor:
        filename = weight_map[key]
        tensors, keys = shard(filename)
        if key not in keys:
            raise GLIGENFileError(
                f"'{name}' says tensor '{key}' is in shard '{filename}', but that shard has no such tensor: the "
                f"index and its shards come from different downloads or versions. Download the whole unet "
                f"folder again (every shard and the index, from the same revision).")
        return tensors.get(key)
    for filename in sorted(set(weight_map.values())):  # every shard must be there, and readable
        shard(filename)
    return Tensors(weight_map, get, sharded=True, source=name)


# ---- pickles ---------------------------------------------------------------------------------------------

def read_pickle(path: str) -> Tensors:
    name = os.path.basename(path)
    obj = load_pickle(path)
    wrapped = None
    if isinstance(obj, dict) and isinstance(obj.get("model"), dict):
        obj, wrapped = obj["model"], "model"
    elif isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj, wrapped = obj["state_dict"], "state_dict"
    if not isinstance(obj, dict):
        raise GLIGENFileError(f"'{name}' holds a {type(obj).__name__}, not a dictionary of tensors; "
                              f"it is not a GLIGEN weight file.")
    tensors = {k: v for k, v in obj.items() if isinstance(k, str) and isinstance(v, torch.Tensor)}
    return Tensors(tensors, lambda k: tensors[k].clone(), wrapped, source=name)


# ---- links in a models folder ----------------------------------------------------------------------------

def broken_link(path: str, root: str | None = None) -> str | None:
    """What is wrong with ``path`` when it is a symbolic link that leads to no file (a loop, or a
    target that does not exist), said for a user; ``None`` when it is not a broken link. Paths inside
    ``root`` are shown relative to it."""
    def shown(p: str) -> str:
        if root is not None:
            rel = os.path.relpath(p, root)
            if not rel.startswith(".."):
                return rel
        return p
    if not os.path.islink(path):
        return None
    try:
        os.stat(path)
        return None  # it leads somewhere
    except OSError as e:
        looping = e.errno == errno.ELOOP
    chain = [os.path.abspath(path)]
    while os.path.islink(chain[-1]) and len(chain) < 42:
        try:
            target = os.readlink(chain[-1])
        except OSError:  # changed while we looked
            break
        nxt = os.path.normpath(os.path.join(os.path.dirname(chain[-1]), target))
        if nxt in chain:
            chain.append(nxt)
            looping = True
            break
        chain.append(nxt)
    steps = " -> ".join(shown(p) for p in chain[: 8]) + (" -> ..." if len(chain) > 8 else "")
    if looping:
        return (f"it is a symbolic link that loops ({steps}), so it leads to no file. Remove the link "
                f"'{chain[0]}' (or point it at the real GLIGEN file), then refresh the page")
    return (f"it is a symbolic link to '{chain[-1]}', which does not exist ({steps}): the file was moved or "
            f"deleted. Point the link '{chain[0]}' at the GLIGEN file or remove it, then refresh the page")
