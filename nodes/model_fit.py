"""Does an adapter fit a model? Read the UNet's transformer blocks and compare, with plain words."""
from __future__ import annotations

from ..gligen_core import BlockPosition, GLIGENAdapter, ModelMismatchError
from ..gligen_core.first_conv import LATENT_CHANNELS


def model_family(model) -> str:
    """A short name for a ComfyUI ModelPatcher's base model, such as 'SD15' or 'SDXL'."""
    config = getattr(model.model, "model_config", None)
    return type(config).__name__ if config is not None else type(model.model).__name__


def transformer_blocks(diffusion_model) -> dict[BlockPosition, tuple[int, int]]:
    """``position -> (width, heads)`` of every transformer block of a ComfyUI UNet."""
    found: dict[BlockPosition, tuple[int, int]] = {}
    parts = [("input", list(getattr(diffusion_model, "input_blocks", []))),
             ("middle", [diffusion_model.middle_block] if getattr(diffusion_model, "middle_block", None) is not None else []),
             ("output", list(getattr(diffusion_model, "output_blocks", [])))]
    for part, blocks in parts:
        for index, block in enumerate(blocks):
            for sub in block:
                for inner, tb in enumerate(getattr(sub, "transformer_blocks", [])):
                    found[BlockPosition(part, index, inner)] = (tb.norm1.normalized_shape[0], tb.n_heads)
    return found


def check_fit(adapter: GLIGENAdapter, model) -> dict[BlockPosition, tuple[int, int]]:
    """Raise ``ModelMismatchError`` unless every fuser has a transformer block of its width."""
    family = model_family(model)
    dm = model.get_model_object("diffusion_model")
    blocks = transformer_blocks(dm)
    if not blocks:
        raise ModelMismatchError(
            f"GLIGEN patches UNet models (SD1.x, SD2.x, SDXL); your model ({family}) has no UNet transformer "
            f"blocks. Use a Stable Diffusion checkpoint.")
    wrong = []
    for pos in adapter.positions():
        width = adapter.shape.fusers[pos]
        if pos not in blocks:
            wrong.append(f"{pos} (the model has no transformer block there)")
        elif blocks[pos][0] != width:
            wrong.append(f"{pos} (fuser width {width}, model block width {blocks[pos][0]})")
    if wrong:
        model_widths = "/".join(map(str, sorted({w for w, _ in blocks.values()})))
        raise ModelMismatchError(
            f"This GLIGEN file is for {adapter.family} (widths {'/'.join(map(str, adapter.widths()))}, "
            f"{adapter.shape.token_dim}-d tokens); your model is {family} (widths {model_widths}). "
            f"{len(wrong)} of {len(adapter.positions())} fusers do not fit, e.g. {'; '.join(wrong[:3])}. "
            f"Load the GLIGEN file made for {family}, or use a {adapter.family} checkpoint.")
    check_first_conv(adapter, dm, family)
    missing = [pos for pos in sorted(blocks, key=BlockPosition.sort_key) if pos not in adapter.shape.fusers]
    if missing:
        shown = ", ".join(str(p) for p in missing[:8]) + (f" and {len(missing) - 8} more" if len(missing) > 8 else "")
        raise ModelMismatchError(
            f"This GLIGEN file has no fuser for {len(missing)} of the {len(blocks)} transformer blocks of your "
            f"{family} model: {shown}. Every GLIGEN release has one fuser per transformer block; a file without "
            f"some is incomplete (a partial download or a bad conversion) and would ground only part of the "
            f"UNet. Download the file again or use an unmodified release.")
    return blocks


def check_first_conv(adapter: GLIGENAdapter, diffusion_model, family: str) -> None:
    """An adapter with a widened first conv needs the model's first conv to read the 4-channel latent and
    have the width the adapter's extra channels add to."""
    fc = adapter.shape.first_conv
    if fc is None:
        return
    try:
        conv = diffusion_model.input_blocks[0][0]
        got = (int(conv.out_channels), int(conv.in_channels))
    except (AttributeError, IndexError, TypeError):
        got = None
    if got != (fc.width, LATENT_CHANNELS):
        shown = "no first conv" if got is None else f"a first conv of {got[1]} to {got[0]} channels"
        raise ModelMismatchError(
            f"This {adapter.kind} GLIGEN adds {fc.extra_channels} channels to a first conv of {LATENT_CHANNELS} to "
            f"{fc.width} channels (SD1.x); your model ({family}) has {shown}. Use an SD1.x checkpoint that is not "
            f"itself an inpainting model: the GLIGEN file brings the inpainting channels.")
