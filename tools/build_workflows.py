"""Write the UI-format workflows of ``example_workflows/`` from compact descriptions.

Run with a ComfyUI host: ``python tools/build_workflows.py`` (uses $COMFYUI_PATH or /opt/ComfyUI).
Inputs, outputs and widget order come from the installed node definitions, so the files match what
the frontend itself would save.
"""
from __future__ import annotations

import json
import os
import sys
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "example_workflows")

CONTROL_AFTER_GENERATE = "fixed"
BOXES = [
    {"phrase": "a red vintage car", "box": [0.04, 0.5, 0.62, 0.94]},
    {"phrase": "a corgi", "box": [0.62, 0.42, 0.96, 0.92]},
    {"phrase": "a hot air balloon", "box": [0.3, 0.04, 0.62, 0.36]},
]


def grounded_txt2img(sampler: str = "KSampler", reground: bool = False,
                     prompt: str = "a photo of a sunny street with a vintage car and a dog, a balloon in the sky"):
    """(name, type, widgets {input: value}, links {input: (node name, output index)}, pos, size)."""
    from gligen_pack.gligen_core import format_boxes
    sampler_widgets = {"seed": 42, "steps": 30, "cfg": 7.5, "sampler_name": "euler", "scheduler": "normal", "denoise": 1.0}
    if sampler == "GLIGENScheduledSampler":
        sampler_widgets.update(grounded_fraction=0.3, decay_fraction=0.0)
    return [
        ("ckpt", "CheckpointLoaderSimple", {"ckpt_name": "v1-5-pruned-emaonly.safetensors"}, {}, (40, 120), (320, 100)),
        ("gligen", "GLIGENAdapterLoader", {"gligen_name": "gligen_sd14_textbox_pruned.safetensors"}, {}, (40, 280), (320, 60)),
        ("boxes", "GLIGENGroundingBoxes", {"width": 512, "height": 512, "boxes_json": format_boxes(BOXES)}, {}, (40, 380), (420, 760)),
        ("pos", "CLIPTextEncode", {"text": prompt}, {"clip": ("ckpt", 1)}, (500, 40), (400, 160)),
        ("neg", "CLIPTextEncode", {"text": "blurry, low quality"}, {"clip": ("ckpt", 1)}, (500, 240), (400, 120)),
        # the adapter is wired once, to GLIGENApply: the encoder takes the phrase feature from the CLIP
        ("encode", "GLIGENGroundingEncoder", {"phrase_syntax": "literal"},
         {"conditioning": ("pos", 0), "clip": ("ckpt", 1), "grounding": ("boxes", 0)}, (500, 400), (300, 100)),
        ("apply", "GLIGENApply", {"strength": 1.0, "negative": "null", "start_percent": 0.0,
                                  "end_percent": 1.0, "reground": reground},
         {"model": ("ckpt", 0), "gligen": ("gligen", 0)}, (500, 560), (300, 190)),
        ("latent", "EmptyLatentImage", {"width": 512, "height": 512, "batch_size": 1}, {}, (500, 800), (300, 110)),
        ("sampler", sampler, sampler_widgets,
         {"model": ("apply", 0), "positive": ("encode", 0), "negative": ("neg", 0), "latent_image": ("latent", 0)},
         (940, 120), (320, 330)),
        ("decode", "VAEDecode", {}, {"samples": ("sampler", 0), "vae": ("ckpt", 2)}, (940, 500), (220, 50)),
        ("save", "SaveImage", {"filename_prefix": "gligen"}, {"images": ("decode", 0)}, (1300, 120), (420, 460)),
    ]


def scheduled_sampling():
    return grounded_txt2img(sampler="GLIGENScheduledSampler")


def reground():
    return grounded_txt2img(reground=True, prompt="a low poly illustration of a sunny street with a vintage car "
                                                   "draped with a colorful blanket, a dog, a balloon in the sky")


