"""Turn a workflow saved by ComfyUI's frontend (UI format) into the API prompt the frontend would queue.

This is ``app.graphToPrompt()`` of the frontend ComfyUI pins (1.27, utils/executionUtil.ts), step by step:

1. every virtual node applies itself first: a PrimitiveNode writes its value into the widgets it feeds,
   whatever its own mode (muted and bypassed primitives included);
2. subgraphs and legacy group nodes are expanded into their inner nodes (``runner/resolve.py``,
   ``runner/group_nodes.py``);
3. each node that is neither virtual, muted (mode 2) nor bypassed (mode 4) sends its widget values
   (dynamic prompts and ``filename_prefix`` rewritten as the frontend does, ``runner/frontend_text.py``),
   then one entry per connected input, resolved through reroutes, bypassed nodes and subgraph borders;
   an input that resolves to nothing keeps the widget value;
4. inputs fed by a node that is not in the prompt (a muted one) are removed.

The node definitions (``GET_NODE_INFO_V1``, what ``/object_info`` serves) say which inputs are widgets
and in which order (``runner/node_defs.py``). API-format input is checked for shape and returned as it
is. The workflow is read by ``runner/ui_graph.py`` (schema 0.4 and 1). What the frontend
does that cannot be reproduced (a ``{a|b}`` choice, which it makes with ``Math.random``) is refused with
a ``WorkflowError`` that names the node and the fix, as is anything the frontend itself cannot queue.
"""
from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Callable

from . import group_nodes
from .frontend_text import RandomChoice, dynamic_prompt, text_replacements
from .node_defs import NodeDef, migrate_values, node_def
from .resolve import FRONTEND_NODES, MODE_BYPASS, MODE_NEVER, ExecNode, Graph
from .ui_graph import UINode, WorkflowError, read

__all__ = ["WorkflowError", "is_api_format", "to_api"]

# The nodes whose filename_prefix the frontend rewrites (extensions/core/saveImageExtraOutput.ts).
SAVE_NODES = {"SaveImage", "SaveAnimatedWEBP", "SaveWEBM", "SaveAudio", "SaveGLB", "SaveAnimatedPNG", "CLIPSave",
              "VAESave", "ModelSave", "LoraSave", "SaveLatent"}
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
REPLACE_PROPERTY = "Run widget replace on values"
SR_PROPERTY = "Node name for S&R"


def is_api_format(data: Any) -> bool:
    return isinstance(data, dict) and "nodes" not in data and all(
        isinstance(v, dict) and "class_type" in v for v in data.values())


class _Widgets:
    """The widget values of every node, by (subgraph, node id): what the frontend holds on its nodes.
    Instances of one subgraph share their inner nodes, and so their values."""

    def __init__(self, graph: Graph, strict: bool) -> None:
        self.values: dict[tuple, dict[str, Any]] = {}
        for ex in graph.nodes.values():
            k = (ex.scope.id, ex.node.id)
            if k in self.values or ex.definition is None:
                continue
            self.values[k] = self._read(ex, ex.definition, strict)
        for ex in graph.nodes.values():
            if ex.group is not None:
                children = [graph.by_path((), f"{ex.node.id}:{i}") for i in range(len(ex.group.nodes))]
                group_nodes.apply_widgets(ex.group, ex.node.widgets_values, [self.of(c) for c in children])

    @staticmethod
    def _read(ex: ExecNode, d: NodeDef, strict: bool) -> dict[str, Any]:
        raw = ex.node.widgets_values
        if isinstance(raw, dict):
            return {w.name: raw[w.name] for w in d.widgets if w.name in raw}
        values = migrate_values(d, list(raw or []))
        if strict and len(values) > len(d.widgets):
            raise WorkflowError(f"{ex.label} has {len(values) - len(d.widgets)} more widget values than widgets: "
                                f"{values[len(d.widgets):]!r}; the workflow was saved with another version of this "
                                "node.")
        out = {w.name: v for w, v in zip(d.widgets, values)}
        for w in d.widgets[len(values):]:       # not saved: the widget keeps its default
            if w.has_default:
                out[w.name] = w.default
        return out

    def of(self, ex: ExecNode) -> dict[str, Any]:
        return self.values.setdefault((ex.scope.id, ex.node.id), {})


