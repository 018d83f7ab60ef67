"""Load a GLIGEN adapter from any published layout, strictly.

Layouts, detected from the keys (GLIGEN spec section 7):
- ``comfyui-pruned``: only ``...fuser.*`` and ``position_net.*`` tensors under LDM names (what users
  keep in ``models/gligen``; also this pack's own output and the A1111 delta file);
- ``official``: LDM names inside a whole UNet, usually the ``model`` entry of a pickled training
  checkpoint (``gligen/*/diffusion_pytorch_model.bin``);
- ``diffusers``: a ``UNet2DConditionModel`` state dict with ``attention_type="gated"``, in one file
  or sharded (``*.safetensors.index.json``), as GLIGEN-XL is published; only the GLIGEN tensors are read.

Loading is strict where ComfyUI core is lenient: every fuser must hold exactly its 17 tensors with
consistent shapes and the tokenizer its 8; anything missing, misshapen or unexpected is an error
that names the tensor. Frozen UNet weights in the official and diffusers layouts are skipped.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from typing import Callable, Iterable

import torch

from .adapter import AdapterShape, GLIGENAdapter, TokenizerShape
from .errors import GLIGENFileError
from .pickles import load_pickle
from .positions import BlockPosition, diffusers_resnets_per_block, parse_diffusers, parse_ldm

Shape = tuple[int, ...]

FUSER_SHAPES: dict[str, Callable[[int, int], Shape]] = {
    "linear.weight": lambda d, c: (d, c),
    "linear.bias": lambda d, c: (d,),
    "attn.to_q.weight": lambda d, c: (d, d),
    "attn.to_k.weight": lambda d, c: (d, d),
    "attn.to_v.weight": lambda d, c: (d, d),
    "attn.to_out.0.weight": lambda d, c: (d, d),
    "attn.to_out.0.bias": lambda d, c: (d,),
    "ff.net.0.proj.weight": lambda d, c: (8 * d, d),
    "ff.net.0.proj.bias": lambda d, c: (8 * d,),
    "ff.net.2.weight": lambda d, c: (d, 4 * d),
    "ff.net.2.bias": lambda d, c: (d,),
    "norm1.weight": lambda d, c: (d,),
    "norm1.bias": lambda d, c: (d,),
    "norm2.weight": lambda d, c: (d,),
    "norm2.bias": lambda d, c: (d,),
    "alpha_attn": lambda d, c: (),
    "alpha_dense": lambda d, c: (),
}

# (in_dim, position_dim, hidden, out_dim) -> shape
TOKENIZER_SHAPES: dict[str, Callable[[int, int, int, int], Shape]] = {
    "null_positive_feature": lambda i, p, h, o: (i,),
    "null_position_feature": lambda i, p, h, o: (p,),
    "linears.0.weight": lambda i, p, h, o: (h, i + p),
    "linears.0.bias": lambda i, p, h, o: (h,),
    "linears.2.weight": lambda i, p, h, o: (h, h),
    "linears.2.bias": lambda i, p, h, o: (h,),
    "linears.4.weight": lambda i, p, h, o: (o, h),
    "linears.4.bias": lambda i, p, h, o: (o,),
}

# Tokenizer tensors of GLIGEN modalities this version does not run, with what they are.
OTHER_MODALITIES = {
    "linears_text.": "a text+image GLIGEN (gligen-generation-text-image-box)",
    "null_image_feature": "a text+image GLIGEN (gligen-generation-text-image-box)",
    "person_embeddings": "a keypoint GLIGEN (gligen-generation-keypoint)",
    "convnext_tiny_backbone.": "a spatial-map GLIGEN (HED / Canny / depth / normal / semantic)",
}

LDM_UNET = re.compile(r"^(?:model\.diffusion_model\.|diffusion_model\.|model\.)?"
                      r"(input_blocks|middle_block|output_blocks|time_embed|out|label_emb)\.")
DIFFUSERS_UNET = re.compile(r"^(?:unet\.)?(conv_in|conv_out|conv_norm_out|time_embedding|add_embedding|"
                            r"class_embedding|encoder_hid_proj|down_blocks|mid_block|up_blocks)\.")
POSITION_NET = re.compile(r"^(?P<prefix>.*?)position_net\.(?P<param>.+)$")

LAYOUTS = ("comfyui-pruned", "official", "diffusers")
SAFETENSORS_EXT = (".safetensors", ".sft")
PICKLE_EXT = (".bin", ".pt", ".pth", ".ckpt")


@dataclass
class LoadedAdapter:
    adapter: GLIGENAdapter
    layout: str
    source: str

    def describe(self) -> str:
        return f"{self.adapter.describe()} [{self.layout} layout, {self.source}]"


class _Tensors:
    """Key list plus lazy access, so a 4 GB diffusers UNet only reads its GLIGEN tensors."""

    def __init__(self, keys: Iterable[str], get: Callable[[str], torch.Tensor], wrapped: str | None = None):
        self.keys = list(keys)
        self.get = get
        self.wrapped = wrapped  # e.g. "model" when taken from a training checkpoint's 'model' entry


def _read_safetensors(path: str) -> _Tensors:
    from safetensors import safe_open
    name = os.path.basename(path)
    try:
        f = safe_open(path, framework="pt", device="cpu")
        keys = list(f.keys())
    except Exception as e:
        raise GLIGENFileError(
            f"'{name}' is not a readable safetensors file (truncated or corrupt: {str(e).splitlines()[0]}). "
            f"Download it again; a partial download is the usual cause.") from None

    def get(key: str) -> torch.Tensor:
        try:  # own the memory: a memory-mapped tensor would break if the file were replaced while in use
            return f.get_tensor(key).clone()
        except Exception as e:
            raise GLIGENFileError(f"'{name}': tensor '{key}' cannot be read ({e}); the file is "
                                  f"truncated or corrupt. Download it again.") from None
    return _Tensors(keys, get)


SAFETENSORS_DTYPES = {"F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
                      "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8,
                      "BOOL": torch.bool, "F8_E4M3": torch.float8_e4m3fn, "F8_E5M2": torch.float8_e5m2}


def _read_safetensors_header(path: str) -> _Tensors:
    """Names, shapes and dtypes from a safetensors header alone (as meta tensors): no weights are read."""
    name = os.path.basename(path)
    size = os.path.getsize(path)

    def bad(why: str) -> GLIGENFileError:
        return GLIGENFileError(f"'{name}' is not a readable safetensors file (truncated or corrupt: {why}). "
                               f"Download it again; a partial download is the usual cause.")
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise bad("shorter than its 8-byte header length")
        n = int.from_bytes(head, "little")
        if n <= 0 or n > size - 8 or n > 100_000_000:
            raise bad(f"header length {n} does not fit a {size}-byte file")
        try:
            header = json.loads(f.read(n))
        except (ValueError, UnicodeDecodeError):
            raise bad("the header is not JSON") from None
    if not isinstance(header, dict):
        raise bad("the header is not a table of tensors")
    meta: dict[str, tuple[tuple[int, ...], torch.dtype]] = {}
    data = size - 8 - n
    for key, info in header.items():
        if key == "__metadata__":
            continue
        try:
            dtype = SAFETENSORS_DTYPES[info["dtype"]]
            shape = tuple(int(v) for v in info["shape"])
            start, end = (int(v) for v in info["data_offsets"])
        except (KeyError, TypeError, ValueError):
            raise bad(f"tensor '{key}' has no valid dtype, shape and offsets") from None
        if end > data or start > end:
            raise bad(f"tensor '{key}' ends at byte {end} of {data} data bytes")
        meta[key] = (shape, dtype)
    return _Tensors(meta, lambda k: torch.empty(meta[k][0], dtype=meta[k][1], device="meta"))


def check_file(path: str) -> str:
    """Check a GLIGEN file without reading its weights: the full strict check for safetensors (header
    only), the container for other files. Returns a one-line description; raises ``GLIGENFileError``."""
    if not os.path.exists(path):
        raise GLIGENFileError(f"GLIGEN file '{path}' does not exist.")
    kind, path = resolve(path)
    name = os.path.basename(path)
    if kind == "index":
        loaded = adapter_from_tensors(_read_index(path, header_only=True), name)
        return f"{loaded.adapter.family}, {len(loaded.adapter.positions())} fusers, {loaded.layout} layout (sharded)"
    if os.path.getsize(path) == 0:
        raise GLIGENFileError(f"'{name}' is empty (0 bytes). Download it again.")
    ext = os.path.splitext(path)[1].lower()
    kind = "safetensors" if ext in SAFETENSORS_EXT else "pickle" if ext in PICKLE_EXT else _sniff(path)
    if kind == "safetensors":
        loaded = adapter_from_tensors(_read_safetensors_header(path), name)
        return f"{loaded.adapter.family}, {len(loaded.adapter.positions())} fusers, {loaded.layout} layout"
    if kind == "pickle":
        return "PyTorch checkpoint (checked when loaded)"
    raise GLIGENFileError(f"'{name}' is neither a safetensors file nor a PyTorch checkpoint. GLIGEN files "
                          f"end in .safetensors (preferred) or .bin/.pt/.pth/.ckpt.")


SHARD = re.compile(r"^(?P<stem>.+)-\d{5}-of-\d{5}\.safetensors$")


def resolve(path: str) -> tuple[str, str]:
    """``(kind, path)`` of what to read: ``index`` for a sharded diffusers UNet (given as its
    ``*.safetensors.index.json``, one of its shards, or the folder holding them), else ``file``."""
    name = os.path.basename(path)
    if os.path.isdir(path):
        for sub in ("", "unet"):
            folder = os.path.join(path, sub)
            if not os.path.isdir(folder):
                continue
            indexes = sorted(f for f in os.listdir(folder) if f.endswith(".safetensors.index.json"))
            if indexes:
                return "index", os.path.join(folder, indexes[0])
            singles = sorted(f for f in os.listdir(folder) if f.endswith(".safetensors") and not SHARD.match(f))
            if len(singles) == 1:
                return "file", os.path.join(folder, singles[0])
        raise GLIGENFileError(f"folder '{name}' holds no *.safetensors.index.json and no single .safetensors file "
                              f"(also looked in '{name}/unet'). Point at the GLIGEN file or the UNet folder.")
    if name.endswith(".index.json"):
        return "index", path
    m = SHARD.match(name)
    if m:
        index = os.path.join(os.path.dirname(path), m["stem"] + ".safetensors.index.json")
        if not os.path.isfile(index):
            raise GLIGENFileError(f"'{name}' is one shard of a sharded UNet, but its index "
                                  f"'{os.path.basename(index)}' is not next to it. Copy the whole unet folder "
                                  f"(every shard and the index) together.")
        return "index", index
    return "file", path


def _read_index(index_path: str, header_only: bool = False) -> _Tensors:
    """A sharded diffusers UNet: keys from the index, tensors from the shard that holds each."""
    name = os.path.basename(index_path)
    folder = os.path.dirname(index_path)
    try:
        with open(index_path) as f:
            weight_map = json.load(f)["weight_map"]
        assert isinstance(weight_map, dict)
    except (OSError, ValueError, KeyError, TypeError, AssertionError):
        raise GLIGENFileError(f"'{name}' is not a safetensors index (a JSON file with a 'weight_map').") from None
    shards: dict[str, _Tensors] = {}

    def shard(filename: str) -> _Tensors:
        if filename not in shards:
            path = os.path.join(folder, filename)
            if not os.path.isfile(path):
                missing = sorted({f for f in weight_map.values() if not os.path.isfile(os.path.join(folder, f))})
                raise GLIGENFileError(f"shard '{filename}' listed in '{name}' is missing ({len(missing)} of "
                                      f"{len(set(weight_map.values()))} shards missing: {', '.join(missing[:4])}). "
                                      f"Download every shard of the unet folder.")
            shards[filename] = _read_safetensors_header(path) if header_only else _read_safetensors(path)
        return shards[filename]

    def get(key: str) -> torch.Tensor:
        return shard(weight_map[key]).get(key)
    for filename in sorted(set(weight_map.values())):  # every shard must be there, and readable
        shard(filename)
    return _Tensors(weight_map, get)


def _read_pickle(path: str) -> _Tensors:
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
    return _Tensors(tensors, lambda k: tensors[k].clone(), wrapped)


def _sniff(path: str) -> str:
    with open(path, "rb") as f:
        head = f.read(16)
    if head[:2] == b"PK" or head[:1] == b"\x80":
        return "pickle"
    if len(head) >= 9 and head[8:9] == b"{":
        return "safetensors"
    return "unknown"


def read_tensors(path: str) -> _Tensors:
    if not os.path.exists(path):
        raise GLIGENFileError(f"GLIGEN file '{path}' does not exist.")
    kind, path = resolve(path)
    if kind == "index":
        return _read_index(path)
    name = os.path.basename(path)
    if os.path.getsize(path) == 0:
        raise GLIGENFileError(f"'{name}' is empty (0 bytes). Download it again.")
    ext = os.path.splitext(path)[1].lower()
    kind = "safetensors" if ext in SAFETENSORS_EXT else "pickle" if ext in PICKLE_EXT else _sniff(path)
    if kind == "safetensors":
        return _read_safetensors(path)
    if kind == "pickle":
        return _read_pickle(path)
    raise GLIGENFileError(f"'{name}' is neither a safetensors file nor a PyTorch checkpoint. GLIGEN files "
                          f"end in .safetensors (preferred) or .bin/.pt/.pth/.ckpt.")


def _diagnose_not_gligen(keys: list[str], name: str) -> GLIGENFileError:
    sample = ", ".join(keys[:3]) or "no tensors at all"
    if any(k.startswith("model.diffusion_model.") for k in keys):
        what = "a Stable Diffusion checkpoint (it belongs in models/checkpoints)"
    elif any("lora" in k.lower() for k in keys[:50]):
        what = "a LoRA (it belongs in models/loras)"
    elif any(DIFFUSERS_UNET.match(k) for k in keys):
        what = "a diffusers UNet without GLIGEN fusers"
    elif any(LDM_UNET.match(k) for k in keys):
        what = "a UNet without GLIGEN fusers"
    elif any(k.startswith(("encoder.", "decoder.", "first_stage_model.")) for k in keys):
        what = "a VAE"
    elif any("text_model" in k for k in keys[:50]):
        what = "a text encoder"
    else:
        what = "not a GLIGEN file"
    return GLIGENFileError(
        f"'{name}' has no GLIGEN tensors: it looks like {what} (first keys: {sample}). A GLIGEN file holds "
        f"'...transformer_blocks.N.fuser.*' and 'position_net.*' tensors; the SD1.x text-box files are "
        f"gligen_sd14_textbox_pruned(.fp16).safetensors, the official gligen-generation-text-box "
        f"checkpoint, or a diffusers GLIGEN UNet.")


def _problems_error(name: str, problems: list[str]) -> GLIGENFileError:
    shown = "\n  - ".join(problems[:12])
    more = f"\n  ... and {len(problems) - 12} more" if len(problems) > 12 else ""
    return GLIGENFileError(f"'{name}' is not a complete GLIGEN file ({len(problems)} problem"
                           f"{'s' if len(problems) > 1 else ''}):\n  - {shown}{more}\n"
                           f"Download the file again or use an unmodified release.")


def _check_group(expected: dict[str, Shape], got: dict[str, tuple[str, torch.Tensor]],
                 problems: list[str], where: str) -> None:
    for param, shape in expected.items():
        if param not in got:
            problems.append(f"missing tensor '{where}.{param}' (expected shape {list(shape)})")
        elif tuple(got[param][1].shape) != shape:
            problems.append(f"tensor '{got[param][0]}' has shape {list(got[param][1].shape)}, "
                            f"expected {list(shape)}")
    for param in got:
        if param not in expected:
            problems.append(f"unexpected tensor '{got[param][0]}'")


def _width_of(group: dict[str, tuple[str, torch.Tensor]], param: str, dim: int) -> int | None:
    t = group.get(param)
    if t is None or t[1].ndim <= dim:
        return None
    return int(t[1].shape[dim])


Group = dict[str, tuple[str, torch.Tensor]]  # param -> (key in the file, tensor)


def _gather(tensors: _Tensors, name: str, problems: list[str]) -> tuple[str, dict[BlockPosition, Group], Group]:
    """Sort the file's keys into fusers (by position), tokenizer and tolerated frozen UNet weights;
    returns ``(layout, fusers, tokenizer)``. Other GLIGEN modalities are named and refused here."""
    keys = tensors.keys
    ldm = {k: p for k in keys if (p := parse_ldm(k))}
    diff = {}
    if not ldm:
        per_block = diffusers_resnets_per_block(keys) or 2
        diff = {k: p for k in keys if (p := parse_diffusers(k, per_block))}
    if not ldm and not diff:
        raise _diagnose_not_gligen(keys, name)

    fusers: dict[BlockPosition, Group] = {}
    for k, parsed in (ldm or diff).items():
        pos, param = parsed[1], parsed[2]
        if ldm and parsed[3] != 1:
            problems.append(f"unexpected tensor '{k}' (a fuser lives in sub-module 1 of its block)")
            continue
        fusers.setdefault(pos, {})[param] = (k, tensors.get(k))
    prefixes = {p[0] for p in (ldm or diff).values()}

    tok: Group = {}
    gligen_keys = set(ldm) | set(diff)
    for k in keys:
        m = POSITION_NET.match(k)
        if m and m["prefix"] in prefixes | {"", "unet."}:
            gligen_keys.add(k)
            for marker, what in OTHER_MODALITIES.items():
                if m["param"].startswith(marker):
                    raise GLIGENFileError(
                        f"'{name}' is {what}. This version runs text-box GLIGEN only "
                        f"(tensor '{k}'); use gligen_sd14_textbox_pruned.safetensors or another text-box file.")
            tok[m["param"]] = (k, tensors.get(k))

    layout = "diffusers" if diff else "official" if (ldm and tensors.wrapped) else "comfyui-pruned"
    for k in keys:
        if k in gligen_keys:
            continue
        if k.startswith("downsample_net.") or ".downsample_net." in k:
            raise GLIGENFileError(f"'{name}' is a spatial-map GLIGEN (it has '{k}'); this version runs "
                                  f"text-box GLIGEN only.")
        if re.search(r"(input_blocks\.0\.0|conv_in)\.weight$", k):
            t = tensors.get(k)
            if t.ndim == 4 and t.shape[1] != 4:
                raise GLIGENFileError(
                    f"'{name}' has a {t.shape[1]}-channel first convolution ('{k}'): it is an inpainting or "
                    f"spatial-map GLIGEN, which this version does not run. Use a text-box generation file.")
        if (LDM_UNET.match(k) and ldm) or (DIFFUSERS_UNET.match(k) and diff):
            layout = "diffusers" if diff else "official"    # frozen UNet weights next to the fusers
            continue
        problems.append(f"unexpected tensor '{k}' (neither a fuser, the position_net, nor a UNet weight)")
    return layout, fusers, tok


def _shape(fusers: dict[BlockPosition, Group], tok: Group, problems: list[str]) -> AdapterShape | None:
    """Widths read off the tensors, every shape checked against them."""
    if not tok:
        problems.append("no 'position_net.*' tensors: the grounding tokenizer is missing")
        return None
    widths: dict[BlockPosition, int] = {}
    token_dims: set[int] = set()
    for pos, group in sorted(fusers.items(), key=lambda kv: kv[0].sort_key()):
        d, c = _width_of(group, "linear.weight", 0), _width_of(group, "linear.weight", 1)
        if d is None or c is None:
            problems.append(f"missing tensor '{pos}.fuser.linear.weight' (it fixes the fuser's width)")
            continue
        _check_group({p: f(d, c) for p, f in FUSER_SHAPES.items()}, _squeeze_alphas(group), problems,
                     f"{pos}.fuser")
        widths[pos] = d
        token_dims.add(c)
    dims = {q: _width_of(tok, q, 0) for q in ("null_positive_feature", "null_position_feature",
                                              "linears.0.weight", "linears.4.weight")}
    if None in dims.values():
        problems.extend(f"missing tensor 'position_net.{q}'" for q, v in dims.items() if v is None and q not in tok)
        return None
    i, p, h, o = dims.values()
    if p % 8:
        problems.append(f"tensor 'position_net.null_position_feature' has {p} entries; a Fourier box "
                        f"embedding has a multiple of 8 (4 coordinates x sin/cos)")
        return None
    _check_group({q: f(i, p, h, o) for q, f in TOKENIZER_SHAPES.items()}, tok, problems, "position_net")
    problems.extend(f"fusers read {c}-d tokens but position_net makes {o}-d tokens" for c in sorted(token_dims - {o}))
    return AdapterShape(widths, o, TokenizerShape(i, o, h, p // 8))


def _check_values(groups: dict[str, Group], problems: list[str]) -> None:
    for group in groups.values():
        for key, t in group.values():
            if not t.is_floating_point():
                problems.append(f"tensor '{key}' holds {str(t.dtype).replace('torch.', '')} values; GLIGEN weights are floats")
            elif t.device.type != "meta" and not torch.isfinite(t).all():
                problems.append(f"tensor '{key}' contains NaN or infinite values")


def adapter_from_tensors(tensors: _Tensors, name: str) -> LoadedAdapter:
    """Check every tensor and build the adapter; every problem found is reported at once."""
    problems: list[str] = []
    layout, fusers, tok = _gather(tensors, name, problems)
    shape = _shape(fusers, tok, problems)
    if not problems and shape is not None:
        _check_values({**{pos.module_key: g for pos, g in fusers.items()}, "position_net": tok}, problems)
    if problems or shape is None:
        raise _problems_error(name, problems or ["the file's tensors do not form a GLIGEN adapter"])
    state = {f"fusers.{pos.module_key}.{param}": t.reshape(FUSER_SHAPES[param](shape.fusers[pos], shape.token_dim))
             for pos, group in fusers.items() for param, (_, t) in group.items()}
    state.update({f"position_net.{param}": t for param, (_, t) in tok.items()})
    with torch.device("meta"):
        adapter = GLIGENAdapter(shape)
    adapter.load_state_dict(state, strict=True, assign=True)
    adapter.requires_grad_(False)
    adapter.eval()
    return LoadedAdapter(adapter, layout, name)


def _squeeze_alphas(group: Group) -> Group:
    """Gates stored as ``[1]`` instead of ``[]`` hold the same single value: accept both."""
    out = dict(group)
    for gate in ("alpha_attn", "alpha_dense"):
        if gate in out and tuple(out[gate][1].shape) == (1,):
            out[gate] = (out[gate][0], out[gate][1].reshape(()))
    return out


def load_adapter(path: str) -> LoadedAdapter:
    """Read ``path`` (any supported layout and container; a sharded UNet by its index, a shard or its
    folder) into a ready adapter on the CPU."""
    return adapter_from_tensors(read_tensors(path), os.path.basename(os.path.normpath(path)))


def save_adapter(adapter: GLIGENAdapter, path: str) -> None:
    """Write ``adapter`` in the ComfyUI pruned layout (safetensors), loadable by core ComfyUI too."""
    from safetensors.torch import save_file
    save_file({k: v.contiguous() for k, v in adapter.canonical_state_dict().items()}, path)