# The official keypoint example (gligen_inference.py, COCO val image 18150): two people, COCO-17 order,
# normalised; (0, 0) = not labelled.
OFFICIAL_PEOPLE = [
    [(0.7598, 0.2542), (0.7431, 0.2104), (0.8118, 0.2021), (0, 0), (0.9514, 0.1813), (0.7806, 0.2917), (0, 0),
     (0.6785, 0.5125), (0, 0), (0.5389, 0.6479), (0.6785, 0.6750), (0.7973, 0.7042), (0, 0), (0.6181, 0.7375),
     (0.9764, 0.8458), (0, 0), (0, 0)],
    [(0.2681, 0.4313), (0.2514, 0.3979), (0, 0), (0.0785, 0.3854), (0, 0), (0.0910, 0.5583), (0, 0),
     (0.1243, 0.8479), (0, 0), (0, 0), (0, 0), (0, 0), (0, 0), (0.2410, 0.8146), (0.1202, 0.6146), (0, 0),
     (0.2743, 0.7188)],
]


def official_pose_json(size: int = 512) -> str:
    """The official example as OpenPose JSON (18 body points, pixels of a size x size canvas)."""
    from gligen_pack.gligen_core.pose import COCO_FROM_OPENPOSE
    people = []
    for person in OFFICIAL_PEOPLE:
        flat = [0.0] * 54
        for k, (x, y) in enumerate(person):
            if x or y:
                j = COCO_FROM_OPENPOSE[k]
                flat[3 * j:3 * j + 3] = [round(x * size), round(y * size), 1.0]
        people.append(json.dumps({"pose_keypoints_2d": flat}))
    return ('{"canvas_width": %d, "canvas_height": %d, "people": [\n ' % (size, size)) + ",\n ".join(people) + "\n]}"


def grounded_by(source: list, node, gligen_file: str, prompt: str, end_percent: float, prefix: str):
    """A keypoint or map graph: ``source`` nodes, then ``node`` (the grounding node) and the sampler."""
    sampler_widgets = {"seed": 42, "steps": 30, "cfg": 7.5, "sampler_name": "euler", "scheduler": "normal", "denoise": 1.0}
    name, kind, widgets, wired, pos, size = node
    return [
        ("ckpt", "CheckpointLoaderSimple", {"ckpt_name": "v1-5-pruned-emaonly.safetensors"}, {}, (40, 120), (320, 100)),
        ("gligen", "GLIGENAdapterLoader", {"gligen_name": gligen_file}, {}, (40, 280), (320, 60)),
        ("pos", "CLIPTextEncode", {"text": prompt}, {"clip": ("ckpt", 1)}, (500, 40), (400, 160)),
        ("neg", "CLIPTextEncode", {"text": "blurry, low quality"}, {"clip": ("ckpt", 1)}, (500, 240), (400, 120)),
        *source,
        (name, kind, widgets, {"conditioning": ("pos", 0), "gligen": ("gligen", 0), **wired}, pos, size),
        ("apply", "GLIGENApply", {"strength": 1.0, "negative": "null", "start_percent": 0.0,
                                  "end_percent": end_percent, "reground": False},
         {"model": ("ckpt", 0), "gligen": ("gligen", 0)}, (960, 420), (300, 190)),
        ("latent", "EmptyLatentImage", {"width": 512, "height": 512, "batch_size": 1}, {}, (960, 660), (300, 110)),
        ("sampler", "KSampler", sampler_widgets,
         {"model": ("apply", 0), "positive": (name, 0), "negative": ("neg", 0), "latent_image": ("latent", 0)},
         (1300, 120), (320, 330)),
        ("decode", "VAEDecode", {}, {"samples": ("sampler", 0), "vae": ("ckpt", 2)}, (1300, 500), (220, 50)),
        ("save", "SaveImage", {"filename_prefix": prefix}, {"images": ("decode", 0)}, (1660, 120), (420, 460)),
    ]


