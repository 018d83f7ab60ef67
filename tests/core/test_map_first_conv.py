"""The map models' widened first conv, added to the user's own conv, against the official 5- or
12-channel conv on ``[z ; map features]`` (openaimodel.py: ``h = cat([x, downsample_net(map)]); conv(h)``)."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from gligen_pack.gligen_core.first_conv import FirstConvExtra, FirstConvShape
from gligen_pack.gligen_core.maps import GroundingMap
from gligen_pack.gligen_core.tokenizers.spatial import MapGroundingNet


@pytest.mark.parametrize("modality, channels", [("hed", 5), ("canny-depth", 12), ("normal", 12), ("semantic", 12)])
def test_user_conv_plus_extra_channels_equals_the_official_widened_conv(modality, channels):
    g = torch.Generator().manual_seed(0)
    width = 32
    weight = torch.randn(width, channels, 3, 3, generator=g) / 6       # the file's input_blocks.0.0.weight
    user_weight, user_bias = torch.randn(width, 4, 3, 3, generator=g) / 6, torch.randn(width, generator=g)
    net = MapGroundingNet(modality, depths=(1, 1, 1, 1), dims=(8, 8, 8, 16), out_dim=16, hidden=8)
    with torch.no_grad():
        for p in net.downsample_net.parameters():
            p.copy_(torch.randn(p.shape, generator=g) / 4)
    if modality == "semantic":
        img = torch.where(torch.rand(1, 256, 256, 1, generator=g) > 0.5, torch.tensor([120, 120, 120]) / 255,
                          torch.tensor([6, 230, 230]) / 255)
    else:
        img = torch.rand(1, 256, 256, 3, generator=g)
    grounding = GroundingMap.from_image("semantic" if modality == "semantic" else modality, img, "map")
    z = torch.randn(2, 4, 32, 32, generator=g)
    extra = net.first_conv_input(grounding, (32, 32), "cpu", torch.float32).expand(2, -1, -1, -1)
    assert extra.shape[1] == channels - 4
    # the official UNet: the file's conv (SD's bias) on [z ; downsampled map]
    official = F.conv2d(torch.cat([z, extra], dim=1), torch.cat([user_weight, weight[:, 4:]], dim=1), user_bias,
                        padding=1)
    first = FirstConvExtra(FirstConvShape(width, channels - 4, 0, 3))
    first.load_state_dict({"weight": weight})
    ours = first(F.conv2d(z, user_weight, user_bias, padding=1), extra)
    torch.testing.assert_close(ours, official, rtol=1e-5, atol=1e-5)
