"""The headless runner on every corpus workflow (tests/cases/runner_corpus): it runs each workflow whose
frontend prompt (the one recorded from the browser) the engine accepts, and refuses the others with a
message naming the node and the fix; never a traceback."""
from __future__ import annotations

import argparse
import copy
import os
import subprocess
import sys

import pytest

from gligen_pack.runner import cli
from helpers.runner_corpus import CASES, CORPUS, case, load

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ARGS = ["--demo", "--steps", "1", "--size", "64", "--only-this-pack"]


@pytest.fixture(scope="module")
def run_cli(host):
    """The CLI in this process (the host is booted once): its exit code; what it says goes to stdout."""
    import comfy.utils

    def run(name: str) -> int:
        return cli.main(["run", os.path.join(CORPUS, f"{name}.workflow.json"), *ARGS, "--comfyui", host.comfy_path])
    yield run
    host.on_message = None                       # what cli.run set on the shared in-process host
    comfy.utils.set_progress_bar_global_hook(None)
    comfy.utils.PROGRESS_BAR_ENABLED = True


def frontend_prompt_runs(host, name: str) -> bool:
    """Whether the engine accepts the prompt the frontend queued, with the demo models the CLI swaps in."""
    _, prompt = load(name)
    prompt = copy.deepcopy(prompt)
    demo = cli.demo_models(host)
    cli.adjust(prompt, argparse.Namespace(steps=1, size=64), demo)
    valid, _, _, node_errors = host.validate(prompt)
    return bool(valid) and not node_errors


@pytest.mark.parametrize("name", [c.name for c in CASES])
def test_the_cli_runs_what_the_frontend_prompt_runs(host, run_cli, capsys, name):
    runs = frontend_prompt_runs(host, name)
    capsys.readouterr()
    code = run_cli(name)
    out = capsys.readouterr().out
    assert "Traceback" not in out
    if case(name).refused:            # the frontend's prompt runs, but the runner cannot build the same one
        assert runs and code == 2, out
        assert f"error: {case(name).refused}" in out
    elif runs:
        assert code == 0, out
        assert "done in" in out and "wrote " in out
    else:
        assert code == 2, out
        assert "the workflow is not valid" in out and "fix: node 9 (KSampler): its input" in out


def test_the_expected_corpus_cases_are_refused_by_the_engine_too(host):
    """The corpus holds frontend prompts the engine rejects (a muted node in the chain, a bypass that
    passes nothing), so the refusal path above is exercised."""
    assert not frontend_prompt_runs(host, "mute_in_chain")
    assert not frontend_prompt_runs(host, "bypass_stops_at_first_exact")
    assert frontend_prompt_runs(host, "bypass_two_of_a_type")


def test_previews_of_subgraph_nodes_get_file_names_valid_on_every_os(host, tmp_path):
    """A subprocess run, as a user runs it: GroundingBoxes inside a subgraph is node 12:3."""
    proc = subprocess.run([sys.executable, ROOT, "run", os.path.join(CORPUS, "subgraph.workflow.json"), *ARGS,
                           "--output", str(tmp_path), "--comfyui", host.comfy_path],
                          capture_output=True, text=True, timeout=600)
    text = proc.stdout + proc.stderr
    assert proc.returncode == 0, text
    assert "GLIGENGroundingBoxes (node 12:3)" in text
    written = [line.split("wrote ", 1)[1].strip() for line in text.splitlines() if "wrote " in line]
    previews = [os.path.basename(p) for p in written if "preview_node" in p]
    assert previews and all(p.startswith("preview_node12-3_") for p in previews), written
    assert all(not set(os.path.basename(p)) & set(':<>"/\\|?*') for p in written)
    assert all(os.path.isfile(p) for p in written)


BROKEN = {
    "not_a_workflow.json": "[1, 2, 3]",
    "truncated.json": '{"nodes": [{"id": 1, "type": "KSampler"',
    "node_without_type.json": '{"nodes": [{"id": 1}], "links": []}',
    "schema1_bad_link.json": '{"version": 1, "nodes": [{"id": 1, "type": "Note"}], "links": [{"id": 1}]}',
    "api_bad_class.json": '{"1": {"class_type": 5, "inputs": {}}}',
    "api_bad_link.json": '{"1": {"class_type": "VAEDecode", "inputs": {"samples": ["2", 0, 1]}}}',
    "bad_subgraph.json": '{"nodes": [{"id": 1, "type": "sg"}], "definitions": {"subgraphs": [{"id": "sg"}]}}',
    "deep.json": "[" * 100000 + "]" * 100000,
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_a_broken_file_is_a_clear_error_never_a_traceback(host, run_cli, capsys, tmp_path, name):
    path = tmp_path / name
    path.write_text(BROKEN[name])
    capsys.readouterr()
    code = cli.main(["run", str(path), *ARGS, "--comfyui", host.comfy_path])
    out = capsys.readouterr().out
    assert code == 2 and "error: " in out and "Traceback" not in out, out
