"""``python -m gligen_grounding migrate IN.json OUT.json``: a UI workflow built with ComfyUI core's
GLIGENLoader and chained GLIGENTextBoxApply nodes, rewritten with this pack's nodes.

Settings reproduce core's output exactly:
- each chain of GLIGENTextBoxApply nodes becomes one GroundingBoxes (the boxes in chain order, in
  pixels snapped to the 8-pixel latent grid as core snaps them, the canvas taken from the latent the
  sampler draws on through ``canvas_from``) and one GroundingEncoder with ``phrase_syntax`` 'prompt'
  (core's text goes through ComfyUI's prompt syntax);
- GLIGENLoader becomes GLIGENAdapterLoader with the same file;
- every sampler whose conditioning carries those boxes gets its model through a GLIGENApply with
  ``negative`` 'same_as_positive' (core grounds the negative with the positive's boxes), strength 1 and
  the whole sampling range.
Only the JSON is read and written; nothing of ComfyUI is imported.
"""
from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any

CORE_BOX = "GLIGENTextBoxApply"
CORE_LOADER = "GLIGENLoader"
BOX_WIDGETS = ("text", "width", "height", "x", "y")  # GLIGENTextBoxApply's widgets, in order
LATENT_GRID = 8
ACTIVE = 0


class MigrateError(ValueError):
    pass


@dataclass
class Chain:
    nodes: list[dict]            # GLIGENTextBoxApply nodes, first to last
    conditioning: tuple[int, int]  # what the first one adds boxes to: (node id, slot)
    clip: tuple[int, int]
    loader: int                  # the GLIGENLoader node id
    boxes: list[dict] = field(default_factory=list)


class Workflow:
    """A UI workflow's nodes and links, with the edits the migration needs."""

    def __init__(self, data: dict) -> None:
        if not isinstance(data, dict) or not isinstance(data.get("nodes"), list):
            raise MigrateError("not a ComfyUI UI workflow (no 'nodes' list); save the workflow from the editor "
                               "(Workflow > Save) and migrate that file. API-format prompts have no layout to keep.")
        if (data.get("definitions") or {}).get("subgraphs"):
            raise MigrateError("this workflow uses subgraphs; unpack them in the editor (right click > Unpack "
                               "Subgraph), save, and migrate again.")
        self.data = data
        self.nodes: dict[int, dict] = {n["id"]: n for n in data["nodes"]}
        self.links: dict[int, list] = {l[0]: l for l in data.get("links", []) if l}
        self.next_node = max([int(data.get("last_node_id") or 0), *self.nodes]) + 1
        self.next_link = max([int(data.get("last_link_id") or 0), *self.links]) + 1

    # -- reading ---------------------------------------------------------------------------------------
    def input_of(self, node: dict, name: str) -> dict | None:
        return next((i for i in node.get("inputs") or [] if i.get("name") == name), None)

    def source(self, node: dict, name: str) -> tuple[int, int] | None:
        inp = self.input_of(node, name)
        if inp is None or inp.get("link") is None or inp["link"] not in self.links:
            return None
        link = self.links[inp["link"]]
        return link[1], link[2]

    def consumers(self, node_id: int, slot: int = 0) -> list[tuple[dict, str]]:
        out = []
        for link in self.links.values():
            if link[1] == node_id and link[2] == slot:
                target = self.nodes[link[3]]
                inp = (target.get("inputs") or [])[link[4]]
                out.append((target, inp["name"]))
        return out

    def upstream(self, node: dict, names: tuple[str, ...]) -> set[int]:
        """Every node feeding ``node``'s inputs ``names``, directly or not."""
        seen: set[int] = set()
        todo = [s[0] for n in names if (s := self.source(node, n)) is not None]
        while todo:
            nid = todo.pop()
            if nid in seen or nid not in self.nodes:
                continue
            seen.add(nid)
            for inp in self.nodes[nid].get("inputs") or []:
                if inp.get("link") in self.links:
                    todo.append(self.links[inp["link"]][1])
        return seen

    # -- editing ---------------------------------------------------------------------------------------
    def link(self, origin: tuple[int, int], target: dict, name: str, kind: str) -> None:
        """Link ``origin`` (node id, slot) to ``target``'s input ``name``, replacing what fed it."""
        inp = self.input_of(target, name)
        if inp is None:
            inp = {"name": name, "type": kind, "link": None}
            target.setdefault("inputs", []).append(inp)
        if inp.get("link") is not None:
            self.unlink(inp["link"])
        lid = self.next_link
        self.next_link += 1
        slot = target["inputs"].index(inp)
        self.links[lid] = [lid, origin[0], origin[1], target["id"], slot, kind]
        inp["link"] = lid
        out = self.nodes[origin[0]]["outputs"][origin[1]]
        out["links"] = [*(out.get("links") or []), lid]

    def unlink(self, lid: int) -> None:
        link = self.links.pop(lid, None)
        if link is None:
            return
        origin = self.nodes.get(link[1])
        if origin is not None and link[2] < len(origin.get("outputs") or []):
            out = origin["outputs"][link[2]]
            out["links"] = [x for x in out.get("links") or [] if x != lid]
        target = self.nodes.get(link[3])
        if target is not None:
            for inp in target.get("inputs") or []:
                if inp.get("link") == lid:
                    inp["link"] = None

    def remove(self, node: dict) -> None:
        for lid in [l[0] for l in self.links.values() if node["id"] in (l[1], l[3])]:
            self.unlink(lid)
        del self.nodes[node["id"]]

    def add(self, kind: str, pos: list, inputs: list[tuple[str, str]], outputs: list[tuple[str, str]],
            widgets: list, size: tuple[int, int] = (320, 120)) -> dict:
        node = {"id": self.next_node, "type": kind, "pos": list(pos), "size": list(size), "flags": {},
                "order": 0, "mode": ACTIVE,
                "inputs": [{"name": n, "type": t, "link": None} for n, t in inputs],
                "outputs": [{"name": n, "type": t, "links": [], "slot_index": i} for i, (n, t) in enumerate(outputs)],
                "properties": {"Node name for S&R": kind}, "widgets_values": widgets}
        self.next_node += 1
        self.nodes[node["id"]] = node
        return node

    def result(self) -> dict:
        out = dict(self.data)
        out["nodes"] = list(self.nodes.values())
        for order, node in enumerate(out["nodes"]):
            node["order"] = order
        out["links"] = sorted(self.links.values())
        out["last_node_id"] = self.next_node - 1
        out["last_link_id"] = self.next_link - 1
        return out


