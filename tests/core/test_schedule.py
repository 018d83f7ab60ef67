"""Grounding schedules against the official three-stage rule (GLIGEN spec 4.2)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from gligen_pack.gligen_core import GLIGENError
from gligen_pack.gligen_core.schedule import StepSchedule, active_in_range, three_stage


def official(length, kind):
    """The official generator as the spec describes it, float asserts and np.arange included."""
    assert len(kind) == 3
    assert kind[0] + kind[1] + kind[2] == 1
    n1 = int(kind[0] * length)
    n2 = int(kind[1] * length)
    n3 = length - n1 - n2
    decay = list(np.arange(start=0, stop=1, step=1 / n2)[::-1]) if n2 else []
    alphas = [1] * n1 + decay + [0] * n3
    assert len(alphas) == length
    return alphas


def intended(length, kind):
    """What the official code means where its float checks reject the input."""
    n1 = int(kind[0] * length + 1e-9)
    n2 = int(kind[1] * length + 1e-9)
    return [1.0] * n1 + [(n2 - 1 - i) / n2 for i in range(n2)] + [0.0] * (length - n1 - n2)


SPLITS = [(0.3, 0.0, 0.7), (1.0, 0.0, 0.0), (0.0, 0.0, 1.0), (0.5, 0.5, 0.0), (0.2, 0.3, 0.5), (0.25, 0.5, 0.25),
          (0.7, 0.2, 0.1), (0.6, 0.3, 0.1), (0.1, 0.8, 0.1)]


@pytest.mark.parametrize("steps", [1, 2, 7, 50, 51])
@pytest.mark.parametrize("split", SPLITS)
def test_three_stage_equals_the_official_schedule(steps, split):
    ours = three_stage(steps, split[0], split[1])
    assert len(ours) == steps
    try:
        reference = official(steps, split)
    except AssertionError:      # e.g. 0.7 + 0.2 + 0.1 != 1 in floats: the official code refuses it
        reference = intended(steps, split)
    assert ours == pytest.approx([float(v) for v in reference], abs=1e-12)


def test_fractions_the_official_code_rejects_work():
    with pytest.raises(AssertionError):
        official(50, (0.7, 0.2, 0.1))
    assert three_stage(50, 0.7, 0.2) == [1.0] * 35 + [(9 - i) / 10 for i in range(10)] + [0.0] * 5


def test_counts_are_safe_against_float_error():
    assert int(0.29 * 100) == 28                  # what plain int() gives
    assert three_stage(100, 0.29).count(1.0) == 29
    assert three_stage(25, 0.3).count(1.0) == 7   # floor, as the official code: 7.5 -> 7


@pytest.mark.parametrize("full,decay,msg", [(0.8, 0.3, "more than 1"), (-0.1, 0, "between 0 and 1"),
                                            (float("nan"), 0, "between 0 and 1"), (0.5, 1.5, "between 0 and 1")])
def test_bad_fractions(full, decay, msg):
    with pytest.raises(GLIGENError, match=msg):
        three_stage(10, full, decay)


def test_step_lookup_from_sigmas():
    sigmas = torch.tensor([14.6, 8.0, 4.0, 2.0, 0.5, 0.0])
    s = StepSchedule((1.0, 1.0, 0.5, 0.0, 0.0))
    assert [s.value_at(float(v), sigmas) for v in sigmas[:-1]] == [1.0, 1.0, 0.5, 0.0, 0.0]
    assert s.value_at(3.0, sigmas) == 0.5            # a second-order sampler's mid-step call: step 2
    assert s.value_at(20.0, sigmas) == 1.0           # above the first sigma: step 0


def test_sigma_range_rule():
    assert active_in_range(5.0, 10.0, 1.0) and active_in_range(10.0, 10.0, 1.0) and active_in_range(1.0, 10.0, 1.0)
    assert not active_in_range(0.99, 10.0, 1.0) and not active_in_range(10.5, 10.0, 1.0)
