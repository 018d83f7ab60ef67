"""The default canvas follows the loader's adapter, in a real page: a GroundingBoxes node added while the
graph's GLIGENAdapterLoader has an SDXL adapter selected gets 1024x1024; picking an SD1.x adapter gives an
untouched node 512x512 back; a node whose size the user changed keeps it. Values are set as the
frontend's widgets set them on a user's choice (``setValue``: value, then the widget's callback)."""
from __future__ import annotations

import pytest

from helpers.editor_page import example_workflow, load_workflow, open_page, pack_errors


ADD_BOXES = """() => { const n = LiteGraph.createNode('GLIGENGroundingBoxes'); n.pos = [40, 900];
    app.graph.add(n); return n.id; }"""
PICK = """([name, value]) => { const n = app.graph._nodes.find(n => n.type === 'GLIGENAdapterLoader');
    const w = n.widgets.find(w => w.name === 'gligen_name'); w.setValue(value, {e: null, node: n, canvas: app.canvas}); }"""
SET_WIDGET = """([id, name, value]) => { const n = app.graph.getNodeById(id);
    const w = n.widgets.find(w => w.name === name); w.setValue(value, {e: null, node: n, canvas: app.canvas}); }"""
SIZE = """(id) => { const n = app.graph.getNodeById(id);
    return ['width', 'height'].map(k => n.widgets.find(w => w.name === k).value); }"""


@pytest.fixture(scope="module")
def page(chromium, server, tiny_ckpt, tiny_gligen, gligen_xl):
    server.request("/settings/Comfy.TutorialCompleted", True)
    logs: list[str] = []
    page = open_page(chromium, server, logs)
    workflow = example_workflow(tiny_ckpt, tiny_gligen)
    load_workflow(page, workflow)
    page.logs = logs
    yield page
    assert not pack_errors(logs), pack_errors(logs)
    page.close()


def wait_size(page, node_id, size: int) -> None:
    page.wait_for_function(f"(id) => ({SIZE})(id).every(v => v === {size})", arg=node_id, timeout=10_000)


def test_a_new_node_follows_the_sdxl_adapter(page, gligen_xl):
    page.evaluate(PICK, ["gligen_name", gligen_xl])
    node_id = page.evaluate(ADD_BOXES)
    wait_size(page, node_id, 1024)
    status = page.evaluate("(id) => app.graph.getNodeById(id).gligenEditor.status.textContent", node_id)
    assert status.startswith("1024×1024"), status               # the editor shows the new canvas


def test_picking_sd1_gives_an_untouched_node_512_back(page, tiny_gligen, gligen_xl):
    page.evaluate(PICK, ["gligen_name", tiny_gligen])
    node_id = page.evaluate(ADD_BOXES)
    assert page.evaluate(SIZE, node_id) == [512, 512]
    page.evaluate(PICK, ["gligen_name", gligen_xl])
    wait_size(page, node_id, 1024)
    page.evaluate(PICK, ["gligen_name", tiny_gligen])
    wait_size(page, node_id, 512)


def test_a_node_the_user_resized_keeps_its_size(page, tiny_gligen, gligen_xl):
    page.evaluate(PICK, ["gligen_name", tiny_gligen])
    resized = page.evaluate(ADD_BOXES)
    untouched = page.evaluate(ADD_BOXES)                           # a witness: it does follow
    page.evaluate(SET_WIDGET, [resized, "width", 768])
    page.evaluate(PICK, ["gligen_name", gligen_xl])
    wait_size(page, untouched, 1024)
    assert page.evaluate(SIZE, resized) == [768, 512]
    page.evaluate(SET_WIDGET, [untouched, "height", 1152])         # resized after it followed: now the user's
    witness = page.evaluate(ADD_BOXES)
    wait_size(page, witness, 1024)
    page.evaluate(PICK, ["gligen_name", tiny_gligen])
    wait_size(page, witness, 512)                                  # the update has run
    assert page.evaluate(SIZE, untouched) == [1024, 1152] and page.evaluate(SIZE, resized) == [768, 512]