def pose():
    """The keypoint model on the official example's two people; grounded for the first 30%, as there."""
    node = ("pose", "GLIGENGroundingPose", {"pose_json": official_pose_json(), "min_confidence": 0.3}, {},
            (500, 400), (400, 420))
    preview = ("preview", "PreviewImage", {}, {"images": ("pose", 1)}, (960, 800), (300, 300))
    spec = grounded_by([], node, "gligen-generation-keypoint.bin", "A young man and a small boy are talking", 0.3,
                       "gligen_pose")
    return spec + [preview]


def canny():
    """The Canny model on core's Canny edges of ComfyUI's example picture; grounded for the first 90%, as
    the official Canny example (alpha_type [0.9, 0, 0.1]). Thresholds 0.4 / 0.8 = the training's 100 / 200."""
    source = [("image", "LoadImage", {"image": "example.png"}, {}, (40, 400), (320, 320)),
              ("edges", "Canny", {"low_threshold": 0.4, "high_threshold": 0.8}, {"image": ("image", 0)},
               (40, 760), (320, 90))]
    node = ("map", "GLIGENGroundingMap", {"labels": "colours"}, {"map": ("edges", 0)}, (500, 400), (320, 100))
    spec = grounded_by(source, node, "gligen-generation-canny.bin", "a photo of a mountain lake at sunset", 0.9,
                       "gligen_canny")
    return spec + [("preview", "PreviewImage", {}, {"images": ("edges", 0)}, (500, 560), (300, 300))]


IMAGE_BOXES = [
    {"phrase": "a red vintage car", "box": [0.04, 0.5, 0.62, 0.94]},
    {"image": 0, "box": [0.62, 0.42, 0.96, 0.92]},
]


def text_image():
    """A phrase-only box and an image-only box ("this dog, here") on the text-image-box model."""
    from gligen_pack.gligen_core import format_boxes
    spec = grounded_txt2img(prompt="a photo of a sunny street with a vintage car and a dog")
    spec = [s for s in spec if s[0] != "encode"]
    spec = [(n, k, {**w, "gligen_name": "gligen-generation-text-image-box.bin"} if n == "gligen" else
             {**w, "boxes_json": format_boxes(IMAGE_BOXES)} if n == "boxes" else w,
             {**wired, "images": ("ref", 0)} if n == "boxes" else wired, pos, size) for n, k, w, wired, pos, size in spec]
    return spec + [
        ("ref", "LoadImage", {"image": "reference_dog.png", "upload": "image"}, {}, (-320, 380), (320, 360)),
        ("vision", "CLIPVisionLoader", {"clip_name": "clip_vision_vit_l.safetensors"}, {}, (-320, 120), (320, 60)),
        ("encode", "GLIGENGroundingEncoder", {}, {"conditioning": ("pos", 0), "clip": ("ckpt", 1), "gligen": ("gligen", 0),
                                                   "grounding": ("boxes", 0), "clip_vision": ("vision", 0)},
         (500, 400), (300, 120)),
    ]


INPAINT_BOXES = [{"phrase": "a corgi", "box": [0.55, 0.4, 0.95, 0.9]}]


