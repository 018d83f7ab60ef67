"""ComfyUI core's GLIGEN example as its documentation builds it (ComfyUI_examples, "GLIGEN"), in the UI
format the browser saves: Load Checkpoint, a positive and a negative CLIP Text Encode, GLIGENLoader,
two chained GLIGENTextBoxApply (the positive's conditioning, then the first box node's output), an
Empty Latent Image, KSampler, VAE Decode and Save Image. Sizes are parameters so tests can run it small;
the boxes are given in pixels off the 8-pixel grid, as a user types them."""
from __future__ import annotations


def _node(nid: int, kind: str, pos, inputs, outputs, widgets) -> dict:
    return {"id": nid, "type": kind, "pos": list(pos), "size": [315, 130], "flags": {}, "order": 0, "mode": 0,
            "inputs": [{"name": n, "type": t, "link": l} for n, t, l in inputs],
            "outputs": [{"name": n, "type": t, "links": ls, "slot_index": i} for i, (n, t, ls) in enumerate(outputs)],
            "properties": {"Node name for S&R": kind}, "widgets_values": widgets}


def core_gligen_example(ckpt: str, gligen: str, width: int = 512, height: int = 512, steps: int = 20,
                        seed: int = 1234, boxes=None) -> dict:
    """The UI workflow; ``boxes`` are (text, width, height, x, y) for the two GLIGENTextBoxApply nodes."""
    b1, b2 = boxes or (("purple galaxy bottle", width * 5 // 16 + 3, height // 2 + 5, width // 16 + 1, height * 3 // 8 + 2),
                       ("sun", width // 4 + 7, height // 4 + 1, width * 5 // 8 + 5, height // 16 + 3))
    nodes = [
        _node(4, "CheckpointLoaderSimple", (26, 474), [],
              [("MODEL", "MODEL", [1]), ("CLIP", "CLIP", [3, 5, 9, 12]), ("VAE", "VAE", [8])], [ckpt]),
        _node(6, "CLIPTextEncode", (415, 186), [("clip", "CLIP", 3)], [("CONDITIONING", "CONDITIONING", [10])],
              ["photograph scenery landscape, snow beautiful scenery mountain, glass bottle; purple galaxy bottle; sun"]),
        _node(7, "CLIPTextEncode", (413, 389), [("clip", "CLIP", 5)], [("CONDITIONING", "CONDITIONING", [6])],
              ["text, watermark"]),
        _node(10, "GLIGENLoader", (26, 330), [], [("GLIGEN", "GLIGEN", [11, 14])], [gligen]),
        _node(11, "GLIGENTextBoxApply", (880, 180),
              [("conditioning_to", "CONDITIONING", 10), ("clip", "CLIP", 9), ("gligen_textbox_model", "GLIGEN", 11)],
              [("CONDITIONING", "CONDITIONING", [13])], list(b1)),
        _node(12, "GLIGENTextBoxApply", (1250, 180),
              [("conditioning_to", "CONDITIONING", 13), ("clip", "CLIP", 12), ("gligen_textbox_model", "GLIGEN", 14)],
              [("CONDITIONING", "CONDITIONING", [4])], list(b2)),
        _node(5, "EmptyLatentImage", (473, 609), [], [("LATENT", "LATENT", [2])], [width, height, 1]),
        _node(3, "KSampler", (1620, 186),
              [("model", "MODEL", 1), ("positive", "CONDITIONING", 4), ("negative", "CONDITIONING", 6),
               ("latent_image", "LATENT", 2)], [("LATENT", "LATENT", [7])],
              [seed, "fixed", steps, 8.0, "euler", "normal", 1.0]),
        _node(8, "VAEDecode", (1990, 186), [("samples", "LATENT", 7), ("vae", "VAE", 8)], [("IMAGE", "IMAGE", [15])], []),
        _node(9, "SaveImage", (2200, 186), [("images", "IMAGE", 15)], [], ["ComfyUI"]),
    ]
    links = [
        [1, 4, 0, 3, 0, "MODEL"], [2, 5, 0, 3, 3, "LATENT"], [3, 4, 1, 6, 0, "CLIP"], [4, 12, 0, 3, 1, "CONDITIONING"],
        [5, 4, 1, 7, 0, "CLIP"], [6, 7, 0, 3, 2, "CONDITIONING"], [7, 3, 0, 8, 0, "LATENT"], [8, 4, 2, 8, 1, "VAE"],
        [9, 4, 1, 11, 1, "CLIP"], [10, 6, 0, 11, 0, "CONDITIONING"], [11, 10, 0, 11, 2, "GLIGEN"],
        [12, 4, 1, 12, 1, "CLIP"], [13, 11, 0, 12, 0, "CONDITIONING"], [14, 10, 0, 12, 2, "GLIGEN"],
        [15, 8, 0, 9, 0, "IMAGE"],
    ]
    return {"last_node_id": 12, "last_link_id": 15, "nodes": nodes, "links": links, "groups": [], "config": {},
            "extra": {}, "version": 0.4}
