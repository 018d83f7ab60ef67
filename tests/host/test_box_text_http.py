"""Box text sent over HTTP: a key given twice in one entry is refused when the prompt is queued, on the
GroundingBoxes node, naming the box and the key; the node's report shows a "-0.0" coordinate as 0."""
from __future__ import annotations

import json

from helpers.prompts import Graph


def boxes_node(g: Graph, text: str) -> str:
    return g.add("GLIGENGroundingBoxes", width=64, height=32, boxes_json=text)


def test_a_key_given_twice_is_refused_when_queued(server):
    g = Graph()
    node = boxes_node(g, '[{"phrase": "cat", "box": [0, 0, 1, 1], "box": [0, 0, 0.5, 0.5]}]')
    g.add("PreviewAny", source=g.out(node, 2))      # an output that uses the boxes
    status, body = server.queue(g.prompt())
    errors = body.get("node_errors", {})
    assert status == 400 and node in errors, (status, body)
    text = json.dumps(errors[node])
    assert "box #1 ('cat'): the key 'box' is given twice; remove one" in text, text


def test_report_shows_minus_zero_as_zero(server):
    g = Graph()
    node = boxes_node(g, '[{"phrase": "edge", "box": [-0.0, -0.0, 0.5, 1]}]')
    shown = g.add("PreviewAny", source=g.out(node, 2))
    entry = server.run(g.prompt())
    report = entry["outputs"][shown]["text"][0]
    assert "1. 'edge': x 0-32, y 0-32 px" in report and "-0" not in report, report
