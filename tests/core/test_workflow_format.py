"""UI workflow -> API prompt, as the frontend does it: widgets, links, reroutes, primitives, bypass."""
from __future__ import annotations

import pytest

from gligen_pack.runner.workflow import WorkflowError, is_api_format, to_api

INFO = {
    "Loader": {"input": {"required": {"name": [["a.safetensors", "b.safetensors"]]}}, "output": ["MODEL"]},
    "Sampler": {"input": {"required": {"model": ["MODEL"], "seed": ["INT", {"control_after_generate": True}],
                                       "steps": ["INT", {"default": 20}], "name": ["STRING", {}]},
                          "optional": {"extra": ["FLOAT", {}]}}, "output": ["LATENT"]},
    "Filter": {"input": {"required": {"model": ["MODEL"], "strength": ["FLOAT", {}]}}, "output": ["MODEL"]},
}


def node(id, type, widgets=(), inputs=(), mode=0, outputs=()):
    return {"id": id, "type": type, "mode": mode, "widgets_values": list(widgets), "inputs": list(inputs),
            "outputs": list(outputs)}


def workflow(nodes, links):
    return {"nodes": nodes, "links": links}


def test_widgets_links_and_control_values():
    wf = workflow([node(1, "Loader", ["b.safetensors"]),
                   node(2, "Sampler", [5, "randomize", 30, "hello", 0.5], [{"name": "model", "type": "MODEL", "link": 1}])],
                  [[1, 1, 0, 2, 0, "MODEL"]])
    api = to_api(wf, INFO.get, strict=True)
    assert api == {"1": {"class_type": "Loader", "inputs": {"name": "b.safetensors"}, "_meta": {"title": "Loader"}},
                   "2": {"class_type": "Sampler", "inputs": {"seed": 5, "steps": 30, "name": "hello", "extra": 0.5,
                                                              "model": ["1", 0]}, "_meta": {"title": "Sampler"}}}


def test_reroute_bypass_mute_primitive_and_notes():
    wf = workflow([
        node(1, "Loader", ["a.safetensors"]),
        node(2, "Reroute", inputs=[{"name": "", "type": "*", "link": 1}]),
        node(3, "Filter", [0.3], [{"name": "model", "type": "MODEL", "link": 2}], mode=4,
             outputs=[{"name": "MODEL", "type": "MODEL"}]),
        node(4, "PrimitiveNode", [1234], outputs=[{"name": "INT", "type": "INT", "links": [4], "widget": {"name": "seed"}}]),
        node(5, "Sampler", [0, "fixed", 4, "x"], [{"name": "model", "type": "MODEL", "link": 3},
                                                  {"name": "seed", "type": "INT", "widget": {"name": "seed"}, "link": 4}]),
        node(6, "Filter", [1.0], [{"name": "model", "type": "MODEL", "link": None}], mode=2),
        node(7, "Note", ["text"]),
    ], [[1, 1, 0, 2, 0, "MODEL"], [2, 2, 0, 3, 0, "MODEL"], [3, 3, 0, 5, 0, "MODEL"], [4, 4, 0, 5, 1, "INT"]])
    api = to_api(wf, INFO.get)
    assert set(api) == {"1", "5"}
    assert api["5"]["inputs"]["model"] == ["1", 0] and api["5"]["inputs"]["seed"] == 1234


def test_unknown_node_and_leftovers_are_clear_errors():
    with pytest.raises(WorkflowError, match="'Mystery', which is not installed"):
        to_api(workflow([node(1, "Mystery")], []), INFO.get)
    with pytest.raises(WorkflowError, match="1 more widget values"):
        to_api(workflow([node(1, "Loader", ["a.safetensors", 7])], []), INFO.get, strict=True)
    with pytest.raises(WorkflowError, match="not a ComfyUI workflow"):
        to_api({"nodes": "x"}, INFO.get)


def test_api_format_passes_through():
    api = {"3": {"class_type": "Loader", "inputs": {"name": "a.safetensors"}}}
    assert is_api_format(api) and to_api(api, INFO.get) is api
