"""Keyframes in the box editor: its reading of keyframed JSON (web/js/box_editor/keyframes.js) against the
backend's (gligen_core/keyframes.py), frame by frame; and a user setting a box at two frames with the
slider, saving, reloading and queueing: the backend receives the interpolated box for a middle frame."""
from __future__ import annotations

import json
import os
import time

import pytest

from gligen_pack.gligen_core import BoxesError, parse_boxes
from gligen_pack.gligen_core.keyframes import AnimatedLayout
from helpers.editor_page import (Editor, boxes_of, close, example_workflow, load_workflow, open_page, pack_errors,
                                 reopen_saved)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE = os.path.join(ROOT, "example_workflows", "gligen_text_to_image.json")
A, B = [0.0, 0.2, 0.4, 0.6], [0.4, 0.0, 1.0, 0.8]
FRAMES = 12

TEXTS = [json.dumps(t) for t in [
    {"frames": 8, "boxes": [{"phrase": "a dog", "keyframes": [{"frame": 1, "box": A}, {"frame": 6, "box": B}]}]},
    [{"phrase": " a dog ", "keyframes": [{"frame": 0, "box_px": [0, 0, 30, 20]}, {"frame": 9, "box": B}],
      "ease": "ease_in_out", "appear": 2, "leave": 8, "id": "b1", "color": "#fff"},
     {"phrase": "a cat", "box": A}],
    *[[{"phrase": "a dog", "ease": e, "keyframes": [{"frame": 3, "box": A}, {"frame": 0, "box": B},
                                                    {"frame": 7, "box": A}]}]
      for e in ("linear", "ease_in", "ease_out", "ease_in_out")],
    [{"phrase": "a", "box": A, "appear": 3}, {"phrase": "b", "box": B, "leave": 4}],
    {"frames": 0, "boxes": []}, {"frames": 2.0, "boxes": []}, {"frames": True, "boxes": []},
    [{"phrase": "a", "keyframes": []}], [{"phrase": "a", "keyframes": {"0": A}}],
    [{"phrase": "a", "keyframes": [{"frame": 1, "box": A}, {"frame": 1, "box": B}]}],
    [{"phrase": "a", "keyframes": [{"frame": 1.0, "box": A}]}], [{"phrase": "a", "keyframes": [{"frame": -1, "box": A}]}],
    [{"phrase": "a", "keyframes": [{"frame": 100001, "box": A}]}], [{"phrase": "a", "keyframes": [{"box": A}]}],
    [{"phrase": "a", "keyframes": [[0, A]]}], [{"phrase": "a", "keyframes": [{"frame": 0, "box": A, "x": 1, "e": 2}]}],
    [{"phrase": "a", "keyframes": [{"frame": 2, "box": [0, 0, 1.5, 1]}]}],
    [{"phrase": "a", "keyframes": [{"frame": 2, "box_px": [0, 0, 101, 10]}]}],
    [{"phrase": "a", "keyframes": [{"frame": 2}]}], [{"phrase": "a", "keyframes": [{"frame": 2, "box": A, "box_px": A}]}],
    [{"phrase": "a", "box": A, "keyframes": [{"frame": 2, "box": A}]}],
    [{"phrase": "a", "box_px": A, "keyframes": [{"frame": 2, "box": A}]}],
    [{"phrase": "a", "box": A, "appear": 3, "leave": 3}], [{"phrase": "a", "box": A, "appear": None}],
    [{"phrase": "a", "box": A, "leave": None}], [{"phrase": "a", "box": A, "leave": 0}],
    [{"phrase": "a", "box": A, "ease": "bounce"}], [{"phrase": "a", "box": A, "ease": ["linear"]}],
    [{"phrase": " ", "box": A, "appear": 1}], [{"phrase": 3, "box": A, "appear": 1}],
    [{"phrase": "a", "bbox": A, "appear": 1}], [{"phrase": "a", "appear": 1}],
    [{"phrase": "ok", "box": A}, 7, {"phrase": "a", "box": A, "appear": 1}],
    [{"phrase": f"p{i}", "box": A, "appear": 1} for i in range(31)],
]] + ['[{"phrase": "a", "box": [0, 0, 1, 1], "appear": 1, "appear": 2}]',
      '[{"phrase": "a", "keyframes": [{"frame": 0, "frame": 1, "box": [0, 0, 1, 1]}]}]']

RUN = """async ([url, payload, frames]) => {
  const { BoxesError, parseBoxes } = await import(url);
  const { boxAtFrame } = await import(url.replace('state.js', 'keyframes.js'));
  return JSON.parse(payload).map(([text, width, height]) => {
    try {
      const r = parseBoxes(text, width, height);
      const at = (f) => r.boxes.map((b) => [b.phrase, boxAtFrame(b, f)]).filter(([, box]) => box !== null);
      return { frames: [...Array(frames).keys()].map(at) };
    } catch (e) {
      if (!(e instanceof BoxesError)) throw e;
      return { error: e.message };
    }
  });
}"""


