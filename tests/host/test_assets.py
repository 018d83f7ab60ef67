"""Generated assets stay in step with the code: templates, thumbnails, translation strings, help pages."""
from __future__ import annotations

import importlib.util
import json
import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def tool(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, "tools", f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_locales_match_the_schemas(host):
    from gligen_pack.nodes import NODES
    current = tool("build_locales").node_defs(NODES)
    with open(os.path.join(ROOT, "locales", "en", "nodeDefs.json")) as f:
        assert json.load(f) == current, "run: python tools/build_locales.py"
    for entry in current.values():
        assert entry["description"] and all(i["tooltip"] for i in entry["inputs"].values())
        assert all(o["tooltip"] for o in entry["outputs"].values())


def test_templates_match_their_descriptions_and_have_thumbnails(host):
    builder = tool("build_workflows")
    for name, (spec, _label) in builder.WORKFLOWS.items():
        with open(os.path.join(ROOT, "example_workflows", f"{name}.json")) as f:
            assert json.load(f) == json.loads(json.dumps(builder.build(name, spec(), host.node_info))), \
                "run: python tools/build_workflows.py"
        assert os.path.getsize(os.path.join(ROOT, "example_workflows", f"{name}.jpg")) > 1000


def test_every_node_has_a_help_page(host):
    from gligen_pack.nodes import NODES
    for cls in NODES:
        node_id = cls.define_schema().node_id
        path = os.path.join(ROOT, "web", "docs", f"{node_id}.md")
        assert os.path.isfile(path), f"missing web/docs/{node_id}.md"
        assert open(path).read().startswith("# ")
