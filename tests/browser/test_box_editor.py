"""The box editor in a real browser: headless Chromium, the real ComfyUI frontend that ComfyUI pins,
this pack installed as ComfyUI-Manager would. Every step checks the node's JSON widget, the editor's
only state; then the workflow is saved, the page reloaded, and the prompt queued to the backend."""
from __future__ import annotations

import json
import os

import pytest

from helpers.editor_page import (Editor, boxes_of, close, example_workflow, leftovers, load_workflow, open_page,
                                 pack_errors, reopen_saved)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE = os.path.join(ROOT, "example_workflows", "gligen_text_to_image.json")


@pytest.fixture(scope="module")
def session(chromium, server, tiny_ckpt, tiny_gligen):
    server.request("/settings/Comfy.TutorialCompleted", True)
    logs: list[str] = []
    page = open_page(chromium, server, logs)
    workflow = example_workflow(tiny_ckpt, tiny_gligen)
    for node in workflow["nodes"]:   # the tiny models the server has, and a small fast run
        if node["type"] in ("EmptyLatentImage", "GLIGENGroundingBoxes"):
            node["widgets_values"][0:2] = [64, 64] if node["type"] == "EmptyLatentImage" else [512, 384]
        elif node["type"] == "KSampler":
            node["widgets_values"][2] = 2
    load_workflow(page, workflow)
    yield {"page": page, "editor": Editor(page), "logs": logs, "server": server}
    page.close()


def test_draw_edit_delete_undo(session, artifacts):
    ed = session["editor"]
    page = session["page"]
    assert ed.js("return !!ed;"), session["logs"][-20:]
    assert len(ed.boxes) == 3                                      # the example's boxes are shown
    page.locator(".gligen-box-editor button[data-act=clear]").click()
    assert ed.boxes == []

    ed.drag((0.1, 0.1), (0.5, 0.6))                                # draw two boxes
    status = ed.js("return ed.status.textContent;")                # what queueing now would say
    assert status.startswith("Not ready to queue: box #1: the phrase is empty; name what goes in the box"), status
    page.keyboard.type("a red car")                                # the new box's phrase field has focus
    assert ed.js("return ed.status.textContent;").startswith("512×384 · 1 box · drag to draw")
    ed.drag((0.55, 0.3), (0.9, 0.9))
    page.keyboard.type("a corgi")
    boxes = ed.boxes
    assert [b["phrase"] for b in boxes] == ["a red car", "a corgi"]
    assert close(boxes[0]["box"], [0.1, 0.1, 0.5, 0.6]) and close(boxes[1]["box"], [0.55, 0.3, 0.9, 0.9])

    ed.drag((0.3, 0.35), (0.35, 0.45))                             # move the first box by (+0.05, +0.10)
    moved = ed.boxes[0]["box"]
    assert close(moved, [0.15, 0.2, 0.55, 0.7])
    assert close(ed.boxes[1]["box"], [0.55, 0.3, 0.9, 0.9])

    ed.click((0.7, 0.6))                                           # select the corgi, resize from its corner
    ed.drag((0.9, 0.9), (0.95, 0.8))
    resized = ed.boxes[1]["box"]
    assert close(resized, [0.55, 0.3, 0.95, 0.8])

    before_delete = ed.text
    ed.click((0.3, 0.3))                                           # select the car and delete it
    page.keyboard.press("Delete")
    assert [b["phrase"] for b in ed.boxes] == ["a corgi"]
    assert page.evaluate("app.graph._nodes.some(n => n.type === 'GLIGENGroundingBoxes')")   # node not deleted

    page.locator(".gligen-box-editor button[data-act=undo]").click()
    assert ed.text == before_delete
    page.locator(".gligen-box-editor button[data-act=undo]").click()   # and the resize before it
    assert close(ed.boxes[1]["box"], [0.55, 0.3, 0.9, 0.9])
    ed.click((0.98, 0.03))                                         # a click on empty canvas is not a box
    assert len(ed.boxes) == 2
    page.locator(".gligen-box-editor").screenshot(path=os.path.join(artifacts, "box_editor.png"))
    page.screenshot(path=os.path.join(artifacts, "box_editor_page.png"))


