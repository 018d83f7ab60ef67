"""The box editor's route, over HTTP against the started server: GET
/gligen_grounding/adapter_family?name=FILE answers the family of a file in models/gligen and its native
canvas (read from the header), and a name the loader does not list is a 404 with the loader's message."""
from __future__ import annotations

import urllib.parse

ROUTE = "/gligen_grounding/adapter_family"


def ask(server, name: str) -> tuple[int, object]:
    return server.request(f"{ROUTE}?{urllib.parse.urlencode({'name': name})}")


def test_sd1_and_sdxl_adapters_answer_their_family_and_canvas(server, tiny_gligen, gligen_xl):
    assert ask(server, tiny_gligen) == (200, {"name": tiny_gligen, "family": "SD1.x", "canvas": 512})
    assert ask(server, gligen_xl) == (200, {"name": gligen_xl, "family": "SDXL", "canvas": 1024})
    status, body = server.request(f"/api{ROUTE}?name={urllib.parse.quote(gligen_xl)}")   # the frontend's prefix
    assert status == 200 and body["canvas"] == 1024


def test_unknown_file_is_a_404_with_a_clear_message(server, tiny_gligen):
    status, body = ask(server, "no_such_adapter.safetensors")
    assert status == 404, body
    assert isinstance(body, dict) and set(body) == {"error"}, body
    assert "GLIGEN file 'no_such_adapter.safetensors' is not in models/gligen" in body["error"]
    assert tiny_gligen in body["error"] and "Traceback" not in body["error"]


def test_missing_name_is_a_400_that_says_what_to_give(server):
    status, body = server.request(ROUTE)
    assert status == 400 and "?name=" in body["error"], body
    assert server.alive()
