"""GLIGEN grounding for ComfyUI.

Importing this package does nothing but define the entry point, so it imports anywhere (tests,
tools) without ComfyUI; ComfyUI calls ``comfy_entrypoint`` to register the nodes (and, in the server,
the box editor's one HTTP route).
"""
WEB_DIRECTORY = "./web"


async def comfy_entrypoint():
    from .nodes import GLIGENExtension
    from .nodes.family_route import register_routes
    register_routes()
    return GLIGENExtension()
