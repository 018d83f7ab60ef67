"""GroundingEncoder: phrase features from CLIP, attached with their boxes to a conditioning.

The phrase feature is the one each adapter family was trained on (GLIGEN spec 2.1, SDXL spec 3.1),
every phrase encoded alone:
- SD1.x (768-d): CLIP-L's pooled output before the text projection;
- SDXL (2048-d): [CLIP-L pooled, unprojected (768) ; CLIP-G pooled, projected (1280)];
- SD2.x (1024-d, IGLIGEN): the SD2 CLIP's unprojected pooled output (not verified against training).
"""
from __future__ import annotations

import logging
import sys

import torch
from comfy_api.latest import io

from ..gligen_core import BoxLayout, GLIGENError, Grounding, ModelMismatchError, family_of
from ..gligen_core.boxes import drop_note
from ..gligen_core.tokenizers.text_image import KIND as TEXT_IMAGE
from .feature_check import feature_mismatch
from .grounding_kinds import BOXES, require_kind
from .images import check_adapter_reads, image_features
from .layouts import ground_layout, join_groundings, still_layouts
from .phrase_text import LITERAL, PHRASE_SYNTAXES, encoded_note, tokenize
from .phrase_text import phrase_syntax as phrase_syntax_value
from .types import GROUNDING_KEY, AdapterRef, GLIGENAdapterIO, GroundingBoxesIO
from .unpatched import attach_check

log = logging.getLogger(__name__)

CLIP_MAX_TOKENS = 75  # 77 minus the start and end tokens


def clip_kind(clip) -> str:
    """'sdxl' for a CLIP with both CLIP-L and CLIP-G towers, else 'single'."""
    cm = clip.cond_stage_model
    return "sdxl" if hasattr(cm, "clip_l") and hasattr(cm, "clip_g") else "single"


def clip_family(clip) -> str:
    name = type(clip.cond_stage_model).__name__
    return {"SD1ClipModel": "SD1.x", "SD2ClipModel": "SD2.x", "SDXLClipModel": "SDXL"}.get(name, name)


def _check_length(tokens: dict, i: int, phrase: str) -> None:
    for chunks in tokens.values():
        if len(chunks) > 1:
            n = sum(1 for chunk in chunks for t in chunk if not _is_special(t))
            raise ModelMismatchError(
                f"box #{i + 1}: the phrase {phrase[:60]!r}... is about {n} CLIP tokens; GLIGEN encodes a "
                f"phrase in one CLIP window of {CLIP_MAX_TOKENS} tokens. Shorten the phrase and put the "
                f"details in the prompt.")


def _is_special(token) -> bool:
    t = token[0]
    return isinstance(t, int) and (t >= 49406 or t == 0)  # start, end/pad (49407) and CLIP-G's pad (0)


def _sdxl_feature(clip, tokens: dict) -> torch.Tensor:
    """[CLIP-L pooled, unprojected ; CLIP-G pooled, projected]: SDXL checkpoints carry no CLIP-L
    projection, so the CLIP-L half must be asked for unprojected, on that tower only."""
    clip.load_model()
    cm = clip.cond_stage_model
    cm.reset_clip_options()
    try:
        cm.clip_l.set_clip_options({"projected_pooled": False})
        _, l_pooled = cm.clip_l.encode_token_weights(tokens["l"])
        _, g_pooled = cm.clip_g.encode_token_weights(tokens["g"])
    finally:
        cm.reset_clip_options()
    return torch.cat((l_pooled.reshape(-1).float(), g_pooled.reshape(-1).float())).cpu()


def _plain_feature(clip, tokens: dict) -> torch.Tensor:
    _, pooled = clip.encode_from_tokens(tokens, return_pooled="unprojected")
    return pooled.reshape(-1).float().cpu()


