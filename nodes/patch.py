"""The runtime side of GLIGENApply: one patch object per patched model.

How grounding reaches the fusers (see shared/DESIGN.md, "a model-level patch that reads the batch"):
- the patch is a ``middle_patch`` registered on the cloned ModelPatcher, so every conditioning of a
  batch shares it and ComfyUI keeps batching cond and uncond into one UNet call;
- a ``CALC_COND_BATCH`` wrapper sees the conditioning dicts of every step; it records, per sampling
  run, which grounding each conditioning uuid carries. The record lives in that run's own
  ``transformer_options`` (ComfyUI clones them per run), so nothing leaks between runs;
- inside the UNet, ``transformer_options["uuids"]`` says which conditioning each batch chunk came
  from; tokens are computed once per conditioning per run and concatenated per chunk;
- the fuser for a block is found by ``(block, block_index)``, never by counting calls.
A conditioning without grounding (the usual negative) gets the null grounding of the paper, or, in
core-compatible mode, the positive's grounding as ComfyUI core does.

The scale of a step (strength x the GLIGENApply sigma range x a ScheduledSampler's per-step schedule)
is worked out once per UNet call in the wrapper; at 0 the fusers are skipped entirely.
ReGround (GLIGEN spec section 8) rewires each block in parallel: the ``middle_patch`` computes the
fuser's update without applying it, and an ``attn2_output_patch`` adds it to the cross-attention
output, so cross-attention reads the self-attention output instead of the fuser's.
"""
from __future__ import annotations

import logging
import math
from typing import Any

import torch

from ..gligen_core import BlockPosition, Grounding, MAX_OBJECTS
from ..gligen_core.schedule import StepSchedule, active_in_range
from .types import GROUNDING_KEY, PATCH_KEY, AdapterRef
from .unpatched import strip_checks

log = logging.getLogger(__name__)

RUN_KEY = "gligen_pack_run"
SCHEDULE_KEY = "gligen_step_schedule"  # a StepSchedule a ScheduledSampler puts in transformer_options
NEGATIVE_NULL = "null grounding (paper)"
NEGATIVE_SAME = "same as positive (ComfyUI core)"
NEGATIVE_MODES = [NEGATIVE_NULL, NEGATIVE_SAME]


class _Shared:
    """ComfyUI deep-copies ``model_options`` on every ``ModelPatcher.clone()``; the patch and its
    run state must stay one object (the wrapper and the block patches meet in it) and the adapter's
    weights must never be copied, so a deep copy returns the object itself."""

    def __deepcopy__(self, memo):
        return self

    def __copy__(self):
        return self


class RunState(_Shared):
    """What one sampling run knows: the grounding of each conditioning and the tokens made from it."""

    def __init__(self, patch: "GroundingPatch") -> None:
        self.patch = patch
        self.grounding: dict[Any, Grounding | None] = {}
        self.scale = patch.strength
        self.pending: torch.Tensor | None = None  # ReGround: the fuser update waiting for attn2's output
        self._tokens: dict[tuple, torch.Tensor] = {}
        self._batches: dict[tuple, torch.Tensor] = {}

    def register(self, conds: list[list[dict] | None]) -> None:
        uuids = [c["uuid"] for group in conds if group for c in group]
        if all(u in self.grounding for u in uuids):
            return
        for i, group in enumerate(conds):
            for c in group or []:
                self.grounding[c["uuid"]] = c.get(GROUNDING_KEY)
            if i > 0 and group and self.patch.negative_mode == NEGATIVE_SAME:
                self._reuse_positive(conds[0] or [], group)

    def _reuse_positive(self, positive: list[dict], group: list[dict]) -> None:
        """ComfyUI core's rule (``apply_empty_x_to_equal_area``): when no entry of this group has
        grounding, its area-less entries take the positive's groundings in turn, the last one winning."""
        if any(c.get(GROUNDING_KEY) is not None for c in group if "area" not in c):
            return
        grounded = [c[GROUNDING_KEY] for c in positive if "area" not in c and c.get(GROUNDING_KEY) is not None]
        others = [c for c in group if "area" not in c]
        if not others:
            return
        for x, g in enumerate(grounded):
            self.grounding[others[x % len(others)]["uuid"]] = g

    def _tokens_of(self, uuid: Any, device: torch.device) -> torch.Tensor:
        g = self.grounding.get(uuid)
        key = (id(g), device)
        if key not in self._tokens:
            tokenizer = self.patch.adapter.position_net
            if g is None:
                boxes, masks, feats = torch.zeros(1, MAX_OBJECTS, 4), torch.zeros(1, MAX_OBJECTS), \
                    torch.zeros(1, MAX_OBJECTS, tokenizer.in_dim)
            else:
                boxes, masks, feats = g.slots(MAX_OBJECTS)
            with torch.no_grad():
                self._tokens[key] = tokenizer(boxes.to(device), masks.to(device), feats.to(device))
        return self._tokens[key]

    def tokens_for(self, uuids: list | None, x: torch.Tensor) -> torch.Tensor:
        """Tokens ``[B, M, C]`` matching the batch of ``x``: one block of rows per conditioning chunk."""
        if not uuids:
            uuids = [None]
        key = (tuple(uuids), x.shape[0], x.device, x.dtype)
        out = self._batches.get(key)
        if out is None:
            per_chunk = x.shape[0] // len(uuids)
            out = torch.cat([self._tokens_of(u, x.device).expand(per_chunk, -1, -1) for u in uuids]).to(x.dtype)
            self._batches[key] = out
        return out


