"""Legacy group nodes (``workflow>NAME``, defined in the workflow's ``extra.groupNodes``), as the
frontend 1.27 builds and queues them (extensions/core/groupNode.ts, utils/executable*GroupNode*DTO.ts).

A group node stands for the inner nodes of its definition, queued with ids ``GROUP:INDEX``. Its inputs
are the inner inputs not wired inside the group (sockets first, then widgets, named after the input and
prefixed with the inner node's title when a name repeats); its outputs the inner outputs not used only
inside. An inner node's input wired from outside takes the node on the other end of the group node's
link as it is (the frontend follows no reroute or bypass there); one wired inside takes the inner node.
The group node's widget values are copied into the inner widgets they stand for.

Supported: groups of installed nodes without primitives, reroutes or nested groups inside, no
per-input renaming or hiding (``config``), with every inner node and the group node itself in normal
mode, in the main graph. Anything else is refused, naming the node and the fix (convert it to nodes).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from .node_defs import WIDGET_TYPES, NodeDef, _spec, node_def
from .ui_graph import UINode, WorkflowError, _node, key

PREFIX = "workflow>"
_CONVERT = ("open the workflow in the editor, right click the node > Convert to nodes (or convert it to a "
            "subgraph), and save again")


@dataclass
class GroupDef:
    name: str
    nodes: list[UINode]                               # the inner nodes, by index
    definition: NodeDef                               # of the group node itself
    inner_defs: list[NodeDef]
    input_map: dict[int, dict[int, int]] = field(default_factory=dict)     # inner (index, slot) -> group input
    links_to: dict[int, dict[int, tuple[int, int]]] = field(default_factory=dict)  # inner (index, slot) -> (j, slot)
    output_map: list[tuple[int, int]] = field(default_factory=list)        # group output -> inner (index, slot)
    widget_map: dict[str, tuple[int, str]] = field(default_factory=dict)   # group widget -> inner (index, widget)


def _refuse(label: str, why: str) -> WorkflowError:
    return WorkflowError(f"{label} is a group node: {why}; the runner cannot reproduce it. Fix: {_CONVERT}.")


def _is_widget_spec(raw: Any) -> bool:
    return _spec(raw)[0] in WIDGET_TYPES


def build(label: str, name: str, data: Any, node_info: Callable[[str], dict | None]) -> GroupDef:
    if not isinstance(data, dict) or not isinstance(data.get("nodes"), list) or not isinstance(
            data.get("links", []), list):
        raise _refuse(label, f"its definition '{name}' is missing from extra.groupNodes or damaged")
    if data.get("config"):
        raise _refuse(label, "it renames or hides some of its inputs or outputs")
    nodes: list[UINode] = []
    infos: list[dict] = []
    for i, raw in enumerate(data["nodes"]):
        if isinstance(raw, dict):
            raw = dict(raw, id=raw.get("id") if key(raw.get("id")) is not None else i)
        node = _node(raw, f"group node '{name}': ")
        info = node_info(node.type)
        if not isinstance(info, dict):
            raise _refuse(label, f"its inner node {i} is '{node.type}', which is not installed or is a primitive, "
                                 "reroute or group node")
        if node.mode != 0:
            raise _refuse(label, f"its inner node {i} ({node.type}) is muted or bypassed")
        nodes.append(node)
        infos.append(info)
    links_from: dict[int, dict[int, list]] = {}
    links_to: dict[int, dict[int, tuple[int, int]]] = {}
    for l in data.get("links", []):
        if not isinstance(l, list) or len(l) < 4:
            raise _refuse(label, "its definition has a damaged link")
        src, src_slot, dst, dst_slot = l[:4]
        if src is None:
            continue
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (src, src_slot, dst, dst_slot)) \
                or not (0 <= src < len(nodes) and 0 <= dst < len(nodes)):
            raise _refuse(label, "its definition has a damaged link")
        links_from.setdefault(src, {}).setdefault(src_slot, []).append(l)
        links_to.setdefault(dst, {})[dst_slot] = (src, src_slot)
    external: dict[int, dict[int, Any]] = {}
    for e in data.get("external") or []:
        if isinstance(e, list) and len(e) >= 3 and isinstance(e[0], int) and isinstance(e[1], int):
            external.setdefault(e[0], {})[e[1]] = e[2]

    required: dict[str, Any] = {}
    seen: dict[str, int] = {}
    group = GroupDef(name, nodes, None, [node_def(i) for i in infos], links_to=links_to)   # type: ignore[arg-type]
    count = 0
    deferred = []

    def config_name(node: UINode, input_name: str, spec: Any) -> tuple[str, Any]:
        name_ = input_name      # (a slot label the user set would be used instead; the runner refuses none)
        k = name_
        prefix = ""
        if name_ in seen:
            prefix = f"{node.title if node.title is not None else node.type} "
            k = name_ = f"{prefix}{input_name}"
            if name_ in seen:
                name_ = f"{prefix}{seen[name_]} {input_name}"
        seen[k] = seen.get(k, 1) + 1
        if input_name in ("seed", "noise_seed") and isinstance(spec, (list, tuple)) and spec:
            opts = dict(spec[1]) if len(spec) > 1 and isinstance(spec[1], dict) else {}
            opts["control_after_generate"] = f"{prefix}control_after_generate"
            spec = [spec[0], opts]
        return name_, spec

    outputs: list[str] = []
    for i, (node, info) in enumerate(zip(nodes, infos)):
        ins = info.get("input") if isinstance(info.get("input"), dict) else {}
        specs = {**(ins.get("required") or {}), **(ins.get("optional") or {})}
        slots, converted = [], {}
        for input_name, spec in specs.items():
            if _is_widget_spec(spec):
                index = next((k for k, s in enumerate(node.inputs) if s.name == input_name and s.widget == input_name), -1)
                if index == -1:
                    raise _refuse(label, f"its inner node {i} ({node.type}) keeps '{input_name}' as a plain widget "
                                         "(a group saved by an older frontend)")
                converted[index] = input_name
            else:
                slots.append(input_name)
        inner_links = links_to.get(i, {})
        group.input_map[i] = {}
        for k, input_name in enumerate(slots):
            if k in inner_links:
                continue
            gname, spec = config_name(node, input_name, specs[input_name])
            required[gname] = spec
            group.input_map[i][k] = count
            count += 1
        deferred.append((i, node, slots, converted, specs))
        out_types = info.get("output") or []
        for slot, out_type in enumerate(out_types):
            if slot in links_from.get(i, {}) and slot not in external.get(i, {}):
                continue
            group.output_map.append((i, slot))
            outputs.append(out_type)
    for i, node, slots, converted, specs in deferred:
        inner_links = links_to.get(i, {})
        for j, index in enumerate(sorted(converted, key=str)):   # JS sorts the indexes as strings
            input_name = converted[index]
            if len(slots) + j in inner_links:
                continue
            gname, spec = config_name(node, input_name, specs[input_name])
            required[gname] = spec
            group.widget_map[gname] = (i, input_name)
            group.input_map[i][len(slots) + j] = count
            count += 1
    group.definition = node_def({"input": {"required": required}, "output": outputs, "display_name": name})
    return group


def apply_widgets(group: GroupDef, group_values: Any, inner_values: list[dict[str, Any]]) -> None:
    """``updateInnerWidgets``: the group node's widget values into the inner widgets they stand for."""
    if not isinstance(group_values, list):
        return
    values = dict(zip((w.name for w in group.definition.widgets), group_values))
    for gname, (index, inner_name) in group.widget_map.items():
        if gname in values:
            inner_values[index][inner_name] = values[gname]
