"""GET /gligen_grounding/adapter_family?name=FILE: the base-model family of a file in models/gligen and
its native canvas, read from the file's header alone (no weights), for the box editor's default canvas.

Registered on ComfyUI's PromptServer when the pack is loaded by the server; without a server (the
headless runner, tests that import the pack) nothing is registered.
"""
from __future__ import annotations

import sys

from aiohttp import web

from ..gligen_core import GLIGENFileError
from ..gligen_core.adapter import NATIVE_CANVAS
from ..gligen_core.loading import file_family
from .loader import gligen_path

ROUTE = "/gligen_grounding/adapter_family"


def family_answer(name: str) -> tuple[int, dict]:
    """(HTTP status, JSON body) for the file ``name`` of models/gligen."""
    if not name:
        return 400, {"error": "Give the GLIGEN file's name as ?name=FILE (a name the loader lists)."}
    try:
        path = gligen_path(name)
    except GLIGENFileError as e:
        return 404, {"error": str(e)}
    try:
        family = file_family(path)
    except (GLIGENFileError, OSError) as e:
        return 422, {"error": f"GLIGEN file '{name}': {e}"}
    return 200, {"name": name, "family": family, "canvas": NATIVE_CANVAS.get(family or "")}


async def adapter_family(request: web.Request) -> web.Response:
    status, body = family_answer(request.query.get("name", ""))
    return web.json_response(body, status=status)


def register_routes() -> bool:
    """Add the route to ComfyUI's PromptServer, once; False when there is no server."""
    server = sys.modules.get("server")  # ComfyUI's server module, imported by main.py before custom nodes load
    instance = getattr(getattr(server, "PromptServer", None), "instance", None)
    if instance is None:
        return False
    if not any(getattr(route, "path", None) == ROUTE for route in instance.routes):
        instance.routes.get(ROUTE)(adapter_family)
    return True