def inpainting():
    """Repaint inside the box of an image with the inpainting text-box model."""
    from gligen_pack.gligen_core import format_boxes
    return [
        ("ckpt", "CheckpointLoaderSimple", {"ckpt_name": "v1-5-pruned-emaonly.safetensors"}, {}, (40, 120), (320, 100)),
        ("gligen", "GLIGENAdapterLoader", {"gligen_name": "gligen-inpainting-text-box.bin"}, {}, (40, 280), (320, 60)),
        ("image", "LoadImage", {"image": "street.png", "upload": "image"}, {}, (-320, 120), (320, 360)),
        ("boxes", "GLIGENGroundingBoxes", {"width": 512, "height": 512, "boxes_json": format_boxes(INPAINT_BOXES)},
         {"background": ("image", 0)}, (40, 380), (420, 760)),
        ("pos", "CLIPTextEncode", {"text": "a photo of a street with a corgi"}, {"clip": ("ckpt", 1)}, (500, 40), (400, 160)),
        ("neg", "CLIPTextEncode", {"text": "blurry, low quality"}, {"clip": ("ckpt", 1)}, (500, 240), (400, 120)),
        ("encode", "GLIGENGroundingEncoder", {}, {"conditioning": ("pos", 0), "clip": ("ckpt", 1),
                                                   "gligen": ("gligen", 0), "grounding": ("boxes", 0)}, (500, 400), (300, 100)),
        ("inpaint", "GLIGENInpaint", {}, {"positive": ("encode", 0), "negative": ("neg", 0), "vae": ("ckpt", 2),
                                           "image": ("image", 0), "grounding": ("boxes", 0)}, (500, 560), (300, 140)),
        ("apply", "GLIGENApply", {"strength": 1.0, "negative": "null", "start_percent": 0.0, "end_percent": 1.0,
                                  "reground": False},
         {"model": ("ckpt", 0), "gligen": ("gligen", 0)}, (500, 740), (300, 190)),
        ("sampler", "KSampler", {"seed": 42, "steps": 30, "cfg": 7.5, "sampler_name": "euler", "scheduler": "normal",
                                 "denoise": 1.0},
         {"model": ("apply", 0), "positive": ("inpaint", 0), "negative": ("inpaint", 1), "latent_image": ("inpaint", 2)},
         (940, 120), (320, 330)),
        ("decode", "VAEDecode", {}, {"samples": ("sampler", 0), "vae": ("ckpt", 2)}, (940, 500), (220, 50)),
        ("save", "SaveImage", {"filename_prefix": "gligen_inpaint"}, {"images": ("decode", 0)}, (1300, 120), (420, 460)),
    ]


MOVING = {"frames": 16, "boxes": [
    {"phrase": "a red vintage car", "keyframes": [{"frame": 0, "box": [0.0, 0.55, 0.45, 0.92]},
                                                  {"frame": 15, "box": [0.5, 0.55, 0.95, 0.92]}], "ease": "ease_in_out"},
    {"phrase": "a hot air balloon", "keyframes": [{"frame": 0, "box": [0.6, 0.3, 0.85, 0.55]},
                                                  {"frame": 15, "box": [0.55, 0.02, 0.8, 0.27]}]},
    {"phrase": "a corgi", "box": [0.05, 0.6, 0.3, 0.95], "appear": 8},
]}


