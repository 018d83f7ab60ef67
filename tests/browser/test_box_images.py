"""A reference image attached to a box in the box editor travels in the queued prompt, and the backend
checks it against the images connected to GroundingBoxes."""
from __future__ import annotations

import time

from helpers.editor_page import Editor, boxes_of, example_workflow, load_workflow, open_page


def test_a_box_image_picked_in_the_editor_is_queued(chromium, server, tiny_ckpt, tiny_gligen):
    server.request("/settings/Comfy.TutorialCompleted", True)
    logs: list[str] = []
    page = open_page(chromium, server, logs)
    try:
        workflow = example_workflow(tiny_ckpt, tiny_gligen)
        for node in workflow["nodes"]:
            if node["type"] in ("EmptyLatentImage", "GLIGENGroundingBoxes"):
                node["widgets_values"][0:2] = [64, 64]
            elif node["type"] == "KSampler":
                node["widgets_values"][2] = 1
        load_workflow(page, workflow)
        ed = Editor(page)
        picker = page.locator(".gligen-box-editor .gbe-row input.gbe-image").nth(1)
        picker.fill("0")
        picker.dispatch_event("change")
        page.wait_for_timeout(100)
        assert [b.get("image") for b in ed.boxes] == [None, 0, None]
        assert ed.js("return ed.status.textContent;").startswith("64×64 · 3 boxes")   # the text is ready to queue
        ed.js("ed.render();")
        assert picker.input_value() == "0"                                      # the list shows it after a redraw

        page.evaluate("async () => { await app.queuePrompt(0, 1); }")
        node_id = str(page.evaluate("app.graph._nodes.find(n => n.type === 'GLIGENGroundingBoxes').id"))
        deadline, entry = time.time() + 240, None
        while time.time() < deadline and entry is None:
            _, history = server.request("/history")
            entry = next((e for e in history.values() if node_id in e["prompt"][2]
                          and "image" in e["prompt"][2][node_id]["inputs"]["boxes_json"]
                          and e.get("status", {}).get("status_str") in ("success", "error")), None)
            time.sleep(0.5)
        assert entry is not None, logs[-20:]
        queued = boxes_of(entry["prompt"][2][node_id]["inputs"]["boxes_json"])
        assert [b.get("image") for b in queued] == [None, 0, None]              # the prompt carries it
        errors = [m for m in entry["status"]["messages"] if m[0] == "execution_error"]
        assert errors and "box #2 ('a corgi') names reference image 0, but no images are connected" in \
            errors[0][1]["exception_message"]                                   # checked against 'images'
    finally:
        page.close()
