"""Grounding schedules (GLIGEN spec section 4): how strongly the fusers act at each sampling step.

The official code's ``alpha_type = [full, decay, off]`` gives, for ``L`` steps, ``n1 = floor(full*L)``
steps at 1, then ``n2 = floor(decay*L)`` steps falling linearly ``(n2-1)/n2, ..., 1/n2, 0``, then 0 for
the rest. The official code asserts ``full + decay + off == 1`` with exact float equality (so
``[0.7, 0.2, 0.1]`` fails there) and builds the decay with ``np.arange``, which returns one value too
many for some ``n2``; here the counts use integer arithmetic that is safe against float error and the
decay values are exact. ``tau`` alone (the paper's scheduled sampling) is ``[tau, 0, 1 - tau]``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .errors import GLIGENError

_EPS = 1e-9


def _count(fraction: float, steps: int) -> int:
    """floor(fraction * steps), immune to float error such as 0.29 * 100 = 28.999999999999996."""
    return int(math.floor(fraction * steps + _EPS))


def three_stage(steps: int, full: float, decay: float = 0.0) -> list[float]:
    """Per-step scale of the official three-stage schedule ``[full, decay, 1 - full - decay]``."""
    if steps < 1:
        raise GLIGENError(f"steps = {steps}: a schedule needs at least one step.")
    for name, v in (("grounded fraction", full), ("decay fraction", decay)):
        if not (0.0 <= v <= 1.0) or math.isnan(v):
            raise GLIGENError(f"{name} = {v}: give a fraction between 0 and 1.")
    if full + decay > 1.0 + _EPS:
        raise GLIGENError(f"grounded fraction {full} + decay fraction {decay} = {full + decay:g} is more than 1; "
                          f"together they cover at most all steps.")
    n1 = _count(full, steps)
    n2 = min(_count(decay, steps), steps - n1)
    return [1.0] * n1 + [(n2 - 1 - i) / n2 for i in range(n2)] + [0.0] * (steps - n1 - n2)


@dataclass(frozen=True)
class StepSchedule:
    """Scale per sampling step, looked up from the current sigma among the run's sigmas."""
    values: tuple[float, ...]

    def value_at(self, sigma: float, sample_sigmas: torch.Tensor | None) -> float:
        if sample_sigmas is None or len(sample_sigmas) < 2:
            return self.values[0]
        steps = len(sample_sigmas) - 1
        # step i spans sigmas[i] >= sigma > sigmas[i+1]; a second-order sampler's extra calls fall inside it
        i = int((sample_sigmas[:-1] >= sigma * (1 - 1e-5)).sum().item()) - 1
        i = min(max(i, 0), steps - 1)
        return self.values[min(len(self.values) - 1, i * len(self.values) // steps)]


def active_in_range(sigma: float, sigma_start: float, sigma_end: float) -> bool:
    """ComfyUI's timestep-range rule: on while ``sigma_end <= sigma <= sigma_start``."""
    return sigma_end <= sigma <= sigma_start
