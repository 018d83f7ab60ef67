"""The editor never blocks: keyboard nudges and duplicates, reordering in the list, typed coordinates,
and the small-box notice, each checked on the node's JSON. Any native dialog fails the test."""
from __future__ import annotations

import json
import os

import pytest

from helpers.editor_page import Editor, boxes_of, load_workflow, open_page

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE = os.path.join(ROOT, "example_workflows", "gligen_text_to_image.json")
W, H = 512, 384
START = [{"phrase": "a red car", "box": [0.1, 0.1, 0.3, 0.4]}, {"phrase": "a corgi", "box": [0.5, 0.5, 0.9, 0.9]}]


@pytest.fixture(scope="module")
def session(chromium, server, tiny_ckpt, tiny_gligen):
    server.request("/settings/Comfy.TutorialCompleted", True)
    logs: list[str] = []
    dialogs: list[str] = []
    page = open_page(chromium, server, logs)
    page.on("dialog", lambda d: (dialogs.append(f"{d.type}: {d.message}"), d.dismiss()))
    workflow = json.load(open(EXAMPLE))
    for node in workflow["nodes"]:
        if node["type"] == "GLIGENGroundingBoxes":
            node["widgets_values"][0:2] = [W, H]
    load_workflow(page, workflow)
    yield {"page": page, "editor": Editor(page), "logs": logs, "dialogs": dialogs}
    page.close()


@pytest.fixture
def ed(session):
    """The editor with START's two boxes, nothing selected; no dialog may open during the test."""
    editor = session["editor"]
    editor.textarea().fill(json.dumps(START))
    editor.js("ed.selected = -1; ed.render();")
    yield editor
    assert session["dialogs"] == [], session["dialogs"]


def near(a, b, tol=1e-5):
    return len(a) == len(b) and all(abs(x - y) <= tol for x, y in zip(a, b))


def test_arrow_keys_nudge_the_selected_box_by_one_or_ten_pixels(ed, session):
    page = session["page"]
    ed.click((0.2, 0.2))                                           # select the car (the canvas takes focus)
    page.keyboard.press("ArrowRight")
    assert near(ed.boxes[0]["box"], [0.1 + 1 / W, 0.1, 0.3 + 1 / W, 0.4])
    page.keyboard.press("Shift+ArrowDown")
    assert near(ed.boxes[0]["box"], [0.1 + 1 / W, 0.1 + 10 / H, 0.3 + 1 / W, 0.4 + 10 / H])
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("Shift+ArrowUp")
    assert near(ed.boxes[0]["box"], START[0]["box"])
    assert ed.boxes[1] == START[1]                                 # the other box is untouched
    page.locator(".gligen-box-editor button[data-act=undo]").click()   # each nudge is one undo step
    assert near(ed.boxes[0]["box"], [0.1, 0.1 + 10 / H, 0.3, 0.4 + 10 / H])
    ed.click((0.2, 0.25))                                          # the canvas again has the keys
    for _ in range(40):                                            # stops at the canvas edge, keeps its size
        page.keyboard.press("Shift+ArrowLeft")
    box = ed.boxes[0]["box"]
    assert box[0] == 0 and abs((box[2] - box[0]) - 0.2) < 1e-5
    assert page.evaluate("app.graph._nodes.some(n => n.type === 'GLIGENGroundingBoxes')")


def test_ctrl_d_duplicates_the_selected_box_after_it(ed, session):
    page = session["page"]
    ed.click((0.7, 0.7))                                           # the corgi
    page.keyboard.press("Control+d")
    boxes = ed.boxes
    assert [b["phrase"] for b in boxes] == ["a red car", "a corgi", "a corgi"]
    assert near(boxes[2]["box"], [0.5 + 10 / W, 0.5 + 10 / H, 0.9 + 10 / W, 0.9 + 10 / H])
    assert ed.js("return ed.selected;") == 2                       # the copy is selected: arrows move it
    page.keyboard.press("ArrowLeft")
    assert near(ed.boxes[2]["box"], [0.5 + 9 / W, 0.5 + 10 / H, 0.9 + 9 / W, 0.9 + 10 / H])
    assert near(ed.boxes[1]["box"], START[1]["box"])
    page.locator(".gligen-box-editor button[data-act=undo]").click()
    page.locator(".gligen-box-editor button[data-act=undo]").click()
    assert ed.boxes == START


def test_list_buttons_reorder_the_boxes(ed, session):
    page = session["page"]
    rows = page.locator(".gligen-box-editor .gbe-row")
    rows.nth(0).locator("button[data-act=down]").click()
    assert ed.boxes == [START[1], START[0]]
    rows.nth(0).locator("button[data-act=up]").click()             # the first cannot go further up
    assert ed.boxes == [START[1], START[0]]
    rows.nth(1).locator("button[data-act=up]").click()
    assert ed.boxes == START
    assert [ed.phrase_input(i).input_value() for i in range(2)] == ["a red car", "a corgi"]


def test_typed_coordinates_set_the_selected_box(ed, session):
    page = session["page"]
    form = page.locator(".gligen-box-editor .gbe-coords-form")
    assert form.is_hidden()                                        # nothing selected
    ed.click((0.7, 0.7))
    assert form.is_visible()
    assert [form.locator(f"input[data-field={f}]").input_value() for f in ("x0", "y0", "x1", "y1")] == \
        ["256", "192", "460.8", "345.6"]
    x0 = form.locator("input[data-field=x0]")
    x0.fill("100")
    x0.press("Enter")
    assert near(ed.boxes[1]["box"], [100 / W, 0.5, 0.9, 0.9])
    x1 = form.locator("input[data-field=x1]")
    x1.fill("9999")                                                # off the canvas: named, nothing changes
    x1.press("Enter")
    assert near(ed.boxes[1]["box"], [100 / W, 0.5, 0.9, 0.9])
    notice = page.locator(".gligen-box-editor .gbe-notice")
    assert "Box 2 not changed: the box must lie on the 512×384 canvas" in notice.inner_text()
    x1.fill("50")                                                  # right of the left edge
    x1.press("Enter")
    assert "x1 must be more than x0" in notice.inner_text()
    assert near(ed.boxes[1]["box"], [100 / W, 0.5, 0.9, 0.9])
    assert ed.boxes[0] == START[0]


def test_small_box_is_kept_with_an_undoable_notice(ed, session):
    page = session["page"]
    ed.drag((0.02, 0.9), (0.07, 0.95))                            # 0.25% of the canvas
    assert len(ed.boxes) == 3
    notice = page.locator(".gligen-box-editor .gbe-notice")
    assert notice.is_visible() and "under 1%" in notice.inner_text()
    page.keyboard.type("a tiny bird")                              # the page did not stop: typing goes on
    assert ed.boxes[2]["phrase"] == "a tiny bird"
    notice.locator("button").click()
    assert boxes_of(ed.text) == START
    assert notice.is_hidden()
