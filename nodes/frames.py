"""Which latents of the whole batch a UNet call holds, for grounding that differs per latent.

A grounding with moving boxes or one layout per image (``gligen_core.frame_grounding``) gives latent
``i`` of the batch its own tokens. A UNet call does not always hold the whole batch; what the host
passes in ``transformer_options`` says which latents it holds (read off the hosts' code):

- ComfyUI core's context windows (``comfy/context_windows.py``, the "Context Windows (Manual)" node):
  ``IndexListContextHandler.evaluate_context_windows`` sets ``transformer_options["context_window"]``,
  an ``IndexListContextWindow`` whose ``index_list`` are the window's frames along ``dim`` (0: the batch)
  before it runs the window through the CALC_COND_BATCH wrappers, so every UNet call of the window
  carries it. Windows along another dim (WAN's ``dim=2``) do not split the batch: they are refused
  for per-latent grounding, since SD UNets have no such dim.
- AnimateDiff-Evolved's context options (``animatediff/sampling.py``): ``transformer_options["ad_params"]``
  is ``{"full_length", "context_length", "sub_idxs"}``; ``sub_idxs`` are the window's frames, None when
  the whole batch runs at once.
- Neither: the call holds the whole batch. The batch size the guider was asked to predict (recorded by
  a PREDICT_NOISE wrapper, outside any context handling) must then match the call's, or some other
  node split the batch without saying which latents it kept: a clear error, never guessed boxes.

Each UNet call's batch is ``chunks x latents``; every conditioning chunk holds the same latents.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from ..gligen_core import GLIGENError
from ..gligen_core.frame_grounding import AnimatedGrounding, GroundingBatch, per_latent
from .extra_channels import fit_batch
from .feature_check import check_features, feature_mismatch

if TYPE_CHECKING:
    from .patch import Chunk, RunState

FULL_BATCH_KEY = "gligen_pack_full_batch"   # the whole batch's latent count, set once per guider call


def record_full_batch(executor, x, timestep, model_options={}, seed=None):
    """PREDICT_NOISE wrapper: the guider is asked for the whole batch; remember how many latents."""
    model_options.setdefault("transformer_options", {})[FULL_BATCH_KEY] = int(x.shape[0])
    return executor(x, timestep, model_options, seed)


def frame_indices(transformer_options: dict, latents: int) -> tuple[list[int], int | None]:
    """The indices in the whole batch of the ``latents`` latents of each chunk of this UNet call, and the
    whole batch's size where it is known."""
    ad = transformer_options.get("ad_params")
    window = transformer_options.get("context_window")
    full = transformer_options.get(FULL_BATCH_KEY)
    if isinstance(ad, dict) and ad.get("full_length") is not None:
        full = int(ad["full_length"])
    if isinstance(ad, dict) and ad.get("sub_idxs") is not None:
        indices, source = [int(i) for i in ad["sub_idxs"]], "AnimateDiff-Evolved's context window"
    elif window is not None:
        if getattr(window, "dim", 0) != 0:
            raise GLIGENError(
                f"GLIGEN: the context windows split dim {window.dim} of the latents, not the batch (dim 0), so the "
                f"per-frame boxes cannot be matched to frames. Set the context windows' dim to 0, or use a layout "
                f"without keyframes.")
        indices, source = [int(i) for i in window.index_list], "ComfyUI's context window"
    else:
        if full is not None and full != latents:
            raise GLIGENError(
                f"GLIGEN: the UNet was called with {latents} of the batch's {full} latents and nothing says which; "
                f"boxes that change per frame or per image cannot be matched to them. A node between the sampler "
                f"and the model splits the batch: use ComfyUI's context windows or AnimateDiff-Evolved's context "
                f"options, or a layout without keyframes.")
        return list(range(latents)), latents
    if len(indices) != latents:
        raise GLIGENError(
            f"GLIGEN: {source} names {len(indices)} frames but the UNet was called with {latents} latents per "
            f"conditioning, so the per-frame boxes cannot be matched to them.")
    return indices, full


def check_period(g: Any, full: int | None) -> None:
    """A layout per image needs a batch that is a whole number of times the number of layouts."""
    period = getattr(g, "period", None)
    if period and full is not None and full % period:
        raise GLIGENError(
            f"GLIGEN: the grounding has {period} layouts (one per image) but the batch has {full} latents, which is "
            f"not a multiple of {period}. Make the batch size a multiple of {period} (image i gets layout i mod "
            f"{period}), or give as many layouts as images.")


def check_frame_features(g: Any, need: int, family: str) -> None:
    """The phrase features of every part of a per-latent grounding are ``need`` wide (as ``check_features``
    for a plain one): without an adapter at the encoder they follow the CLIP, and the patch checks them."""
    for item in g.items if isinstance(g, GroundingBatch) else (g,):
        if isinstance(item, AnimatedGrounding):
            if len(item) and item.features.shape[1] != need:
                raise feature_mismatch(need, family, int(item.features.shape[1]))
        else:
            check_features(item, need, family)


def frame_tokens(run: "RunState", chunks: list["Chunk | None"], latents: int, device: torch.device,
                 dtype: torch.dtype, transformer_options: dict) -> torch.Tensor:
    """Tokens ``[chunks x latents, M, C]``: each latent gets its own grounding's tokens (made once per
    run and grounding; the rows of a window are assembled once per run and window)."""
    indices, full = frame_indices(transformer_options, latents)
    key = ("frames", tuple(chunks), tuple(indices), full, device, dtype)
    out = run._batches.get(key)
    if out is not None:
        return out
    rows = []
    for c in chunks:
        g = run.grounding.get(c) if c is not None else None
        if per_latent(g):
            check_period(g, full)
            rows.extend(run.tokens_of(g.at(i), device) for i in indices)
        else:
            rows.append(fit_batch(run.tokens_of(g, device), latents))
    out = run._batches[key] = torch.cat(rows).to(dtype)
    return out