def test_comfyui_undo_covers_box_edits(session):
    """Ctrl+Z belongs to ComfyUI (its undo records the widget's text); it restores the box before an edit."""
    ed = session["editor"]
    page = session["page"]
    before = ed.text
    ed.drag((0.3, 0.3), (0.32, 0.33))                              # nudge the car
    assert ed.text != before
    ed.click((0.98, 0.03))
    page.keyboard.press("Control+z")
    page.wait_for_function("(t) => app.graph._nodes.find(n => n.type === 'GLIGENGroundingBoxes')"
                           ".widgets.find(w => w.name === 'boxes_json').value === t", arg=before, timeout=5000)
    assert ed.js("return ed.state.boxes.length;") == 2 and ed.text == before


def test_small_box_is_kept_and_undone_from_its_notice(session):
    ed = session["editor"]
    page = session["page"]
    n = len(ed.boxes)
    dialogs = []

    def on_dialog(d):
        dialogs.append(d.message)
        d.dismiss()
    page.on("dialog", on_dialog)
    ed.drag((0.02, 0.9), (0.07, 0.95))                            # 0.25% of the canvas: kept, with a notice
    assert len(ed.boxes) == n + 1
    page.keyboard.type("a tiny bird")
    page.locator(".gligen-box-editor .gbe-notice button").click()  # the notice's Undo takes it back
    assert len(ed.boxes) == n
    page.remove_listener("dialog", on_dialog)
    assert dialogs == []


def test_hand_edited_json_stays_in_step(session):
    ed = session["editor"]
    textarea = ed.textarea()
    good = ed.text
    textarea.fill(good.replace("a corgi", "a sleepy corgi"))       # valid hand edit: list and canvas follow
    assert ed.js("return ed.state.boxes.map(b => b.phrase);") == ["a red car", "a sleepy corgi"]
    assert ed.phrase_input(1).input_value() == "a sleepy corgi"
    broken = '[{"phrase": "a red car", "box": [0.1, 0.1, 0.5'
    textarea.fill(broken)                                          # malformed: inline error, nothing lost
    assert ed.text == broken
    assert "JSON error" in ed.js("return ed.status.textContent;")
    assert ed.js("return ed.state.boxes.length;") == 2             # the canvas keeps the last valid boxes
    ed.drag((0.05, 0.05), (0.2, 0.2))                              # canvas editing waits for valid JSON
    assert ed.text == broken
    textarea.fill(good)
    assert "JSON error" not in ed.js("return ed.status.textContent;") and ed.text == good


# app.queuePrompt (what the Queue button calls) returns no prompt id: read it from the /prompt response.
QUEUE_AND_GET_ID = """async () => {
    const real = window.fetch;
    let id = null;
    window.fetch = async (...args) => {
        const res = await real(...args);
        const url = String(args[0]?.url ?? args[0]);
        if (/\\/prompt$/.test(url) && (args[1]?.method ?? 'GET') === 'POST' && res.ok) id = (await res.clone().json()).prompt_id;
        return res;
    };
    try { await app.queuePrompt(0, 1); } finally { window.fetch = real; }
    return id; }"""


def test_saved_workflow_reloads_identical_and_backend_receives_the_boxes(session, chromium):
    page, ed, server = session["page"], session["editor"], session["server"]
    expected = ed.text
    logs: list[str] = []
    fresh = reopen_saved(page, chromium, server, "gligen_editor_test.json", logs)   # a new page: nothing in memory
    try:
        again = Editor(fresh)
        assert again.text == expected
        assert again.js("return ed.state.boxes.map(b => b.phrase);") == [b["phrase"] for b in boxes_of(expected)]
        assert [again.phrase_input(i).input_value() for i in range(2)] == [b["phrase"] for b in boxes_of(expected)]

        prompt_id = fresh.evaluate(QUEUE_AND_GET_ID)               # the Queue button's path, this prompt's id
        assert prompt_id, logs[-20:]
        node_id = str(fresh.evaluate("app.graph._nodes.find(n => n.type === 'GLIGENGroundingBoxes').id"))
        entry = server.wait(prompt_id, timeout=240)                # its own history entry, whatever ran before
        assert entry["status"]["status_str"] == "success", (entry["status"], logs[-20:])
        received = entry["outputs"][node_id]["boxes"][0]
        got = boxes_of(received)
        want = boxes_of(expected)
        assert [b["phrase"] for b in got] == [b["phrase"] for b in want]
        assert all(close(g["box"], w["box"], 1e-9) for g, w in zip(got, want))
    finally:
        fresh.close()


