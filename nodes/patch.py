"""The runtime side of GLIGENApply: one patch object per patched model.

How grounding reaches the fusers (see shared/DESIGN.md, "a model-level patch that reads the batch"):
- a ``CALC_COND_BATCH`` wrapper sees the conditioning dicts of every step. Once per sampling run it
  makes a ``RunState`` in that run's own ``transformer_options`` (ComfyUI clones them per run): the
  grounding each conditioning carries, mapped into its area when it has one (area conditioning shows
  the UNet a crop of the canvas), and the start/end percents as sigmas of the model being sampled (so
  a model-sampling patch applied after GLIGENApply moves them as it moves ConditioningSetTimestepRange).
  Each step it works out the scale: strength x the sigma range x a ScheduledSampler's schedule;
- an ``APPLY_MODEL`` wrapper runs once per UNet call, outside the UNet: from
  ``transformer_options["uuids"]`` and ``["cond_or_uncond"]`` (which conditioning each batch chunk came
  from) it takes the tokens of the chunks (made once per conditioning per run) and hands the UNet two
  tensors, the tokens ``[B, M, C]`` and the scale (0-dim). At scale 0 it hands none and the fusers are
  skipped. It removes the run state from what the UNet sees;
- the ``middle_patch`` (inside the UNet, after self-attention) runs the fuser of its block, found by
  ``(block, block_index)``, on those tensors. It touches no Python state that changes between steps or
  runs, so under torch.compile the UNet stays one graph: no graph break, and no recompile for a new
  run, new boxes, another step count or schedule (the scale is a tensor, not a guarded number).
Inpainting and spatial-map adapters also widen the UNet's first conv: ``extra_channels.py`` makes the
extra input of each chunk once per run, the APPLY_MODEL wrapper hands it to the UNet per call, and an
``input_block_patch`` at ``("input", 0)`` adds ``conv(extra, W_extra)`` to the user's own first conv
(``gligen_core.first_conv``). The family's channels are skipped where the scale is 0 (the official
sampler restores SD's first conv); an inpainting model always reads its channels (the official one
never restores it).
The patch is registered on the cloned ModelPatcher, so every conditioning shares it and ComfyUI keeps
batching cond and uncond into one UNet call. A conditioning without grounding (the usual negative, and
the copy of an area conditioning ComfyUI gives the negative) gets the paper's null grounding, or, in
core-compatible mode, the positive's grounding as ComfyUI core does.
ReGround (GLIGEN spec section 8) rewires each block in parallel: the ``middle_patch`` computes the
fuser's update without applying it and leaves it in the block's own ``extra_options``; an
``attn2_output_patch`` adds it to the cross-attention output, so cross-attention reads the
self-attention output instead of the fuser's.
"""
from __future__ import annotations

from typing import Any, Callable

import torch

from ..gligen_core import GLIGENAdapter, GLIGENError, Grounding
from ..gligen_core.schedule import StepSchedule, active_in_range
from ..gligen_core.frame_grounding import per_latent
from .canvas import warn_aspect
from .feature_check import check_features
from .extra_channels import ExtraInputs, check_inputs, fit_batch
from .frames import FULL_BATCH_KEY, check_frame_features, frame_tokens, record_full_batch
from .grounding_kinds import adapter_title, how_to_feed
from .runtime import compute_dtype
from .types import GROUNDING_KEY, PATCH_KEY
from .unpatched import strip_checks


RUN_KEY = "gligen_pack_run"             # the RunState, in a sampling run's transformer_options
TOKENS_KEY = "gligen_pack_tokens"       # per UNet call: grounding tokens [B, M, C]; absent at scale 0
SCALE_KEY = "gligen_pack_scale"         # per UNet call: the scale, a 0-dim tensor
FIRST_CONV_KEY = "gligen_pack_first_conv"  # per UNet call: the first conv's extra input [B, E, h, w]
PENDING_KEY = "gligen_pack_pending"     # per transformer block (ReGround): the update for attn2's output
SCHEDULE_KEY = "gligen_step_schedule"   # a StepSchedule a ScheduledSampler puts in transformer_options

# Stable combo values of GLIGENApply's `negative`, and the display strings earlier versions saved.
NEGATIVE_NULL = "null"
NEGATIVE_SAME = "same_as_positive"
NEGATIVE_MODES = [NEGATIVE_NULL, NEGATIVE_SAME]
NEGATIVE_ALIASES = {"null grounding (paper)": NEGATIVE_NULL, "same as positive (ComfyUI core)": NEGATIVE_SAME}

Chunk = tuple[int, Any]  # (cond_or_uncond, uuid) of one batch chunk


