"""Fuzzing the runner's UI->API conversion on random graph shapes: reroutes, primitives, bypassed and
muted nodes, subgraphs (nested, with their input and output nodes), legacy group nodes, schema 0.4 and
1 links, dangling
and looping links, and random JSON anywhere. It converts, or raises the runner's own WorkflowError;
never anything else (no KeyError, TypeError, RecursionError ...)."""
from __future__ import annotations

from datetime import datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gligen_pack.runner.workflow import WorkflowError, to_api

FAST = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NOW = datetime(2024, 5, 6, 7, 8, 9)

INFO = {
    "Loader": {"input": {"required": {"name": [["a.safetensors", "b.safetensors"]]}}, "output": ["MODEL"],
               "display_name": "Load"},
    "Sampler": {"input": {"required": {"model": ["MODEL"], "seed": ["INT", {"control_after_generate": True}],
                                       "text": ["STRING", {"dynamicPrompts": True}], "pos": ["COND"], "neg": ["COND"]},
                          "optional": {"extra": ["FLOAT", {}], "other": ["INT", {"forceInput": True}]}},
                "output": ["LATENT", "INT"]},
    "Filter": {"input": {"required": {"model": ["MODEL"], "strength": ["FLOAT", {}]}}, "output": ["MODEL"]},
    "Pair": {"input": {"required": {"a": ["COND"], "b": ["COND"], "c": ["COND,MODEL"]}}, "output": ["COND", "COND"]},
    "SaveImage": {"input": {"required": {"images": ["LATENT"], "filename_prefix": ["STRING", {}]}}, "output": []},
    "Odd": {"input": {"required": {"x": "not a spec", "y": [], "z": [5, "x"]}, "optional": None},
            "input_order": {"required": ["z", "q"]}, "output": [["a", "b"], 7]},
}
TYPES = ["Loader", "Sampler", "Filter", "Pair", "SaveImage", "Odd", "Reroute", "PrimitiveNode", "Note", "Missing",
         "workflow>grp", "workflow>grp", "sg-a", "sg-b"]
SLOT_TYPES = ["MODEL", "COND", "INT", "FLOAT", "STRING", "*", "", "COND,MODEL", "LATENT"]

rarely = st.sampled_from([False] * 20 + [True] + [False] * 20)   # hypothesis favours the first and last
scalars = (st.none() | st.booleans() | st.integers(-3, 12) | st.text(max_size=6)
           | st.floats(allow_nan=True, allow_infinity=True))
junk = st.recursive(scalars, lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=3), c, max_size=3),
                    max_leaves=8)
good_ids = st.integers(1, 7) | st.sampled_from([-10, -20, "1", 3.0])
bad_ids = st.sampled_from([9, "x", None, 1.5, True])
ids = st.one_of(good_ids, good_ids, good_ids, good_ids, good_ids, good_ids, good_ids, good_ids, bad_ids)
texts = st.sampled_from(["plain", "a {b|c}", "{x}", "// c\nd", "/* e */f", "\\", "{a|{b|c}}", "%Load.name%",
                         "%date:yyyy-MM-dd hh:mm:ss%", "%a.b.c%", "{", "}|{"])
widget_values = st.lists(scalars | texts | st.sampled_from(["fixed", "randomize"]), max_size=6) | \
    st.dictionaries(st.sampled_from(["seed", "text", "name", "strength"]), scalars, max_size=3) | junk


@st.composite
def slots(draw, outputs: bool):
    out = []
    for _ in range(draw(st.integers(0, 4))):
        s = {"name": draw(st.sampled_from(["model", "seed", "text", "pos", "neg", "a", "b", "", "images", "x"])),
             "type": draw(st.sampled_from(SLOT_TYPES))}
        if outputs:
            s["links"] = draw(st.lists(ids, max_size=3) | st.none())
        else:
            s["link"] = draw(ids)
        if draw(st.booleans()):
            s["widget"] = draw(st.fixed_dictionaries({"name": st.sampled_from(["seed", "text", "strength", "name"])})
                               | junk)
        out.append(draw(junk) if draw(rarely) else s)
    return out


