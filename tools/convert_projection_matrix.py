"""One-off: the official GLIGEN repository's ``projection_matrix`` (a torch pickle of CLIP ViT-L/14's
768 x 768 text projection weight, as stored: ``[out, in]``) to ``assets/clip_l_projection.safetensors``.

Source: https://github.com/gligen/GLIGEN, file ``projection_matrix`` at commit
f9dccb9c6cf48bad03c3666290a7dec8c5e58f3c, MIT licence (Copyright (c) 2023 Yuheng Li).
GLIGEN maps a CLIP image embedding ``x`` back with ``y = x P`` (``gligen_inference.get_clip_feature``).

Usage: python tools/convert_projection_matrix.py path/to/projection_matrix [out.safetensors]
The pickle is read with ``torch.load(weights_only=True)``: tensors only, no code.
"""
from __future__ import annotations

import hashlib
import sys

import torch
from safetensors.torch import save_file

SOURCE_COMMIT = "f9dccb9c6cf48bad03c3666290a7dec8c5e58f3c"


def convert(src: str, dst: str) -> torch.Tensor:
    p = torch.load(src, map_location="cpu", weights_only=True)
    if not isinstance(p, torch.Tensor) or tuple(p.shape) != (768, 768):
        raise SystemExit(f"{src}: expected a 768 x 768 tensor, got {type(p).__name__} {getattr(p, 'shape', '')}")
    with open(src, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    save_file({"projection_matrix": p.float().contiguous()}, dst, metadata={
        "source": f"https://github.com/gligen/GLIGEN/blob/{SOURCE_COMMIT}/projection_matrix",
        "source_sha256": digest, "license": "MIT, Copyright (c) 2023 Yuheng Li",
        "use": "GLIGEN image feature: y = x @ projection_matrix, then L2-normalised and scaled to 28.7"})
    return p


if __name__ == "__main__":
    src = sys.argv[1]
    dst = sys.argv[2] if len(sys.argv) > 2 else "assets/clip_l_projection.safetensors"
    convert(src, dst)
    print(f"wrote {dst}")
