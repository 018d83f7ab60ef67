"""GLIGENApply: a patched clone of the model whose transformer blocks run GLIGEN's fusers."""
from __future__ import annotations

import logging

from comfy_api.latest import io

from ..gligen_core import GLIGENError
from ..gligen_core.errors import InputValueError
from .checks import check_widgets
from .core_gligen import adapter_ref
from .model_fit import check_fit, model_family
from .patch import NEGATIVE_ALIASES, NEGATIVE_MODES, NEGATIVE_NULL, GroundingPatch, attach
from .runtime import comfy_attention, compute_dtype
from .types import PATCH_KEY, AdapterRef, GLIGENAdapterIO

log = logging.getLogger(__name__)


def check_apply_inputs(node: type[io.ComfyNode], strength: float, start_percent: float, end_percent: float,
                       reground: bool) -> None:
    """Run first in ``execute``: each value against the schema (linked values and NaN reach the node
    unchecked) and start before end. Raises ``InputValueError``."""
    check_widgets(node, strength=strength, start_percent=start_percent, end_percent=end_percent, reground=reground)
    if start_percent > end_percent:
        raise InputValueError(f"start_percent {start_percent:g} is after end_percent {end_percent:g}; grounding "
                              f"would never be on. Swap them.")


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
                io.MultiType.Input(GLIGENAdapterIO.Input("gligen", tooltip="The GLIGEN adapter made for this model "
                                                                           "family (GLIGEN Adapter Loader, or "
                                                                           "core's GLIGENLoader)."),
                                   types=[io.Gligen]),
                io.Float.Input("strength", default=1.0, min=0.0, max=2.0, step=0.01,
                               tooltip="Scale of both gated residuals (the paper's beta). 0 is the plain model, "
                                       "1 the trained strength."),
                io.Combo.Input("negative", options=NEGATIVE_MODES, default=NEGATIVE_NULL,
                               tooltip="What a conditioning without boxes (the negative) is grounded with: "
                                       "'null', the paper's null grounding (no boxes), or 'same_as_positive', "
                                       "the positive's boxes as ComfyUI core does."),
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
    def validate_inputs(cls, negative: str | None = NEGATIVE_NULL) -> bool | str:
        """The combo, with the display strings earlier versions saved in workflows as aliases."""
        try:
            negative_mode(negative)
        except GLIGENError as e:
            return str(e)
        return True

    @classmethod
    def execute(cls, model, gligen: AdapterRef, strength: float, negative: str, start_percent: float = 0.0,
                end_percent: float = 1.0, reground: bool = False) -> io.NodeOutput:
        check_apply_inputs(cls, strength, start_percent, end_percent, reground)
        mode = negative_mode(negative)
        return io.NodeOutput(grounded_model(model, adapter_ref(gligen, model), strength, mode, start_percent, end_percent, reground))


def grounded_model(model, gligen: AdapterRef, strength: float = 1.0, negative: str = NEGATIVE_NULL,
                   start_percent: float = 0.0, end_percent: float = 1.0, reground: bool = False):
    """A clone of ``model`` (a ModelPatcher) running ``gligen``'s fusers; the input model is not changed."""
    if model.get_additional_models_with_key(PATCH_KEY):
        raise GLIGENError("this model already went through GLIGENApply; apply GLIGEN once per model "
                          "(remove the second GLIGENApply).")
    check_fit(gligen.adapter, model)
    dtype = compute_dtype(model.model)
    adapter, adapter_patcher = gligen.runtime(dtype)
    patch = GroundingPatch(adapter, comfy_attention, strength, negative, start_percent, end_percent, reground)
    log.info("GLIGEN: %s patched with %d fusers in %s (strength %g, negative: %s, %g-%g of sampling%s)",
             model_family(model), len(adapter.positions()), str(dtype).replace("torch.", ""), strength, negative,
             start_percent, end_percent, ", ReGround" if reground else "")
    return attach(model, patch, adapter_patcher)


def negative_mode(value) -> str:
    """The stable value of the ``negative`` combo; today's values and earlier display strings."""
    if value is None:  # linked: checked when the node runs
        return NEGATIVE_NULL
    if value in NEGATIVE_MODES:
        return value
    if value in NEGATIVE_ALIASES:
        return NEGATIVE_ALIASES[value]
    raise GLIGENError(f"negative = {value!r} is not a choice; use one of {', '.join(map(repr, NEGATIVE_MODES))}.")
