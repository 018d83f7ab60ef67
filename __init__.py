"""GLIGEN grounding for ComfyUI.

Importing this package does nothing but define the entry point, so it imports anywhere (tests,
tools) without ComfyUI; ComfyUI calls ``comfy_entrypoint`` to register the nodes.
"""
WEB_DIRECTORY = "./web"


async def comfy_entrypoint():
    from .nodes import GLIGENExtension
    return GLIGENExtension()
