"""Which node output feeds each input, as the frontend works it out when it queues a prompt.

This follows the frontend's ``ExecutableNodeDTO`` (litegraph/subgraph/ExecutableNodeDTO.ts, 1.27):
subgraph instances are flattened into their inner nodes (ids ``12:4``, nested ``12:7:4``); a link is
followed through reroutes and other virtual nodes by slot index, up out of a subgraph to the instance's
input, and down into a subgraph to the node feeding its output. A bypassed node (mode 4) passes on one of
its inputs: the one at the output's slot index when its type fits both the output and the input being
fed, else the first input of exactly the fed type, else the first that fits; and it stops there even when
that input is not connected (the fed input then keeps its own widget value).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from .group_nodes import PREFIX as GROUP_PREFIX, GroupDef
from .node_defs import NodeDef
from .ui_graph import SUBGRAPH_INPUT_NODE, Scope, Slot, UINode, WorkflowError

MODE_NEVER, MODE_BYPASS = 2, 4
FRONTEND_NODES = {"Reroute": "Reroute", "PrimitiveNode": "Primitive", "Note": "Note", "MarkdownNote": "Markdown Note"}


@dataclass
class ExecNode:
    id: str
    node: UINode
    scope: Scope
    path: tuple[str, ...]
    parent: "ExecNode | None"
    definition: NodeDef | None
    inputs: list[Slot]
    outputs: list[Slot]
    subgraph: Scope | None = None
    group: GroupDef | None = None                 # a legacy group node: its definition
    group_parent: "ExecNode | None" = None        # an inner node of a group node: that node
    group_index: int = -1

    @property
    def virtual(self) -> bool:
        return self.definition is None

    @property
    def label(self) -> str:
        return f"node #{self.id} ({self.node.type})"


@dataclass(frozen=True)
class Resolved:
    origin: ExecNode | None
    slot: int
    widget_value: Any = None
    is_widget: bool = False


def valid_connection(a: str, b: str) -> bool:
    """``LiteGraph.isValidConnection``."""
    a = "" if a in ("", "*") else a
    b = "" if b in ("", "*") else b
    if not a or not b or a == b:
        return True
    a, b = a.lower(), b.lower()
    if "," not in a and "," not in b:
        return a == b
    return any(valid_connection(x, y) for x in a.split(",") for y in b.split(","))


def live_slots(node: UINode, definition: NodeDef | None) -> tuple[list[Slot], list[Slot]]:
    """The inputs and outputs of the loaded node: the definition's, with the saved links (by input name;
    outputs by index), then saved inputs the definition does not have."""
    if definition is None:
        return list(node.inputs), list(node.outputs)
    saved = {}
    for s in node.inputs:
        saved.setdefault(s.name, s)
    names = {spec.name for spec in definition.inputs}
    inputs = [Slot(spec.name, spec.type, saved[spec.name].link if spec.name in saved else None,
                   spec.name if spec.widget else None) for spec in definition.inputs]
    inputs += [s for s in node.inputs if s.name not in names]
    outputs = []
    for i, kind in enumerate(definition.outputs):
        links = node.outputs[i].links if i < len(node.outputs) else ()
        outputs.append(Slot(node.outputs[i].name if i < len(node.outputs) else kind, kind, None, None, links))
    outputs += node.outputs[len(definition.outputs):]
    return inputs, outputs


@dataclass
class Graph:
    """Every node of the workflow by execution id, subgraphs expanded."""
    nodes: dict[str, ExecNode] = field(default_factory=dict)

    @classmethod
    def flatten(cls, root: Scope, subgraphs: dict[str, Scope], definition: Callable[[UINode], NodeDef | None],
                group_def: Callable[[UINode], GroupDef]) -> "Graph":
        graph = cls()

        def add_group(node: UINode, scope: Scope, path: tuple[str, ...]) -> None:
            label = f"node #{':'.join(path + (node.id,))} ({node.type})"
            if path:
                raise WorkflowError(f"{label} is a group node inside a subgraph, which the frontend refuses to "
                                    "queue. Convert the group node to a subgraph (or to nodes) and save again.")
            if node.mode != 0:
                raise WorkflowError(f"{label} is a group node that is muted or bypassed; the runner cannot "
                                    "reproduce how the frontend queues that. Fix: open the workflow in the editor, "
                                    "right click the node > Convert to nodes, and save again.")
            g = group_def(node)
            inputs, outputs = live_slots(node, g.definition)
            ex = ExecNode(node.id, node, scope, (), None, None, inputs, outputs, group=g)
            graph.nodes.setdefault(node.id, ex)
            for i, (inner, d) in enumerate(zip(g.nodes, g.inner_defs)):
                inner = UINode(f"{node.id}:{i}", inner.type, inner.mode, inner.title, inner.inputs, inner.outputs,
                               inner.widgets_values, inner.properties)
                ins, outs = live_slots(inner, d)
                graph.nodes.setdefault(inner.id, ExecNode(inner.id, inner, scope, (), None, d, ins, outs,
                                                          group_parent=ex, group_index=i))

        def add(scope: Scope, path: tuple[str, ...], parent: ExecNode | None, open_defs: tuple[str, ...]) -> None:
            for node in scope.nodes.values():
                if node.type.startswith(GROUP_PREFIX):
                    add_group(node, scope, path)
                    continue
                sub = subgraphs.get(node.type)
                d = None if sub is not None else definition(node)
                inputs, outputs = live_slots(node, d)
                exec_id = ":".join(path + (node.id,))
                ex = ExecNode(exec_id, node, scope, path, parent, d, inputs, outputs, sub)
                graph.nodes.setdefault(exec_id, ex)
                if sub is not None:
                    if sub.id in open_defs:
                        raise WorkflowError(f"{ex.label}: subgraph '{node.type}' contains itself; the frontend "
                                            "refuses to queue it too. Remove the inner instance.")
                    add(sub, path + (node.id,), ex, open_defs + (sub.id,))
        add(root, (), None, ())
        return graph

    def by_path(self, path: tuple[str, ...], node_id: str) -> ExecNode | None:
        return self.nodes.get(":".join(path + (node_id,)))

    # ---- the frontend's resolveInput / resolveOutput ------------------------------------------------

    def resolve_input(self, node: ExecNode, slot: int, visited: set | None = None, kind: str | None = None
                      ) -> Resolved | None:
        visited = set() if visited is None else visited
        if node.group_parent is not None:
            return self._group_child_input(node, slot)
        self._visit(visited, node, "I", slot, "input")
        if slot < 0 or slot >= len(node.inputs):
            raise WorkflowError(f"{node.label}: a bypassed or virtual node passes on its input {slot}, which it "
                                "does not have; the frontend cannot queue this either. Reconnect or remove it.")
        inp = node.inputs[slot]
        if inp.link is None:
            return None
        link = node.scope.links.get(inp.link)
        if link is None:
            raise WorkflowError(f"{node.label}: input '{inp.name}' names link {inp.link}, which the workflow does "
                                "not have; the frontend cannot queue this either. Reconnect the input in the editor.")
        if node.parent is not None and link.origin_id == SUBGRAPH_INPUT_NODE:
            instance = node.parent
            if link.origin_slot >= len(instance.inputs) or link.origin_slot < 0:
                raise WorkflowError(f"{instance.label}: its subgraph reads input {link.origin_slot}, which the "
                                    "subgraph node does not have; open the subgraph and reconnect its inputs.")
            outer = instance.inputs[link.origin_slot]
            if outer.link is None:
                if outer.widget is None:
                    return None
                return self._promoted_widget(instance, outer)
            if outer.link not in instance.scope.links:
                raise WorkflowError(f"{instance.label}: input '{outer.name}' names link {outer.link}, which the "
                                    "workflow does not have; reconnect it in the editor.")
            return self.resolve_input(instance, link.origin_slot, visited)
        origin_node = node.scope.nodes.get(link.origin_id)
        origin = self.by_path(node.path, link.origin_id) if origin_node is not None else None
        if origin is None:
            raise WorkflowError(f"{node.label}: input '{inp.name}' is fed by node #{link.origin_id}, which the "
                                "workflow does not have; reconnect the input in the editor.")
        return self.resolve_output(origin, link.origin_slot, kind if kind is not None else inp.type, visited)

    def resolve_output(self, node: ExecNode, slot: int, kind: str, visited: set) -> Resolved | None:
        self._visit(visited, node, "O", slot, "output")
        if node.node.mode == MODE_BYPASS:
            index = self._bypass_slot(node, slot, kind)
            if index == -1:
                return None
            return self.resolve_input(node, index, visited)
        if node.group is not None:
            return self._group_output(node, slot)
        if node.subgraph is not None:
            links = node.subgraph.output_links[slot] if 0 <= slot < len(node.subgraph.output_links) else None
            if not links:
                return None
            link = node.subgraph.links.get(links[0])
            inner = self.by_path(node.path + (node.node.id,), link.origin_id) if link is not None else None
            if inner is None:
                raise WorkflowError(f"{node.label}: output {slot} of its subgraph is fed by a node the subgraph "
                                    "does not have; open the subgraph and reconnect its outputs.")
            return self.resolve_output(inner, link.origin_slot, kind, visited)
        if node.virtual:
            if 0 <= slot < len(node.inputs):
                return self.resolve_input(node, slot, visited, kind)
            return None
        return Resolved(node, slot)

    def _group_child_input(self, node: ExecNode, slot: int) -> Resolved | None:
        """ExecutableGroupNodeChildDTO.resolveInput: the node at the other end, as it is."""
        parent, g = node.group_parent, node.group_parent.group
        external = g.input_map.get(node.group_index, {}).get(slot)
        if external is not None:
            if external >= len(parent.inputs) or parent.inputs[external].link is None:
                return None
            link = parent.scope.links.get(parent.inputs[external].link)
            if link is None or link.origin_id not in parent.scope.nodes:
                return None
            origin = self.by_path((), link.origin_id)
            return Resolved(origin, link.origin_slot) if origin is not None else None
        inner = g.links_to.get(node.group_index, {}).get(slot)
        if inner is None:
            return None
        origin = self.by_path((), f"{parent.node.id}:{inner[0]}")
        return Resolved(origin, inner[1]) if origin is not None else None

    def _group_output(self, node: ExecNode, slot: int) -> Resolved | None:
        """ExecutableGroupNodeDTO.resolveOutput: the inner node behind the group node's output."""
        links = node.outputs[slot].links if 0 <= slot < len(node.outputs) else ()
        if not links or links[0] not in node.scope.links or node.scope.links[links[0]].origin_slot >= len(
                node.group.output_map):
            raise WorkflowError(f"{node.label}: output {slot} of the group node has no link the frontend can "
                                "follow; reconnect it in the editor, or convert the group node to nodes.")
        index, inner_slot = node.group.output_map[node.scope.links[links[0]].origin_slot]
        return Resolved(self.by_path((), f"{node.node.id}:{index}"), inner_slot)

    @staticmethod
    def _promoted_widget(instance: ExecNode, outer: Slot) -> Resolved:
        """An unconnected subgraph input shown as a widget on the subgraph node: its value, which the node
        saves in its widgets_values, one per widget input, in input order."""
        promoted = [s.widget for s in instance.inputs if s.widget is not None]
        index = promoted.index(outer.widget)
        values = instance.node.widgets_values
        if not isinstance(values, list) or index >= len(values):
            raise WorkflowError(f"{instance.label}: the subgraph input '{outer.name}' is a widget on the subgraph node, "
                                "but the workflow saved no value for it; set it in the editor and save again, or "
                                "connect a Primitive node (PrimitiveInt, PrimitiveString, ...) to it.")
        return Resolved(None, -1, values[index], True)

    def _bypass_slot(self, node: ExecNode, slot: int, kind: str) -> int:
        inputs = node.inputs
        if not 0 <= slot < len(node.outputs):
            raise WorkflowError(f"{node.label} is bypassed and something reads its output {slot}, which it does "
                                "not have; the frontend cannot queue this either. Reconnect it in the editor.")
        output_type = node.outputs[slot].type
        if kind in ("*", ""):
            return slot if len(inputs) > slot else 0
        if slot < len(inputs) and valid_connection(inputs[slot].type, output_type) \
                and valid_connection(inputs[slot].type, kind):
            return slot
        for i, inp in enumerate(inputs):
            if inp.type == kind:
                return i
        for i, inp in enumerate(inputs):
            if valid_connection(inp.type, output_type) and valid_connection(inp.type, kind):
                return i
        return -1

    @staticmethod
    def _visit(visited: set, node: ExecNode, side: str, slot: int, what: str) -> None:
        token = (node.scope.id, node.node.id, side, slot)   # as the frontend keys it: no instance path
        if token in visited:
            raise WorkflowError(f"{node.label}: its {what} {slot} leads back to itself (a loop through reroutes or "
                                "bypassed nodes); the frontend refuses to queue it too. Break the loop in the editor.")
        visited.add(token)
