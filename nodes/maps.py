"""GroundingMap: a spatial map (HED, Canny, depth, normal, ADE20K semantic) for a map GLIGEN model."""
from __future__ import annotations

from comfy_api.latest import io

from ..gligen_core.ade20k import LABEL_MODES
from ..gligen_core.maps import GroundingMap as MapGrounding
from .checks import check_widgets, typed_choices
from .encoder import show_on_node
from .grounding_kinds import MAP_SUFFIX, input_kind_of, require_kind
from .types import GROUNDING_KEY, AdapterRef, GLIGENAdapterIO
from .unpatched import attach_check


class GroundingMap(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="GLIGENGroundingMap",
            display_name="GroundingMap",
            category="conditioning/gligen",
            description="Ground a spatial-map GLIGEN model (HED, Canny, depth, normal or semantic) with its map.",
            inputs=[
                io.Conditioning.Input("conditioning", tooltip="The prompt's conditioning (usually the positive)."),
                GLIGENAdapterIO.Input("gligen", tooltip="A map GLIGEN adapter (gligen-generation-hed, -canny, -depth, "
                                                        "-normal or -sem); it decides how the map is read."),
                io.Image.Input("map", tooltip="The map a preprocessor made, at any size (it is stretched to the "
                                              "image you generate): HED/Canny edges, a depth or normal map, or for "
                                              "the semantic model an ADE20K segmentation. One map grounds every "
                                              "latent; a batch of maps grounds one latent each."),
                io.Combo.Input("labels", options=list(LABEL_MODES), default=LABEL_MODES[0], optional=True,
                               tooltip="Semantic model only. 'colours': an ADE20K segmentation in the standard "
                                       "palette (what ADE20K segmentation preprocessors draw). 'indices': a grey "
                                       "label image whose value is the class index 0..151 (an ADE20K annotation)."),
            ],
            outputs=[io.Conditioning.Output(tooltip="The conditioning carrying the map.")],
            hidden=[io.Hidden.unique_id],
        )

    @classmethod
    def validate_inputs(cls, labels: str | None = None) -> bool | str:
        """A typed labels value, when the prompt is queued (see ``checks.typed_choices``)."""
        return typed_choices(cls, labels=labels)

    @classmethod
    def execute(cls, conditioning, gligen: AdapterRef, map, labels: str = LABEL_MODES[0]) -> io.NodeOutput:
        check_widgets(cls, labels=labels)
        require_kind("GroundingMap", gligen.adapter, MAP_SUFFIX, "a map")
        kind = input_kind_of(gligen.adapter)
        modality = kind.removesuffix(MAP_SUFFIX)
        grounding = MapGrounding.from_image(modality, map, "map", labels)
        out = []
        for cond, extra in conditioning:
            extra = extra.copy()
            extra[GROUNDING_KEY] = grounding
            attach_check(extra, (f"a {kind}",))
            out.append([cond, extra])
        h, w = grounding.size
        text = f"{kind}: {grounding.batch} map{'s' if grounding.batch != 1 else ''} of {w}x{h}"
        show_on_node(cls.hidden.unique_id if cls.hidden else None, text)
        return io.NodeOutput(out, ui={"text": [text]})
