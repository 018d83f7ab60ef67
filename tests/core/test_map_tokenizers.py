"""The keypoint and spatial-map tokenizers and the map downsamplers against the official modules.

Each official forward (gligen/GLIGEN ``keypoint_grounding_net``, ``*_grounding_net``,
``*_grounding_downsampler``) is written out here independently as plain tensor operations on a
state dict in the released key names; the ConvNeXt-T trunk's oracle is timm's ConvNeXt with the key
names mapped. Random weights, fixed seeds, the exact released shapes (``KEYS.md`` "Other variants").
"""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from gligen_pack.gligen_core.convnext import ConvNeXtTrunk, trunk_shapes
from gligen_pack.gligen_core.downsamplers import DOWNSAMPLERS, MapDownsampler, downsampler_shapes
from gligen_pack.gligen_core.tokenizers.keypoint import KeypointTokenizer, keypoint_shapes
from gligen_pack.gligen_core.tokenizers.spatial import SpatialTokenizer, spatial_shapes

timm = pytest.importorskip("timm")  # test dependency (tests/requirements.txt), the ConvNeXt oracle


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a.double() - b.double()).norm() / b.double().norm()).item()


def random_state(shapes: dict[str, tuple[int, ...]], seed: int, scale: float = 0.1) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {k: torch.randn(s, generator=g) * scale for k, s in sorted(shapes.items())}


# --- the released shapes, from KEYS.md, independent of the pack's tables --------------------------

KEYPOINT_FILE = {
    "person_embeddings": (8, 768), "keypoint_embeddings": (17, 768),
    "linears.0.weight": (512, 800), "linears.0.bias": (512,), "linears.2.weight": (512, 512),
    "linears.2.bias": (512,), "linears.4.weight": (768, 512), "linears.4.bias": (768,),
    "null_person_feature": (768,), "null_xy_feature": (32,),
}


def official_fourier(x: torch.Tensor, freqs: int = 8, temperature: float = 100.0) -> torch.Tensor:
    bands = temperature ** (torch.arange(freqs) / freqs)
    parts = []
    for f in bands:
        parts += [torch.sin(f * x), torch.cos(f * x)]
    return torch.cat(parts, dim=-1)