class GroundingPatch(_Shared):
    def __init__(self, ref: AdapterRef, strength: float, negative_mode: str, sigma_start: float = math.inf,
                 sigma_end: float = 0.0, reground: bool = False) -> None:
        self.ref = ref
        self.strength = float(strength)
        self.negative_mode = negative_mode
        self.sigma_start = float(sigma_start)
        self.sigma_end = float(sigma_end)
        self.reground = reground
        self._fallback: RunState | None = None

    @property
    def adapter(self):
        return self.ref.adapter

    def scale_for(self, sigma: float | None, transformer_options: dict) -> float:
        """strength x (inside the sigma range) x the ScheduledSampler's value for this step."""
        scale = self.strength
        if sigma is None or scale == 0.0:
            return scale
        if not active_in_range(sigma, self.sigma_start, self.sigma_end):
            return 0.0
        schedule: StepSchedule | None = transformer_options.get(SCHEDULE_KEY)
        if schedule is not None:
            scale *= schedule.value_at(sigma, transformer_options.get("sample_sigmas"))
        return scale

    # CALC_COND_BATCH wrapper: once per UNet call
    def calc_cond_batch(self, executor, model, conds, x_in, timestep, model_options):
        to = model_options.setdefault("transformer_options", {})
        run = to.get(RUN_KEY)
        if run is None or run.patch is not self:
            run = RunState(self)
            to[RUN_KEY] = run
        run.register(conds)
        run.scale = self.scale_for(float(timestep.max()), to)
        return executor(model, strip_checks(conds), x_in, timestep, model_options)

    def _run(self, extra_options: dict) -> tuple[RunState, list | None]:
        run = extra_options.get(RUN_KEY)
        if run is not None and run.patch is self:
            return run, extra_options.get("uuids")
        if self._fallback is None:
            log.warning("GLIGEN: the model was called outside ComfyUI's sampler; using null grounding.")
            self._fallback = RunState(self)
        sigmas = extra_options.get("sigmas")
        self._fallback.scale = self.scale_for(float(sigmas.max()) if sigmas is not None else None, extra_options)
        return self._fallback, None

    # middle_patch: after self-attention, before cross-attention
    def __call__(self, x: torch.Tensor, extra_options: dict) -> torch.Tensor:
        run, uuids = self._run(extra_options)
        run.pending = None
        block = extra_options.get("block")
        if block is None or run.scale == 0.0:
            return x
        fuser = self.adapter.fuser_at(BlockPosition(block[0], block[1], extra_options.get("block_index", 0)))
        if fuser is None:
            return x
        tokens = run.tokens_for(uuids, x)
        if self.reground:
            run.pending = fuser.residual(x, tokens, run.scale, heads=extra_options.get("n_heads"))
            return x
        return fuser(x, tokens, run.scale, heads=extra_options.get("n_heads"))

    # attn2_output_patch, ReGround only: cross-attention's output plus the fuser's update
    def attn2_output(self, n: torch.Tensor, extra_options: dict) -> torch.Tensor:
        run, _ = self._run(extra_options)
        pending, run.pending = run.pending, None
        return n if pending is None else n + pending


def attach(model, ref: AdapterRef, patch: GroundingPatch):
    """A clone of ``model`` running ``patch``; the adapter's weights load and offload with the UNet."""
    import comfy.patcher_extension
    m = model.clone()
    m.set_model_patch(patch, "middle_patch")
    if patch.reground:
        m.set_model_attn2_output_patch(patch.attn2_output)
    m.add_wrapper_with_key(comfy.patcher_extension.WrappersMP.CALC_COND_BATCH, PATCH_KEY, patch.calc_cond_batch)
    m.set_additional_models(PATCH_KEY, [ref.patcher])
    return m
