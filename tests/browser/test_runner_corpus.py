"""The runner's conformance corpus against the real frontend (the one ComfyUI pins, in Chromium).

Every ``tests/cases/runner_corpus/NAME.workflow.json`` is loaded into the page and
``app.graphToPrompt()`` must give exactly ``NAME.prompt.json``: a frontend upgrade that changes how
prompts are built fails here. With ``GLIGEN_CAPTURE_CORPUS=1`` the corpus is first rebuilt from the
sources in ``tests/helpers/runner_corpus.py``: each source is loaded, the case's editor action is done
in the page (convert to a subgraph or a group node, save in schema 1), and what the frontend saves and
queues is written.
"""
from __future__ import annotations

import json
import os

import pytest

from helpers.runner_corpus import CASES, CORPUS, FIXED_TIME_MS, case, corpus_files, load, source

# "1": rebuild the whole corpus; or a comma-separated list of case names to rebuild
CAPTURE = os.environ.get("GLIGEN_CAPTURE_CORPUS", "")

# Loads a source, does the case's editor action, and returns what the frontend saves and queues.
BUILD = """async ([wf, action, ids]) => {
  await app.loadGraphData(wf);
  const graph = app.graph;
  if (action.startsWith('subgraph') || action === 'nested_subgraph') {
    const { node } = graph.convertToSubgraph(new Set(ids.map((id) => graph.getNodeById(id))));
    if (action.startsWith('subgraph_mode')) node.mode = Number(action.at(-1));
    if (action === 'subgraph_promoted_widget') {   // unplug the outer link: the subgraph node shows the widget
      node.disconnectInput(node.inputs.findIndex((i) => i.name === 'seed'));
      node.widgets.find((w) => w.name === 'seed').value = 777;
    }
    if (action === 'nested_subgraph') {
      const sg = node.subgraph;
      sg.convertToSubgraph(new Set(sg.nodes.filter((n) => n.type === 'CLIPTextEncode')));
    }
  }
  if (action === 'group') {
    app.canvas.selectNodes(ids.map((id) => graph.getNodeById(id)));
    app.extensionManager.command.execute('Comfy.GroupNode.ConvertSelectedNodesToGroupNode');
  }
  return true;
}"""

SAVE_AND_QUEUE = """async (schema1) => {
  const saved = JSON.parse(JSON.stringify(schema1 ? app.graph.asSerialisable() : app.graph.serialize()));
  const { output } = await app.graphToPrompt();
  return { workflow: saved, output: JSON.parse(JSON.stringify(output)) };
}"""

QUEUE = """async (wf) => {
  await app.loadGraphData(wf);
  const { output } = await app.graphToPrompt();
  return JSON.parse(JSON.stringify(output));
}"""


@pytest.fixture(scope="module")
def page(chromium, server):
    logs: list[str] = []
    page = open_page_fixed(chromium, server, logs)
    yield page
    page.context.close()


def open_page_fixed(chromium, server, logs):
    context = chromium.new_context(viewport={"width": 1500, "height": 1100})
    context.clock.set_fixed_time(FIXED_TIME_MS / 1000)   # for %date:...% (timers keep running)
    page = context.new_page()
    page.on("console", lambda m: logs.append(f"{m.type}: {m.text}"))
    page.goto(server.url)
    page.wait_for_function("window.app && window.app.graph && window.app.extensions &&"
                           " window.app.extensions.some(e => e.name === 'gligen_grounding.BoxEditor')",
                           timeout=90_000)
    return page


def capture(page, name: str) -> dict:
    c = case(name)
    page.evaluate(BUILD, [source(c), c.action, c.nodes])
    if c.action == "group":
        box = page.locator('.p-dialog[aria-labelledby="global-prompt"] input').first   # "Create group node"
        box.wait_for(timeout=10_000)
        box.fill(c.group_name)
        box.press("Enter")
        page.wait_for_function("(t) => app.graph._nodes.some((n) => n.type === t)", arg=f"workflow>{c.group_name}",
                               timeout=10_000)
    return page.evaluate(SAVE_AND_QUEUE, c.action == "schema1")


@pytest.fixture(scope="module")
def corpus(page) -> list[str]:
    if CAPTURE:
        os.makedirs(CORPUS, exist_ok=True)
        for c in CASES:
            if CAPTURE != "1" and c.name not in CAPTURE.split(","):
                continue
            result = capture(page, c.name)
            for kind in ("workflow", "prompt"):
                with open(os.path.join(CORPUS, f"{c.name}.{kind}.json"), "w") as f:
                    json.dump(result["workflow" if kind == "workflow" else "output"], f, indent=1, sort_keys=True)
                    f.write("\n")
    return corpus_files()


def test_the_corpus_covers_every_case(corpus):
    assert corpus == sorted(c.name for c in CASES)


@pytest.mark.parametrize("name", [c.name for c in CASES])
def test_the_frontend_queues_the_recorded_prompt(page, corpus, name):
    workflow, expected = load(name)
    got = page.evaluate(QUEUE, workflow)
    random = case(name).random_widget
    if random is not None:     # Math.random picked one option; the recorded prompt holds one of them
        node, key = random
        options = {"a red car", "a blue car", "a green car"}
        assert got[node]["inputs"][key] in options and expected[node]["inputs"][key] in options
        got[node]["inputs"][key] = expected[node]["inputs"][key]
    assert got == expected
