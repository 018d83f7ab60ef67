"""GLIGENApply: a patched clone of the model whose transformer blocks run GLIGEN's fusers."""
from __future__ import annotations

import logging

from comfy_api.latest import io

from ..gligen_core import GLIGENError
from .model_fit import check_fit, model_family
from .patch import NEGATIVE_MODES, NEGATIVE_NULL, GroundingPatch, attach
from .types import PATCH_KEY, AdapterRef, GLIGENAdapterIO

log = logging.getLogger(__name__)


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
            ],
            outputs=[
                io.Model.Output(tooltip="A clone of the model that runs GLIGEN with the grounding of each conditioning."),
            ],
        )

    @classmethod
    def execute(cls, model, gligen: AdapterRef, strength: float, negative: str) -> io.NodeOutput:
        if negative not in NEGATIVE_MODES:
            raise GLIGENError(f"negative = {negative!r} is not one of {NEGATIVE_MODES}.")
        if model.get_additional_models_with_key(PATCH_KEY):
            raise GLIGENError("this model already went through GLIGENApply; apply GLIGEN once per model "
                              "(remove the second GLIGENApply).")
        check_fit(gligen.adapter, model)
        patched = attach(model, gligen, GroundingPatch(gligen, strength, negative))
        log.info("GLIGEN: %s patched with %d fusers (strength %g, negative: %s)", model_family(model),
                 len(gligen.adapter.positions()), strength, negative)
        return io.NodeOutput(patched)
