"""GroundingEncoder: phrase features from CLIP, attached with their boxes to a conditioning."""
from __future__ import annotations

import torch
from comfy_api.latest import io

from ..gligen_core import BoxLayout, Grounding, ModelMismatchError, family_of
from .types import GROUNDING_KEY, AdapterRef, GLIGENAdapterIO, GroundingBoxesIO
from .unpatched import attach_check

CLIP_MAX_TOKENS = 75  # 77 minus the start and end tokens


def phrase_features(clip, phrases: list[str]) -> torch.Tensor:
    """GLIGEN's phrase feature: each phrase encoded alone, CLIP's pooled output before projection."""
    cache: dict[str, torch.Tensor] = {}
    rows = []
    for i, phrase in enumerate(phrases):
        if phrase not in cache:
            tokens = clip.tokenize(phrase)
            for name, chunks in tokens.items():
                if len(chunks) > 1:
                    n = sum(1 for chunk in chunks for t in chunk if not _is_special(t))
                    raise ModelMismatchError(
                        f"box #{i + 1}: the phrase {phrase[:60]!r}... is about {n} CLIP tokens; GLIGEN encodes a "
                        f"phrase in one CLIP window of {CLIP_MAX_TOKENS} tokens. Shorten the phrase and put the "
                        f"details in the prompt.")
            _, pooled = clip.encode_from_tokens(tokens, return_pooled="unprojected")
            cache[phrase] = pooled.reshape(-1).float().cpu()
        rows.append(cache[phrase])
    return torch.stack(rows) if rows else torch.zeros(0, 0)


def _is_special(token) -> bool:
    t = token[0]
    return isinstance(t, int) and t >= 49406  # CLIP's start (49406) and end/pad (49407) tokens


class GroundingEncoder(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="GLIGENGroundingEncoder",
            display_name="GroundingEncoder",
            category="conditioning/gligen",
            description="Encode each box's phrase with CLIP and attach the grounding to a conditioning.",
            inputs=[
                io.Conditioning.Input("conditioning", tooltip="The prompt's conditioning (usually the positive)."),
                io.Clip.Input("clip", tooltip="The CLIP of the checkpoint; each phrase is encoded alone with it."),
                GLIGENAdapterIO.Input("gligen", tooltip="The GLIGEN adapter; its tokenizer decides which phrase "
                                                        "feature is needed."),
                GroundingBoxesIO.Input("grounding", tooltip="Boxes and phrases from GroundingBoxes."),
            ],
            outputs=[
                io.Conditioning.Output(tooltip="The conditioning carrying the grounding. Boxes already on it are "
                                               "kept; the 30 largest of all are grounded."),
            ],
        )

    @classmethod
    def execute(cls, conditioning, clip, gligen: AdapterRef, grounding: BoxLayout) -> io.NodeOutput:
        phrases = [b.phrase for b in grounding.boxes]
        features = phrase_features(clip, phrases)
        need = gligen.adapter.phrase_dim
        if phrases and features.shape[1] != need:
            got = features.shape[1]
            raise ModelMismatchError(
                f"This GLIGEN file is for {gligen.adapter.family} and needs {need}-d phrase features; this CLIP "
                f"gives {got}-d ones ({family_of(got)} CLIP). Connect the CLIP of a {gligen.adapter.family} "
                f"checkpoint, or load the GLIGEN file made for your model.")
        if not phrases:
            features = torch.zeros(0, need)
        g = Grounding(tuple(phrases), torch.tensor([b.box for b in grounding.boxes], dtype=torch.float32).reshape(-1, 4),
                      features, len(grounding.dropped))
        out = []
        for cond, extra in conditioning:
            extra = extra.copy()
            previous = extra.get(GROUNDING_KEY)
            extra[GROUNDING_KEY] = previous.extended(g) if previous is not None else g
            attach_check(extra, extra[GROUNDING_KEY].phrases)
            out.append([cond, extra])
        return io.NodeOutput(out)
