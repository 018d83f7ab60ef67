"""The runner's conformance corpus: UI workflows and the API prompt ComfyUI's frontend queues for each.

Each case starts from the pack's example workflow, changed here the way a user would change it in the
editor (a reroute, a bypassed node, a primitive, ...). The browser suite loads that source into the real
frontend, applies the case's editor action there (convert to a subgraph or a group node, save in schema
1) and stores what the frontend saves (``NAME.workflow.json``) and what ``app.graphToPrompt()`` returns
(``NAME.prompt.json``) under ``tests/cases/runner_corpus``. Regenerate with
``GLIGEN_CAPTURE_CORPUS=1 python -m pytest tests/browser/test_runner_corpus.py``.
"""
from __future__ import annotations

import copy
import json
import os
from dataclasses import dataclass, field
from typing import Callable

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE = os.path.join(ROOT, "example_workflows", "gligen_text_to_image.json")
CORPUS = os.path.join(ROOT, "tests", "cases", "runner_corpus")
# The browser's clock is fixed here while capturing, and the runner is given the same instant, so
# %date:...% tokens agree (local time of the machine, in both).
FIXED_TIME_MS = 1_714_979_289_000   # 2024-05-06 07:08:09 UTC


class Graph:
    """A UI workflow being edited: add nodes, wire and unwire them (schema 0.4 link arrays)."""

    def __init__(self, data: dict) -> None:
        self.data = data

    @property
    def nodes(self) -> list[dict]:
        return self.data["nodes"]

    def node(self, node_id: int) -> dict:
        return next(n for n in self.nodes if n["id"] == node_id)

    def add(self, kind: str, widgets: list | None = None, *, mode: int = 0, outputs: list | None = None,
            inputs: list | None = None, title: str | None = None, pos: tuple = (0, 0)) -> int:
        node_id = self.data["last_node_id"] = self.data["last_node_id"] + 1
        node = {"id": node_id, "type": kind, "pos": list(pos), "size": [220, 80], "flags": {}, "order": 0,
                "mode": mode, "inputs": inputs or [], "outputs": outputs or [], "properties": {},
                "widgets_values": widgets if widgets is not None else []}
        if title:
            node["title"] = title
        self.nodes.append(node)
        return node_id

    def unlink(self, link_id: int) -> None:
        link = next(l for l in self.data["links"] if l[0] == link_id)
        self.data["links"].remove(link)
        for out in self.node(link[1])["outputs"]:
            if out.get("links") and link_id in out["links"]:
                out["links"].remove(link_id)
        for inp in self.node(link[3])["inputs"]:
            if inp.get("link") == link_id:
                inp["link"] = None

    def link(self, src: int, slot: int, dst: int, input_name: str, kind: str, widget: bool = False) -> int:
        link_id = self.data["last_link_id"] = self.data["last_link_id"] + 1
        source, target = self.node(src), self.node(dst)
        while len(source["outputs"]) <= slot:
            source["outputs"].append({"name": kind, "type": kind, "links": []})
        source["outputs"][slot].setdefault("links", [])
        source["outputs"][slot]["links"] = (source["outputs"][slot]["links"] or []) + [link_id]
        inp = next((i for i in target["inputs"] if i["name"] == input_name), None)
        if inp is None:
            inp = {"name": input_name, "type": kind, "link": None}
            if widget:
                inp["widget"] = {"name": input_name}
            target["inputs"].append(inp)
        inp["link"] = link_id
        index = target["inputs"].index(inp)
        self.data["links"].append([link_id, src, slot, dst, index, kind])
        return link_id

    def link_id(self, src: int, dst: int, input_name: str) -> int:
        inp = next(i for i in self.node(dst)["inputs"] if i["name"] == input_name)
        return inp["link"]


def example() -> Graph:
    with open(EXAMPLE) as f:
        return Graph(copy.deepcopy(json.load(f)))


# Node ids of the example: 1 checkpoint, 2 GLIGEN loader, 3 boxes, 4 positive text, 5 negative text,
# 6 grounding encoder, 7 GLIGENApply, 8 empty latent, 9 KSampler, 10 VAE decode, 11 SaveImage.

def reroute_chain(g: Graph) -> None:
    g.unlink(g.link_id(1, 7, "model"))
    a = g.add("Reroute", inputs=[{"name": "", "type": "*", "link": None}],
              outputs=[{"name": "", "type": "MODEL", "links": []}])
    b = g.add("Reroute", inputs=[{"name": "", "type": "*", "link": None}],
              outputs=[{"name": "", "type": "MODEL", "links": []}])
    g.link(1, 0, a, "", "MODEL")
    g.link(a, 0, b, "", "MODEL")
    g.link(b, 0, 7, "model", "MODEL")