def test_uploaded_and_run_backgrounds(session, tmp_path):
    page, ed = session["page"], session["editor"]
    from PIL import Image
    image = tmp_path / "street.png"
    Image.new("RGB", (64, 48), (200, 40, 40)).save(image)
    boxes_before = ed.boxes
    with page.expect_file_chooser() as chooser:
        page.locator(".gligen-box-editor button[data-act=image]").click()
    chooser.value.set_files(str(image))
    page.wait_for_function("() => { const n = app.graph._nodes.find(n => n.type === 'GLIGENGroundingBoxes');"
                           " return n.widgets.find(w => w.name === 'boxes_json').value.includes('background'); }")
    data = json.loads(ed.text)
    assert data["boxes"] == boxes_before and data["background"]["filename"].startswith("street")
    page.wait_for_function("() => Object.values(app.graph._nodes.find(n => n.type === 'GLIGENGroundingBoxes')"
                           ".gligenEditor.images).some(i => i.complete && i.naturalWidth === 64)", timeout=10_000)
    page.locator(".gligen-box-editor button[data-act=noimage]").click()
    assert boxes_of(ed.text) == boxes_before and "background" not in ed.text

    # an IMAGE connected to the node: after a run, the editor shows that image behind the boxes
    node_id = page.evaluate("""() => {
        const boxes = app.graph._nodes.find(n => n.type === 'GLIGENGroundingBoxes');
        const img = LiteGraph.createNode('EmptyImage'); img.pos = [boxes.pos[0] - 260, boxes.pos[1]];
        app.graph.add(img); img.connect(0, boxes, boxes.inputs.findIndex(i => i.name === 'background'));
        return boxes.id; }""")
    page.evaluate("async () => { await app.queuePrompt(0, 1); }")
    page.wait_for_function("() => !!app.graph._nodes.find(n => n.type === 'GLIGENGroundingBoxes').gligenEditor.runBackground",
                           timeout=240_000)
    assert node_id is not None


def open_in_vue_renderer(chromium, server):
    """The example workflow in frontend 1.27.10's Vue node renderer (switched back off by the caller)."""
    server.request("/settings/Comfy.VueNodes.Enabled", True)
    page = open_page(chromium, server, [])
    assert page.evaluate("LiteGraph.vueNodesMode") is True
    load_workflow(page, json.load(open(EXAMPLE)))
    return page


def test_newer_node_renderer_opens_the_editor_in_a_panel(chromium, server, session):
    """Frontend 1.27.10's Vue node renderer does not mount custom DOM widgets in nodes: selecting a
    GroundingBoxes node opens its editor in a floating panel, which edits the same JSON widget."""
    page = open_in_vue_renderer(chromium, server)
    try:
        ed = Editor(page)
        assert page.locator(".gligen-box-editor").count() == 0 or not page.locator(".gligen-box-editor").first.is_visible()
        page.evaluate("() => app.canvas.selectNode(app.graph._nodes.find(n => n.type === 'GLIGENGroundingBoxes'))")
        page.wait_for_selector(".gligen-box-panel .gligen-box-editor canvas", state="visible", timeout=10_000)
        page.locator(".gligen-box-panel button[data-act=clear]").click()
        assert ed.boxes == []
        ed.drag((0.2, 0.2), (0.6, 0.7))
        page.keyboard.type("a lighthouse")
        boxes = ed.boxes
        assert [b["phrase"] for b in boxes] == ["a lighthouse"] and close(boxes[0]["box"], [0.2, 0.2, 0.6, 0.7])
        page.evaluate("() => app.canvas.deselectAll()")
        page.wait_for_selector(".gligen-box-panel", state="hidden", timeout=5_000)
    finally:
        server.request("/settings/Comfy.VueNodes.Enabled", False)
        page.close()


# ---- lifecycle: configure and remove -------------------------------------------------------------

NODE = "app.graph._nodes.find(n => n.type === 'GLIGENGroundingBoxes')"


def example_with_boxes(text: str) -> dict:
    workflow = json.load(open(EXAMPLE))
    for node in workflow["nodes"]:
        if node["type"] == "GLIGENGroundingBoxes":
            node["widgets_values"][2] = text
    return workflow


def fresh_page(chromium, server, workflow: dict | None = None):
    logs: list[str] = []
    page = open_page(chromium, server, logs)
    load_workflow(page, workflow or json.load(open(EXAMPLE)))
    return page, Editor(page), logs