def check_clip_kind(clip, need: int, family: str) -> None:
    kind = clip_kind(clip)
    if need == 2048 and kind != "sdxl":
        raise ModelMismatchError(f"This GLIGEN file is for SDXL and needs CLIP-L + CLIP-G phrase features; this CLIP "
                                 f"is an {clip_family(clip)} CLIP with one tower. Connect the CLIP of an SDXL "
                                 f"checkpoint, or load the GLIGEN file made for your model.")
    if need != 2048 and kind == "sdxl":
        raise ModelMismatchError(f"This GLIGEN file is for {family} and needs {need}-d phrase features; this CLIP is "
                                 f"SDXL's (CLIP-L + CLIP-G). Connect the CLIP of a {family} checkpoint, or load the "
                                 f"GLIGEN file made for SDXL.")


def phrase_features(clip, phrases: list[str], need: int | None = None, family: str | None = None,
                    syntax: str = LITERAL) -> torch.Tensor:
    """One row per phrase (identical phrases encoded once). ``need``/``family``: the adapter's phrase
    width and family when one is connected; without, the feature the CLIP's family was trained with
    (GLIGENApply's patch checks it against the adapter)."""
    kind = clip_kind(clip)
    if need is not None:
        check_clip_kind(clip, need, family or family_of(need))
    encode = _sdxl_feature if kind == "sdxl" else _plain_feature
    cache: dict[str, torch.Tensor] = {}
    rows = []
    for i, phrase in enumerate(phrases):
        if not phrase:   # an image-only box (text-image GLIGEN): its text mask is 0
            rows.append(None)
            continue
        if phrase not in cache:
            tokens = tokenize(clip, phrase, i, syntax)
            _check_length(tokens, i, phrase)
            cache[phrase] = encode(clip, tokens)
        rows.append(cache[phrase])
    width = next((r.shape[0] for r in rows if r is not None), need)
    if width is None:  # no phrase at all: the width of this CLIP's feature
        width = encode(clip, clip.tokenize("")).shape[0]
    rows = [torch.zeros(width) if r is None else r for r in rows]
    features = torch.stack(rows) if rows else torch.zeros(0, width)
    if rows and need is not None and features.shape[1] != need:
        raise feature_mismatch(need, family or family_of(need), features.shape[1])
    if features.shape[1] == 1024 and rows:
        log.warning("GLIGEN: SD2.x adapter: the phrase feature is ComfyUI's SD2 CLIP pooled output, which may "
                    "differ from the one the adapter was trained with (see README).")
    return features


def chained_drop_note(previous: Grounding, added: Grounding, dropped: list) -> str:
    """What joining ``added`` to the boxes already on a conditioning dropped (keep the largest), or ''."""
    if not dropped:
        return ""
    total = len(previous) + len(added)
    return (f"{drop_note(total, total - len(dropped))} when adding {len(added)} box{'es' if len(added) != 1 else ''} "
            f"to the {len(previous)} already on the conditioning: "
            + ", ".join(repr(b.phrase) for b in dropped))


