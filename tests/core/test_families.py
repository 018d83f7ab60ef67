"""The grounding-family framework: the registry, the tokenizer protocol, adapter kinds, the widened
first conv (extra channels added to the user's own conv) and loading each published variant layout."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

from gligen_pack.gligen_core import FAMILIES, GLIGENFileError, GroundingTokenizer, load_adapter, save_adapter
from gligen_pack.gligen_core.first_conv import FirstConvExtra, FirstConvShape
from gligen_pack.gligen_core.tokenizers import TokenizerShape
from helpers.gligen_files import sd1_pruned_state
from helpers.gligen_variants import diffusers_names, official_checkpoint, sd1_text_image_state, with_inpainting_conv

PUBLISHED = {  # KEYS.md: the position_net tensors of each family at SD1.x widths
    "text-box": {"null_positive_feature": (768,), "null_position_feature": (64,), "linears.0.weight": (512, 832),
                 "linears.0.bias": (512,), "linears.2.weight": (512, 512), "linears.2.bias": (512,),
                 "linears.4.weight": (768, 512), "linears.4.bias": (768,)},
    "text-image-box": {"null_text_feature": (768,), "null_image_feature": (768,), "null_position_feature": (64,),
                       **{f"{m}.{k}": s for m in ("linears_text", "linears_image") for k, s in
                          (("0.weight", (512, 832)), ("0.bias", (512,)), ("2.weight", (512, 512)),
                           ("2.bias", (512,)), ("4.weight", (768, 512)), ("4.bias", (768,)))}},
}


@pytest.mark.parametrize("kind", sorted(PUBLISHED))
def test_each_family_builds_the_published_tensors_and_implements_the_protocol(kind):
    family = FAMILIES[kind]
    shape = TokenizerShape(768, 768, 512, 8)
    module = family.build(shape, __import__("gligen_pack.gligen_core._ops", fromlist=["CAST_OPS"]).CAST_OPS)
    assert {k: tuple(v.shape) for k, v in module.state_dict().items()} == PUBLISHED[kind] == family.expected(shape)
    assert isinstance(module, GroundingTokenizer) and module.kind == kind
    assert family.read_shape(PUBLISHED[kind], []) == shape
    null = module.null_tokens(2)
    assert null.shape == (2, 30 if kind == "text-box" else 60, 768)
    assert torch.equal(module.tokens(None, "cpu", torch.float32), null[:1])
    assert module.first_conv_input(None, (8, 8), "cpu", torch.float32) is None
    assert sum(p.numel() for p in module.parameters()) == {"text-box": 1_083_968, "text-image-box": 2_167_872}[kind]


def test_extra_channels_added_to_the_own_conv_equal_the_widened_conv():
    torch.manual_seed(0)
    shape = FirstConvShape(width=12, inpaint_channels=5)
    extra = FirstConvExtra(shape)
    with torch.no_grad():
        extra.weight.normal_()
    bias = torch.randn(12)
    z, e = torch.randn(2, 4, 9, 7), torch.randn(2, 5, 9, 7)
    widened = F.conv2d(torch.cat((z, e), dim=1), extra.weight, bias, padding=1)       # the official 9-channel conv
    own = F.conv2d(z, torch.randn(12, 4, 3, 3), bias, padding=1)                       # the user's own conv ...
    own_with_sd_weights = F.conv2d(z, extra.weight[:, :4], bias, padding=1)            # ... here SD's own weights
    torch.testing.assert_close(extra(own_with_sd_weights, e), widened, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(extra(own, e) - own, widened - own_with_sd_weights, rtol=1e-5, atol=1e-5)


def write(tmp_path, name, sd):
    path = str(tmp_path / name)
    if name.endswith(".safetensors"):
        save_file(sd, path)
    else:
        torch.save(sd, path)
    return path


def states_equal(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


VARIANTS = {
    "text-box": lambda: sd1_pruned_state(scale=10, seed=4),
    "text-image-box": lambda: sd1_text_image_state(scale=10, seed=4),
    "inpainting text-box": lambda: with_inpainting_conv(sd1_pruned_state(scale=10, seed=4), 32),
    "inpainting text-image-box": lambda: with_inpainting_conv(sd1_text_image_state(scale=10, seed=4), 32),
}


@pytest.mark.parametrize("kind", sorted(VARIANTS))
def test_each_variant_loads_identically_from_pruned_official_and_diffusers(kind, tmp_path):
    sd = VARIANTS[kind]()
    pruned = load_adapter(write(tmp_path, "p.safetensors", sd))
    official = load_adapter(write(tmp_path, "diffusion_pytorch_model.bin", official_checkpoint(sd)))
    diffusers = load_adapter(write(tmp_path, "unet.safetensors", diffusers_names(sd)))
    assert (pruned.layout, official.layout, diffusers.layout) == ("comfyui-pruned", "official", "diffusers")
    for loaded in (pruned, official, diffusers):
        assert loaded.adapter.kind == kind
        assert states_equal(pruned.adapter, loaded.adapter)
    canonical = pruned.adapter.canonical_state_dict()
    assert canonical.keys() == sd.keys() and all(torch.equal(canonical[k], v) for k, v in sd.items())
    out = str(tmp_path / "saved.safetensors")
    save_adapter(official.adapter, out)
    assert states_equal(load_adapter(out).adapter, pruned.adapter)
    assert (pruned.adapter.shape.first_conv is not None) == kind.startswith("inpainting")


def test_a_file_mixing_two_families_names_both(tmp_path):
    sd = sd1_pruned_state(scale=10, seed=4)
    sd["position_net.null_image_feature"] = torch.zeros(768)
    with pytest.raises(GLIGENFileError) as e:
        load_adapter(write(tmp_path, "mixed.safetensors", sd))
    assert "mixes tensors of a text-box GLIGEN (gligen-generation-text-box) and of a text+image GLIGEN" in str(e.value)
    assert "'position_net.null_image_feature'" in str(e.value)


def test_an_incomplete_text_image_file_is_named_as_such(tmp_path):
    sd = sd1_text_image_state(scale=10, seed=4)
    del sd["position_net.linears_image.2.bias"]
    with pytest.raises(GLIGENFileError) as e:
        load_adapter(write(tmp_path, "ti.safetensors", sd))
    assert "is not a complete text+image GLIGEN file" in str(e.value)
    assert "missing tensor 'position_net.linears_image.2.bias' (expected shape [512])" in str(e.value)
