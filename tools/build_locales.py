"""Write ``locales/en/nodeDefs.json`` from the nodes' schemas: every user-facing string of the pack
(display names, descriptions, input names and tooltips, output names and tooltips) in the format
ComfyUI's frontend merges for translation. Translators copy the file to ``locales/<lang>/``.

Run with a ComfyUI host: ``python tools/build_locales.py``.
"""
from __future__ import annotations

import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def node_defs(classes) -> dict:
    out = {}
    for cls in classes:
        schema = cls.define_schema()
        entry = {"display_name": schema.display_name, "description": schema.description, "inputs": {}, "outputs": {}}
        for inp in schema.inputs:
            entry["inputs"][inp.id] = {"name": inp.display_name or inp.id, "tooltip": inp.tooltip}
        for i, o in enumerate(schema.outputs):
            entry["outputs"][str(i)] = {"name": o.display_name or o.io_type, "tooltip": o.tooltip}
        out[schema.node_id] = entry
    return out


def main() -> None:
    sys.path.insert(0, os.path.join(ROOT, "tests"))
    import conftest  # noqa: F401  (imports the pack as gligen_pack)
    from gligen_pack.runner.host import Host
    Host.boot()
    from gligen_pack.nodes import NODES
    path = os.path.join(ROOT, "locales", "en", "nodeDefs.json")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(node_defs(NODES), f, indent=2, ensure_ascii=False)
        f.write("\n")
    print("wrote", path)


if __name__ == "__main__":
    main()