def show_on_node(node_id: str | None, text: str) -> None:
    """Text under the node in ComfyUI's frontend (as core's GetImageSize shows sizes); nothing without a
    server (headless runner)."""
    server = sys.modules.get("server")  # ComfyUI's server module, imported by main.py before any node runs
    instance = getattr(getattr(server, "PromptServer", None), "instance", None)
    if instance is not None and node_id is not None:
        instance.send_progress_text(text, node_id, instance.client_id)


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
                io.Clip.Input("clip", tooltip="The CLIP of the checkpoint; each phrase is encoded alone with it "
                                              "(CLIP-L for SD1.x, CLIP-L + CLIP-G for SDXL)."),
                GLIGENAdapterIO.Input("gligen", optional=True,
                                      tooltip="Optional: the GLIGEN adapter, to check the phrase feature here. Without "
                                              "it the feature follows the CLIP (SD1.x, SD2.x, SDXL) and GLIGENApply "
                                              "checks it against its adapter."),
                GroundingBoxesIO.Input("grounding", tooltip="Boxes and phrases from GroundingBoxes."),
                io.Combo.Input("phrase_syntax", options=PHRASE_SYNTAXES, default=LITERAL, optional=True,
                               tooltip="'literal': each phrase is encoded as typed, parentheses and all. 'prompt': "
                                       "ComfyUI's prompt syntax ((word:1.2) weights, escapes, embedding:name), as "
                                       "core's GLIGENTextBoxApply reads its text."),
                io.ClipVision.Input("clip_vision", optional=True,
                                    tooltip="CLIP ViT-L/14 (core's CLIPVisionLoader), for boxes with a reference "
                                            "image; needed only with a text-image GLIGEN file."),
            ],
            outputs=[
                io.Conditioning.Output(tooltip="The conditioning carrying the grounding. Boxes already on it are "
                                               "kept; the 30 largest of all are grounded."),
            ],
            hidden=[io.Hidden.unique_id],
        )

    @classmethod
    def validate_inputs(cls, phrase_syntax: str | None = None) -> bool | str:
        """A typed phrase_syntax, when the prompt is queued (ComfyUI checks no V3 combo's value itself); a
        linked one (None here) is checked when the node runs, with the same error."""
        try:
            phrase_syntax_value(phrase_syntax)
        except GLIGENError as e:
            return str(e)
        return True

    @classmethod
    def execute(cls, conditioning, clip, grounding, gligen: AdapterRef | None = None,
                phrase_syntax: str = LITERAL, clip_vision=None) -> io.NodeOutput:
        syntax = phrase_syntax_value(phrase_syntax)
        adapter = gligen.adapter if gligen is not None else None
        if adapter is not None:
            require_kind("GroundingEncoder", adapter, BOXES, "boxes")
            for layout in still_layouts(grounding):
                check_adapter_reads(adapter, layout, clip_vision)

        def encode(phrases: list[str]) -> torch.Tensor:
            return phrase_features(clip, phrases, adapter.phrase_dim if adapter else None,
                                   adapter.family if adapter else None, syntax)

        def still(layout: BoxLayout, features: torch.Tensor) -> Grounding:
            images = {}
            with_images = any(b.image is not None for b in layout.boxes)
            if adapter is not None and adapter.shape.family == TEXT_IMAGE or adapter is None and with_images:
                if clip_vision is None and with_images:  # phrase-only boxes need no CLIP vision
                    first = next(i for i, b in enumerate(layout.boxes) if b.image is not None)
                    raise ModelMismatchError(
                        f"box #{first + 1} has a reference image: connect a CLIP vision model (CLIPVisionLoader with "
                        f"CLIP ViT-L/14) to GroundingEncoder's 'clip_vision' input, or remove 'image' from the boxes.")
                feats, flags = image_features(clip_vision, layout, gligen.image_projection if gligen else None)
                images = dict(image_features=feats, has_image=flags)
            return Grounding(tuple(b.phrase for b in layout.boxes),
                             torch.tensor([b.box for b in layout.boxes], dtype=torch.float32).reshape(-1, 4),
                             features, len(layout.dropped), (layout.width, layout.height), layout.node, **images)

        if isinstance(grounding, BoxLayout):
            phrases = [b.phrase for b in grounding.boxes]
            g = still(grounding, encode(phrases))
        else:  # moving boxes, or a layout per image
            g = ground_layout(grounding, encode, still)
            phrases = list(g.phrases)
        out, notes = [], []
        for cond, extra in conditioning:
            extra = extra.copy()
            previous = extra.get(GROUNDING_KEY)
            joined = g
            if previous is not None:
                joined, dropped = join_groundings(previous, g)
                note = chained_drop_note(previous, g, dropped)
                if note and note not in notes:
                    notes.append(note)
            extra[GROUNDING_KEY] = joined
            attach_check(extra, extra[GROUNDING_KEY].phrases)
            out.append([cond, extra])
        for note in notes:
            log.warning("GroundingEncoder: %s", note)
        grounded = max((len(extra[GROUNDING_KEY]) for _, extra in out), default=len(g))
        text = "\n".join(notes) or f"{grounded} box{'es' if grounded != 1 else ''} grounded on this conditioning"
        text += "\n" + encoded_note(phrases, syntax)
        show_on_node(cls.hidden.unique_id if cls.hidden else None, text)
        return io.NodeOutput(out, ui={"text": [text]})
