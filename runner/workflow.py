"""Turn a workflow saved by ComfyUI's frontend (UI format) into the API format the engine runs.

The UI format stores each node's widget values as a list in widget order; the node definitions
(``GET_NODE_INFO_V1``, what ``/object_info`` serves) say which inputs are widgets and in which
order. Links, reroutes, primitive nodes, muted and bypassed nodes are resolved the way the frontend
does when it queues a prompt. API-format input is returned unchanged.
"""
from __future__ import annotations

from typing import Any, Callable

WIDGET_TYPES = {"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"}
CONTROL_VALUES = {"fixed", "increment", "decrement", "randomize"}
SKIPPED = {"Note", "MarkdownNote"}
MODE_NEVER, MODE_BYPASS = 2, 4


class WorkflowError(ValueError):
    pass


def is_api_format(data: Any) -> bool:
    return isinstance(data, dict) and "nodes" not in data and all(
        isinstance(v, dict) and "class_type" in v for v in data.values())


def _widget_inputs(info: dict) -> list[tuple[str, str, dict]]:
    out = []
    for section in ("required", "optional"):
        for name, spec in (info.get("input", {}).get(section) or {}).items():
            kind = spec[0]
            opts = spec[1] if len(spec) > 1 and isinstance(spec[1], dict) else {}
            kind_name = "COMBO" if isinstance(kind, list) else kind
            if kind_name in WIDGET_TYPES and not opts.get("forceInput"):
                out.append((name, kind_name, opts))
    return out


def to_api(workflow: dict, node_info: Callable[[str], dict | None], strict: bool = False) -> dict:
    """API prompt of a UI workflow. ``node_info(type)`` returns a node's V1 info or None if unknown.
    ``strict`` also rejects widget values left over after every widget took its own."""
    if is_api_format(workflow):
        return workflow
    if not isinstance(workflow, dict) or not isinstance(workflow.get("nodes"), list):
        raise WorkflowError("not a ComfyUI workflow: expected a UI workflow with 'nodes' and 'links', "
                            "or an API prompt (node id -> {class_type, inputs}).")
    if (workflow.get("definitions") or {}).get("subgraphs"):
        raise WorkflowError("this workflow uses subgraphs, which the headless runner does not expand yet; "
                            "unpack them in the editor (right click > Unpack Subgraph) and save again.")
    nodes = {n["id"]: n for n in workflow["nodes"]}
    links = {l[0]: (l[1], l[2]) for l in workflow.get("links", []) if l}

    def source(link_id: int, seen=()) -> tuple[Any, int] | None:
        """The real (node, slot) feeding a link, through reroutes and bypassed nodes."""
        if link_id is None or link_id not in links:
            return None
        node_id, slot = links[link_id]
        node = nodes.get(node_id)
        if node is None or node_id in seen:
            return None
        if node["type"] == "Reroute":
            return source((node.get("inputs") or [{}])[0].get("link"), seen + (node_id,))
        if node.get("mode") == MODE_BYPASS:
            out_type = (node.get("outputs") or [])[slot].get("type") if slot < len(node.get("outputs") or []) else None
            for inp in node.get("inputs") or []:
                if inp.get("type") == out_type and inp.get("link") is not None:
                    return source(inp["link"], seen + (node_id,))
            return None
        if node.get("mode") == MODE_NEVER:
            return None
        return node_id, slot

    prompt: dict[str, dict] = {}
    for node in workflow["nodes"]:
        kind = node.get("type")
        if kind in SKIPPED or kind in ("Reroute", "PrimitiveNode") or node.get("mode") in (MODE_NEVER, MODE_BYPASS):
            continue
        info = node_info(kind)
        if info is None:
            raise WorkflowError(f"node #{node['id']} is of type '{kind}', which is not installed. Install the "
                                f"custom node pack that provides it (ComfyUI-Manager: 'Install Missing Custom Nodes').")
        inputs: dict[str, Any] = {}
        values = list(node.get("widgets_values") or []) if not isinstance(node.get("widgets_values"), dict) else None
        named = node.get("widgets_values") if isinstance(node.get("widgets_values"), dict) else None
        for name, kind_name, opts in _widget_inputs(info):
            if named is not None:
                if name in named:
                    inputs[name] = named[name]
                continue
            if not values:
                break
            inputs[name] = values.pop(0)
            if kind_name == "INT" and values and isinstance(values[0], str) and values[0] in CONTROL_VALUES:
                values.pop(0)       # the frontend's "control after generate" widget
            elif opts.get("image_upload") and values:
                values.pop(0)       # the upload button's value
        if strict and values:
            raise WorkflowError(f"node #{node['id']} ({kind}) has {len(values)} more widget values than widgets: "
                                f"{values!r}; the workflow was saved with another version of this node.")
        for inp in node.get("inputs") or []:
            link = inp.get("link")
            if link is None:
                continue
            origin = source(link)
            if origin is None:
                inputs.pop(inp["name"], None)
                continue
            origin_node = nodes[origin[0]]
            if origin_node["type"] == "PrimitiveNode":
                inputs[inp["name"]] = (origin_node.get("widgets_values") or [None])[0]
            else:
                inputs[inp["name"]] = [str(origin[0]), origin[1]]
        prompt[str(node["id"])] = {"class_type": kind, "inputs": inputs}
    return prompt
