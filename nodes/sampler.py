"""ScheduledSampler: KSampler with GLIGEN's scheduled sampling (grounded for the first steps only).

ComfyUI checks typed-in numbers when the prompt is queued; linked ones, NaN and the sum of the two
fractions are checked when the node runs, before sampling (see ``checks.py``)."""
from __future__ import annotations

import comfy.samplers
import nodes as comfy_nodes
from comfy_api.latest import io

from ..gligen_core import GLIGENError
from ..gligen_core.schedule import StepSchedule, three_stage
from .checks import check_widgets
from .patch import SCHEDULE_KEY
from .types import PATCH_KEY


def scheduled_model(model, steps: int, grounded_fraction: float, decay_fraction: float):
    """A clone of a GLIGEN-patched model carrying the per-step schedule."""
    if not model.get_additional_models_with_key(PATCH_KEY):
        raise GLIGENError("ScheduledSampler schedules GLIGEN, but this model was not patched: connect the MODEL "
                          "output of GLIGENApply (or use KSampler for ungrounded sampling).")
    values = three_stage(steps, grounded_fraction, decay_fraction)
    m = model.clone()
    m.model_options.setdefault("transformer_options", {})[SCHEDULE_KEY] = StepSchedule(tuple(values))
    return m


class ScheduledSampler(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="GLIGENScheduledSampler",
            display_name="ScheduledSampler",
            category="sampling",
            description="KSampler with GLIGEN's scheduled sampling: boxes shape the first steps, the plain model "
                        "refines the rest.",
            inputs=[
                io.Model.Input("model", tooltip="A model from GLIGENApply."),
                io.Int.Input("seed", default=0, min=0, max=0xffffffffffffffff, control_after_generate=True,
                             tooltip="The random seed for the noise."),
                io.Int.Input("steps", default=30, min=1, max=10000, tooltip="Number of denoising steps."),
                io.Float.Input("cfg", default=7.5, min=0.0, max=100.0, step=0.1, round=0.01,
                               tooltip="Classifier-free guidance scale."),
                io.Combo.Input("sampler_name", options=comfy.samplers.KSampler.SAMPLERS, tooltip="The sampler."),
                io.Combo.Input("scheduler", options=comfy.samplers.KSampler.SCHEDULERS, tooltip="The noise schedule."),
                io.Conditioning.Input("positive", tooltip="Grounded positive conditioning (from GroundingEncoder)."),
                io.Conditioning.Input("negative", tooltip="Negative conditioning."),
                io.Latent.Input("latent_image", tooltip="The latent to denoise."),
                io.Float.Input("denoise", default=1.0, min=0.0, max=1.0, step=0.01,
                               tooltip="How much of the schedule to run; the grounded fraction counts the steps "
                                       "actually run."),
                io.Float.Input("grounded_fraction", default=0.3, min=0.0, max=1.0, step=0.01,
                               tooltip="tau: the fraction of steps grounded at full strength (0.3 as in the paper "
                                       "and the official demo). 1 grounds every step, 0 none."),
                io.Float.Input("decay_fraction", default=0.0, min=0.0, max=1.0, step=0.01,
                               tooltip="Steps after the grounded ones whose strength falls linearly to 0 (the "
                                       "official three-stage schedule [tau, decay, rest]). 0 switches off at once."),
            ],
            outputs=[io.Latent.Output(tooltip="The denoised latent.")],
        )

    @classmethod
    def execute(cls, model, seed, steps, cfg, sampler_name, scheduler, positive, negative, latent_image,
                denoise, grounded_fraction, decay_fraction) -> io.NodeOutput:
        check_widgets(cls, seed=seed, steps=steps, cfg=cfg, sampler_name=sampler_name, scheduler=scheduler,
                      denoise=denoise, grounded_fraction=grounded_fraction, decay_fraction=decay_fraction)
        three_stage(steps, grounded_fraction, decay_fraction)  # the fractions' sum, before any work
        m = scheduled_model(model, steps, grounded_fraction, decay_fraction)
        return io.NodeOutput(*comfy_nodes.common_ksampler(m, seed, steps, cfg, sampler_name, scheduler, positive,
                                                          negative, latent_image, denoise=denoise))
