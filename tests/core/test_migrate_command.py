"""``migrate`` without a host: the command line, and a linked widget refused with the fix (the
latents are compared with core's in tests/host/test_migrate.py)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

from gligen_pack.runner.migrate import MigrateError, migrate
from helpers.core_example import core_gligen_example

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
tiny_ckpt, tiny_gligen = "sd15.safetensors", "gligen_sd14_textbox_pruned.safetensors"


def test_migrate_command_writes_the_migrated_workflow(tmp_path):
    src, dst = tmp_path / "core.json", tmp_path / "pack.json"
    core = core_gligen_example(tiny_ckpt, tiny_gligen)
    src.write_text(json.dumps(core))
    out = subprocess.run([sys.executable, ROOT, "migrate", str(src), str(dst)], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert json.loads(dst.read_text()) == json.loads(json.dumps(migrate(core)[0]))
    assert "GLIGENApply" in out.stdout and "same_as_positive" in out.stdout

    src.write_text(json.dumps({"nodes": [], "links": []}))
    out = subprocess.run([sys.executable, ROOT, "migrate", str(src), str(dst)], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 2 and "no GLIGENTextBoxApply node in this workflow" in out.stdout


def test_linked_box_widgets_are_refused_with_the_fix():
    core = core_gligen_example(tiny_ckpt, tiny_gligen)
    box = next(n for n in core["nodes"] if n["id"] == 12)
    box["inputs"].append({"name": "x", "type": "INT", "link": 99, "widget": {"name": "x"}})
    core["links"].append([99, 5, 0, 12, 3, "INT"])
    try:
        migrate(core)
    except MigrateError as e:
        assert "node #12 (GLIGENTextBoxApply): 'x' is fed by a link" in str(e)
    else:
        raise AssertionError("a linked x was migrated")
