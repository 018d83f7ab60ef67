"""Which tensors make a GLIGEN adapter, and whether a file's tensors do.

Layouts, detected from the keys (GLIGEN spec section 7):
- ``comfyui-pruned``: only ``...fuser.*`` and ``position_net.*`` tensors under LDM names (what users
  keep in ``models/gligen``; also this pack's own output and the A1111 delta file);
- ``official``: LDM names inside a whole UNet, usually the ``model`` entry of a pickled training
  checkpoint (``gligen/*/diffusion_pytorch_model.bin``);
- ``diffusers``: a ``UNet2DConditionModel`` state dict with ``attention_type="gated"``, in one file
  or sharded, as GLIGEN-XL is published; only the GLIGEN tensors are read.

Every fuser must hold exactly its 17 tensors with consistent shapes and the tokenizer its 8; anything
missing, misshapen or unexpected is a problem that names the tensor. Frozen UNet weights in the
official and diffusers layouts are tolerated. Files that are not GLIGEN, or GLIGEN of another
modality, are named.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

import torch

from .adapter import AdapterShape
from .errors import GLIGENFileError
from .first_conv import INPAINT_CHANNELS, LATENT_CHANNELS, FirstConvShape
from .files import Tensors
from .positions import BlockPosition, diffusers_resnets_per_block, parse_diffusers, parse_ldm
from .tokenizers import FAMILIES, FamilyLayout
from .tokenizers.text_box import KIND as TEXT_BOX
from .tokenizers.text_image import KIND as TEXT_IMAGE

Shape = tuple[int, ...]
Group = dict[str, tuple[str, torch.Tensor]]  # param -> (key in the file, tensor)

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

# Tokenizer tensors of GLIGEN families this version does not run (no entry in ``tokenizers.FAMILIES``),
# with what they are. A family registered there is matched first.
OTHER_MODALITIES: dict[str, str] = {}
IMAGE_PROJECT = re.compile(r"^image_project\.project\.weight$")
FIRST_CONV = re.compile(r"^(?:unet\.|model\.diffusion_model\.|diffusion_model\.|model\.)?"
                        r"(input_blocks\.0\.0|conv_in)\.weight$")

LDM_UNET = re.compile(r"^(?:model\.diffusion_model\.|diffusion_model\.|model\.)?"
                      r"(input_blocks|middle_block|output_blocks|time_embed|out|label_emb)\.")
DIFFUSERS_UNET = re.compile(r"^(?:unet\.)?(conv_in|conv_out|conv_norm_out|time_embedding|add_embedding|"
                            r"class_embedding|encoder_hid_proj|down_blocks|mid_block|up_blocks)\.")
POSITION_NET = re.compile(r"^(?P<prefix>.*?)position_net\.(?P<param>.+)$")

LAYOUTS = ("comfyui-pruned", "official", "diffusers")


def diagnose_not_gligen(keys: list[str], name: str) -> GLIGENFileError:
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


def problems_error(name: str, problems: list[str], what: str = "GLIGEN") -> GLIGENFileError:
    shown = "\n  - ".join(problems[:12])
    more = f"\n  ... and {len(problems) - 12} more" if len(problems) > 12 else ""
    what = what if what == "GLIGEN" else f"{what.split(' (')[0].removeprefix('a ')}"
    return GLIGENFileError(f"'{name}' is not a complete {what} file ({len(problems)} problem"
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


def gather(tensors: Tensors, name: str, problems: list[str]) -> "Gathered":
    """Sort the file's keys into fusers (by position), tokenizer (of its family), a widened first conv
    and tolerated frozen UNet weights. GLIGEN families this version does not run are refused here."""
    keys = tensors.keys
    ldm = {k: p for k in keys if (p := parse_ldm(k))}
    diff = {}
    if not ldm:
        per_block = diffusers_resnets_per_block(keys) or 2
        diff = {k: p for k in keys if (p := parse_diffusers(k, per_block))}
    if not ldm and not diff:
        raise diagnose_not_gligen(keys, name)

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
            tok[m["param"]] = (k, tensors.get(k))
    family = family_of_tokenizer(set(tok), name, problems)
    for k in keys:
        for prefix in family.extra_prefixes if family else ():
            if k.startswith(prefix) or f".{prefix}" in k:
                gligen_keys.add(k)
                tok[prefix + k.split(prefix, 1)[1]] = (k, tensors.get(k))

    layout = "diffusers" if diff else "official" if (ldm and tensors.wrapped) else "comfyui-pruned"
    first_conv: tuple[str, torch.Tensor] | None = None
    image_projection: tuple[str, torch.Tensor] | None = None
    for k in keys:
        if k in gligen_keys:
            continue
        if k.startswith("downsample_net.") or ".downsample_net." in k:
            raise GLIGENFileError(f"'{name}' is a spatial-map GLIGEN (it has '{k}'); this version does not run "
                                  f"spatial-map GLIGEN. Use a text-box or text-image file.")
        if IMAGE_PROJECT.match(k) and family is not None and family.kind == TEXT_IMAGE:
            image_projection = (k, tensors.get(k))   # diffusers' image_project, merged into the file
            continue
        if FIRST_CONV.match(k):
            t = tensors.get(k)
            if t.ndim == 4 and t.shape[1] != LATENT_CHANNELS:
                first_conv = (k, t)   # a widened first conv: its extra channels belong to the adapter
                continue
        if (LDM_UNET.match(k) and ldm) or (DIFFUSERS_UNET.match(k) and diff):
            layout = "diffusers" if diff else "official"    # frozen UNet weights next to the fusers
            continue
        problems.append(f"unexpected tensor '{k}' (neither a fuser, the position_net, nor a UNet weight)")
    return Gathered(layout, fusers, tok, family, first_conv, image_projection=image_projection)


def family_of_tokenizer(params: set[str], name: str, problems: list[str]) -> FamilyLayout | None:
    """The registered family whose marker tensors the ``position_net`` holds. Markers of another family
    too are a problem naming both; a family this version does not run is refused here."""
    claims = [(f, hit) for f in FAMILIES.values() if (hit := f.claims(params))]
    if not claims:
        for param in sorted(params):
            for marker, what in OTHER_MODALITIES.items():
                if param.startswith(marker):
                    raise GLIGENFileError(
                        f"'{name}' is {what} (tensor 'position_net.{param}'). This version runs "
                        f"{' and '.join(f.kind for f in FAMILIES.values())} GLIGEN; use such a file.")
        return FAMILIES[TEXT_BOX] if not params else None
    family, _ = claims[0]
    for other, hit in claims[1:]:
        problems.append(f"position_net mixes tensors of {family.title} and of {other.title} "
                        f"('position_net.{hit}'); a file holds one grounding family")
    return family


def shape_of(g: "Gathered", problems: list[str]) -> AdapterShape | None:
    """Widths read off the tensors, every shape checked against them."""
    fusers, tok = g.fusers, g.tokenizer
    if not tok:
        problems.append("no 'position_net.*' tensors: the grounding tokenizer is missing")
        return None
    if g.family is None:
        problems.append(f"the position_net tensors ({', '.join(sorted(tok)[:4])}) are of no GLIGEN family "
                        f"this version knows")
        return None
    widths: dict[BlockPosition, int] = {}
    token_dims: set[int] = set()
    for pos, group in sorted(fusers.items(), key=lambda kv: kv[0].sort_key()):
        d, c = _width_of(group, "linear.weight", 0), _width_of(group, "linear.weight", 1)
        if d is None or c is None:
            problems.append(f"missing tensor '{pos}.fuser.linear.weight' (it fixes the fuser's width)")
            continue
        _check_group({p: f(d, c) for p, f in FUSER_SHAPES.items()}, squeeze_alphas(group), problems,
                     f"{pos}.fuser")
        widths[pos] = d
        token_dims.add(c)
    t = g.family.read_shape({q: tuple(v[1].shape) for q, v in tok.items()}, problems)
    if t is None:
        return None
    _check_group(g.family.expected(t), tok, problems, "position_net")
    problems.extend(f"fusers read {c}-d tokens but position_net makes {t.out_dim}-d tokens"
                    for c in sorted(token_dims - {t.out_dim}))
    first_conv = first_conv_shape(g, problems, t)
    return AdapterShape(widths, t.out_dim, t, g.family.kind, first_conv)


def first_conv_shape(g: "Gathered", problems: list[str], family_shape=None) -> FirstConvShape | None:
    """The widened first conv's channels: ``4`` latent + the family's + 5 for inpainting."""
    family_channels = g.family.extra_channels if g.family else 0
    family_channels = getattr(family_shape, "extra_channels", family_channels)   # per file (map models)
    if g.first_conv is None:
        if family_channels:
            problems.append(f"missing tensor 'input_blocks.0.0.weight': {g.family.title} widens the UNet's first "
                            f"conv by {family_channels} input channel{'s' if family_channels > 1 else ''} (shape "
                            f"[width, {LATENT_CHANNELS + family_channels}, 3, 3])")
        return None
    key, t = g.first_conv
    rest = int(t.shape[1]) - LATENT_CHANNELS - family_channels
    if t.ndim != 4 or t.shape[2] != t.shape[3] or rest not in (0, INPAINT_CHANNELS):
        raise GLIGENFileError(
            f"'{g.name}' has a {t.shape[1]}-channel first convolution ('{key}', shape {list(t.shape)}); "
            f"{g.family.title if g.family else 'GLIGEN'} reads {LATENT_CHANNELS + family_channels} channels, "
            f"or {LATENT_CHANNELS + family_channels + INPAINT_CHANNELS} for its inpainting model. "
            f"Use an unmodified GLIGEN release.")
    return FirstConvShape(int(t.shape[0]), family_channels, rest, int(t.shape[2]))


def check_values(groups: dict[str, Group], problems: list[str]) -> None:
    for group in groups.values():
        for key, t in group.values():
            if not t.is_floating_point():
                problems.append(f"tensor '{key}' holds {str(t.dtype).replace('torch.', '')} values; GLIGEN weights are floats")
            elif t.device.type != "meta" and not torch.isfinite(t).all():
                problems.append(f"tensor '{key}' contains NaN or infinite values")


def squeeze_alphas(group: Group) -> Group:
    """Gates stored as ``[1]`` instead of ``[]`` hold the same single value: accept both."""
    out = dict(group)
    for gate in ("alpha_attn", "alpha_dense"):
        if gate in out and tuple(out[gate][1].shape) == (1,):
            out[gate] = (out[gate][0], out[gate][1].reshape(()))
    return out


@dataclass
class Gathered:
    """A file's keys sorted: fusers by position, the tokenizer's tensors, its family, a widened first conv."""
    layout: str
    fusers: dict[BlockPosition, Group]
    tokenizer: Group
    family: FamilyLayout | None
    first_conv: tuple[str, torch.Tensor] | None
    name: str = ""
    image_projection: tuple[str, torch.Tensor] | None = None


@dataclass
class CheckedLayout:
    """A file's tensors sorted into an adapter, every shape (and, unless meta, every value) checked."""
    layout: str
    fusers: dict[BlockPosition, Group]
    tokenizer: Group
    shape: AdapterShape
    first_conv: tuple[str, torch.Tensor] | None = None
    image_projection: tuple[str, torch.Tensor] | None = None   # diffusers' image_project.project.weight


def check_layout(tensors: Tensors, name: str) -> CheckedLayout:
    """Check every tensor; every problem found is reported at once, in one ``GLIGENFileError``."""
    problems: list[str] = []
    g = gather(tensors, name, problems)
    g.name = name
    shape = shape_of(g, problems)
    if not problems and shape is not None:
        groups = {**{pos.module_key: grp for pos, grp in g.fusers.items()}, "position_net": g.tokenizer}
        if g.first_conv is not None:
            groups["first_conv"] = {"weight": g.first_conv}
        if g.image_projection is not None:
            groups["image_project"] = {"weight": g.image_projection}
            if tuple(g.image_projection[1].shape) != (shape.tokenizer.in_dim, 768):
                problems.append(f"tensor '{g.image_projection[0]}' has shape {list(g.image_projection[1].shape)}, "
                                f"expected [{shape.tokenizer.in_dim}, 768]")
        check_values(groups, problems)
    if problems or shape is None:
        what = g.family.title if g.family else "GLIGEN"
        raise problems_error(name, problems or ["the file's tensors do not form a GLIGEN adapter"], what)
    return CheckedLayout(g.layout, g.fusers, g.tokenizer, shape, g.first_conv, g.image_projection)