def link_midpoint_reroute(g: Graph) -> None:
    link = g.link_id(10, 11, "images")
    other = g.link_id(7, 9, "model")
    g.data.setdefault("extra", {})["reroutes"] = [
        {"id": 1, "pos": [1500, 300], "linkIds": [link]},
        {"id": 2, "pos": [1100, 200], "linkIds": [other]}, {"id": 3, "parentId": 2, "pos": [1150, 220],
                                                              "linkIds": [other]}]
    g.data["extra"]["linkExtensions"] = [{"id": link, "parentId": 1}, {"id": other, "parentId": 3}]


def primitive_two_targets(g: Graph) -> None:
    p = g.add("PrimitiveNode", [320, "fixed"], outputs=[{"name": "INT", "type": "INT", "links": [],
                                                          "widget": {"name": "width"}}])
    g.link(p, 0, 8, "width", "INT", widget=True)
    g.link(p, 0, 8, "height", "INT", widget=True)


def notes(g: Graph) -> None:
    g.add("Note", ["a note about this workflow"])
    g.add("MarkdownNote", ["# heading\nsome *markdown*"])


def mute_unused_branch(g: Graph) -> None:
    s = g.add("SaveImage", ["muted_copy"], mode=2)
    g.link(10, 0, s, "images", "IMAGE")


def mute_in_chain(g: Graph) -> None:
    g.node(7)["mode"] = 2


def bypass_in_chain(g: Graph) -> None:
    g.node(7)["mode"] = 4


def bypass_two_of_a_type(g: Graph) -> None:
    """ControlNetApplyAdvanced bypassed, carrying positive and negative to the sampler."""
    loader = g.add("ControlNetLoader", ["control_v11p_sd15_canny.safetensors"])
    apply = g.add("ControlNetApplyAdvanced", [1.0, 0.0, 1.0], mode=4)
    pos, neg = g.link_id(6, 9, "positive"), g.link_id(5, 9, "negative")
    g.unlink(pos)
    g.unlink(neg)
    g.link(6, 0, apply, "positive", "CONDITIONING")
    g.link(5, 0, apply, "negative", "CONDITIONING")
    g.link(loader, 0, apply, "control_net", "CONTROL_NET")
    g.link(apply, 0, 9, "positive", "CONDITIONING")
    g.link(apply, 1, 9, "negative", "CONDITIONING")


def bypass_unlinked_widget(g: Graph) -> None:
    """A bypassed PrimitiveInt feeds the sampler's seed: its matching input is its own unlinked widget."""
    p = g.add("PrimitiveInt", [7, "fixed"], mode=4)
    g.link(p, 0, 9, "seed", "INT", widget=True)


def bypass_stops_at_first_exact(g: Graph) -> None:
    """A bypassed ConditioningCombine whose first input is unlinked: the frontend stops there."""
    c = g.add("ConditioningCombine", mode=4)
    pos = g.link_id(6, 9, "positive")
    g.unlink(pos)
    g.link(6, 0, c, "conditioning_2", "CONDITIONING")
    g.node(c)["inputs"].insert(0, {"name": "conditioning_1", "type": "CONDITIONING", "link": None})
    g.link(c, 0, 9, "positive", "CONDITIONING")


def muted_primitive(g: Graph) -> None:
    p = g.add("PrimitiveNode", [1234, "fixed"], mode=2,
              outputs=[{"name": "INT", "type": "INT", "links": [], "widget": {"name": "seed"}}])
    g.link(p, 0, 9, "seed", "INT", widget=True)


def bypassed_primitive(g: Graph) -> None:
    p = g.add("PrimitiveNode", [3], mode=4,
              outputs=[{"name": "INT", "type": "INT", "links": [], "widget": {"name": "steps"}}])
    g.link(p, 0, 9, "steps", "INT", widget=True)


def dynamic_prompt_comments(g: Graph) -> None:
    g.node(4)["widgets_values"] = ["a photo of a street // the light is soft\n/* old:\n a night scene */a {sunny} "
                                   "day, \\{not a choice\\}, {a dog|a dog}"]


def dynamic_prompt_choice(g: Graph) -> None:
    g.node(4)["widgets_values"] = ["a {red|blue|green} car"]


def filename_tokens(g: Graph) -> None:
    g.node(11)["widgets_values"] = ["gligen_%KSampler.seed%_%Load Checkpoint.ckpt_name%_%date:yyyy-MM-dd_hh%_%width%"]


