"""A UI workflow read into plain typed records, whatever its schema: version 0.4 (links as arrays) or
1 (links as objects), with the subgraph definitions it carries (``definitions.subgraphs``).

Anything that is not the shape the frontend saves is a ``WorkflowError`` naming where it is, so the
conversion never meets a ``KeyError`` or a ``TypeError`` on a hand-edited or truncated file.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SUBGRAPH_INPUT_NODE, SUBGRAPH_OUTPUT_NODE = "-10", "-20"


class WorkflowError(ValueError):
    """The workflow cannot be converted; the message names the node (when there is one) and the fix."""


@dataclass(frozen=True)
class Link:
    id: str
    origin_id: str
    origin_slot: int
    target_id: str
    target_slot: int
    type: str


@dataclass
class Slot:
    name: str
    type: str
    link: str | None = None
    widget: str | None = None
    links: tuple[str, ...] = ()      # outputs only


@dataclass
class UINode:
    id: str
    type: str
    mode: int
    title: str | None
    inputs: list[Slot]
    outputs: list[Slot]
    widgets_values: list | dict | None
    properties: dict


@dataclass
class Scope:
    """The root graph or one subgraph definition."""
    id: str | None
    nodes: dict[str, UINode]
    links: dict[str, Link]
    output_links: list[list[str]] = field(default_factory=list)   # a subgraph's outputs: their link ids
    inputs: list[Slot] = field(default_factory=list)               # a subgraph's inputs


def key(value: Any) -> str | None:
    """Node and link ids as the frontend's maps compare them (1, 1.0 and "1" are one id)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, (int, str)):
        return str(value)
    return None


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _type(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return "*" if value in (0, -1) else str(value)
    return "*"


def _link(raw: Any, where: str) -> Link:
    if isinstance(raw, (list, tuple)) and len(raw) >= 5:
        fields = list(raw[:6]) + [None] * (6 - min(len(raw), 6))
        lid, origin, oslot, target, tslot, kind = fields
    elif isinstance(raw, dict):
        lid, origin, oslot = raw.get("id"), raw.get("origin_id"), raw.get("origin_slot")
        target, tslot, kind = raw.get("target_id"), raw.get("target_slot"), raw.get("type")
    else:
        raise WorkflowError(f"{where}: a link is {str(raw)[:60]!r}, not [id, origin, slot, target, slot, type] "
                            "or {id, origin_id, ...}; the file is damaged: save the workflow again from the editor.")
    ids = key(lid), key(origin), key(target)
    slots = _int(oslot), _int(tslot)
    if None in ids or None in slots:
        raise WorkflowError(f"{where}: link {str(raw)[:80]} has a missing or non-integer id or slot; the file is "
                            "damaged: save the workflow again from the editor.")
    return Link(ids[0], ids[1], slots[0], ids[2], slots[1], _type(kind))


def _slots(raw: Any, where: str, outputs: bool) -> list[Slot]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise WorkflowError(f"{where}: '{'outputs' if outputs else 'inputs'}' is not a list; the file is damaged: "
                            "save the workflow again from the editor.")
    slots = []
    for s in raw:
        if not isinstance(s, dict):
            raise WorkflowError(f"{where}: a slot is {str(s)[:60]!r}, not an object; the file is damaged: save the "
                                "workflow again from the editor.")
        name = s.get("name") if isinstance(s.get("name"), str) else ""
        widget = s.get("widget").get("name") if isinstance(s.get("widget"), dict) else None
        widget = widget if isinstance(widget, str) else None
        if outputs:
            links = s.get("links") if isinstance(s.get("links"), list) else []
            slots.append(Slot(name, _type(s.get("type")), None, widget, tuple(k for k in map(key, links) if k)))
        else:
            slots.append(Slot(name, _type(s.get("type")), key(s.get("link")), widget))
    return slots


def _node(raw: Any, where: str) -> UINode:
    place = where or "the workflow: "
    if not isinstance(raw, dict):
        raise WorkflowError(f"{place}a node is {str(raw)[:60]!r}, not an object; the file is damaged: save the "
                            "workflow again from the editor.")
    node_id = key(raw.get("id"))
    kind = raw.get("type")
    if node_id is None or not isinstance(kind, str) or not kind:
        raise WorkflowError(f"{place}a node has no id or no type ({str(raw)[:80]}); the file is damaged: save "
                            "the workflow again from the editor.")
    here = f"{where}node #{node_id} ({kind})"
    mode = _int(raw.get("mode")) or 0
    title = raw.get("title") if isinstance(raw.get("title"), str) else None
    values = raw.get("widgets_values")
    if values is not None and not isinstance(values, (list, dict)):
        raise WorkflowError(f"{here}: widgets_values is {str(values)[:60]!r}, not a list; the file is damaged: "
                            "save the workflow again from the editor.")
    props = raw.get("properties") if isinstance(raw.get("properties"), dict) else {}
    return UINode(node_id, kind, mode, title, _slots(raw.get("inputs"), here, False),
                  _slots(raw.get("outputs"), here, True), values, props)


def scope(raw: dict, scope_id: str | None, where: str) -> Scope:
    nodes_raw = raw.get("nodes")
    if not isinstance(nodes_raw, list):
        raise WorkflowError(f"{where or 'the workflow'}: 'nodes' is not a list; the file is damaged: save the "
                            "workflow again from the editor.")
    links_raw = raw.get("links") if raw.get("links") is not None else []
    if not isinstance(links_raw, list):
        raise WorkflowError(f"{where or 'the workflow'}: 'links' is not a list; the file is damaged: save the "
                            "workflow again from the editor.")
    nodes: dict[str, UINode] = {}
    for n in nodes_raw:
        node = _node(n, where)
        nodes.setdefault(node.id, node)
    links = {}
    for l in links_raw:
        if l is None:
            continue
        link = _link(l, (where or "the workflow: ")[:-2])
        links[link.id] = link
    out = Scope(scope_id, nodes, links)
    for side, target in (("outputs", out.output_links), ("inputs", out.inputs)):
        items = raw.get(side) if isinstance(raw.get(side), list) else []
        for item in items:
            item = item if isinstance(item, dict) else {}
            if side == "outputs":
                ids = item.get("linkIds") if isinstance(item.get("linkIds"), list) else []
                target.append([k for k in map(key, ids) if k])
            else:
                target.append(Slot(item.get("name") if isinstance(item.get("name"), str) else "",
                                   _type(item.get("type"))))
    return out


def read(workflow: dict) -> tuple[Scope, dict[str, Scope]]:
    """The root graph and the subgraph definitions by id."""
    root = scope(workflow, None, "")
    defs = workflow.get("definitions")
    subgraphs: dict[str, Scope] = {}
    if isinstance(defs, dict) and defs.get("subgraphs") is not None:
        if not isinstance(defs["subgraphs"], list):
            raise WorkflowError("the workflow's definitions.subgraphs is not a list; the file is damaged: save the "
                                "workflow again from the editor.")
        for sg in defs["subgraphs"]:
            if not isinstance(sg, dict) or not isinstance(sg.get("id"), str):
                raise WorkflowError("a subgraph definition has no id; the file is damaged: save the workflow "
                                    "again from the editor.")
            name = sg.get("name") if isinstance(sg.get("name"), str) else sg["id"]
            subgraphs[sg["id"]] = scope(sg, sg["id"], f"subgraph '{name}': ")
    return root, subgraphs