def _apply_primitives(graph: Graph, widgets: _Widgets, root_links: dict, replace: Callable[[str], str]) -> None:
    """``PrimitiveNode.applyToGraph``: copy the primitive's value into each widget its output feeds."""
    seen = set()
    for ex in graph.nodes.values():
        node = ex.node
        if node.type != "PrimitiveNode" or (ex.scope.id, node.id) in seen:
            continue
        seen.add((ex.scope.id, node.id))
        links = node.outputs[0].links if node.outputs else ()
        if not links:
            continue
        if ex.scope.id is not None:
            raise WorkflowError(f"{ex.label} is a PrimitiveNode inside a subgraph: the frontend looks its links up "
                                "in the main graph, which gives no reliable value. Use a Primitive node from "
                                "utils/primitive (PrimitiveInt, PrimitiveString, ...) there instead.")
        values = node.widgets_values
        if not isinstance(values, list) or not values:
            continue                   # no widget yet: the frontend leaves the targets as they are
        value = values[0]
        if value and isinstance(value, str) and node.properties.get(REPLACE_PROPERTY):
            value = replace(value)
        for link_id in links:
            link = root_links.get(link_id)
            if link is None:
                raise WorkflowError(f"{ex.label}: its output names link {link_id}, which the workflow does not "
                                    "have; the frontend cannot queue this either. Reconnect the primitive.")
            target = graph.by_path((), link.target_id)
            if target is None:
                continue
            inp = next((s for s in target.inputs if s.link == link_id), None)
            if inp is None or inp.widget is None or target.definition is None:
                continue
            if any(w.name == inp.widget for w in target.definition.widgets):
                widgets.of(target)[inp.widget] = value


class _Finder:
    """``%Node.widget%``: the first node whose 'Node name for S&R' property, else whose title, is Node."""

    def __init__(self, graph: Graph, widgets: _Widgets, order: list[ExecNode]) -> None:
        self.graph, self.widgets, self.order = graph, widgets, order

    @staticmethod
    def sr_name(ex: ExecNode) -> Any:
        if SR_PROPERTY in ex.node.properties:
            return ex.node.properties[SR_PROPERTY]
        if ex.definition is not None and ex.node.type not in SAVE_NODES:
            return ex.node.type
        return None

    def __call__(self, name: str, widget: str) -> tuple[bool, Any]:
        nodes = [ex for ex in self.order if self.sr_name(ex) == name] or \
                [ex for ex in self.order if _title(ex) == name]
        if not nodes:
            return False, None
        ex = nodes[0]
        if ex.definition is None:
            if ex.node.type == "PrimitiveNode" and widget == "value" and isinstance(ex.node.widgets_values, list) \
                    and ex.node.widgets_values:
                return True, ex.node.widgets_values[0]
            return False, None
        values = self.widgets.of(ex)
        if widget not in values:
            return False, None
        return True, values[widget]


def _title(ex: ExecNode) -> str:
    if ex.node.title:
        return ex.node.title
    if ex.definition is not None:
        return ex.definition.display_name or ex.node.type
    return FRONTEND_NODES.get(ex.node.type, ex.subgraph and "New Subgraph" or ex.node.type)


def _all_nodes(graph: Graph) -> list[ExecNode]:
    """``collectAllNodes``: each node once (one per subgraph definition), a subgraph's nodes before the
    node that holds it."""
    out: list[ExecNode] = []
    seen: set = set()

    def visit(path: tuple[str, ...], scope_nodes) -> None:
        for node in scope_nodes:
            ex = graph.by_path(path, node.id)
            if ex is None or (ex.scope.id, node.id) in seen:
                continue
            if ex.subgraph is not None:
                visit(path + (node.id,), ex.subgraph.nodes.values())
            seen.add((ex.scope.id, node.id))
            out.append(ex)
    roots = [ex.node for ex in graph.nodes.values() if not ex.path]
    visit((), roots)
    return out


def check_api_prompt(prompt: dict) -> dict:
    """An API prompt the engine can be handed: node id -> {class_type: str, inputs: {name: value}}."""
    for node_id, node in prompt.items():
        if not isinstance(node.get("class_type"), str) or not isinstance(node.get("inputs", {}), dict):
            raise WorkflowError(f"node {node_id} of the API prompt needs a 'class_type' string and an 'inputs' "
                                f"object, not {str(node)[:80]}; export the prompt again (Save (API)).")
        for name, value in node.get("inputs", {}).items():
            if isinstance(value, list) and (len(value) != 2 or not isinstance(value[0], str)
                                            or isinstance(value[1], bool) or not isinstance(value[1], int)):
                raise WorkflowError(f"node {node_id} of the API prompt: input '{name}' is {str(value)[:60]}, "
                                    "neither a value nor a link [\"node id\", output index]; export the prompt again.")
    return prompt