def _widget_values(wf: Workflow, node: dict) -> dict[str, Any]:
    for name in BOX_WIDGETS:
        inp = wf.input_of(node, name)
        if inp is not None and inp.get("link") is not None:
            raise MigrateError(f"node #{node['id']} ({CORE_BOX}): '{name}' is fed by a link; the migration reads "
                               f"typed values only. Type the value into the widget and migrate again.")
    values = node.get("widgets_values")
    if isinstance(values, dict):
        values = [values.get(n) for n in BOX_WIDGETS]
    if not isinstance(values, list) or len(values) < len(BOX_WIDGETS):
        raise MigrateError(f"node #{node['id']} ({CORE_BOX}) has widget values {values!r}; expected "
                           f"[text, width, height, x, y].")
    return dict(zip(BOX_WIDGETS, values))


def core_box(node_id: int, v: dict[str, Any]) -> dict:
    """A GLIGENTextBoxApply's box as core grounds it: every edge on the 8-pixel latent grid."""
    for name in ("width", "height", "x", "y"):
        if isinstance(v[name], bool) or not isinstance(v[name], int):
            raise MigrateError(f"node #{node_id} ({CORE_BOX}): {name} = {v[name]!r} is not a whole number of pixels.")
    g = LATENT_GRID
    x0, y0 = v["x"] // g * g, v["y"] // g * g
    return {"phrase": str(v["text"]), "box_px": [x0, y0, x0 + v["width"] // g * g, y0 + v["height"] // g * g]}


def find_chains(wf: Workflow) -> list[Chain]:
    boxes = [n for n in wf.nodes.values() if n.get("type") == CORE_BOX]
    for n in boxes:
        if n.get("mode", ACTIVE) != ACTIVE:
            raise MigrateError(f"node #{n['id']} ({CORE_BOX}) is muted or bypassed; enable or delete it, save, and "
                               f"migrate again.")
    ids = {n["id"] for n in boxes}
    chains = []
    for head in boxes:
        cond = wf.source(head, "conditioning_to")
        if cond is None:
            raise MigrateError(f"node #{head['id']} ({CORE_BOX}) has no conditioning_to linked.")
        if cond[0] in ids:
            continue
        chain, node = [head], head
        while True:
            users = wf.consumers(node["id"])
            nxt = [t for t, name in users if t["id"] in ids and name == "conditioning_to"]
            if len(nxt) > 1 or (nxt and len(users) > 1):
                raise MigrateError(f"node #{node['id']} ({CORE_BOX}) feeds several nodes; the migration handles "
                                   f"straight chains (each box node feeding the next, the last one the sampler).")
            if not nxt:
                break
            node = nxt[0]
            chain.append(node)
        clips = {wf.source(n, "clip") for n in chain}
        loaders = {wf.source(n, "gligen_textbox_model") for n in chain}
        if len(clips) != 1 or None in clips:
            raise MigrateError(f"the {CORE_BOX} chain from node #{head['id']} uses {len(clips)} CLIP sources; "
                               f"link every box node of a chain to the same CLIP.")
        if len(loaders) != 1 or None in loaders:
            raise MigrateError(f"the {CORE_BOX} chain from node #{head['id']} uses {len(loaders)} GLIGEN sources; "
                               f"link every box node of a chain to the same {CORE_LOADER}.")
        (loader_id, _), = loaders
        if wf.nodes[loader_id].get("type") != CORE_LOADER:
            raise MigrateError(f"the {CORE_BOX} chain from node #{head['id']} takes its GLIGEN from node "
                               f"#{loader_id} ({wf.nodes[loader_id].get('type')}), not from a {CORE_LOADER}.")
        c = Chain(chain, cond, next(iter(clips)), loader_id)
        c.boxes = [core_box(n["id"], _widget_values(wf, n)) for n in chain]
        chains.append(c)
    return chains


def is_sampler(node: dict) -> bool:
    names = {i.get("name") for i in node.get("inputs") or []}
    return "model" in names and ("positive" in names or "negative" in names)


def migrate(data: dict) -> tuple[dict, list[str]]:
    """The migrated workflow (a new dict) and what was done, one line each."""
    wf = Workflow(copy.deepcopy(data))
    chains = find_chains(wf)
    if not chains:
        raise MigrateError(f"no {CORE_BOX} node in this workflow: nothing to migrate.")
    notes: list[str] = []
    tails = {c.nodes[-1]["id"]: c for c in chains}
    samplers = []
    for node in list(wf.nodes.values()):
        if is_sampler(node):
            fed = wf.upstream(node, ("positive", "negative")) | {s[0] for n in ("positive", "negative")
                                                                 if (s := wf.source(node, n))}
            found = [tails[t] for t in tails if t in fed]
            if found:
                samplers.append((node, found))
    if not samplers:
        raise MigrateError(f"no sampler samples the {CORE_BOX} conditioning; connect the last box node to a "
                           f"sampler's positive input first.")

    loaders = {}
    for loader_id in sorted({c.loader for c in chains}):
        loader = wf.nodes[loader_id]
        loader["type"] = "GLIGENAdapterLoader"
        loader["properties"] = {**(loader.get("properties") or {}), "Node name for S&R": "GLIGENAdapterLoader"}
        loader["outputs"] = [{"name": "gligen", "type": "GLIGEN_ADAPTER", "links": [], "slot_index": 0}]
        for lid in [l[0] for l in wf.links.values() if l[1] == loader_id]:
            wf.unlink(lid)
        loaders[loader_id] = loader
        notes.append(f"node #{loader_id}: {CORE_LOADER} -> GLIGENAdapterLoader ({(loader.get('widgets_values') or ['?'])[0]})")

    for c in chains:
        head, tail = c.nodes[0], c.nodes[-1]
        pos = head.get("pos") or [0, 0]
        first_sampler = next(s for s, found in samplers if c in found)
        latent = wf.source(first_sampler, "latent_image")
        width, height = latent_size(wf, latent) or (512, 512)
        boxes = wf.add("GLIGENGroundingBoxes", pos, [("background", "IMAGE"), ("canvas_from", "LATENT,IMAGE")],
                       [("grounding", "GROUNDING_BOXES"), ("preview", "IMAGE"), ("report", "STRING")],
                       [width, height, json.dumps(c.boxes, indent=1, ensure_ascii=False)], size=(400, 560))
        encoder = wf.add("GLIGENGroundingEncoder", [pos[0] + 420, pos[1]],
                         [("conditioning", "CONDITIONING"), ("clip", "CLIP"), ("gligen", "GLIGEN_ADAPTER"),
                          ("grounding", "GROUNDING_BOXES")], [("CONDITIONING", "CONDITIONING")], ["prompt"])
        users = [(t, name) for t, name in wf.consumers(tail["id"])]
        for node in c.nodes:
            wf.remove(node)
        if latent is not None:
            wf.link(latent, boxes, "canvas_from", "LATENT,IMAGE")
        wf.link(c.conditioning, encoder, "conditioning", "CONDITIONING")
        wf.link(c.clip, encoder, "clip", "CLIP")
        wf.link((c.loader, 0), encoder, "gligen", "GLIGEN_ADAPTER")
        wf.link((boxes["id"], 0), encoder, "grounding", "GROUNDING_BOXES")
        for target, name in users:
            wf.link((encoder["id"], 0), target, name, "CONDITIONING")
        notes.append(f"nodes {', '.join('#' + str(n['id']) for n in c.nodes)} ({len(c.nodes)} x {CORE_BOX}) -> "
                     f"GroundingBoxes #{boxes['id']} + GroundingEncoder #{encoder['id']} (phrase_syntax 'prompt'): "
                     + "; ".join(f"{b['phrase']!r} at {b['box_px']}" for b in c.boxes))

    applied: dict[tuple, dict] = {}
    for sampler, found in samplers:
        used = {c.loader for c in found}
        if len(used) > 1:
            raise MigrateError(f"node #{sampler['id']} samples boxes of {len(used)} different {CORE_LOADER}s; one "
                               f"model takes one GLIGEN. Use one {CORE_LOADER} for the boxes of one sampler.")
        model = wf.source(sampler, "model")
        if model is None:
            raise MigrateError(f"node #{sampler['id']} ({sampler.get('type')}) has no model linked.")
        key = (model, next(iter(used)))
        if key not in applied:
            origin = wf.nodes[model[0]].get("pos") or [0, 0]
            apply = wf.add("GLIGENApply", [origin[0] + 40, origin[1] - 200],
                           [("model", "MODEL"), ("gligen", "GLIGEN_ADAPTER,GLIGEN")], [("MODEL", "MODEL")],
                           [1.0, "same_as_positive", 0.0, 1.0, False])
            wf.link(model, apply, "model", "MODEL")
            wf.link((key[1], 0), apply, "gligen", "GLIGEN_ADAPTER,GLIGEN")
            applied[key] = apply
            notes.append(f"GLIGENApply #{apply['id']} (negative 'same_as_positive', as core) between node "
                         f"#{model[0]} and the sampler")
        wf.link((applied[key]["id"], 0), sampler, "model", "MODEL")
    return wf.result(), notes


def latent_size(wf: Workflow, latent: tuple[int, int] | None) -> tuple[int, int] | None:
    """(width, height) typed into an EmptyLatentImage-like node feeding the sampler, when there is one."""
    if latent is None:
        return None
    node = wf.nodes.get(latent[0]) or {}
    values = node.get("widgets_values")
    if node.get("type") == "EmptyLatentImage" and isinstance(values, list) and len(values) >= 2 \
            and all(isinstance(v, int) for v in values[:2]):
        return values[0], values[1]
    return None


def main(src: str, dst: str, say=print) -> int:
    try:
        with open(src, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError) as e:
        say(f"error: cannot read workflow {src!r}: {e}")
        return 2
    try:
        out, notes = migrate(data)
    except MigrateError as e:
        say(f"error: {e}")
        return 2
    with open(dst, "w", encoding="utf-8") as f:
        json.dump(out, f, indent=1, ensure_ascii=False)
    for note in notes:
        say(f"  {note}")
    say(f"wrote {dst}")
    return 0
