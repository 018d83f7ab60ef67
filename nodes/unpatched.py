"""Warn when grounded conditioning is sampled by a model that GLIGENApply never patched.

The encoder puts a small ``UnpatchedCheck`` into the conditioning's ``model_conds``: ComfyUI processes
every model cond at every step whatever the model is, so the check always runs. A patched model's
wrapper removes it before the step (so cond and uncond still batch together); if it survives to
``process_cond``, nothing grounded this conditioning and the user is told, at most once a minute.
"""
from __future__ import annotations

import logging
import time

import comfy.conds
import torch

log = logging.getLogger(__name__)

CHECK_KEY = "gligen_unpatched_check"
WARN_EVERY_S = 60.0


class UnpatchedCheck(comfy.conds.CONDRegular):
    def __init__(self, cond: torch.Tensor | None = None, phrases: tuple[str, ...] = ()) -> None:
        super().__init__(torch.zeros(1, 1) if cond is None else cond)
        self.phrases = phrases
        self.last_warning = float("-inf")

    def _copy_with(self, cond):
        return comfy.conds.CONDRegular(cond)

    def process_cond(self, batch_size, **kwargs):
        now = time.monotonic()
        if now - self.last_warning > WARN_EVERY_S:
            self.last_warning = now
            shown = ", ".join(repr(p) for p in self.phrases[:4]) + (" ..." if len(self.phrases) > 4 else "")
            log.warning("GLIGEN: a conditioning grounded with %d box(es) (%s) is being sampled by a model that "
                        "GLIGENApply did not patch, so the boxes are ignored. Connect the sampler's model to the "
                        "MODEL output of GLIGENApply.", len(self.phrases), shown or "no phrases")
        return super().process_cond(batch_size, **kwargs)


def attach_check(extra: dict, phrases: tuple[str, ...]) -> None:
    model_conds = dict(extra.get("model_conds", {}))
    model_conds[CHECK_KEY] = UnpatchedCheck(phrases=phrases)
    extra["model_conds"] = model_conds


def strip_checks(conds: list) -> list:
    """The conds of one step without the checks (a patched model grounds them itself)."""
    out = []
    for group in conds:
        if not group:
            out.append(group)
            continue
        stripped = []
        for c in group:
            mc = c.get("model_conds")
            if mc and CHECK_KEY in mc:
                c = {**c, "model_conds": {k: v for k, v in mc.items() if k != CHECK_KEY}}
            stripped.append(c)
        out.append(stripped)
    return out
