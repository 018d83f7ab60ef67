"""A ComfyUI-Manager-style install: the pack in a scratch custom_nodes, a started server lists every node."""
from __future__ import annotations

import os


def node_ids():
    from gligen_pack.nodes import NODES       # after the host fixture booted ComfyUI
    return [cls.define_schema().node_id for cls in NODES]


def test_every_node_is_in_object_info(server):
    IDS = node_ids()
    status, info = server.request("/object_info")
    assert status == 200
    missing = [i for i in IDS if i not in info]
    assert not missing, f"missing from /object_info: {missing}\n{server.log_tail()}"
    for node_id in IDS:
        node = info[node_id]
        assert node["description"] and node["category"]
        for section in ("required", "optional"):
            for name, spec in node["input"].get(section, {}).items():
                assert spec[1].get("tooltip"), f"{node_id}.{name} has no tooltip"
        assert all(node["output_tooltips"]), node_id


def test_pack_loaded_without_errors_and_imports_nothing_heavy(server):
    log = open(server.log_path).read()
    assert "IMPORT FAILED" not in log.split("Import times for custom nodes")[-1].split("\n\n")[0]
    pack_line = [line for line in log.splitlines() if line.strip().endswith(os.path.join("custom_nodes", "gligen_grounding"))]
    assert pack_line and "(IMPORT FAILED)" not in pack_line[0]
    seconds = float(pack_line[0].split("seconds")[0].strip())
    assert seconds < 2.0, pack_line[0]


def test_templates_and_docs_are_served(server):
    status, templates = server.request("/workflow_templates")
    assert status == 200 and "gligen_text_to_image" in templates.get("gligen_grounding", []), templates
    status, workflow = server.request("/api/workflow_templates/gligen_grounding/gligen_text_to_image.json")
    assert status == 200 and any(n["type"] == "GLIGENGroundingBoxes" for n in workflow["nodes"])
    status, _ = server.request("/extensions/gligen_grounding/docs/GLIGENApply.md")
    assert status == 200
