"""The box editor's parser (web/js/box_editor/state.js, as the frontend serves it) against the backend's
(gligen_core.boxes.parse_boxes): the shared case list and many generated texts, each through both; they
must keep the same boxes, or refuse with the same message. And the pack's modules, which the frontend
imports one by one, must do nothing when imported on their own."""
from __future__ import annotations

import json
import sys

import pytest

from gligen_pack.gligen_core import parse_boxes
from helpers.box_texts import generated, load_cases, outcome
from helpers.editor_page import open_page, pack_errors

SYNTAX = "the boxes are not valid JSON ("

# Runs every [text, width, height] through parseBoxes and readState. Texts travel as ASCII JSON both ways,
# so lone surrogates survive.
RUN = """async ([url, payload]) => {
  const { BoxesError, parseBoxes, readState } = await import(url);
  const ascii = (v) => JSON.stringify(v).replace(/[\\u007f-\\uffff]/g,
      (c) => '\\\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
  const results = JSON.parse(payload).map(([text, width, height]) => {
    let parsed, draft;
    try {
      const r = parseBoxes(text, width, height);
      parsed = { boxes: r.boxes.map((b) => (b.image === undefined ? [b.phrase, b.box] : [b.phrase, b.box, b.image])), dropped: r.dropped.map((b) => b.phrase) };
    } catch (e) {
      if (!(e instanceof BoxesError)) throw e;
      parsed = { error: e.message };
    }
    try {
      draft = { boxes: readState(text, width, height).boxes.length };
    } catch (e) {
      if (!(e instanceof BoxesError)) throw e;
      draft = { error: e.message };
    }
    return [parsed, draft];
  });
  return ascii(results);
}"""


@pytest.fixture(scope="module")
def page(chromium, server):
    logs: list[str] = []
    page = open_page(chromium, server, logs)
    yield page
    assert not pack_errors(logs), pack_errors(logs)
    page.close()


@pytest.fixture(scope="module")
def pack_urls(server) -> list[str]:
    status, urls = server.request("/extensions")
    assert status == 200
    return [u for u in urls if "/js/box_editor/" in u or u.endswith("/js/gligen_box_editor.js")]


def run_in_browser(page, pack_urls, cases: list[tuple]) -> list:
    url = next(u for u in pack_urls if u.endswith("/box_editor/state.js"))
    return json.loads(page.evaluate(RUN, [url, json.dumps([list(c) for c in cases])]))


def same_message(py: str, js: str) -> bool:
    if py.startswith(SYNTAX) and sys.version_info >= (3, 13):   # the editor words JSON errors as 3.11/3.12 do
        return js.startswith(SYNTAX)
    return py == js


def disagreements(cases, results) -> list[str]:
    out = []
    for (text, width, height), (js, draft) in zip(cases, results):
        py = outcome(parse_boxes, text, width, height)
        if "error" in py:
            agree = "error" in js and same_message(py["error"], js["error"])
        else:
            agree = js == py
        # the editor's own reading refuses the same, but lets a box wait for its phrase
        if "boxes" in py:
            draft_ok = draft == {"boxes": len(py["boxes"]) + len(py["dropped"])}
        elif "the phrase is empty" in py["error"]:
            draft_ok = "the phrase is empty" not in draft.get("error", "")
        else:
            draft_ok = draft.get("error") == js.get("error")
        if not (agree and draft_ok):
            out.append(f"{text!r:.300} {width}x{height}\n  backend: {py}\n  editor:  {js}\n  editor's reading: {draft}")
    return out


def test_the_editor_parses_the_shared_cases_as_the_backend_does(page, pack_urls):
    cases = load_cases()
    texts = [(c["text"], c["width"], c["height"]) for c in cases]
    results = run_in_browser(page, pack_urls, texts)
    assert not disagreements(texts, results), "\n".join(disagreements(texts, results))
    for case, (js, _) in zip(cases, results):     # and each as the case list says
        if "error" in case:
            assert case["error"] in js.get("error", ""), (case["name"], js)
        else:
            assert js == {"boxes": case["boxes"], "dropped": case.get("dropped", [])}, (case["name"], js)


def test_the_editor_parses_generated_texts_as_the_backend_does(page, pack_urls):
    texts = generated(3000)
    results = run_in_browser(page, pack_urls, texts)
    accepted = sum("boxes" in js for js, _ in results)
    assert 300 < accepted < 2700                   # both outcomes are well represented
    bad = disagreements(texts, results)
    assert not bad, f"{len(bad)} of {len(texts)} differ:\n" + "\n".join(bad[:10])


def test_pack_modules_do_nothing_when_imported_alone(page, pack_urls):
    helpers = [u for u in pack_urls if "/js/box_editor/" in u]
    assert {u.rsplit("/", 1)[1] for u in helpers} >= {"state.js", "pyjson.js", "canvas.js", "draw.js", "panel.js",
                                                         "style.js"}
    assert sum(u.endswith("/js/gligen_box_editor.js") for u in pack_urls) == 1
    assert page.evaluate("app.extensions.filter(e => e.name === 'gligen_grounding.BoxEditor').length") == 1
    found = page.evaluate("""async (urls) => {
        const snapshot = () => [app.extensions.length, document.head.childElementCount, document.body.childElementCount,
                                document.querySelectorAll('.gligen-box-editor, .gligen-box-panel, style').length];
        const out = {};
        for (const url of urls) {
            const before = snapshot();
            const module = await import(url + '?alone');   // a fresh copy of the module itself
            out[url] = { exports: Object.keys(module).length, changed: JSON.stringify(snapshot()) !== JSON.stringify(before) };
        }
        return out;
    }""", helpers)
    for url, r in found.items():
        assert r["exports"] > 0 and not r["changed"], (url, r)
