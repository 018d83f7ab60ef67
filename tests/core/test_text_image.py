"""The text-image family against the official forward written out here (GLIGEN spec 2.2,
``text_image_grounding_net.PositionNet``), the image feature against its formula, the grounding's slots,
and the inpainting keep mask against the official ``draw_masks_from_boxes``."""
from __future__ import annotations

import math

import pytest
import torch
from safetensors.torch import save_file

from gligen_pack.gligen_core import Grounding, load_adapter
from gligen_pack.gligen_core.image_features import (
    GLIGEN_FEATURE_NORM, gligen_image_features, projection_from_diffusers, shipped_projection)
from gligen_pack.gligen_core.inpainting import InpaintInput, keep_mask_from_boxes
from helpers.gligen_variants import diffusers_names, sd1_text_image_state


def fourier(box):
    out = []
    for k in range(8):
        f = 100.0 ** (k / 8)
        out += [math.sin(f * c) for c in box] + [math.cos(f * c) for c in box]
    return torch.tensor(out, dtype=torch.float64)


def mlp(sd, prefix, x):
    for i in (0, 2, 4):
        x = sd[f"{prefix}.{i}.weight"].double() @ x + sd[f"{prefix}.{i}.bias"].double()
        if i < 4:
            x = x * torch.sigmoid(x)
    return x


def official_forward(sd, boxes, masks, text_masks, image_masks, text, image):
    """PositionNet.forward of text_image_grounding_net.py, slot by slot in float64."""
    n = boxes.shape[0]
    text_tokens, image_tokens = [], []
    for s in range(n):
        m, tm, im = masks[s].item(), text_masks[s].item(), image_masks[s].item()
        pos = fourier(boxes[s].tolist()) * m + sd["null_position_feature"].double() * (1 - m)
        t = text[s].double() * tm + sd["null_text_feature"].double() * (1 - tm)
        i = image[s].double() * im + sd["null_image_feature"].double() * (1 - im)
        text_tokens.append(mlp(sd, "linears_text", torch.cat([t, pos])))
        image_tokens.append(mlp(sd, "linears_image", torch.cat([i, pos])))
    return torch.stack(text_tokens + image_tokens)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    sd = sd1_text_image_state(scale=10, seed=7)
    d = tmp_path_factory.mktemp("ti")
    save_file(sd, str(d / "pruned.safetensors"))
    save_file(diffusers_names(sd), str(d / "unet.safetensors"))
    return sd, d


@pytest.mark.parametrize("layout", ["pruned", "unet"])
def test_tokens_equal_the_official_forward(files, layout):
    sd, d = files
    adapter = load_adapter(str(d / f"{layout}.safetensors")).adapter
    tok = {k.removeprefix("position_net."): v for k, v in sd.items() if k.startswith("position_net.")}
    gen = torch.Generator().manual_seed(1)
    k = 4   # phrase only, image only, both, and a box with a phrase and a fractional nothing
    boxes = torch.rand(k, 4, generator=gen).sort(dim=-1).values[:, [0, 1, 2, 3]]
    boxes = torch.stack([boxes[:, 0], boxes[:, 1], boxes[:, 2].clamp(min=boxes[:, 0] + 0.1),
                         boxes[:, 3].clamp(min=boxes[:, 1] + 0.1)], dim=1).clamp(max=1)
    text = torch.randn(k, 768, generator=gen) * 2
    image = gligen_image_features(torch.randn(k, 768, generator=gen))
    g = Grounding(("a cat", "", "a dog", "a hat"), boxes, text, has_image=(False, True, True, False),
                  image_features=image)
    got = adapter.tokens(g, "cpu", torch.float32)[0]
    slots = 30
    full = lambda t, fill=0.0: torch.cat([t, torch.full((slots - k, *t.shape[1:]), fill)])  # noqa: E731
    expected = official_forward(tok, full(boxes), full(torch.ones(k)), full(torch.tensor([1.0, 0, 1, 1])),
                                full(torch.tensor([0.0, 1, 1, 0])), full(text * torch.tensor([1.0, 0, 1, 1])[:, None]),
                                full(image * torch.tensor([0.0, 1, 1, 0])[:, None]))
    assert got.shape == (60, 768)
    assert ((got.double() - expected).norm() / expected.norm()).item() < 1e-5
    null = adapter.tokens(None, "cpu", torch.float32)[0]
    expected_null = official_forward(tok, torch.zeros(slots, 4), *(torch.zeros(slots),) * 3,
                                     torch.zeros(slots, 768), torch.zeros(slots, 768))
    assert ((null.double() - expected_null).norm() / expected_null.norm()).item() < 1e-5