def test_removing_the_node_disconnects_the_editor(chromium, server, session):
    page, ed, logs = fresh_page(chromium, server)
    try:
        assert ed.js("return ed.state.boxes.length;") == 3
        assert leftovers(page) == {"observed": 1, "listeners": 0}     # the editor watches its stage's size
        page.evaluate(f"() => {{ window.removed = {NODE}; app.graph.remove(window.removed); }}")
        assert page.evaluate(f"() => !{NODE}")
        assert leftovers(page) == {"observed": 0, "listeners": 0}
        # the removed node's widgets no longer drive its editor, and nothing fails
        page.evaluate("() => { const w = window.removed.widgets.find(w => w.name === 'boxes_json');"
                      " w.value = '[]'; w.callback?.(w.value); }")
        assert page.evaluate("window.removed.gligenEditor.state.boxes.length") == 3
        page.evaluate("async () => { await app.loadGraphData(app.graph.serialize()); }")   # the graph is cleared
        assert leftovers(page) == {"observed": 0, "listeners": 0}
        assert not pack_errors(logs), pack_errors(logs)
    finally:
        page.close()


def test_configure_restores_the_editor_from_the_saved_text(chromium, server, session):
    broken = '[{"phrase": "a cat", "box": [0.1'
    page, ed, logs = fresh_page(chromium, server, example_with_boxes(broken))
    try:
        # a workflow saved with broken text: the error, and no boxes (not those of the node's default text)
        assert ed.text == broken
        assert "JSON error" in ed.js("return ed.status.textContent;")
        assert ed.js("return ed.state.boxes.length;") == 0
        assert page.locator(".gligen-box-editor .gbe-row").count() == 0

        load_workflow(page, json.load(open(EXAMPLE)))
        ed.drag((0.05, 0.05), (0.25, 0.3))                         # an edit the editor's Undo could take back
        assert len(ed.boxes) == 4
        other = '[{"phrase": "a lighthouse", "box": [0.2, 0.2, 0.6, 0.7]}]'
        page.evaluate(f"""(text) => {{ const node = {NODE}; const info = node.serialize();
            info.widgets_values[2] = text; node.configure(info); }}""", other)
        assert ed.js("return ed.state.boxes.map(b => b.phrase);") == ["a lighthouse"]
        assert ed.js("return ed.status.textContent;").startswith("512×512 · 1 box")
        page.locator(".gligen-box-editor button[data-act=undo]").click()
        assert ed.text == other                                   # nothing from before the configure to undo
        assert leftovers(page)["observed"] == 1
    finally:
        page.close()


def test_comfyui_undo_and_redo_rebuild_the_editor(chromium, server, session):
    page, ed, logs = fresh_page(chromium, server)
    try:
        before = ed.text
        ed.drag((0.05, 0.05), (0.25, 0.3))
        after = ed.text
        assert len(boxes_of(after)) == 4
        ed.click((0.98, 0.03))                                     # focus the canvas, select nothing
        page.evaluate(f"() => {{ window.first = {NODE}; }}")
        page.keyboard.press("Control+z")
        page.wait_for_function(f"(t) => {NODE}.widgets.find(w => w.name === 'boxes_json').value === t",
                               arg=before, timeout=5000)
        assert page.evaluate(f"() => {NODE} !== window.first")      # ComfyUI's undo builds a new node
        assert ed.js("return ed.state.boxes.length;") == 3
        assert leftovers(page)["observed"] == 1                    # the old node's editor let go
        page.keyboard.press("Control+y")
        page.wait_for_function(f"(t) => {NODE}.widgets.find(w => w.name === 'boxes_json').value === t",
                               arg=after, timeout=5000)
        assert ed.js("return ed.state.boxes.length;") == 4
        assert leftovers(page)["observed"] == 1
    finally:
        page.close()


def test_removing_the_node_removes_the_floating_panel(chromium, server, session):
    page = open_in_vue_renderer(chromium, server)
    try:
        page.evaluate(f"() => app.canvas.selectNode({NODE})")
        page.wait_for_selector(".gligen-box-panel .gligen-box-editor canvas", state="visible", timeout=10_000)
        assert leftovers(page) == {"observed": 1, "listeners": 0}
        page.evaluate(f"() => app.graph.remove({NODE})")
        assert page.locator(".gligen-box-panel").count() == 0
        assert leftovers(page) == {"observed": 0, "listeners": 0}
        load_workflow(page, json.load(open(EXAMPLE)))              # a new node opens a new panel
        page.evaluate(f"() => app.canvas.selectNode({NODE})")
        page.wait_for_selector(".gligen-box-panel .gligen-box-editor canvas", state="visible", timeout=10_000)
        assert page.locator(".gligen-box-panel").count() == 1
    finally:
        server.request("/settings/Comfy.VueNodes.Enabled", False)
        page.close()
