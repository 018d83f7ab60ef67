"""``python -m gligen_grounding run WORKFLOW.json``: run a workflow through ComfyUI without its server.

The workflow may be in the UI format (saved from the browser) or the API format. The installed
ComfyUI's own execution engine runs it, in this process: node validation, caching, samplers, saving.
Progress is printed per node and per sampling step; saved images go to ComfyUI's output folder (or
``--output``), and preview images (such as the box layout) are copied there too.

``--demo`` builds a tiny random SD1.x checkpoint and GLIGEN file (in the real layouts) and uses them
in place of the workflow's models, so the command works on a machine with no downloads. Exit codes:
0 done, 1 a node failed, 2 the workflow is invalid (unknown node, missing model, bad value), 3 no
ComfyUI found.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import time

from .filenames import node_id_for_filename
from .host import PACK_DIR, Host, PromptInvalid, find_comfyui
from .workflow import WorkflowError, to_api

DEMO_STEPS = 6
DEMO_SIZE = 256


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="gligen_grounding", description="GLIGEN Grounding for ComfyUI, headless.")
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="run a workflow (UI or API format) through ComfyUI's execution engine")
    r.add_argument("workflow", help="a workflow .json file")
    r.add_argument("--demo", action="store_true",
                   help="use tiny random SD1.x and GLIGEN models built on the spot (no downloads needed); the "
                        "image is noise from random weights, the box preview is real")
    r.add_argument("--comfyui", help="the ComfyUI folder (default: $COMFYUI_PATH, /opt/ComfyUI, or the ComfyUI "
                                     "whose custom_nodes holds this pack)")
    r.add_argument("--output", help="folder for saved images (default: ComfyUI's output folder)")
    r.add_argument("--steps", type=int, help="override the sampling steps of every sampler")
    r.add_argument("--size", type=int, help="override width and height of latents and box canvases")
    r.add_argument("--cpu", action="store_true", help="run on the CPU even when a GPU is available")
    r.add_argument("--verbose", action="store_true", help="show everything ComfyUI logs while it starts")
    r.add_argument("--only-this-pack", action="store_true",
                   help="load this pack but not the other custom nodes installed in ComfyUI")
    c = sub.add_parser("convert", help="extract a GLIGEN adapter from any layout (ComfyUI pruned, official "
                                       "checkpoint, diffusers UNet in one file or sharded) into one small "
                                       "safetensors file in ComfyUI's pruned layout, for models/gligen")
    c.add_argument("source", help="a GLIGEN file, a diffusers UNet file, its *.safetensors.index.json, one of its "
                                  "shards, or the folder holding them")
    c.add_argument("destination", help="the .safetensors file to write")
    c.add_argument("--dtype", choices=["fp16", "bf16", "fp32", "keep"], default="fp16",
                   help="weight precision of the written file (default fp16)")
    m = sub.add_parser("migrate", help="rewrite a UI workflow built with core's GLIGENLoader and chained "
                                       "GLIGENTextBoxApply nodes with this pack's nodes (core-compatible settings)")
    m.add_argument("source", help="the workflow .json saved from ComfyUI's editor")
    m.add_argument("destination", help="the migrated workflow .json to write")
    from ..train.cli import add_commands
    add_commands(sub)
    return p.parse_args(argv)


def say(msg: str) -> None:
    print(msg, flush=True)


class Progress:
    """Prints what the engine reports: which node runs, and the sampling steps."""

    def __init__(self, prompt: dict) -> None:
        self.prompt = prompt
        self.done = 0
        self.last_step = None

    def on_message(self, event: str, data: dict) -> None:
        if event == "executing" and data.get("node") is not None:
            node = str(data["node"])
            self.done += 1
            kind = self.prompt.get(node, {}).get("class_type", "?")
            say(f"[{self.done}/{len(self.prompt)}] {kind} (node {node})")
        elif event == "execution_cached" and data.get("nodes"):
            say(f"cached: {len(data['nodes'])} node(s)")

    def on_step(self, value: int, total: int, preview=None, node_id=None) -> None:
        if total > 1 and value != self.last_step:
            self.last_step = value
            say(f"    step {value}/{total}")


def demo_models(host: Host) -> tuple[str, str]:
    from .demo_models import build_sd1_checkpoint, cached, gligen_for
    say("demo: building tiny random SD1.x and GLIGEN models (first run only) ...")
    ckpt = cached("demo_sd1_tiny.safetensors", build_sd1_checkpoint)
    gligen = cached("demo_gligen_tiny.safetensors", gligen_for)
    host.add_model_dirs({"checkpoints": [os.path.dirname(ckpt)], "gligen": [os.path.dirname(gligen)]})
    return os.path.basename(ckpt), os.path.basename(gligen)


def adjust(prompt: dict, opts: argparse.Namespace, demo: tuple[str, str] | None) -> list[str]:
    """Apply --demo / --steps / --size to the prompt; returns what was changed, to tell the user."""
    changes = []
    steps = opts.steps or (DEMO_STEPS if demo else None)
    size = opts.size or (DEMO_SIZE if demo else None)
    for node_id, node in prompt.items():
        inputs = node.get("inputs", {})
        if demo and "ckpt_name" in inputs and not isinstance(inputs["ckpt_name"], list):
            changes.append(f"node {node_id}: checkpoint {inputs['ckpt_name']!r} -> demo model")
            inputs["ckpt_name"] = demo[0]
        if demo and "gligen_name" in inputs and not isinstance(inputs["gligen_name"], list):
            changes.append(f"node {node_id}: GLIGEN {inputs['gligen_name']!r} -> demo adapter")
            inputs["gligen_name"] = demo[1]
        if steps and isinstance(inputs.get("steps"), int):
            inputs["steps"] = steps
        if size and node.get("class_type") in ("EmptyLatentImage", "GLIGENGroundingBoxes"):
            for key in ("width", "height"):
                if isinstance(inputs.get(key), int):
                    inputs[key] = size
    if steps:
        changes.append(f"steps -> {steps}")
    if size:
        changes.append(f"image and box canvas size -> {size}x{size} (normalised boxes keep their place)")
    return changes


def collect_images(ui: dict, output_dir: str) -> list[str]:
    """Paths of the images the run saved; preview (temp) images are copied next to them."""
    import folder_paths
    paths = []
    for node_id, out in ui.items():
        for img in out.get("images", []) or []:
            base = {"output": folder_paths.get_output_directory(), "temp": folder_paths.get_temp_directory(),
                    "input": folder_paths.get_input_directory()}.get(img.get("type"), output_dir)
            src = os.path.join(base, img.get("subfolder", ""), img["filename"])
            if img.get("type") == "temp":
                name = img['filename'].replace('ComfyUI_temp_', '')
                dst = os.path.join(output_dir, f"preview_node{node_id_for_filename(node_id)}_{name}")
                shutil.copyfile(src, dst)
                src = dst
            paths.append(src)
    return paths


def missing_input_hints(error: PromptInvalid, prompt: dict) -> list[str]:
    """What to do about a required input the prompt leaves unconnected: in a saved workflow that is a
    muted node feeding it, or a bypassed node with nothing to pass on (as the frontend builds prompts)."""
    hints = []
    for node_id, info in error.node_errors.items():
        for e in info.get("errors", []):
            if e.get("type") == "required_input_missing":
                kind = prompt.get(str(node_id), {}).get("class_type", "?")
                hints.append(f"fix: node {node_id} ({kind}): its input '{e.get('details')}' is connected to nothing "
                             "in the prompt the frontend would queue: the node feeding it is muted, or is bypassed "
                             "and has no connected input of that type to pass on. Un-mute it, connect that input, or "
                             "wire the input past it in the editor.")
    return hints


def run(opts: argparse.Namespace) -> int:
    comfy = opts.comfyui or find_comfyui()
    if comfy is None or not os.path.isfile(os.path.join(comfy, "main.py")):
        say("error: no ComfyUI found. Pass --comfyui PATH, set COMFYUI_PATH, or put this pack in "
            "ComfyUI/custom_nodes.")
        return 3
    try:
        with open(opts.workflow) as f:
            workflow = json.load(f)
    except (OSError, ValueError, RecursionError) as e:
        say(f"error: cannot read workflow {opts.workflow!r}: {str(e)[:300]}")
        return 2
    import torch
    cpu = opts.cpu or not torch.cuda.is_available()
    if opts.output:
        opts.output = os.path.abspath(opts.output)  # ComfyUI compares it with absolute paths
    host = Host.boot(comfy, cpu=cpu, output_dir=opts.output, quiet=not opts.verbose,
                     temp_dir=os.path.join(opts.output, ".temp") if opts.output else None)
    if not opts.only_this_pack:
        host.load_installed_custom_nodes()
    import nodes
    if "GLIGENApply" not in nodes.NODE_CLASS_MAPPINGS:
        host.load_pack(PACK_DIR)
    demo = demo_models(host) if opts.demo else None
    try:
        prompt = to_api(workflow, host.node_info)
    except WorkflowError as e:
        say(f"error: {e}")
        return 2
    for change in adjust(prompt, opts, demo):
        say(f"demo: {change}" if demo else f"override: {change}")
    progress = Progress(prompt)
    host.on_message = progress.on_message
    import comfy.utils
    comfy.utils.set_progress_bar_global_hook(progress.on_step)
    comfy.utils.PROGRESS_BAR_ENABLED = opts.verbose  # our step lines replace tqdm's bars
    start = time.time()
    try:
        result = host.run(prompt, client_id="headless")
    except PromptInvalid as e:
        say(f"error: the workflow is not valid:\n  {e}")
        for hint in missing_input_hints(e, prompt):
            say(hint)
        return 2
    error = result.error()
    if error is not None:
        say(f"error in node {error.get('node_id')} ({error.get('node_type')}): {error.get('exception_message', '').strip()}")
        return 1
    import folder_paths
    output_dir = folder_paths.get_output_directory()
    images = collect_images(result.ui, output_dir)
    say(f"done in {time.time() - start:.1f} s")
    for path in images:
        say(f"  wrote {path}")
    if demo:
        say("note: the demo models have random weights, so the generated image is coloured noise; the box "
            "preview is real. Put an SD1.5 checkpoint in models/checkpoints and a GLIGEN file in "
            "models/gligen, then run without --demo.")
    return 0


def convert(opts: argparse.Namespace) -> int:
    import torch
    from ..gligen_core import GLIGENError, load_adapter, save_adapter
    if not opts.destination.endswith((".safetensors", ".sft")):
        say(f"error: the destination {opts.destination!r} should end in .safetensors")
        return 2
    try:
        loaded = load_adapter(opts.source)
    except GLIGENError as e:
        say(f"error: {e}")
        return 2
    dtype = {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}.get(opts.dtype)
    if dtype is not None:
        loaded.adapter.to(dtype)
    save_adapter(loaded.adapter, opts.destination)
    size = os.path.getsize(opts.destination)
    say(f"read {loaded.describe()}")
    say(f"wrote {opts.destination} ({size / 2**20:.1f} MiB, ComfyUI pruned layout); put it in ComfyUI/models/gligen")
    return 0


def main(argv: list[str] | None = None) -> int:
    opts = parse(argv)
    if opts.command == "run":
        return run(opts)
    if opts.command == "convert":
        return convert(opts)
    if opts.command == "migrate":
        from .migrate import main as migrate_main
        return migrate_main(opts.source, opts.destination, say)
    if opts.command in ("train", "import-coco"):
        from ..train.cli import run_command
        return run_command(opts)
    return 2
