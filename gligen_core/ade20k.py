"""ADE20K semantic labels for the semantic-map GLIGEN model (GLIGEN spec 2.4).

The model reads a 152-channel one-hot map of ADE20K class indices (0 = unlabelled, 1..150 the
ADE20K classes; channel 151 is never set by ADE20K data). ComfyUI users have one of two pictures:

- ``colours``: what ADE20K segmentation preprocessors draw: class c (1..150) in palette colour c-1,
  black for unlabelled. Each pixel takes the class of the nearest palette colour, so slightly blurred
  edges from resizing still read right; a picture with many pixels far from every palette colour is
  refused (it is not a segmentation).
- ``indices``: a grey label PNG (an ADE20K annotation, as the official demo reads it): the pixel's
  8-bit value is the class index.

The palette below is ``color150.mat`` of the official GLIGEN repository (MIT licence, (c) 2023 Yuheng
Li), the standard ADE20K colour table, written out as hex RGB. It gives (140, 140, 140) to both class
7 (road) and class 49; such a pixel reads as class 7.
"""
from __future__ import annotations

import torch

from .errors import GLIGENError

CLASSES = 152          # one-hot channels of the released semantic model
PALETTE_HEX = (
    "787878 b47878 06e6e6 503232 04c803 787850 8c8c8c cc05ff e6e6e6 04fa07 "
    "e005ff ebff07 96053d 787846 08ff33 ff0652 8fff8c ccff04 ff3307 cc4603 "
    "0066c8 3de6fa ff0633 0b66ff ff0747 ff09e0 0907e6 dcdcdc ff095c 7009ff "
    "08ffd6 07ffe0 ffb806 0aff47 ff290a 07ffff e0ff08 6608ff ff3d06 ffc207 "
    "ff7a08 00ff14 ff0829 ff0599 0633ff eb0cff a09614 00a3ff 8c8c8c fa0a0f "
    "14ff00 1fff00 ff1f00 ffe000 99ff00 0000ff ff4700 00ebff 00adff 1f00ff "
    "0bc8c8 ff5200 00fff5 003dff 00ff70 00ff85 ff0000 ffa300 ff6600 c2ff00 "
    "008fff 33ff00 0052ff 00ff29 00ffad 0a00ff adff00 00ff99 ff5c00 ff00ff "
    "ff00f5 ff0066 ffad00 ff0014 ffb8b8 001fff 00ff3d 0047ff ff00cc 00ffc2 "
    "00ff52 000aff 0070ff 3300ff 00c2ff 007aff 00ffa3 ff9900 00ff0a ff7000 "
    "8fff00 5200ff a3ff00 ffeb00 08b8aa 8500ff 00ff5c b800ff ff001f 00b8ff "
    "00d6ff ff0070 5cff00 00e0ff 70e0ff 46b8a0 a300ff 9900ff 47ff00 ff00a3 "
    "ffcc00 ff008f 00ffeb 85ff00 ff00eb f500ff ff007a fff500 0abed4 d6ff00 "
    "00ccff 1400ff ffff00 0099ff 0029ff 00ffcc 2900ff 29ff00 ad00ff 00f5ff "
    "4700ff 7a00ff 00ffb8 005cff b8ff00 0085ff ffd600 19c2c2 66ff00 5c00ff "
).split()
PALETTE = torch.tensor([[int(h[i:i + 2], 16) for i in (0, 2, 4)] for h in PALETTE_HEX], dtype=torch.float32)
LABEL_MODES = ("colours", "indices")
FAR = 24.0             # a pixel farther than this (max channel difference, 0..255) fits no palette colour
MAX_FAR_SHARE = 0.01   # more than this share of such pixels: not a segmentation


class LabelMapError(GLIGENError):
    """A semantic label picture that cannot be read as ADE20K classes."""


def _palette_with_black() -> torch.Tensor:
    return torch.cat((torch.zeros(1, 3), PALETTE))          # row c = colour of class c


def classes_from_colours(rgb255: torch.Tensor, field: str) -> torch.Tensor:
    """``[B, H, W, 3]`` colours in 0..255 -> class indices ``[B, H, W]`` (long)."""
    flat = rgb255.round().reshape(-1, 3)
    colours, inverse = torch.unique(flat, dim=0, return_inverse=True)
    table = _palette_with_black()
    dist = (colours[:, None, :] - table[None, :, :]).abs().amax(-1)   # [U, 151]
    best, cls = dist.min(-1)
    far = best[inverse] > FAR
    if far.float().mean().item() > MAX_FAR_SHARE:
        worst = colours[best.argmax()].int().tolist()
        raise LabelMapError(
            f"{field}: {far.float().mean().item():.0%} of the pixels are no ADE20K palette colour (e.g. RGB "
            f"{worst}): this does not look like an ADE20K segmentation. Connect the output of an ADE20K "
            f"segmentation preprocessor (e.g. OneFormer/UniFormer ADE20K), or set labels to 'indices' for a "
            f"grey class-index label image.")
    return cls[inverse].reshape(rgb255.shape[:-1])


def classes_from_indices(rgb255: torch.Tensor, field: str) -> torch.Tensor:
    """A grey label picture ``[B, H, W, C]`` in 0..255 -> class indices ``[B, H, W]`` (long)."""
    grey = rgb255[..., 0]
    if rgb255.shape[-1] >= 3 and not torch.equal(rgb255[..., 1].round(), grey.round()):
        raise LabelMapError(f"{field}: labels is 'indices' but the picture has colours; set labels to 'colours' "
                            f"for a palette-coloured segmentation")
    idx = grey.round()
    if (grey - idx).abs().max().item() > 0.01:
        raise LabelMapError(f"{field}: labels is 'indices' but pixel values are not whole 8-bit numbers; "
                            f"load the label PNG unchanged (no resizing or blurring)")
    top = int(idx.max().item())
    if top >= CLASSES:
        raise LabelMapError(f"{field}: class index {top} is out of range; ADE20K indices are 0..{CLASSES - 1} "
                            f"(0 = unlabelled). Is this a colour segmentation? Then set labels to 'colours'.")
    return idx.long()


def label_classes(image: torch.Tensor, mode: str, field: str) -> torch.Tensor:
    """A ComfyUI IMAGE ``[B, H, W, C]`` in 0..1 -> ADE20K class indices ``[B, H, W]``."""
    if mode not in LABEL_MODES:
        raise LabelMapError(f"{field}: labels is {mode!r}; choose one of {', '.join(LABEL_MODES)}")
    rgb = image[..., :3].float() * 255.0
    if rgb.shape[-1] == 1:
        rgb = rgb.expand(*rgb.shape[:-1], 3)
    return classes_from_colours(rgb, field) if mode == "colours" else classes_from_indices(rgb, field)


def one_hot(classes: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Class indices ``[B, H, W]`` -> one-hot ``[B, 152, h, w]`` at ``size``, nearest-resized (the same as
    resizing the one-hot map with nearest interpolation, without building it at full size)."""
    x = torch.nn.functional.interpolate(classes[:, None].float(), size=size, mode="nearest")[:, 0].long()
    return torch.nn.functional.one_hot(x, CLASSES).permute(0, 3, 1, 2).float()