def test_text_only_boxes_run_with_null_image_features(files):
    sd, d = files
    adapter = load_adapter(str(d / "pruned.safetensors")).adapter
    text = torch.randn(2, 768)
    boxes = torch.tensor([[0.1, 0.1, 0.5, 0.5], [0.4, 0.2, 0.9, 0.7]])
    plain = adapter.tokens(Grounding(("a", "b"), boxes, text), "cpu", torch.float32)
    flagged = adapter.tokens(Grounding(("a", "b"), boxes, text, image_features=torch.randn(2, 768),
                                       has_image=(False, False)), "cpu", torch.float32)
    assert torch.equal(plain, flagged)


def test_image_feature_is_x_times_p_normalised_to_28_7():
    p = shipped_projection()
    assert p.shape == (768, 768) and p.dtype == torch.float32
    x = torch.randn(3, 768, generator=torch.Generator().manual_seed(2))
    got = gligen_image_features(x)
    for row, xi in zip(got, x):
        y = xi.double() @ p.double()
        torch.testing.assert_close(row.double(), y / y.norm() * 28.7, rtol=1e-5, atol=1e-5)
        assert row.norm().item() == pytest.approx(GLIGEN_FEATURE_NORM, rel=1e-5)
    w = torch.randn(768, 768)   # diffusers image_project.project.weight: y = x W^T
    torch.testing.assert_close(gligen_image_features(x, projection_from_diffusers(w)),
                               torch.nn.functional.normalize(x @ w.t(), dim=-1) * 28.7, rtol=1e-5, atol=1e-5)


def test_a_diffusers_image_project_is_read_from_the_file_or_beside_the_unet(files, tmp_path):
    sd, _ = files
    w = torch.randn(768, 768, generator=torch.Generator().manual_seed(5))
    save_file({**diffusers_names(sd), "image_project.project.weight": w}, str(tmp_path / "merged.safetensors"))
    assert torch.equal(load_adapter(str(tmp_path / "merged.safetensors")).image_projection, w.t())
    (tmp_path / "repo" / "unet").mkdir(parents=True)
    (tmp_path / "repo" / "image_project").mkdir()
    save_file(diffusers_names(sd), str(tmp_path / "repo" / "unet" / "diffusion_pytorch_model.safetensors"))
    save_file({"project.weight": w}, str(tmp_path / "repo" / "image_project" / "diffusion_pytorch_model.safetensors"))
    loaded = load_adapter(str(tmp_path / "repo" / "unet" / "diffusion_pytorch_model.safetensors"))
    assert torch.equal(loaded.image_projection, w.t())


def official_draw_masks(boxes, size):
    """inpaint_mask_func.draw_masks_from_boxes without the random strokes, one image."""
    m = torch.ones(size, size)
    for bx in boxes:
        x0, y0, x1, y1 = (torch.tensor(bx) * size).tolist()
        m[int(y0):int(y1), int(x0):int(x1)] = 0
    return m


def test_keep_mask_from_boxes_is_the_official_one():
    boxes = [[0.1, 0.2, 0.55, 0.71], [0.0, 0.0, 0.03, 0.99], [0.0, 0.0, 0.0, 0.0]]
    assert torch.equal(keep_mask_from_boxes(boxes, 64, 64)[0, 0], official_draw_masks(boxes, 64))


def test_inpaint_channels_are_masked_latent_then_mask():
    z0, keep = torch.randn(1, 4, 6, 5), (torch.rand(1, 1, 6, 5) > 0.5).float()
    ch = InpaintInput(z0, keep).channels((6, 5), "cpu", torch.float32)
    assert torch.equal(ch, torch.cat((z0 * keep, keep), dim=1))