def python_outcome(text: str, width: int, height: int) -> dict:
    try:
        layout = parse_boxes(text, width, height)
    except BoxesError as e:
        return {"error": str(e)}
    at = (lambda f: layout.at(f).boxes) if isinstance(layout, AnimatedLayout) else (lambda f: layout.boxes)
    return {"frames": [[[b.phrase, list(b.box)] for b in at(f)] for f in range(FRAMES)]}


@pytest.fixture(scope="module")
def state_url(server) -> str:
    status, urls = server.request("/extensions")
    assert status == 200
    return server.url.rstrip("/") + next(u for u in urls if u.endswith("/js/box_editor/state.js"))


def test_the_editor_reads_keyframes_as_the_backend_does_frame_by_frame(chromium, server, state_url):
    logs: list[str] = []
    page = open_page(chromium, server, logs)
    try:
        cases = [[t, 100, 50] for t in TEXTS]
        got = page.evaluate(RUN, [state_url, json.dumps(cases), FRAMES])
    finally:
        page.close()
    assert not pack_errors(logs), pack_errors(logs)
    errors = 0
    for (text, w, h), js in zip(cases, got):
        py = python_outcome(text, w, h)
        errors += "error" in py
        assert js == py, text
    assert 10 < errors < len(cases) - 5                            # both kinds of case were checked


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
    yield {"page": page, "editor": Editor(page), "logs": logs}
    page.close()


def to_frame(page, frame: int) -> None:
    page.evaluate("(f) => { const r = document.querySelector('.gligen-box-editor .gbe-frame'); r.value = String(f);"
                  " r.dispatchEvent(new Event('input', {bubbles: true})); }", frame)


def test_two_keyframes_set_with_the_slider_reach_the_backend_interpolated(session, chromium, server):
    page, ed = session["page"], session["editor"]
    count = page.locator(".gligen-box-editor .gbe-frame-count")
    count.fill("16")
    count.dispatch_event("change")
    assert json.loads(ed.text)["frames"] == 16
    car = ed.boxes[0]["box"]                                       # the example's first box, still
    to_frame(page, 0)
    ed.drag((0.2, 0.8), (0.25, 0.75))                              # at frame 0: move it by (+0.05, -0.05)
    first = [car[0] + 0.05, car[1] - 0.05, car[2] + 0.05, car[3] - 0.05]
    to_frame(page, 15)
    assert ed.js("return ed.status.textContent;").endswith("drag to draw")
    ed.drag((0.3, 0.7), (0.25, 0.4))                               # at frame 15: by (-0.05, -0.30)
    last = [first[0] - 0.05, first[1] - 0.3, first[2] - 0.05, first[3] - 0.3]
    entry = ed.boxes[0]
    assert [k["frame"] for k in entry["keyframes"]] == [0, 15] and "box" not in entry
    assert close(entry["keyframes"][0]["box"], first) and close(entry["keyframes"][1]["box"], last)
    assert all("box" in b and "keyframes" not in b for b in ed.boxes[1:])  # the other boxes stay still
    expected = ed.text

    logs: list[str] = []
    fresh = reopen_saved(page, chromium, server, "gligen_keyframes_test.json", logs)   # a new page: nothing in memory
    try:
        again = Editor(fresh)
        assert again.text == expected
        to_frame(fresh, 7)
        shown = again.js("return ed.shown(0);")                    # the editor shows frame 7 interpolated
        saved_first, saved_last = (k["box"] for k in boxes_of(expected)[0]["keyframes"])
        middle = [a + (b - a) * 7 / 15 for a, b in zip(saved_first, saved_last)]
        assert close(shown, middle, 1e-12)

        status, history = server.request("/history")
        before = set(history)
        fresh.evaluate("async () => { await app.queuePrompt(0, 1); }")
        node_id = str(fresh.evaluate("app.graph._nodes.find(n => n.type === 'GLIGENGroundingBoxes').id"))
        deadline = time.time() + 240
        received = None
        while time.time() < deadline and received is None:
            status, history = server.request("/history")
            for key, entry in history.items():
                out = entry.get("outputs", {}).get(node_id, {}) if key not in before else {}
                if "boxes" in out and entry.get("status", {}).get("completed"):
                    received = out["boxes"]
            time.sleep(0.5)
        assert received is not None, logs[-20:]
        assert len(received) == 16                                 # one layout per frame, as the backend reads it
        frame7 = boxes_of(received[7])
        assert frame7[0]["phrase"] == boxes_of(expected)[0]["phrase"]
        assert close(frame7[0]["box"], middle, 1e-9)
        assert close(boxes_of(received[0])[0]["box"], saved_first, 1e-9)
        assert close(boxes_of(received[15])[0]["box"], saved_last, 1e-9)
    finally:
        fresh.close()
    assert not pack_errors(session["logs"]) and not pack_errors(logs)
