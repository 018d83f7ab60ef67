"""The keypoint and the five spatial-map GLIGEN files: detected from their keys in the released layouts
(KEYS.md "Other variants"), loaded strictly, written back out unchanged; what is wrong with a damaged
file is named."""
from __future__ import annotations

import pytest
import torch
from safetensors.torch import save_file

from gligen_pack.gligen_core import GLIGENFileError, load_adapter, save_adapter
from gligen_pack.gligen_core.adapter import GLIGENAdapter
from gligen_pack.gligen_core.files import Tensors
from gligen_pack.gligen_core.layouts import check_layout
from helpers.gligen_files import SD1_FUSERS
from helpers.map_files import CONVNEXT_T, keypoint_state, map_state, official_checkpoint

FULL_FUSERS = [(ldm, d) for ldm, _, d in SD1_FUSERS]
SMALL_FUSERS = [(ldm, d // 10) for ldm, _, d in SD1_FUSERS]
# released file -> (modality the pack reads it as, first conv input channels)
MAP_FILES = {"hed": ("hed", 5), "canny": ("canny-depth", 12), "depth": ("canny-depth", 12),
             "normal": ("normal", 12), "sem": ("semantic", 12)}


def meta(sd: dict) -> dict:
    return {k: torch.empty(v.shape, device="meta") for k, v in sd.items()}


def released(name: str) -> dict[str, torch.Tensor]:
    """Every tensor of the released file's ``model`` entry that the adapter uses, at its released shape,
    on the meta device (no memory), plus frozen UNet weights."""
    with torch.device("cpu"):
        if name == "keypoint":
            sd = keypoint_state(FULL_FUSERS[:1], hidden=512)
        else:
            modality = "semantic" if name == "sem" else name
            sd = map_state(modality, FULL_FUSERS[:1], hidden=512, **CONVNEXT_T)
    sd = meta(sd)
    for ldm, d in FULL_FUSERS[1:]:       # the other 15 fusers, shapes as the first one's recipe
        for k, v in list(sd.items()):
            if k.startswith(FULL_FUSERS[0][0] + "."):
                shape = tuple(d if s == FULL_FUSERS[0][1] else 4 * d if s == 4 * FULL_FUSERS[0][1] else
                              8 * d if s == 8 * FULL_FUSERS[0][1] else s for s in v.shape)
                sd[ldm + k[len(FULL_FUSERS[0][0]):]] = torch.empty(shape, device="meta")
    return meta(official_checkpoint(sd)["model"])


@pytest.mark.parametrize("name", ["keypoint", *MAP_FILES])
def test_each_released_layout_is_detected_from_its_keys(name):
    model = released(name)
    checked = check_layout(Tensors(model, model.__getitem__, wrapped="model"), f"{name}.bin")
    shape = checked.shape
    assert checked.layout == "official" and len(shape.fusers) == 16 and shape.token_dim == 768
    with torch.device("meta"):
        adapter = GLIGENAdapter(shape)
    tok = adapter.position_net
    tok_params = sum(p.numel() for p in tok.parameters())
    if name == "keypoint":
        assert shape.family == "keypoint" and adapter.input_kind == "keypoints" and shape.first_conv is None
        assert tok_params == 1_086_752                               # GLIGEN spec 2.3
        assert tok.num_tokens == 136
    else:
        modality, channels = MAP_FILES[name]
        assert shape.family == "spatial-map" and tok.modality == modality
        assert adapter.input_kind == f"{modality} map"
        assert shape.first_conv.in_channels == channels and shape.first_conv.width == 320
        assert shape.first_conv.inpaint_channels == 0
        assert tok.num_tokens == 64 and tok.resize_input == 256
        trunk = sum(p.numel() for p in tok.convnext_tiny_backbone.parameters())
        assert trunk == 27_818_592                                   # ConvNeXt-T without norm and head
        head = sum(p.numel() for n, p in tok.named_parameters() if not n.startswith(("convnext", "downsample")))
        assert 28.8e6 < trunk + head < 29.1e6                        # the spec's ~28.92 M tokenizer


def write(tmp_path, name, sd):
    path = str(tmp_path / name)
    save_file(sd, path) if name.endswith(".safetensors") else torch.save(sd, path)
    return path


def states_equal(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


VARIANTS = {"keypoint": lambda: keypoint_state(SMALL_FUSERS, seed=5),
            **{m: (lambda m=m: map_state(m, SMALL_FUSERS, seed=5, conv_width=32))
               for m in ("hed", "depth", "normal", "semantic")}}


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_pruned_and_official_files_load_the_same_adapter_and_write_back_unchanged(name, tmp_path):
    sd = VARIANTS[name]()
    pruned = load_adapter(write(tmp_path, "p.safetensors", sd))
    official = load_adapter(write(tmp_path, "diffusion_pytorch_model.bin", official_checkpoint(sd, conv_width=32)))
    assert (pruned.layout, official.layout) == ("comfyui-pruned", "official")
    assert states_equal(pruned.adapter, official.adapter)
    canonical = pruned.adapter.canonical_state_dict()
    assert canonical.keys() == sd.keys() and all(torch.equal(canonical[k], v) for k, v in sd.items())
    out = str(tmp_path / "saved.safetensors")
    save_adapter(official.adapter, out)
    assert states_equal(load_adapter(out).adapter, pruned.adapter)
    assert pruned.adapter.kind == ("keypoint" if name == "keypoint" else "spatial-map")


@pytest.mark.parametrize("damage, message", [
    (lambda sd: sd.pop("input_blocks.0.0.weight"), "missing tensor 'input_blocks.0.0.weight'"),
    (lambda sd: sd.pop("position_net.convnext_tiny_backbone.stages.2.0.gamma"),
     "the ConvNeXt trunk 'position_net.convnext_tiny_backbone.*' is incomplete"),
    (lambda sd: sd.pop("position_net.convnext_tiny_backbone.stages.1.0.pwconv2.bias"),
     "missing tensor 'position_net.convnext_tiny_backbone.stages.1.0.pwconv2.bias'"),
    (lambda sd: sd.__setitem__("downsample_net.layers.0.weight", torch.zeros(4, 2, 4, 4)),
     "no released map model's downsampler reads 2 channels"),
    (lambda sd: sd.__setitem__("input_blocks.0.0.weight", torch.zeros(32, 7, 3, 3)), "7-channel first convolution"),
    (lambda sd: sd.__setitem__("position_net.pos_embedding", torch.zeros(1, 60, 32)), "pos_embedding"),
])
def test_a_damaged_map_file_names_what_is_wrong(damage, message, tmp_path):
    sd = map_state("depth", SMALL_FUSERS, seed=5, conv_width=32)
    damage(sd)
    with pytest.raises(GLIGENFileError) as e:
        load_adapter(write(tmp_path, "broken.safetensors", sd))
    assert message in str(e.value)


def test_a_damaged_keypoint_file_names_what_is_wrong(tmp_path):
    sd = keypoint_state(SMALL_FUSERS, seed=5)
    del sd["position_net.null_xy_feature"]
    with pytest.raises(GLIGENFileError) as e:
        load_adapter(write(tmp_path, "kp.safetensors", sd))
    assert "is not a complete keypoint GLIGEN file" in str(e.value)
    assert "missing tensor 'position_net.null_xy_feature'" in str(e.value)