@st.composite
def nodes(draw):
    out = []
    for i in range(draw(st.integers(0, 7))):
        n = {"id": draw(st.integers(1, 9) | st.just(i + 1)), "type": draw(st.sampled_from(TYPES)),
             "mode": draw(st.sampled_from([0, 0, 0, 2, 4, None, "4"])), "inputs": draw(slots(False)),
             "outputs": draw(slots(True)), "widgets_values": draw(widget_values),
             "properties": draw(st.fixed_dictionaries({}, optional={
                 "Node name for S&R": st.sampled_from(["Load", "Sampler"]),
                 "Run widget replace on values": st.booleans()}) | junk)}
        if draw(st.booleans()):
            n["title"] = draw(st.sampled_from(["Load", "Sampler"]) | scalars)
        if draw(rarely):
            n = draw(junk)
        out.append(n)
    return out


@st.composite
def links(draw, objects: bool):
    out = []
    for _ in range(draw(st.integers(0, 10))):
        slot = st.one_of(*[st.integers(0, 3)] * 8, st.sampled_from([-1, 9, None, "0", 1.0]))
        fields = [draw(ids), draw(ids), draw(slot), draw(ids), draw(slot), draw(st.sampled_from(SLOT_TYPES))]
        if objects:
            link = dict(zip(["id", "origin_id", "origin_slot", "target_id", "target_slot", "type"], fields))
        else:
            link = fields[: draw(st.sampled_from([6, 6, 6, 5, 4]))]
        out.append(draw(junk) if draw(rarely) else link)
    return out


@st.composite
def subgraph(draw, sid: str):
    return {"id": sid, "name": sid, "nodes": draw(nodes()), "links": draw(links(True)),
            "inputs": [{"name": "in", "type": draw(st.sampled_from(SLOT_TYPES)), "linkIds": draw(st.lists(ids, max_size=2))}
                       for _ in range(draw(st.integers(0, 3)))],
            "outputs": [{"name": "out", "type": draw(st.sampled_from(SLOT_TYPES)), "linkIds": draw(st.lists(ids, max_size=2))}
                        for _ in range(draw(st.integers(0, 3)))]}


SAVED_INPUTS = {   # the inputs a frontend-saved inner node lists: sockets, then one per widget
    "Loader": [{"name": "name", "type": "COMBO", "widget": {"name": "name"}}],
    "Filter": [{"name": "model", "type": "MODEL"}, {"name": "strength", "type": "FLOAT", "widget": {"name": "strength"}}],
    "Pair": [{"name": "a", "type": "COND"}, {"name": "b", "type": "COND"}, {"name": "c", "type": "COND,MODEL"}],
}


@st.composite
def group_definition(draw):
    inner = []
    for i in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(sorted(SAVED_INPUTS)))
        inner.append({"id": -1, "type": kind, "mode": draw(st.sampled_from([0, 0, 0, 2])),
                      "inputs": [dict(x, link=None) for x in SAVED_INPUTS[kind]], "index": i,
                      "outputs": [{"name": t, "type": t, "links": []} for t in INFO[kind]["output"]],
                      "widgets_values": draw(widget_values)})
    n = len(inner)
    links = draw(st.lists(st.tuples(st.integers(0, n - 1) | st.none(), st.integers(0, 1), st.integers(0, n - 1),
                                    st.integers(0, 3)).map(lambda t: [*t, 1, "MODEL"]), max_size=3))
    external = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, 1), st.just("MODEL")).map(list),
                             max_size=2))
    return {"nodes": inner, "links": links, "external": external}