class _Shared:
    """ComfyUI deep-copies ``model_options`` on every ``ModelPatcher.clone()``; the patch and its
    run state must stay one object (the wrappers and the block patches meet in it) and the adapter's
    weights must never be copied, so a deep copy returns the object itself."""

    def __deepcopy__(self, memo):
        return self

    def __copy__(self):
        return self


def crop_of(area, canvas: tuple[int, ...]) -> tuple[float, float, float, float] | None:
    """The normalised ``[x0, y0, x1, y1]`` of the canvas the UNet sees for a conditioning's resolved
    ``area`` (sizes then offsets, in latent units, as ComfyUI's sampler crops it); None for all of it."""
    if area is None:
        return None
    n = len(area) // 2
    sizes, offsets = list(area[:n]), list(area[n:])
    h, w = canvas[-2], canvas[-1]
    (sh, sw), (oy, ox) = sizes[-2:], offsets[-2:]
    sh, sw = min(h - oy, sh), min(w - ox, sw)  # the sampler's own clamp at the canvas edge
    if sh <= 0 or sw <= 0:
        return None
    return ox / w, oy / h, (ox + sw) / w, (oy + sh) / h


class RunState(_Shared):
    """What one sampling run knows: its sigma range, the grounding of each conditioning chunk, the
    tokens made from it, and the scale of the current step."""

    def __init__(self, patch: "GroundingPatch", model_sampling, latent_in=None) -> None:
        self.patch = patch
        self.extra = ExtraInputs(patch.adapter, latent_in) if patch.adapter.shape.first_conv else None
        self.canvas: tuple[int, ...] = ()
        self.sigma_start = float(model_sampling.percent_to_sigma(patch.start_percent))
        self.sigma_end = float(model_sampling.percent_to_sigma(patch.end_percent))
        self.grounding: dict[Chunk, Grounding | None] = {}
        self.scale = patch.strength
        self._tokens: dict[tuple, torch.Tensor] = {}
        self._batches: dict[tuple, torch.Tensor] = {}
        self._scales: dict[tuple, torch.Tensor] = {}
        self._said: set = set()

    # -- once per run: which grounding each conditioning chunk gets --------------------------------
    def register(self, conds: list[list[dict] | None], canvas: tuple[int, ...]) -> None:
        chunks = [(i, c["uuid"]) for i, group in enumerate(conds) if group for c in group]
        if all(k in self.grounding for k in chunks):
            return
        self.canvas = canvas
        check_kinds(self.patch.adapter, conds)
        check_inputs(self.patch.adapter, conds)
        if self.extra is not None:
            self.extra.register(conds)
        positive = conds[0] or []
        positive_uuids = {c["uuid"] for c in positive}
        for i, group in enumerate(conds):
            for c in group or []:
                g = c.get(GROUNDING_KEY)
                if i > 0 and c["uuid"] in positive_uuids and self.patch.negative_mode == NEGATIVE_NULL:
                    g = None  # ComfyUI's copy of a positive area conditioning for the negative side
                if isinstance(g, Grounding):  # boxes (poses and maps carry no phrase feature or canvas)
                    check_features(g, self.patch.adapter.phrase_dim, self.patch.adapter.family)
                    warn_aspect(g, canvas, self._said)
                elif per_latent(g):  # moving boxes or a layout per image: each part's phrase features
                    check_frame_features(g, self.patch.adapter.phrase_dim, self.patch.adapter.family)
                self.grounding[(i, c["uuid"])] = self._in_area(g, c.get("area"), canvas)
            if i > 0 and group and self.patch.negative_mode == NEGATIVE_SAME:
                self._reuse_positive(positive, i, group, canvas)

    @staticmethod
    def _in_area(g: Grounding | None, area, canvas: tuple[int, ...]) -> Grounding | None:
        crop = crop_of(area, canvas)
        return g if g is None or crop is None else g.within(*crop)

    def _reuse_positive(self, positive: list[dict], i: int, group: list[dict], canvas: tuple[int, ...]) -> None:
        """ComfyUI core's rule (``apply_empty_x_to_equal_area``): when no entry of this group has
        grounding, its area-less entries take the positive's groundings in turn, the last one winning."""
        if any(c.get(GROUNDING_KEY) is not None for c in group if "area" not in c):
            return
        grounded = [c[GROUNDING_KEY] for c in positive if "area" not in c and c.get(GROUNDING_KEY) is not None]
        others = [c for c in group if "area" not in c]
        if not others:
            return
        for x, g in enumerate(grounded):
            self.grounding[(i, others[x % len(others)]["uuid"])] = g

    # -- once per step ------------------------------------------------------------------------------
    def scale_at(self, sigma: float, transformer_options: dict) -> float:
        """strength x (inside the sigma range) x the ScheduledSampler's value for this step."""
        scale = self.patch.strength
        if scale == 0.0 or not active_in_range(sigma, self.sigma_start, self.sigma_end):
            return 0.0
        schedule: StepSchedule | None = transformer_options.get(SCHEDULE_KEY)
        if schedule is not None:
            scale *= schedule.value_at(sigma, transformer_options.get("sample_sigmas"))
        return scale

    # -- once per UNet call: tensors for the fusers ---------------------------------------------------
    def _tokens_of(self, chunk: Chunk | None, device: torch.device) -> torch.Tensor:
        return self.tokens_of(self.grounding.get(chunk) if chunk is not None else None, device)

    def tokens_of(self, g: Grounding | None, device: torch.device) -> torch.Tensor:
        """Tokens ``[1, M, C]`` of one grounding, made once per run."""
        key = (id(g), device)
        if key not in self._tokens:
            if isinstance(g, Grounding) and not len(g):
                g = None  # no boxes: the null grounding
            self._tokens[key] = self.patch.adapter.tokens(g, device)
        return self._tokens[key]

    def tokens_for(self, chunks: list[Chunk] | None, batch: int, device: torch.device,
                   dtype: torch.dtype, transformer_options: dict | None = None) -> torch.Tensor:
        """Tokens ``[batch, M, C]``: one block of rows per conditioning chunk of the UNet call; a grounding
        that differs per latent (moving boxes, a layout per image) gives each latent its own
        (``frames.py`` finds which latents of the whole batch the call holds)."""
        chunks = chunks or [None]
        if batch % len(chunks):
            raise GLIGENError(
                f"GLIGEN: the UNet was called with a batch of {batch} latents in {len(chunks)} conditioning "
                f"chunks, which do not divide evenly, so the boxes cannot be matched to the latents. A node "
                f"between the sampler and the model splits the batch unevenly; sample without it.")
        if any(c is not None and per_latent(self.grounding.get(c)) for c in chunks):
            return frame_tokens(self, chunks, batch // len(chunks), device, dtype, transformer_options or {})
        key = (tuple(chunks), batch, device, dtype)
        out = self._batches.get(key)
        if out is None:
            per_chunk = batch // len(chunks)
            out = torch.cat([fit_batch(self._tokens_of(c, device), per_chunk) for c in chunks]).to(dtype)
            self._batches[key] = out
        return out

    def scale_tensor(self, device: torch.device) -> torch.Tensor:
        key = (self.scale, device)
        if key not in self._scales:
            self._scales[key] = torch.tensor(self.scale, dtype=torch.float32, device=device)
        return self._scales[key]


class GroundingPatch(_Shared):
    def __init__(self, adapter: GLIGENAdapter, attention: Callable[..., torch.Tensor], strength: float,
                 negative_mode: str, start_percent: float = 0.0, end_percent: float = 1.0,
                 reground: bool = False) -> None:
        self.adapter = adapter
        self.attention = attention
        self.fusers = adapter.fuser_table()
        self.strength = float(strength)
        self.negative_mode = negative_mode
        self.start_percent = float(start_percent)
        self.end_percent = float(end_percent)
        self.reground = reground

    # CALC_COND_BATCH wrapper: once per step (per context window with context windows)
    def calc_cond_batch(self, executor, model, conds, x_in, timestep, model_options):
        to = model_options.setdefault("transformer_options", {})
        run = to.get(RUN_KEY)
        if run is None or run.patch is not self:
            run = RunState(self, model.model_sampling, model.process_latent_in)
            to[RUN_KEY] = run
        run.register(conds, tuple(x_in.shape[2:]))
        run.scale = run.scale_at(float(timestep.max()), to)
        return executor(model, strip_checks(conds), x_in, timestep, model_options)

    # APPLY_MODEL wrapper: once per UNet call, outside the (possibly compiled) UNet
    def apply_model(self, executor, x, t, c_concat=None, c_crossattn=None, control=None, transformer_options={},
                    **kwargs):
        run = transformer_options.get(RUN_KEY)
        to = {k: v for k, v in transformer_options.items() if k not in (RUN_KEY, SCHEDULE_KEY, FULL_BATCH_KEY)}
        if run is not None and run.patch is self and run.scale != 0.0:
            uuids, cond_or_uncond = to.get("uuids"), to.get("cond_or_uncond")
            chunks = list(zip(cond_or_uncond, uuids)) if uuids and cond_or_uncond else None
            to[TOKENS_KEY] = run.tokens_for(chunks, x.shape[0], x.device, compute_dtype(executor.class_obj),
                                           transformer_options)
            to[SCALE_KEY] = run.scale_tensor(x.device)
        if run is not None and run.patch is self and run.extra is not None and (run.scale != 0.0 or self.adapter.inpainting):
            uuids, cond_or_uncond = to.get("uuids"), to.get("cond_or_uncond")
            chunks = list(zip(cond_or_uncond, uuids)) if uuids and cond_or_uncond else None
            to[FIRST_CONV_KEY] = run.extra.for_call(chunks, x, run.canvas[-2:], compute_dtype(executor.class_obj))
        return executor(x, t, c_concat, c_crossattn, control, to, **kwargs)

    # middle_patch: inside the UNet, after self-attention, before cross-attention
    def __call__(self, x: torch.Tensor, extra_options: dict) -> torch.Tensor:
        tokens = extra_options.get(TOKENS_KEY)
        block = extra_options.get("block")
        if tokens is None or block is None:
            return x
        fuser = self.fusers.get((block[0], block[1], extra_options.get("block_index", 0)))
        if fuser is None:
            return x
        args = (x, tokens, extra_options[SCALE_KEY])
        options = dict(heads=extra_options.get("n_heads"), attention=self.attention,
                       attn_precision=extra_options.get("attn_precision"), transformer_options=extra_options)
        if self.reground:
            extra_options[PENDING_KEY] = fuser.residual(*args, **options)
            return x
        return fuser(*args, **options)

    # input_block_patch, adapters with a widened first conv only: after the user's own first conv
    def first_conv(self, h: torch.Tensor, transformer_options: dict) -> torch.Tensor:
        extra = transformer_options.get(FIRST_CONV_KEY)
        if extra is None or transformer_options.get("block") != ("input", 0):
            return h
        return self.adapter.first_conv(h, extra)

    # SAMPLER_SAMPLE wrapper, inpainting adapters only: the known region pasted back after the last step
    def paste_known(self, executor, guider, sigmas, extra_args, callback, noise, latent_image=None,
                    denoise_mask=None, disable_pbar=False):
        samples = executor(guider, sigmas, extra_args, callback, noise, latent_image, denoise_mask, disable_pbar)
        if denoise_mask is None or latent_image is None:
            return samples
        return samples * denoise_mask + latent_image.to(samples) * (1.0 - denoise_mask)

    # attn2_output_patch, ReGround only: cross-attention's output plus the fuser's update
    def attn2_output(self, n: torch.Tensor, extra_options: dict) -> torch.Tensor:
        pending = extra_options.pop(PENDING_KEY, None)
        return n if pending is None else n + pending


def check_kinds(adapter: GLIGENAdapter, conds: list[list[dict] | None]) -> None:
    """Every grounding on the conditionings is of the kind the adapter's tokenizer reads."""
    for group in conds:
        for c in group or []:
            g = c.get(GROUNDING_KEY)
            kind = getattr(g, "kind", "boxes")
            if g is not None and kind != adapter.input_kind:
                raise GLIGENError(
                    f"GLIGEN: a conditioning is grounded with {kind}, but this "
                    f"{adapter_title(adapter).removeprefix('a ')} reads {adapter.input_kind}. Connect "
                    f"{how_to_feed(adapter.input_kind)} for this adapter, or load the GLIGEN file made for {kind}.")


def attach(model, patch: GroundingPatch, adapter_patcher) -> Any:
    """A clone of ``model`` running ``patch``; the adapter's weights load and offload with the UNet."""
    import comfy.patcher_extension
    m = model.clone()
    m.set_model_patch(patch, "middle_patch")
    if patch.reground:
        m.set_model_attn2_output_patch(patch.attn2_output)
    if patch.adapter.shape.first_conv is not None:
        m.set_model_input_block_patch(patch.first_conv)
    if patch.adapter.inpainting:
        m.add_wrapper_with_key(comfy.patcher_extension.WrappersMP.SAMPLER_SAMPLE, PATCH_KEY, patch.paste_known)
    m.add_wrapper_with_key(comfy.patcher_extension.WrappersMP.CALC_COND_BATCH, PATCH_KEY, patch.calc_cond_batch)
    m.add_wrapper_with_key(comfy.patcher_extension.WrappersMP.APPLY_MODEL, PATCH_KEY, patch.apply_model)
    m.add_wrapper_with_key(comfy.patcher_extension.WrappersMP.PREDICT_NOISE, PATCH_KEY, record_full_batch)
    m.set_additional_models(PATCH_KEY, [adapter_patcher])
    return m