def primitive_text_tokens(g: Graph) -> None:
    """A primitive's text goes through the target's own text processing; one with "Run widget replace
    on values" fills in %Node.widget% itself first."""
    text = g.add("PrimitiveNode", ["a cat // not this\n{on a mat}"],
                 outputs=[{"name": "STRING", "type": "STRING", "links": [], "widget": {"name": "text"}}])
    g.link(text, 0, 4, "text", "STRING", widget=True)
    prefix = g.add("PrimitiveNode", ["p_%KSampler.steps%_%KSampler.sampler_name%"],
                   outputs=[{"name": "STRING", "type": "STRING", "links": [], "widget": {"name": "filename_prefix"}}])
    g.node(prefix)["properties"]["Run widget replace on values"] = True
    g.link(prefix, 0, 11, "filename_prefix", "STRING", widget=True)


def widget_defaults_and_upload(g: Graph) -> None:
    """A node saved with fewer widget values than it has widgets (the rest keep their defaults), and an
    image loader, whose upload button takes a saved value but is not queued."""
    g.node(8)["widgets_values"] = [320]
    g.add("LoadImage", ["example.png", "image"], outputs=[{"name": "IMAGE", "type": "IMAGE", "links": []},
                                                          {"name": "MASK", "type": "MASK", "links": []}])


def primitive_int_to_seed(g: Graph) -> None:
    p = g.add("PrimitiveInt", [5, "fixed"])
    g.link(p, 0, 9, "seed", "INT", widget=True)


def plain(g: Graph) -> None:
    pass


@dataclass
class Case:
    name: str
    build: Callable[[Graph], None]
    action: str = "none"   # what the browser does before saving: none, subgraph (subgraph_modeN: then
                            # sets its mode; subgraph_promoted_widget: then sets the seed on the subgraph node), nested_subgraph, group, schema1
    nodes: list[int] = field(default_factory=list)   # the nodes the action takes
    random_widget: tuple[str, str] | None = None     # (node id, input) the frontend fills at random
    refused: str | None = None      # why the runner refuses it (the frontend's behaviour is not reproduced)
    group_name: str = "texts"       # the name typed for a new group node (one per page: names are remembered)


CASES = [
    Case("reroute_chain", reroute_chain),
    Case("link_midpoint_reroute", link_midpoint_reroute),
    Case("primitive_two_targets", primitive_two_targets),
    Case("notes", notes),
    Case("mute_unused_branch", mute_unused_branch),
    Case("mute_in_chain", mute_in_chain),
    Case("bypass_in_chain", bypass_in_chain),
    Case("bypass_two_of_a_type", bypass_two_of_a_type),
    Case("bypass_unlinked_widget", bypass_unlinked_widget),
    Case("bypass_stops_at_first_exact", bypass_stops_at_first_exact),
    Case("muted_primitive", muted_primitive),
    Case("bypassed_primitive", bypassed_primitive),
    Case("dynamic_prompt_comments", dynamic_prompt_comments),
    Case("dynamic_prompt_choice", dynamic_prompt_choice, random_widget=("4", "text"),
         refused="node #4 (CLIPTextEncode): 'text' holds the random choice '{red|blue|green}'"),
    Case("filename_tokens", filename_tokens),
    Case("primitive_text_tokens", primitive_text_tokens),
    Case("widget_defaults_and_upload", widget_defaults_and_upload),
    Case("subgraph", plain, "subgraph", [3, 4, 5, 6]),
    Case("muted_subgraph", plain, "subgraph_mode2", [3, 4, 5, 6]),
    Case("bypassed_subgraph", plain, "subgraph_mode4", [7]),
    Case("subgraph_promoted_widget", primitive_int_to_seed, "subgraph_promoted_widget", [9]),
    Case("nested_subgraph", plain, "nested_subgraph", [3, 4, 5, 6]),
    Case("subgraph_with_bypass", bypass_two_of_a_type, "subgraph", [12, 13, 9]),
    Case("group_node", plain, "group", [4, 5]),
    Case("group_node_sampler", plain, "group", [8, 9, 10], group_name="sampling"),
    Case("group_node_encoder", plain, "group", [4, 5, 6], group_name="encoding"),
    Case("schema1", reroute_chain, "schema1"),
]


def source(case: Case) -> dict:
    g = example()
    case.build(g)
    return g.data


def corpus_files() -> list[str]:
    return sorted(f[: -len(".workflow.json")] for f in os.listdir(CORPUS) if f.endswith(".workflow.json"))


def load(name: str) -> tuple[dict, dict]:
    with open(os.path.join(CORPUS, f"{name}.workflow.json")) as f:
        workflow = json.load(f)
    with open(os.path.join(CORPUS, f"{name}.prompt.json")) as f:
        prompt = json.load(f)
    return workflow, prompt


def case(name: str) -> Case:
    return next(c for c in CASES if c.name == name)
