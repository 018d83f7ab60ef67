"""The grounded graph with ScheduledSampler, each widget of the pack's nodes typed in or fed by a link."""
from __future__ import annotations

import json

from .prompts import BOXES, Graph

PRIMITIVES = {int: "PrimitiveInt", float: "PrimitiveFloat", str: "PrimitiveStringMultiline", bool: "PrimitiveBoolean"}
# Combo widgets: ComfyUI core has no node whose output fits a combo, so a test-only node feeds them
# (tests/helpers/link_source_nodes.py), as nodes of other packs do.
COMBOS = {("apply", "negative"), ("sampler", "sampler_name"), ("sampler", "scheduler")}
COMBO_SOURCE = "GLIGENTestComboSource"

# Every widget of the pack's nodes but the loader's (see test_loader_files.py), with a valid value.
VALID = {
    ("boxes", "width"): 64, ("boxes", "height"): 64, ("boxes", "boxes_json"): json.dumps(BOXES),
    ("apply", "strength"): 0.8, ("apply", "start_percent"): 0.0, ("apply", "end_percent"): 0.9,
    ("apply", "reground"): True, ("apply", "negative"): "null",
    ("sampler", "seed"): 5, ("sampler", "steps"): 4, ("sampler", "cfg"): 6.5, ("sampler", "denoise"): 1.0,
    ("sampler", "grounded_fraction"): 0.5, ("sampler", "decay_fraction"): 0.25,
    ("sampler", "sampler_name"): "euler", ("sampler", "scheduler"): "normal",
}
NODE_TYPES = {"boxes": "GLIGENGroundingBoxes", "apply": "GLIGENApply", "sampler": "GLIGENScheduledSampler"}


def build(ckpt: str, gligen: str, values: dict, linked: set = frozenset()) -> tuple[dict, dict[str, str]]:
    """The grounded graph with ScheduledSampler; the widgets in ``linked`` come from primitive nodes.
    Linked width and height of equal value share one PrimitiveInt with EmptyLatentImage."""
    g = Graph()
    widgets: dict[str, dict] = {"boxes": {}, "apply": {}, "sampler": {}}
    shared_canvas = {("boxes", "width"), ("boxes", "height")} <= linked and values[("boxes", "width")] == values[("boxes", "height")]
    canvas = g.add("PrimitiveInt", value=values[("boxes", "width")]) if shared_canvas else None
    for key, value in values.items():
        node, name = key
        if key not in linked:
            widgets[node][name] = value
        elif canvas is not None and node == "boxes" and name in ("width", "height"):
            widgets[node][name] = g.out(canvas)
        else:
            source = COMBO_SOURCE if key in COMBOS else PRIMITIVES[type(value)]
            widgets[node][name] = g.out(g.add(source, value=value))
    ck = g.add("CheckpointLoaderSimple", ckpt_name=ckpt)
    pos = g.add("CLIPTextEncode", text="a photo of a street", clip=g.out(ck, 1))
    neg = g.add("CLIPTextEncode", text="blurry", clip=g.out(ck, 1))
    latent = g.add("EmptyLatentImage", width=g.out(canvas) if canvas else 64, height=g.out(canvas) if canvas else 64,
                   batch_size=1)
    loader = g.add("GLIGENAdapterLoader", gligen_name=gligen)
    ids = {"boxes": g.add("GLIGENGroundingBoxes", **widgets["boxes"])}
    enc = g.add("GLIGENGroundingEncoder", conditioning=g.out(pos), clip=g.out(ck, 1), gligen=g.out(loader),
                grounding=g.out(ids["boxes"]))
    ids["apply"] = g.add("GLIGENApply", model=g.out(ck), gligen=g.out(loader), **widgets["apply"])
    ids["sampler"] = g.add("GLIGENScheduledSampler", model=g.out(ids["apply"]), positive=g.out(enc),
                           negative=g.out(neg), latent_image=g.out(latent), **widgets["sampler"])
    ids["save"] = g.add("SaveLatent", samples=g.out(ids["sampler"]), filename_prefix="latents/linked")
    return g.prompt(), ids