def moving_boxes():
    """16 frames (the batch), core's context windows of 8 frames with an overlap of 4; a motion model
    (AnimateDiff) goes between GLIGENApply and the context windows in a real animation."""
    from gligen_pack.gligen_core import format_boxes
    text = "{\"frames\": 16, \"boxes\": " + format_boxes(MOVING["boxes"]).replace("\n", "\n ") + "}"
    return [
        ("ckpt", "CheckpointLoaderSimple", {"ckpt_name": "v1-5-pruned-emaonly.safetensors"}, {}, (40, 120), (320, 100)),
        ("gligen", "GLIGENAdapterLoader", {"gligen_name": "gligen_sd14_textbox_pruned.safetensors"}, {}, (40, 280), (320, 60)),
        ("boxes", "GLIGENGroundingBoxes", {"width": 512, "height": 512, "boxes_json": text}, {}, (40, 380), (420, 760)),
        ("pos", "CLIPTextEncode", {"text": "a photo of a sunny street, a vintage car driving by, a balloon rising"},
         {"clip": ("ckpt", 1)}, (500, 40), (400, 160)),
        ("neg", "CLIPTextEncode", {"text": "blurry, low quality"}, {"clip": ("ckpt", 1)}, (500, 240), (400, 120)),
        ("encode", "GLIGENGroundingEncoder", {}, {"conditioning": ("pos", 0), "clip": ("ckpt", 1),
                                                   "gligen": ("gligen", 0), "grounding": ("boxes", 0)}, (500, 400), (300, 100)),
        ("apply", "GLIGENApply", {"strength": 1.0, "negative": "null", "start_percent": 0.0, "end_percent": 1.0,
                                  "reground": False}, {"model": ("ckpt", 0), "gligen": ("gligen", 0)}, (500, 560), (300, 190)),
        ("windows", "ContextWindowsManual", {"context_length": 8, "context_overlap": 4,
                                             "context_schedule": "standard_static", "context_stride": 1,
                                             "closed_loop": False, "fuse_method": "pyramid", "dim": 0},
         {"model": ("apply", 0)}, (500, 800), (300, 250)),
        ("latent", "EmptyLatentImage", {"width": 512, "height": 512, "batch_size": 16}, {}, (500, 1080), (300, 110)),
        # core's context windows find the step by comparing the sigmas with the frames' timesteps one by one:
        # with windows over the batch they need as many sigmas (steps + 1) as frames, so 15 steps for 16 frames
        ("sampler", "KSampler", {"seed": 42, "steps": 15, "cfg": 7.5, "sampler_name": "euler", "scheduler": "normal",
                                 "denoise": 1.0},
         {"model": ("windows", 0), "positive": ("encode", 0), "negative": ("neg", 0), "latent_image": ("latent", 0)},
         (940, 120), (320, 330)),
        ("decode", "VAEDecode", {}, {"samples": ("sampler", 0), "vae": ("ckpt", 2)}, (940, 500), (220, 50)),
        ("save", "SaveImage", {"filename_prefix": "gligen_moving"}, {"images": ("decode", 0)}, (1300, 120), (420, 460)),
    ]


LAYOUTS = [
    [{"phrase": "a red vintage car", "box": [0.05, 0.5, 0.6, 0.95]}],
    [{"phrase": "a corgi", "box": [0.3, 0.45, 0.7, 0.95]}],
    [{"phrase": "a red vintage car", "box": [0.4, 0.5, 0.95, 0.95]}, {"phrase": "a corgi", "box": [0.05, 0.6, 0.35, 0.95]}],
    [{"phrase": "a hot air balloon", "box": [0.3, 0.05, 0.7, 0.5]}],
]


