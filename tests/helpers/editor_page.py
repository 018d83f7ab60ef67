"""Driving the box editor in a real page: open the frontend, load a workflow, act like a user on the
GroundingBoxes node and read its JSON widget. Every page also counts what the editor leaves behind: the
observers watching its elements, and the listeners its modules put on window and document."""
from __future__ import annotations

import json
import os
import urllib.parse

EXAMPLE = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                       "example_workflows", "gligen_text_to_image.json")
TOL = 0.012   # normalised units: a pixel or two of the on-screen canvas

# Installed before the frontend loads. Counts what the pack's modules (told apart by their URLs on the
# stack, the caller's frame) keep alive: elements their ResizeObservers and MutationObservers still watch, and listeners
# they added to window or document and did not remove.
TRACKING = r"""(() => {
  // the first frame with a URL is the caller (this script has none): one of the pack's modules?
  const fromPack = () => /box_editor\/|gligen_box_editor\.js/.test(
    (new Error().stack || '').split('\n').find((line) => line.includes('http')) || '');
  const live = new Map();
  const track = (Base) => class extends Base {
    constructor(callback) { super(callback); this.fromPack = fromPack(); }
    observe(target, options) {
      if (this.fromPack) {
        if (!live.has(this)) live.set(this, new Set());
        live.get(this).add(target);
      }
      return super.observe(target, options);
    }
    unobserve(target) { live.get(this)?.delete(target); return super.unobserve(target); }
    disconnect() { live.delete(this); return super.disconnect(); }
  };
  window.ResizeObserver = track(window.ResizeObserver);
  window.MutationObserver = track(window.MutationObserver);
  window.__gligenObserved = () => [...live.values()].reduce((n, set) => n + set.size, 0);
  const listeners = [];
  for (const target of [window, document]) {
    const add = target.addEventListener, remove = target.removeEventListener;
    target.addEventListener = function (type, fn, options) {
      if (fromPack()) listeners.push([this, type, fn, !!(options?.capture ?? options)]);
      return add.call(this, type, fn, options);
    };
    target.removeEventListener = function (type, fn, options) {
      const capture = !!(options?.capture ?? options);
      const i = listeners.findIndex(([t, ty, f, c]) => t === this && ty === type && f === fn && c === capture);
      if (i >= 0) listeners.splice(i, 1);
      return remove.call(this, type, fn, options);
    };
  }
  window.__gligenListeners = () => listeners.length;
})();"""


def boxes_of(text: str) -> list:
    data = json.loads(text)
    return data["boxes"] if isinstance(data, dict) else data


def close(a, b, tol=TOL):
    return all(abs(x - y) <= tol for x, y in zip(a, b))


class Editor:
    """Drives the GroundingBoxes node of the page like a user, and reads its JSON widget."""

    def __init__(self, page):
        self.page = page

    def js(self, body: str, arg=None):
        return self.page.evaluate(
            "(arg) => { const node = app.graph._nodes.find(n => n.type === 'GLIGENGroundingBoxes');"
            " const ed = node.gligenEditor; " + body + " }", arg)

    @property
    def text(self) -> str:
        return self.js("return node.widgets.find(w => w.name === 'boxes_json').value;")

    @property
    def boxes(self) -> list:
        return boxes_of(self.text)

    def rect(self) -> dict:
        return self.js("return ed.canvas.getBoundingClientRect().toJSON();")

    def point(self, nx: float, ny: float) -> tuple[float, float]:
        r = self.rect()
        return r["x"] + nx * r["width"], r["y"] + ny * r["height"]

    def drag(self, start, end):
        m = self.page.mouse
        m.move(*self.point(*start))
        m.down()
        m.move(*self.point(*end), steps=6)
        m.up()
        self.page.wait_for_timeout(50)

    def click(self, at):
        m = self.page.mouse
        m.move(*self.point(*at))
        m.down()
        m.up()

    def phrase_input(self, i: int):
        return self.page.locator(".gligen-box-editor .gbe-row input.gbe-phrase").nth(i)

    def textarea(self):
        """The boxes_json widget's own text field, as a user would type in it."""
        return self.page.evaluate_handle(
            "() => app.graph._nodes.find(n => n.type === 'GLIGENGroundingBoxes')"
            ".widgets.find(w => w.name === 'boxes_json').inputEl").as_element()


def open_page(chromium, server, logs):
    page = chromium.new_page(viewport={"width": 1500, "height": 1100})
    page.on("console", lambda m: logs.append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: logs.append(f"pageerror: {e}\n{e.stack}"))
    page.add_init_script(TRACKING)
    page.goto(server.url)
    page.wait_for_function("window.app && window.app.graph && window.app.extensions &&"
                           " window.app.extensions.some(e => e.name === 'gligen_grounding.BoxEditor')", timeout=90_000)
    return page


def example_workflow(tiny_ckpt: str, tiny_gligen: str) -> dict:
    """The pack's example UI workflow with its loaders on the test server's tiny models."""
    with open(EXAMPLE) as f:
        workflow = json.load(f)
    for node in workflow["nodes"]:
        if node["type"] == "CheckpointLoaderSimple":
            node["widgets_values"][0] = tiny_ckpt
        elif node["type"] == "GLIGENAdapterLoader":
            node["widgets_values"][0] = tiny_gligen
    return workflow


def load_workflow(page, workflow):
    page.evaluate("async (wf) => { await app.loadGraphData(wf); }", workflow)
    page.evaluate("""() => {   // bring the GroundingBoxes node into view at 100%
        const node = app.graph._nodes.find(n => n.type === 'GLIGENGroundingBoxes');
        app.canvas.ds.scale = 1; app.canvas.ds.offset = [-node.pos[0] + 20, -node.pos[1] + 40];
        app.canvas.setDirty(true, true); }""")
    page.wait_for_timeout(400)


def reopen_saved(page, chromium, server, filename: str, logs: list[str]):
    """Save the page's workflow as the user's ``workflows/<filename>`` and load it in a new page (nothing
    in memory); the new page, which the caller closes."""
    name = urllib.parse.quote(f"workflows/{filename}", safe="")
    status, _ = server.request(f"/userdata/{name}?overwrite=true", page.evaluate("() => app.graph.serialize()"))
    assert status == 200
    fresh = open_page(chromium, server, logs)
    try:
        status, saved = server.request(f"/userdata/{name}")
        assert status == 200
        load_workflow(fresh, saved)
    except BaseException:
        fresh.close()
        raise
    return fresh


def leftovers(page) -> dict:
    """What the box editors of the page keep alive: observed elements, window/document listeners."""
    return page.evaluate("() => ({observed: window.__gligenObserved(), listeners: window.__gligenListeners()})")


def pack_errors(logs: list[str]) -> list[str]:
    """Uncaught errors in the page whose stack passes through the pack's modules (the frontend logs a
    few of its own while it starts)."""
    return [line for line in logs if line.startswith("pageerror") and ("box_editor" in line)]