@st.composite
def workflows(draw):
    objects = draw(st.booleans())
    wf = {"nodes": draw(nodes()), "links": draw(links(objects)), "version": 1 if objects else 0.4}
    if draw(st.booleans()):
        wf["definitions"] = {"subgraphs": [draw(subgraph("sg-a")), draw(subgraph("sg-b"))]}
    if draw(st.booleans()):
        group_links = st.lists(st.lists(st.integers(0, 3) | st.none(), min_size=4, max_size=6), max_size=4)
        damaged = {"nodes": draw(nodes()), "links": draw(group_links | junk)}
        wf["extra"] = {"groupNodes": {"grp": draw(group_definition()) if draw(st.integers(0, 3)) else damaged}}
    if draw(rarely):
        wf[draw(st.sampled_from(["links", "definitions", "nodes", "extra"]))] = draw(junk)
    return wf


def info(kind):
    return INFO.get(kind)


def converts_or_refuses(workflow) -> None:
    try:
        out = to_api(workflow, info, now=NOW)
    except WorkflowError as e:
        assert str(e)
        return
    assert isinstance(out, dict)
    for node_id, node in out.items():
        assert isinstance(node_id, str) and isinstance(node["class_type"], str) and isinstance(node["inputs"], dict)
        for value in node["inputs"].values():
            if isinstance(value, list):   # links point at nodes of the prompt
                assert len(value) == 2 and value[0] in out


@FAST
@given(workflows())
def test_random_graphs_convert_or_raise_the_runners_error(workflow):
    converts_or_refuses(workflow)


@FAST
@given(junk)
def test_random_json_converts_or_raises_the_runners_error(data):
    converts_or_refuses(data)


def test_a_long_reroute_chain_is_a_clear_error_or_converts():
    n = 3000
    nodes_ = [{"id": 1, "type": "Loader", "widgets_values": ["a.safetensors"], "outputs": [{"type": "MODEL", "links": [1]}]}]
    links_ = []
    for i in range(2, n):
        nodes_.append({"id": i, "type": "Reroute", "inputs": [{"name": "", "type": "*", "link": i - 1}],
                       "outputs": [{"type": "MODEL", "links": [i]}]})
        links_.append([i - 1, i - 1, 0, i, 0, "MODEL"])
    nodes_.append({"id": n, "type": "Filter", "widgets_values": [0.5], "inputs": [{"name": "model", "type": "MODEL",
                                                                                   "link": n - 1}]})
    links_.append([n - 1, n - 1, 0, n, 0, "MODEL"])
    converts_or_refuses({"nodes": nodes_, "links": links_})


@st.composite
def group_workflows(draw):
    """A clean main graph around one group node of a random definition: a loader feeding its inputs, a
    filter reading its outputs."""
    definition = draw(group_definition())
    group_inputs = [{"name": n, "type": t, "link": draw(st.sampled_from([None, 1]))}
                    for n, t in draw(st.lists(st.tuples(st.sampled_from(["model", "a", "strength", "name"]),
                                                        st.sampled_from(SLOT_TYPES)), max_size=3))]
    group_outputs = [{"name": "o", "type": t, "links": [2] if i == 0 else []}
                     for i, t in enumerate(draw(st.lists(st.sampled_from(SLOT_TYPES), max_size=3)))]
    nodes_ = [{"id": 1, "type": "Loader", "widgets_values": ["a.safetensors"], "outputs": [{"type": "MODEL", "links": [1]}]},
              {"id": 2, "type": "workflow>grp", "inputs": group_inputs, "outputs": group_outputs,
               "widgets_values": draw(widget_values), "mode": draw(st.sampled_from([0, 0, 0, 4]))},
              {"id": 3, "type": "Filter", "widgets_values": [0.5],
               "inputs": [{"name": "model", "type": "MODEL", "link": 2}]}]
    links_ = [[1, 1, 0, 2, 0, "MODEL"], [2, 2, draw(st.integers(0, 2)), 3, 0, "MODEL"]]
    return {"nodes": nodes_, "links": links_, "extra": {"groupNodes": {"grp": definition}}}


@FAST
@given(group_workflows())
def test_random_group_nodes_convert_or_raise_the_runners_error(workflow):
    converts_or_refuses(workflow)
