"""Test-only ComfyUI node: a tiny random CLIP vision model built by ComfyUI's own ``ClipVisionModel``
(``comfy.clip_vision``) from a small config with CLIP ViT-L/14's 768-d projection, so GroundingEncoder
runs core's real ``encode_image`` (preprocessing, vision transformer, projection) without a download.
Installed beside the pack in the host suite's server; also used in-process."""
import json
import os
import tempfile

TINY_CONFIG = {"attention_dropout": 0.0, "dropout": 0.0, "hidden_act": "quick_gelu", "hidden_size": 64,
               "image_size": 224, "initializer_factor": 1.0, "initializer_range": 0.02, "intermediate_size": 128,
               "layer_norm_eps": 1e-05, "model_type": "clip_vision_model", "num_attention_heads": 4,
               "num_channels": 3, "num_hidden_layers": 2, "patch_size": 32, "projection_dim": 768}


def tiny_clip_vision(seed: int = 0):
    import torch
    import comfy.clip_vision
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(TINY_CONFIG, f)
    try:
        cv = comfy.clip_vision.ClipVisionModel(f.name)
    finally:
        os.unlink(f.name)
    gen = torch.Generator().manual_seed(seed)
    sd = {}
    for name, t in cv.get_sd().items():
        if name.endswith("weight") and "norm" in name:
            sd[name] = 1 + 0.02 * torch.randn(t.shape, generator=gen)
        elif t.ndim >= 2:
            sd[name] = torch.randn(t.shape, generator=gen) / (t[0].numel() ** 0.5)
        else:
            sd[name] = 0.02 * torch.randn(t.shape, generator=gen)
    missing, unexpected = cv.load_sd({k: v.to(t.dtype) for (k, v), t in zip(sd.items(), cv.get_sd().values())})
    assert not missing and not unexpected
    return cv


class GLIGENTestTinyCLIPVision:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"seed": ("INT", {"default": 0, "min": 0, "max": 1000})}}

    RETURN_TYPES = ("CLIP_VISION",)
    FUNCTION = "run"
    CATEGORY = "testing"

    def run(self, seed):
        return (tiny_clip_vision(seed),)


NODE_CLASS_MAPPINGS = {"GLIGENTestTinyCLIPVision": GLIGENTestTinyCLIPVision}
