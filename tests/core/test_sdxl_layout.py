"""GLIGEN-XL weights (SDXL spec 2): the exact published layout at reduced width, sharded diffusers
UNets, one fuser at real width against the formula, and the converter."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file, save_file

from gligen_pack.gligen_core import BlockPosition, GLIGENFileError, load_adapter
from gligen_pack.gligen_core.fuser import GatedSelfAttention
from gligen_pack.runner.demo_models import GLIGEN_XL_BLOCKS, gligen_xl_fusers, random_gligen_state
from helpers.gligen_files import write_shards
from helpers.spec import spec_fuser

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def xl_state(names="diffusers", seed=0):
    """The 1,198 tensors of GLIGEN-XL with widths divided by 10 (64 / 128)."""
    fusers = [(p, d // 10) for p, d in gligen_xl_fusers(names=names)]
    return random_gligen_state(fusers, seed=seed, phrase_dim=2048, token_dim=2048)


@pytest.fixture(scope="module")
def xl(tmp_path_factory):
    d = tmp_path_factory.mktemp("xl")
    path = str(d / "adapter.safetensors")
    save_file(xl_state(), path)
    return path


def test_all_70_fusers_at_their_block_and_inner_positions(xl):
    sd = xl_state()
    assert len(sd) == 70 * 17 + 8 == 1198
    loaded = load_adapter(xl)
    adapter = loaded.adapter
    assert loaded.layout == "diffusers" and adapter.family == "SDXL"
    expected = []
    for _, ldm, depth, d in GLIGEN_XL_BLOCKS:
        part = ldm.split("_")[0] if not ldm.startswith("middle") else "middle"
        block = 0 if part == "middle" else int(ldm.split(".")[1])
        expected += [(BlockPosition(part, block, j), d // 10) for j in range(depth)]
    assert [(p, adapter.shape.fusers[p]) for p in adapter.positions()] == expected
    assert BlockPosition("input", 7, 9) in adapter.positions() and BlockPosition("middle", 0, 9) in adapter.positions()
    assert adapter.phrase_dim == 2048 and adapter.shape.token_dim == 2048
    assert adapter.position_net.linears[0].in_features == 2112     # [2048 phrase ; 64 Fourier]


def test_ldm_named_copy_loads_identically(xl, tmp_path):
    path = str(tmp_path / "ldm.safetensors")
    save_file(xl_state(names="ldm"), path)
    a, b = load_adapter(xl).adapter.state_dict(), load_adapter(path).adapter.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_sharded_full_unet_by_index_shard_or_folder(xl, tmp_path):
    sd = dict(xl_state())
    sd.update({"conv_in.weight": torch.zeros(8, 4, 3, 3), "down_blocks.0.resnets.1.conv1.weight": torch.zeros(4, 4, 3, 3),
               "down_blocks.1.attentions.0.transformer_blocks.1.attn2.to_k.weight": torch.zeros(4, 4)})
    unet = tmp_path / "gligen-xl-1024" / "unet"
    unet.mkdir(parents=True)
    write_shards(sd, unet)
    reference = load_adapter(xl).adapter.state_dict()
    for source in (unet / "diffusion_pytorch_model.safetensors.index.json",
                   unet / "diffusion_pytorch_model-00002-of-00003.safetensors", unet.parent, unet):
        loaded = load_adapter(str(source))
        assert loaded.layout == "diffusers" and len(loaded.adapter.positions()) == 70
        got = loaded.adapter.state_dict()
        assert all(torch.equal(got[k], reference[k]) for k in reference)


def test_missing_shard_and_broken_index(tmp_path):
    unet = tmp_path / "unet"
    unet.mkdir()
    write_shards(xl_state(), unet)
    os.remove(unet / "diffusion_pytorch_model-00003-of-00003.safetensors")
    with pytest.raises(GLIGENFileError, match=r"shard 'diffusion_pytorch_model-00003-of-00003.safetensors' .* is missing"):
        load_adapter(str(unet))
    (unet / "diffusion_pytorch_model.safetensors.index.json").write_text("{}")
    with pytest.raises(GLIGENFileError, match="not a safetensors index"):
        load_adapter(str(unet / "diffusion_pytorch_model-00001-of-00003.safetensors"))
    lone = tmp_path / "lone"
    lone.mkdir()
    save_file({"a": torch.zeros(1)}, str(lone / "x-00001-of-00002.safetensors"))
    with pytest.raises(GLIGENFileError, match="its index .* is not next to it"):
        load_adapter(str(lone / "x-00001-of-00002.safetensors"))


def test_sdxl_unet_without_fusers(tmp_path):
    path = str(tmp_path / "sdxl_unet.safetensors")
    save_file({"conv_in.weight": torch.zeros(4, 4, 3, 3),
               "down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_q.weight": torch.zeros(4, 4),
               "add_embedding.linear_1.weight": torch.zeros(4, 4)}, path)
    with pytest.raises(GLIGENFileError, match="a diffusers UNet without GLIGEN fusers"):
        load_adapter(path)


def test_one_fuser_at_real_width_matches_the_formula():
    torch.manual_seed(0)
    f = GatedSelfAttention(1280, 2048, heads=20)
    with torch.no_grad():
        for p in f.parameters():
            p.normal_(0, 0.02)
        f.alpha_attn.fill_(0.8)
        f.alpha_dense.fill_(-0.6)
    assert f.parameter_count() == 28_855_042                    # SDXL spec 2.5
    x = torch.randn(1, 16, 1280)
    objs = torch.randn(1, 30, 2048)
    torch.testing.assert_close(f(x, objs, 1.0, heads=20).double(), spec_fuser(f, x, objs, 1.0, 20), rtol=1e-4, atol=1e-4)


def test_converter_extracts_a_small_fp16_file(tmp_path):
    sd = dict(xl_state())
    sd["conv_in.weight"] = torch.zeros(8, 4, 3, 3)
    unet = tmp_path / "unet"
    unet.mkdir()
    write_shards(sd, unet, parts=2)
    out = tmp_path / "gligen_xl_extracted.safetensors"
    proc = subprocess.run([sys.executable, ROOT, "convert", str(unet), str(out)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SDXL text-box GLIGEN: 70 fusers" in proc.stdout and "put it in ComfyUI/models/gligen" in proc.stdout
    written = load_file(str(out))
    assert len(written) == 1198 and all(v.dtype == torch.float16 for v in written.values())
    assert "input_blocks.7.1.transformer_blocks.9.fuser.attn.to_q.weight" in written     # LDM names
    back = load_adapter(str(out))
    assert back.layout == "comfyui-pruned" and len(back.adapter.positions()) == 70
    ref = load_adapter(str(unet)).adapter.canonical_state_dict()
    assert all(torch.equal(written[k], ref[k].half()) for k in ref)
    bad = subprocess.run([sys.executable, ROOT, "convert", str(tmp_path / "nope"), str(out)], capture_output=True, text=True)
    assert bad.returncode == 2 and "does not exist" in bad.stdout