def official_mlp(sd: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    x = F.silu(F.linear(x, sd["linears.0.weight"], sd["linears.0.bias"]))
    x = F.silu(F.linear(x, sd["linears.2.weight"], sd["linears.2.bias"]))
    return F.linear(x, sd["linears.4.weight"], sd["linears.4.bias"])


def official_keypoints(sd, points, masks):
    n = points.shape[0]
    person = sd["person_embeddings"].unsqueeze(1).repeat(1, 17, 1).reshape(8 * 17, 768)
    person = person + torch.cat([sd["keypoint_embeddings"]] * 8, dim=0)
    person = person.unsqueeze(0).repeat(n, 1, 1)
    xy = official_fourier(points)
    m = masks.unsqueeze(-1)
    person = person * m + (1 - m) * sd["null_person_feature"].view(1, 1, -1)
    xy = xy * m + (1 - m) * sd["null_xy_feature"].view(1, 1, -1)
    return official_mlp(sd, torch.cat([person, xy], dim=-1))


def test_keypoint_tokenizer_has_the_released_tensors_and_equals_the_official_forward():
    assert keypoint_shapes() == KEYPOINT_FILE
    sd = random_state(KEYPOINT_FILE, 1)
    tok = KeypointTokenizer()
    tok.load_state_dict(sd, strict=True)
    g = torch.Generator().manual_seed(2)
    points = torch.rand(2, 136, 2, generator=g)
    points[0, 20:] = 0                         # absent points, as prepare_batch_kp writes them
    points[1, 50:70] = 0
    masks = (points.mean(dim=-1) != 0).float()
    masks[1, 3] = 0.5                          # masks blend as floats
    ours, ref = tok(points, masks), official_keypoints(sd, points, masks)
    assert ours.shape == (2, 136, 768)
    assert rel_err(ours, ref) < 1e-5
    null = tok.null_tokens(batch=2)
    assert rel_err(null, official_keypoints(sd, torch.zeros(2, 136, 2), torch.zeros(2, 136))) < 1e-5


def test_keypoint_tokenizer_refuses_a_wrong_token_count():
    with pytest.raises(ValueError, match="136"):
        KeypointTokenizer()(torch.zeros(1, 17, 2), torch.zeros(1, 17))


# --- ConvNeXt-T trunk ----------------------------------------------------------------------------

def official_to_timm(key: str) -> str:
    """Official (facebookresearch/ConvNeXt) trunk names -> timm's."""
    parts = key.split(".")
    if parts[0] == "downsample_layers":
        i, j = int(parts[1]), parts[2]
        return f"stem.{j}.{parts[3]}" if i == 0 else f"stages.{i}.downsample.{j}.{parts[3]}"
    s, b, rest = parts[1], parts[2], ".".join(parts[3:])
    rest = {"dwconv.weight": "conv_dw.weight", "dwconv.bias": "conv_dw.bias", "pwconv1.weight": "mlp.fc1.weight",
            "pwconv1.bias": "mlp.fc1.bias", "pwconv2.weight": "mlp.fc2.weight", "pwconv2.bias": "mlp.fc2.bias"
            }.get(rest, rest)
    return f"stages.{s}.blocks.{b}.{rest}"


SMALL = dict(depths=(1, 2, 1, 1), dims=(16, 32, 64, 768))   # released head widths, a cheaper trunk


def random_convnext(depths=(3, 3, 9, 3), dims=(96, 192, 384, 768)):
    """A random ConvNeXt in timm (the oracle) and its trunk's state dict under the official names."""
    torch.manual_seed(3)
    oracle = timm.models.convnext.ConvNeXt(depths=depths, dims=dims, num_classes=0).eval()
    g = torch.Generator().manual_seed(4)
    with torch.no_grad():
        for name, p in oracle.named_parameters():
            if name.startswith("head"):
                continue
            if name.endswith("gamma"):
                p.copy_(torch.rand(p.shape, generator=g) * 0.5)      # ls scales well away from 1e-6
            elif "norm" in name or name.startswith("stem.1") or "downsample.0" in name:
                p.copy_(1 + torch.randn(p.shape, generator=g) * 0.1 if name.endswith("weight")
                        else torch.randn(p.shape, generator=g) * 0.1)
            else:
                fan_in = math.prod(p.shape[1:]) if p.ndim > 1 else 1
                p.copy_(torch.randn(p.shape, generator=g) / math.sqrt(fan_in))
    timm_sd = {k: v for k, v in oracle.state_dict().items() if not k.startswith("head")}
    ours = ConvNeXtTrunk(3, depths, dims)
    official = {k: timm_sd[official_to_timm(k)] for k in ours.state_dict()}
    assert len(official) == len(timm_sd)
    return oracle, official


@pytest.fixture(scope="module")
def small_convnext():
    return random_convnext(**SMALL)


def test_convnext_t_trunk_in_the_official_names_equals_timm():
    oracle, official = random_convnext()
    assert len(official) == 178                      # ConvNeXt-T without final norm and head
    assert trunk_shapes((3, 3, 9, 3), (96, 192, 384, 768), 3) == {k: tuple(v.shape) for k, v in official.items()}
    trunk = ConvNeXtTrunk()
    trunk.load_state_dict(official, strict=True)
    x = torch.randn(1, 3, 256, 256, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        ours, ref = trunk(x), oracle.forward_features(x)
    assert ours.shape == (1, 768, 8, 8)
    assert rel_err(ours, ref) < 1e-5


def official_spatial(sd, trunk, grounding_map, mask, semantic: bool):
    b = grounding_map.shape[0]
    x = F.interpolate(grounding_map, 256, mode="nearest") if semantic else F.interpolate(grounding_map, 256)
    if semantic:
        x = F.conv2d(x, sd["in_conv.weight"], sd["in_conv.bias"], stride=1, padding=1)
    objs = trunk.forward_features(x).reshape(b, -1, 64).permute(0, 2, 1)
    null = sd["null_feature"].view(1, 1, -1).repeat(b, 64, 1)
    m = mask.view(-1, 1, 1)
    objs = objs * m + null * (1 - m)
    return official_mlp(sd, objs + sd["pos_embedding"])


HEAD_FILE = {"pos_embedding": (1, 64, 768), "null_feature": (768,),
             "linears.0.weight": (512, 768), "linears.0.bias": (512,), "linears.2.weight": (512, 512),
             "linears.2.bias": (512,), "linears.4.weight": (768, 512), "linears.4.bias": (768,)}


@pytest.mark.parametrize("semantic", [False, True], ids=["rgb-map", "semantic"])
def test_spatial_tokenizer_has_the_released_tensors_and_equals_the_official_forward(small_convnext, semantic):
    """The released head (position embedding, null feature, MLP, semantic in_conv) on a smaller trunk
    (the ConvNeXt-T trunk itself is checked above)."""
    oracle, trunk_sd = small_convnext
    extra = {"in_conv.weight": (3, 152, 3, 3), "in_conv.bias": (3,)} if semantic else {}
    heads = random_state({**HEAD_FILE, **extra}, 6)
    sd = {**{f"convnext_tiny_backbone.{k}": v for k, v in trunk_sd.items()}, **heads}
    assert spatial_shapes(semantic_classes=152 if semantic else None) == {
        **{f"convnext_tiny_backbone.{k}": s for k, s in trunk_shapes((3, 3, 9, 3), (96, 192, 384, 768), 3).items()},
        **{k: tuple(v.shape) for k, v in heads.items()}}
    tok = SpatialTokenizer(semantic_classes=152 if semantic else None, **SMALL)
    tok.load_state_dict(sd, strict=True)
    g = torch.Generator().manual_seed(7)
    if semantic:
        labels = torch.randint(0, 152, (2, 384, 384), generator=g)
        grounding_map = F.one_hot(labels, 152).permute(0, 3, 1, 2).float()
    else:
        grounding_map = torch.rand(2, 3, 512, 512, generator=g) * 2 - 1
    mask = torch.tensor([1.0, 0.0])                  # sample 1 is the null input
    with torch.no_grad():
        ours = tok(grounding_map, mask)
        ref = official_spatial(heads, oracle, grounding_map, mask, semantic)
        null = tok.null_tokens(batch=1)
    assert ours.shape == (2, 64, 768)
    assert rel_err(ours, ref) < 1e-5
    assert torch.equal(null[0], ours[1])             # the null tokens never run the trunk


# --- downsamplers ---------------------------------------------------------------------------------

DOWN_FILE = {"hed": {}, "canny": {"layers.0.weight": (4, 1, 4, 4), "layers.2.weight": (8, 4, 4, 4)},
             "depth": {"layers.0.weight": (4, 1, 4, 4), "layers.2.weight": (8, 4, 4, 4)},
             "normal": {"layers.0.weight": (4, 3, 4, 4), "layers.2.weight": (8, 4, 4, 4)},
             "semantic": {"layers.0.weight": (16, 152, 4, 4), "layers.2.weight": (8, 16, 4, 4)}}


def official_downsample(modality: str, sd, x):
    if modality == "hed":
        return F.interpolate(x[:, 0].unsqueeze(1), (64, 64), mode="bicubic")
    if modality in ("canny", "depth"):
        x = x[:, 0].unsqueeze(1)
    x = F.interpolate(x, (256, 256), mode="nearest" if modality == "semantic" else "bicubic")
    x = F.silu(F.conv2d(x, sd["layers.0.weight"], sd["layers.0.bias"], stride=2, padding=1))
    return F.conv2d(x, sd["layers.2.weight"], sd["layers.2.bias"], stride=2, padding=1)


@pytest.mark.parametrize("modality", list(DOWN_FILE))
def test_downsampler_has_the_released_tensors_and_equals_the_official_forward(modality):
    weights = DOWN_FILE[modality]
    expected = {**weights, **{k.replace("weight", "bias"): (s[0],) for k, s in weights.items()}}
    spec = DOWNSAMPLERS[modality]
    assert downsampler_shapes(spec) == expected
    assert spec.out_channels == (1 if modality == "hed" else 8)
    sd = random_state(expected, 8)
    down = MapDownsampler(spec)
    down.load_state_dict(sd, strict=True)
    g = torch.Generator().manual_seed(9)
    if modality == "semantic":
        x = F.one_hot(torch.randint(0, 152, (2, 384, 384), generator=g), 152).permute(0, 3, 1, 2).float()
    else:
        x = torch.rand(2, 3, 512, 512, generator=g) * 2 - 1
    with torch.no_grad():
        ours, ref = down(x, (64, 64)), official_downsample(modality, sd, x)
    assert ours.shape == (2, spec.out_channels, 64, 64)
    assert rel_err(ours, ref) < 1e-5


@pytest.mark.parametrize("modality", ["hed", "depth", "semantic"])
def test_downsampler_output_matches_any_latent_size(modality):
    spec = DOWNSAMPLERS[modality]
    down = MapDownsampler(spec)
    x = torch.rand(1, spec.in_channels if modality == "semantic" else 3, 600, 400) * 2 - 1
    with torch.no_grad():
        assert down(x, (75, 50)).shape == (1, spec.out_channels, 75, 50)


# --- the families as the runtime sees them ----------------------------------------------------------

def test_keypoint_tokens_of_a_pose_grounding_equal_the_official_forward_on_its_slots():
    from gligen_pack.gligen_core.pose import PoseGrounding, frames_from
    sd = random_state(KEYPOINT_FILE, 11)
    tok = KeypointTokenizer()
    tok.load_state_dict(sd)
    flat = [0.0] * 54
    flat[0:3] = [32.0, 16.0, 1.0]                      # the nose, on a 64x64 canvas
    (pose,) = frames_from({"people": [{"pose_keypoints_2d": flat}], "canvas_width": 64, "canvas_height": 64}, "p")
    out = tok.tokens(PoseGrounding((pose,)), "cpu", torch.float32)
    points, masks = torch.zeros(1, 136, 2), torch.zeros(1, 136)
    points[0, 0], masks[0, 0] = torch.tensor([0.5, 0.25]), 1
    assert out.shape == (1, 136, 768) and rel_err(out, official_keypoints(sd, points, masks)) < 1e-5
    assert torch.equal(tok.tokens(None, "cpu", torch.float32), tok.null_tokens(1))
    assert tok.first_conv_input(None, (8, 8), "cpu", torch.float32) is None


@pytest.mark.parametrize("modality", ["depth", "semantic"])
def test_a_map_family_holds_tokenizer_and_downsampler_under_the_released_names(modality):
    from gligen_pack.gligen_core.maps import GroundingMap
    from gligen_pack.gligen_core.tokenizers.spatial import MapGroundingNet
    net = MapGroundingNet(modality, depths=(1, 1, 1, 1), dims=(8, 8, 8, 16), out_dim=16, hidden=8)
    names = set(net.state_dict())
    assert {k for k in names if k.startswith("downsample_net.")} == {
        f"downsample_net.{k}" for k in downsampler_shapes(DOWNSAMPLERS[modality])}
    assert net.modality == modality and net.kind == "spatial-map" and net.input_kind == f"{modality} map"
    assert net.extra_channels == 8
    img = torch.rand(2, 96, 64, 3, generator=torch.Generator().manual_seed(12))
    if modality == "semantic":                           # a 2-class colour segmentation
        img = torch.where(img[..., :1] > 0.5, torch.tensor([120, 120, 120]) / 255, torch.tensor([6, 230, 230]) / 255)
    g = GroundingMap.from_image(modality, img, "map")
    toks = net.tokens(g, "cpu", torch.float32)
    x = g.tokenizer_input()
    assert toks.shape == (2, 64, 16) and torch.equal(toks, net(x, torch.ones(2)))
    extra = net.first_conv_input(g, (12, 8), "cpu", torch.float32)
    assert extra.shape == (2, 8, 12, 8)
    assert torch.equal(extra, net.downsample_net(g.downsampler_input((12, 8)), (12, 8)))
    assert torch.equal(net.tokens(None, "cpu", torch.float32), net.null_tokens(1))
