"""GLIGENApply: a patched clone of the model whose transformer blocks run GLIGEN's fusers."""
from __future__ import annotations

import logging

from comfy_api.latest import io

from ..gligen_core import GLIGENError
from .model_fit import check_fit, model_family
from .patch import NEGATIVE_MODES, NEGATIVE_NULL, GroundingPatch, attach
from .types import PATCH_KEY, AdapterRef, GLIGENAdapterIO

log = logging.getLogger(__name__)


def check_percents(start_percent: float, end_percent: float) -> None:
    for name, v in (("start_percent", start_percent), ("end_percent", end_percent)):
        if not 0.0 <= v <= 1.0:
            raise GLIGENError(f"{name} = {v}: give a fraction of the sampling between 0 and 1.")
    if start_percent > end_percent:
        raise GLIGENError(f"start_percent {start_percent} is after end_percent {end_percent}; grounding would "
                          f"never be on. Swap them.")


class GLIGENApply(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="GLIGENApply",
            display_name="GLIGENApply",
            category="conditioning/gligen",
            description="Patch the model with GLIGEN's gated self-attention; grounded conditionings then steer it.",
            inputs=[
                io.Model.Input("model", tooltip="The SD model to ground. It is not changed; a patched copy is returned."),
                GLIGENAdapterIO.Input("gligen", tooltip="The GLIGEN adapter made for this model family."),
                io.Float.Input("strength", default=1.0, min=0.0, max=2.0, step=0.01,
                               tooltip="Scale of both gated residuals (the paper's beta). 0 is the plain model, "
                                       "1 the trained strength."),
                io.Combo.Input("negative", options=NEGATIVE_MODES, default=NEGATIVE_NULL,
                               tooltip="What a conditioning without boxes (the negative) is grounded with: the "
                                       "paper's null grounding, or the positive's boxes as ComfyUI core does."),
                io.Float.Input("start_percent", default=0.0, min=0.0, max=1.0, step=0.001, optional=True,
                               tooltip="Grounding starts at this point of the denoising (0 = the first, noisiest "
                                       "step), on the model's own noise schedule, so it works with every sampler."),
                io.Float.Input("end_percent", default=1.0, min=0.0, max=1.0, step=0.001, optional=True,
                               tooltip="Grounding stops after this point. The paper's scheduled sampling grounds "
                                       "the first 30%: end_percent 0.3."),
                io.Boolean.Input("reground", default=False, optional=True,
                                 tooltip="ReGround: cross-attention reads the self-attention output in parallel with "
                                         "GLIGEN's layer instead of after it, so the prompt's words are kept better "
                                         "at the same box accuracy. No new weights."),
            ],
            outputs=[
                io.Model.Output(tooltip="A clone of the model that runs GLIGEN with the grounding of each conditioning."),
            ],
        )

    @classmethod
    def validate_inputs(cls, start_percent: float = 0.0, end_percent: float = 1.0) -> bool | str:
        try:
            check_percents(start_percent, end_percent)
        except GLIGENError as e:
            return str(e)
        return True

    @classmethod
    def execute(cls, model, gligen: AdapterRef, strength: float, negative: str, start_percent: float = 0.0,
                end_percent: float = 1.0, reground: bool = False) -> io.NodeOutput:
        if negative not in NEGATIVE_MODES:
            raise GLIGENError(f"negative = {negative!r} is not one of {NEGATIVE_MODES}.")
        check_percents(start_percent, end_percent)
        if model.get_additional_models_with_key(PATCH_KEY):
            raise GLIGENError("this model already went through GLIGENApply; apply GLIGEN once per model "
                              "(remove the second GLIGENApply).")
        check_fit(gligen.adapter, model)
        sampling = model.get_model_object("model_sampling")
        patch = GroundingPatch(gligen, strength, negative, sigma_start=float(sampling.percent_to_sigma(start_percent)),
                               sigma_end=float(sampling.percent_to_sigma(end_percent)), reground=reground)
        log.info("GLIGEN: %s patched with %d fusers (strength %g, negative: %s, %g-%g of sampling%s)",
                 model_family(model), len(gligen.adapter.positions()), strength, negative, start_percent,
                 end_percent, ", ReGround" if reground else "")
        return io.NodeOutput(attach(model, gligen, patch))