def to_api(workflow: dict, node_info: Callable[[str], dict | None], strict: bool = False,
           now: datetime | None = None) -> dict:
    """API prompt of a UI workflow. ``node_info(type)`` returns a node's V1 info or None if unknown;
    ``now`` is the local time for ``%date:...%`` (default: now). ``strict`` also rejects widget values
    left over after every widget took its own."""
    if is_api_format(workflow):
        return check_api_prompt(workflow)
    if not isinstance(workflow, dict) or not isinstance(workflow.get("nodes"), list):
        raise WorkflowError("not a ComfyUI workflow: expected a UI workflow with 'nodes' and 'links', "
                            "or an API prompt (node id -> {class_type, inputs}).")
    now = now or datetime.now()
    root, subgraphs = read(workflow)
    extra = workflow.get("extra") if isinstance(workflow.get("extra"), dict) else {}
    group_data = extra.get("groupNodes") if isinstance(extra.get("groupNodes"), dict) else {}
    groups: dict[str, group_nodes.GroupDef] = {}

    def group_def(node: UINode) -> group_nodes.GroupDef:
        name = node.type[len(group_nodes.PREFIX):]
        if name not in groups:
            groups[name] = group_nodes.build(f"node #{node.id} ({node.type})", name, group_data.get(name),
                                             safe_info)
        return groups[name]

    def safe_info(kind: str) -> dict | None:
        if kind in FRONTEND_NODES:
            return None
        try:
            info = node_info(kind)
        except Exception:          # a node whose definition cannot be built is as good as missing
            info = None
        return info if isinstance(info, dict) else None

    cache: dict[str, NodeDef | None] = {}

    def definition(node: UINode) -> NodeDef | None:
        if node.type in FRONTEND_NODES:
            return None
        if node.type not in cache:
            info = safe_info(node.type)
            cache[node.type] = node_def(info) if info is not None else None
        return cache[node.type]

    try:
        graph = Graph.flatten(root, subgraphs, definition, group_def)
        return _build(graph, root, strict, now)
    except RecursionError:
        raise WorkflowError("the workflow's links nest too deeply to follow (a chain of thousands of reroutes or "
                            "subgraphs); shorten it in the editor.") from None


def _missing(ex: ExecNode) -> WorkflowError:
    if _UUID.fullmatch(ex.node.type):
        return WorkflowError(f"{ex.label} is a subgraph whose definition is not in the workflow (definitions."
                             "subgraphs); the file was cut or edited by hand: save the workflow again from the editor.")
    return WorkflowError(f"{ex.label} is of type '{ex.node.type}', which is not installed. Install the custom node "
                         "pack that provides it (ComfyUI-Manager: 'Install Missing Custom Nodes').")


def _build(graph: Graph, root, strict: bool, now: datetime) -> dict:
    widgets = _Widgets(graph, strict)
    finder = _Finder(graph, widgets, _all_nodes(graph))

    def replace(text: str) -> str:
        return text_replacements(text, finder, now)

    _apply_primitives(graph, widgets, root.links, replace)
    output: dict[str, dict] = {}
    for ex in graph.nodes.values():
        if ex.node.mode in (MODE_NEVER, MODE_BYPASS) or ex.subgraph is not None or ex.group is not None \
                or ex.node.type in FRONTEND_NODES:
            continue
        if ex.definition is None:
            raise _missing(ex)
        inputs: dict[str, Any] = {}
        random: dict[str, RandomChoice] = {}
        values = widgets.of(ex)
        for w in ex.definition.widgets:
            if not w.queued or w.name not in values:
                continue
            value = values[w.name]
            if w.dynamic_prompts and isinstance(value, str):
                try:
                    value = dynamic_prompt(value)
                except RandomChoice as choice:
                    random[w.name] = choice
            if w.name == "filename_prefix" and ex.node.type in SAVE_NODES and isinstance(value, str):
                value = replace(value)
            inputs[w.name] = {"__value__": value} if isinstance(value, list) else value
        for i, inp in enumerate(ex.inputs):
            resolved = graph.resolve_input(ex, i)
            if resolved is None:
                continue
            random.pop(inp.name, None)
            if resolved.is_widget:          # a subgraph node's widget
                value = resolved.widget_value
                inputs[inp.name] = {"__value__": value} if isinstance(value, list) else value
            elif resolved.origin is not None:
                inputs[inp.name] = [resolved.origin.id, resolved.slot]
        for name, choice in random.items():
            raise WorkflowError(
                f"{ex.label}: '{name}' holds the random choice {str(choice)!r}. The frontend picks one option with "
                "Math.random() each time it queues, which the runner cannot reproduce. Write the option you want "
                "(or queue the workflow from the browser and run the API prompt it sends).")
        output[ex.id] = {"inputs": inputs, "class_type": ex.node.type, "_meta": {"title": _title(ex)}}
    for entry in output.values():
        for name, value in list(entry["inputs"].items()):
            if isinstance(value, list) and len(value) == 2 and value[0] not in output:
                del entry["inputs"][name]
    return output