def layout_batch():
    """Four images in one batch, each with its own layout (GroundingBatch)."""
    from gligen_pack.gligen_core import format_boxes
    spec = [
        ("ckpt", "CheckpointLoaderSimple", {"ckpt_name": "v1-5-pruned-emaonly.safetensors"}, {}, (40, 120), (320, 100)),
        ("gligen", "GLIGENAdapterLoader", {"gligen_name": "gligen_sd14_textbox_pruned.safetensors"}, {}, (40, 280), (320, 60)),
    ]
    for i, lay in enumerate(LAYOUTS):
        spec.append((f"boxes{i}", "GLIGENGroundingBoxes", {"width": 512, "height": 512, "boxes_json": format_boxes(lay)},
                     {}, (40 + 440 * (i % 2), 380 + 800 * (i // 2)), (420, 760)))
    spec += [
        ("batch", "GLIGENGroundingBatch", {}, {f"grounding_{i + 1}": (f"boxes{i}", 0) for i in range(len(LAYOUTS))},
         (940, 400), (300, 260)),
        ("pos", "CLIPTextEncode", {"text": "a photo of a sunny street"}, {"clip": ("ckpt", 1)}, (940, 40), (400, 160)),
        ("neg", "CLIPTextEncode", {"text": "blurry, low quality"}, {"clip": ("ckpt", 1)}, (940, 240), (400, 120)),
        ("encode", "GLIGENGroundingEncoder", {}, {"conditioning": ("pos", 0), "clip": ("ckpt", 1),
                                                   "gligen": ("gligen", 0), "grounding": ("batch", 0)}, (1300, 400), (300, 100)),
        ("apply", "GLIGENApply", {"strength": 1.0, "negative": "null", "start_percent": 0.0, "end_percent": 1.0,
                                  "reground": False}, {"model": ("ckpt", 0), "gligen": ("gligen", 0)}, (1300, 560), (300, 190)),
        ("latent", "EmptyLatentImage", {"width": 512, "height": 512, "batch_size": 4}, {}, (1300, 800), (300, 110)),
        ("sampler", "KSampler", {"seed": 42, "steps": 30, "cfg": 7.5, "sampler_name": "euler", "scheduler": "normal",
                                 "denoise": 1.0},
         {"model": ("apply", 0), "positive": ("encode", 0), "negative": ("neg", 0), "latent_image": ("latent", 0)},
         (1700, 120), (320, 330)),
        ("decode", "VAEDecode", {}, {"samples": ("sampler", 0), "vae": ("ckpt", 2)}, (1700, 500), (220, 50)),
        ("save", "SaveImage", {"filename_prefix": "gligen_batch"}, {"images": ("decode", 0)}, (2060, 120), (420, 460)),
    ]
    return spec


# name -> (spec, label on the thumbnail)
WORKFLOWS = {
    "gligen_text_to_image": (grounded_txt2img, "GLIGEN text-to-image"),
    "gligen_scheduled_sampling": (scheduled_sampling, "scheduled sampling, tau = 0.3"),
    "gligen_reground": (reground, "ReGround"),
    "gligen_pose": (pose, "keypoint GLIGEN: poses"),
    "gligen_canny": (canny, "Canny-edge GLIGEN"),
    "gligen_text_image": (text_image, "text + reference image"),
    "gligen_inpainting": (inpainting, "grounded inpainting"),
    "gligen_moving_boxes": (moving_boxes, "moving boxes, 16 frames, context windows"),
    "gligen_layout_batch": (layout_batch, "a layout per image, batch of 4"),
}


def build(title: str, spec, node_info) -> dict:
    ids = {name: i + 1 for i, (name, *_rest) in enumerate(spec)}
    nodes, links = [], []
    out_links: dict[tuple[str, int], list[int]] = {}
    for name, kind, widgets, wired, pos, size in spec:
        for inp, (src, slot) in wired.items():
            link_id = len(links) + 1
            src_type = node_info(dict((n, k) for n, k, *_ in spec)[src])["output"][slot]
            links.append([link_id, ids[src], slot, ids[name], inp, src_type])
            out_links.setdefault((src, slot), []).append(link_id)
    for order, (name, kind, widgets, wired, pos, size) in enumerate(spec):
        info = node_info(kind)
        inputs, values = [], []
        for section in ("required", "optional"):
            for inp, spec_ in (info["input"].get(section) or {}).items():
                t = spec_[0]
                opts = spec_[1] if len(spec_) > 1 and isinstance(spec_[1], dict) else {}
                is_widget = (isinstance(t, list) or t in ("INT", "FLOAT", "STRING", "BOOLEAN", "COMBO")) \
                    and not opts.get("forceInput")
                type_name = "COMBO" if isinstance(t, list) else t
                link = next((l[0] for l in links if l[3] == ids[name] and l[4] == inp), None)
                if is_widget:
                    if inp not in widgets:
                        widgets = {**widgets, inp: opts.get("default", t[0] if isinstance(t, list) and t else None)}
                    values.append(widgets[inp])
                    if opts.get("control_after_generate"):
                        values.append(CONTROL_AFTER_GENERATE)
                    inputs.append({"name": inp, "type": type_name, "widget": {"name": inp}, "link": link})
                elif link is not None or section == "required":
                    inputs.append({"name": inp, "type": t, "link": link})
        outputs = [{"name": n, "type": t, "links": out_links.get((name, i), []), "slot_index": i}
                   for i, (t, n) in enumerate(zip(info["output"], info.get("output_name", info["output"])))]
        nodes.append({"id": ids[name], "type": kind, "pos": list(pos), "size": list(size), "flags": {}, "order": order,
                      "mode": 0, "inputs": inputs, "outputs": outputs,
                      "properties": {"Node name for S&R": kind}, "widgets_values": values})
    for l in links:  # target slot index, as the frontend stores it
        target = next(n for n in nodes if n["id"] == l[3])
        l[4] = next(i for i, inp in enumerate(target["inputs"]) if inp["name"] == l[4])
    return {"id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"gligen-pack/{title}")), "revision": 0, "last_node_id": len(nodes),
            "last_link_id": len(links), "nodes": nodes, "links": links, "groups": [], "config": {},
            "extra": {"ds": {"scale": 0.8, "offset": [0, 0]}}, "version": 0.4}


def main() -> None:
    sys.path.insert(0, ROOT)
    sys.path.insert(0, os.path.join(ROOT, "tests"))
    import conftest  # noqa: F401  (imports the pack as gligen_pack)
    from gligen_pack.runner.host import Host
    host = Host.boot()
    host.load_pack(ROOT)
    os.makedirs(OUT, exist_ok=True)
    for name, (spec, label) in WORKFLOWS.items():
        workflow = build(name, spec(), host.node_info)
        with open(os.path.join(OUT, f"{name}.json"), "w") as f:
            json.dump(workflow, f, indent=1)
            f.write("\n")
        thumbnail(workflow, label, os.path.join(OUT, f"{name}.jpg"))
        print("wrote", name)


def thumbnail(workflow: dict, label: str, path: str) -> None:
    """The template browser's picture: the workflow's box layout, as GroundingBoxes previews it."""
    import numpy as np
    from PIL import Image
    from gligen_pack.gligen_core import parse_boxes
    from gligen_pack.gligen_core.preview import render_layout
    if any(n["type"] in ("GLIGENGroundingPose", "GLIGENGroundingMap") for n in workflow["nodes"]):
        return map_thumbnail(workflow, label, path)
    node = next(n for n in workflow["nodes"] if n["type"] == "GLIGENGroundingBoxes")
    width, height, text = node["widgets_values"][:3]
    layout = parse_boxes(text, width, height)
    if hasattr(layout, "at"):  # boxes with keyframes: the middle frame
        layout = layout.at(layout.frame_count // 2)
    img = render_layout(layout, note=label)[0].numpy()
    Image.fromarray((img * 255).round().astype(np.uint8)).resize((256, 256 * height // width)).save(path, quality=88)



def map_thumbnail(workflow: dict, label: str, path: str) -> None:
    """A pose workflow's skeletons as GroundingPose previews them, or a map workflow's picture's edges."""
    import numpy as np
    from PIL import Image, ImageDraw, ImageFilter
    from gligen_pack.gligen_core.pose import frames_from_json
    from gligen_pack.gligen_core.pose_preview import render_pose
    pose = next((n for n in workflow["nodes"] if n["type"] == "GLIGENGroundingPose"), None)
    if pose is not None:
        arr = render_pose(frames_from_json(pose["widgets_values"][0], "pose_json")[0])[0].numpy()
        img = Image.fromarray((arr * 255).round().astype(np.uint8))
    else:
        import folder_paths
        src = Image.open(os.path.join(folder_paths.get_input_directory(), "example.png")).convert("L")
        img = src.filter(ImageFilter.FIND_EDGES).point(lambda v: 255 if v > 40 else 0).convert("RGB")
    img = img.resize((256, 256))
    draw = ImageDraw.Draw(img)
    draw.rectangle((0, 232, 256, 256), fill=(120, 20, 20))
    draw.text((6, 238), label, fill=(255, 255, 255))
    img.save(path, quality=88)


if __name__ == "__main__":
    main()
