"""API-format prompts for the host tests: core nodes plus the pack's, wired as a user would."""
from __future__ import annotations

import json
from typing import Any


class Graph:
    """A tiny prompt builder: ``add`` returns the node id; ``out(id, i)`` is a link."""

    def __init__(self) -> None:
        self.nodes: dict[str, dict[str, Any]] = {}

    def add(self, class_type: str, **inputs: Any) -> str:
        node_id = str(len(self.nodes) + 1)
        self.nodes[node_id] = {"class_type": class_type, "inputs": inputs}
        return node_id

    @staticmethod
    def out(node_id: str, index: int = 0) -> list:
        return [node_id, index]

    def prompt(self) -> dict:
        return json.loads(json.dumps(self.nodes))


BOXES = [{"phrase": "a red car", "box_px": [8, 16, 40, 56]}, {"phrase": "a corgi", "box_px": [32, 8, 64, 40]}]


def base(g: Graph, ckpt: str, positive: str = "a photo of a street", negative: str = "blurry",
         size: int = 64, batch: int = 1) -> dict[str, list]:
    ck = g.add("CheckpointLoaderSimple", ckpt_name=ckpt)
    pos = g.add("CLIPTextEncode", text=positive, clip=g.out(ck, 1))
    neg = g.add("CLIPTextEncode", text=negative, clip=g.out(ck, 1))
    latent = g.add("EmptyLatentImage", width=size, height=size, batch_size=batch)
    return {"model": g.out(ck, 0), "clip": g.out(ck, 1), "vae": g.out(ck, 2), "positive": g.out(pos),
            "negative": g.out(neg), "latent": g.out(latent)}


def ksampler(g: Graph, model, positive, negative, latent, seed: int = 7, steps: int = 3, cfg: float = 7.0,
             sampler: str = "euler", scheduler: str = "normal", denoise: float = 1.0) -> str:
    return g.add("KSampler", model=model, seed=seed, steps=steps, cfg=cfg, sampler_name=sampler,
                 scheduler=scheduler, positive=positive, negative=negative, latent_image=latent, denoise=denoise)


def ours(g: Graph, b: dict, gligen: str, boxes=BOXES, size: int = 64, strength: float = 1.0,
         negative_mode: str = "null", **apply_options) -> tuple[list, list, str]:
    """The pack's nodes: returns (patched model, grounded positive, boxes node id)."""
    loader = g.add("GLIGENAdapterLoader", gligen_name=gligen)
    boxes_node = g.add("GLIGENGroundingBoxes", width=size, height=size, boxes_json=json.dumps(boxes))
    enc = g.add("GLIGENGroundingEncoder", conditioning=b["positive"], clip=b["clip"], gligen=g.out(loader),
                grounding=g.out(boxes_node))
    apply = g.add("GLIGENApply", model=b["model"], gligen=g.out(loader), strength=strength, negative=negative_mode,
                  **apply_options)
    return g.out(apply), g.out(enc), boxes_node


def scheduled(g: Graph, model, positive, negative, latent, seed: int = 7, steps: int = 5, cfg: float = 7.0,
              tau: float = 0.3, decay: float = 0.0, sampler: str = "euler", scheduler: str = "normal",
              denoise: float = 1.0) -> str:
    return g.add("GLIGENScheduledSampler", model=model, seed=seed, steps=steps, cfg=cfg, sampler_name=sampler,
                 scheduler=scheduler, positive=positive, negative=negative, latent_image=latent, denoise=denoise,
                 grounded_fraction=tau, decay_fraction=decay)


def advanced(g: Graph, model, positive, negative, latent, start: int, end: int, steps: int, seed: int = 7,
             cfg: float = 7.0, add_noise: bool = True, leftover: bool = True) -> str:
    return g.add("KSamplerAdvanced", model=model, add_noise="enable" if add_noise else "disable", noise_seed=seed,
                 steps=steps, cfg=cfg, sampler_name="euler", scheduler="normal", positive=positive,
                 negative=negative, latent_image=latent, start_at_step=start, end_at_step=end,
                 return_with_leftover_noise="enable" if leftover else "disable")


def core(g: Graph, b: dict, gligen: str, boxes=BOXES) -> list:
    """ComfyUI core's GLIGENLoader + one chained GLIGENTextBoxApply per box (pixel boxes, 8-px grid)."""
    loader = g.add("GLIGENLoader", gligen_name=gligen)
    cond = b["positive"]
    for box in boxes:
        x0, y0, x1, y1 = box["box_px"]
        cond = g.out(g.add("GLIGENTextBoxApply", conditioning_to=cond, clip=b["clip"], gligen_textbox_model=g.out(loader),
                           text=box["phrase"], width=x1 - x0, height=y1 - y0, x=x0, y=y0))
    return cond


def finish(g: Graph, sampler_id: str, vae) -> str:
    dec = g.add("VAEDecode", samples=g.out(sampler_id), vae=vae)
    return g.add("PreviewImage", images=g.out(dec))


def sampled_latent(host, g: Graph, b: dict, model, positive, seed: int) -> Any:
    """Run ``g`` with a KSampler on ``model`` and ``positive`` (and a decode): the sampled latent tensor."""
    ks = ksampler(g, model, positive, b["negative"], b["latent"], seed=seed)
    finish(g, ks, b["vae"])
    result = host.run(g.prompt())
    assert result.success, result.error()
    return result.output(ks)[0]["samples"].clone()
