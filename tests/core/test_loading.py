"""Loading GLIGEN files: the three layouts give identical modules; every malformed file its own error."""
from __future__ import annotations

import os
import pickle
import sys
import types

import pytest
import torch
from safetensors.torch import save_file

from gligen_pack.gligen_core import GLIGENFileError, load_adapter, save_adapter
from gligen_pack.gligen_core.positions import BlockPosition
from helpers.gligen_files import SD1_FUSERS, pruned_state, sd1_pruned_state, to_diffusers, to_official


@pytest.fixture(scope="module")
def sd():
    return sd1_pruned_state(scale=10, seed=3)


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


def test_the_sd1_file_has_280_tensors_and_16_fusers(sd, tmp_path):
    assert len(sd) == 280
    loaded = load_adapter(write(tmp_path, "g.safetensors", sd))
    assert loaded.layout == "comfyui-pruned"
    positions = loaded.adapter.positions()
    assert [p.ldm_prefix() for p in positions] == [f"{ldm}.transformer_blocks.0" for ldm, _, _ in SD1_FUSERS]
    assert loaded.adapter.shape.fusers[BlockPosition("middle", 0, 0)] == 128
    assert loaded.adapter.family == "SD1.x"


def test_three_layouts_load_into_identical_modules(sd, tmp_path):
    pruned = load_adapter(write(tmp_path, "pruned.safetensors", sd))
    diffusers = load_adapter(write(tmp_path, "unet.safetensors", to_diffusers(sd)))
    official = load_adapter(write(tmp_path, "diffusion_pytorch_model.bin", to_official(sd)))
    assert (pruned.layout, diffusers.layout, official.layout) == ("comfyui-pruned", "diffusers", "official")
    assert states_equal(pruned.adapter, diffusers.adapter)
    assert states_equal(pruned.adapter, official.adapter)
    for key, t in sd.items():  # and the values are the file's
        assert torch.equal(pruned.adapter.canonical_state_dict()[key], t)


def test_real_width_block_loads(tmp_path):
    sd = pruned_state([("input_blocks.1.1", 320)], seed=1)
    a = load_adapter(write(tmp_path, "one.safetensors", sd)).adapter
    f = a.fuser_at(BlockPosition("input", 1, 0))
    assert f.parameter_count() == 16 * 320 ** 2 + 783 * 320 + 2 == 1_888_962  # GLIGEN spec 3.5
    assert sum(p.numel() for p in a.position_net.parameters()) == 1_083_968


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_files_are_accepted_and_kept(tmp_path, dtype):
    sd = sd1_pruned_state(scale=10, dtype=dtype)
    a = load_adapter(write(tmp_path, "h.safetensors", sd)).adapter
    assert {p.dtype for p in a.parameters()} == {dtype}


def test_save_then_load_round_trips(sd, tmp_path):
    a = load_adapter(write(tmp_path, "a.safetensors", to_diffusers(sd))).adapter
    out = str(tmp_path / "converted.safetensors")
    save_adapter(a, out)
    b = load_adapter(out)
    assert b.layout == "comfyui-pruned" and states_equal(a, b.adapter)


def test_gates_stored_as_one_element_vectors_load(sd, tmp_path):
    sd = dict(sd)
    key = "middle_block.1.transformer_blocks.0.fuser.alpha_attn"
    sd[key] = sd[key].reshape(1)
    a = load_adapter(write(tmp_path, "g.safetensors", sd)).adapter
    assert a.fuser_at(BlockPosition("middle", 0, 0)).alpha_attn.shape == ()


# ---- malformed files: each its own clear error --------------------------------------------------

def error_of(path) -> str:
    with pytest.raises(GLIGENFileError) as e:
        load_adapter(path)
    return str(e.value)


def test_missing_tensor_is_named(sd, tmp_path):
    sd = dict(sd)
    del sd["output_blocks.7.1.transformer_blocks.0.fuser.attn.to_k.weight"]
    msg = error_of(write(tmp_path, "m.safetensors", sd))
    assert "missing tensor 'output_blocks.7.1.transformer_blocks.0.fuser.attn.to_k.weight'" in msg
    assert "[64, 64]" in msg


def test_misshapen_tensor_is_named(sd, tmp_path):
    sd = dict(sd)
    sd["input_blocks.4.1.transformer_blocks.0.fuser.ff.net.2.weight"] = torch.zeros(64, 100)
    msg = error_of(write(tmp_path, "s.safetensors", sd))
    assert "'input_blocks.4.1.transformer_blocks.0.fuser.ff.net.2.weight' has shape [64, 100], expected [64, 256]" in msg


def test_misshapen_tokenizer_is_named(sd, tmp_path):
    sd = dict(sd)
    sd["position_net.linears.2.weight"] = torch.zeros(512, 500)
    assert "'position_net.linears.2.weight' has shape [512, 500], expected [512, 512]" in error_of(
        write(tmp_path, "t.safetensors", sd))


def test_extra_tensor_is_named(sd, tmp_path):
    sd = dict(sd)
    sd["input_blocks.1.1.transformer_blocks.0.fuser.attn.to_q.bias"] = torch.zeros(32)
    sd["position_net.extra"] = torch.zeros(3)
    sd["something_else.weight"] = torch.zeros(3)
    msg = error_of(write(tmp_path, "x.safetensors", sd))
    assert "unexpected tensor 'input_blocks.1.1.transformer_blocks.0.fuser.attn.to_q.bias'" in msg
    assert "unexpected tensor 'position_net.extra'" in msg
    assert "unexpected tensor 'something_else.weight'" in msg
    assert "3 problems" in msg


def test_missing_tokenizer(sd, tmp_path):
    sd = {k: v for k, v in sd.items() if not k.startswith("position_net.")}
    assert "grounding tokenizer is missing" in error_of(write(tmp_path, "n.safetensors", sd))


def test_fusers_and_tokenizer_of_different_widths(tmp_path):
    sd = pruned_state([("input_blocks.1.1", 32)], token_dim=1024)
    sd.update({k: v for k, v in pruned_state([], token_dim=768).items()})
    assert "fusers read 1024-d tokens but position_net makes 768-d tokens" in error_of(
        write(tmp_path, "w.safetensors", sd))


def test_sd_checkpoint_is_not_gligen(tmp_path):
    sd = {"model.diffusion_model.input_blocks.0.0.weight": torch.zeros(3, 4, 3, 3),
          "first_stage_model.decoder.conv_in.weight": torch.zeros(2, 2, 3, 3)}
    msg = error_of(write(tmp_path, "v1-5.safetensors", sd))
    assert "no GLIGEN tensors" in msg and "Stable Diffusion checkpoint" in msg and "models/checkpoints" in msg


def test_random_tensors_are_not_gligen(tmp_path):
    msg = error_of(write(tmp_path, "r.safetensors", {"foo": torch.zeros(2), "bar.baz": torch.zeros(1)}))
    assert "no GLIGEN tensors" in msg and "foo" in msg


def test_truncated_safetensors(sd, tmp_path):
    path = write(tmp_path, "t.safetensors", sd)
    with open(path, "rb") as f:
        data = f.read()
    with open(path, "wb") as f:
        f.write(data[: len(data) // 2])
    msg = error_of(path)
    assert "t.safetensors" in msg and ("truncated" in msg or "corrupt" in msg) and "Download it again" in msg


def test_text_file_named_safetensors(tmp_path):
    path = tmp_path / "page.safetensors"
    path.write_text("<html>404 Not Found</html>")
    assert "not a readable safetensors file" in error_of(str(path))


def test_empty_file(tmp_path):
    path = tmp_path / "e.safetensors"
    path.write_bytes(b"")
    assert "is empty" in error_of(str(path))


def test_truncated_pickle(sd, tmp_path):
    path = write(tmp_path, "t.pth", sd)
    data = open(path, "rb").read()
    open(path, "wb").write(data[: len(data) // 3])
    assert "not a readable PyTorch checkpoint" in error_of(path)


class _RunsCode:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def test_pickle_carrying_code_is_refused(sd, tmp_path):
    path = str(tmp_path / "evil.pth")
    torch.save({"model": dict(sd), "payload": _RunsCode()}, path)
    msg = error_of(path)
    assert "Refused to load 'evil.pth'" in msg and "system" in msg


def test_plain_pickle_carrying_code_is_refused(tmp_path):
    path = tmp_path / "evil.bin"
    path.write_bytes(pickle.dumps(_RunsCode()))
    msg = error_of(str(path))
    assert "Refused to load 'evil.bin'" in msg and "system" in msg


def test_official_checkpoint_with_omegaconf_config_loads(sd, tmp_path, monkeypatch):
    """The official trainer pickles its OmegaConf config next to the weights; the config classes are
    replaced by inert stand-ins (omegaconf need not be installed) and the weights load."""
    fake = types.ModuleType("omegaconf.dictconfig")

    class DictConfig:
        def __init__(self, content):
            self._content = content
    DictConfig.__module__, DictConfig.__qualname__ = "omegaconf.dictconfig", "DictConfig"
    fake.DictConfig = DictConfig
    monkeypatch.setitem(sys.modules, "omegaconf", types.ModuleType("omegaconf"))
    monkeypatch.setitem(sys.modules, "omegaconf.dictconfig", fake)
    ckpt = to_official(sd)
    ckpt["config_dict"] = {"_content": DictConfig({"model": {"target": "ldm.x"}})}
    path = str(tmp_path / "diffusion_pytorch_model.bin")
    torch.save(ckpt, path)
    monkeypatch.delitem(sys.modules, "omegaconf.dictconfig")
    monkeypatch.delitem(sys.modules, "omegaconf")
    loaded = load_adapter(path)
    assert loaded.layout == "official" and len(loaded.adapter.positions()) == 16


def test_other_modalities_are_named(sd, tmp_path):
    sd = {k: v for k, v in sd.items() if not k.startswith("position_net.")}
    sd["position_net.linears_text.0.weight"] = torch.zeros(512, 832)
    assert "text+image GLIGEN" in error_of(write(tmp_path, "ti.safetensors", sd))


def test_first_conv_of_no_known_width_is_named(sd, tmp_path):
    sd = dict(sd)
    sd["input_blocks.0.0.weight"] = torch.zeros(32, 7, 3, 3)   # neither 4 (generation) nor 9 (inpainting)
    msg = error_of(write(tmp_path, "inpaint.safetensors", sd))
    assert "7-channel first convolution" in msg and "or 9 for its inpainting model" in msg


def test_missing_file():
    assert "does not exist" in error_of("/nonexistent/gligen.safetensors")


# ---- header-only check (what the loader node runs when a prompt is queued) ----------------------

def test_check_file_agrees_with_loading_without_reading_weights(sd, tmp_path):
    from gligen_pack.gligen_core import check_file
    assert check_file(write(tmp_path, "ok.safetensors", sd)) == "SD1.x, 16 fusers, comfyui-pruned layout"
    bad = dict(sd)
    bad["input_blocks.4.1.transformer_blocks.0.fuser.ff.net.2.weight"] = torch.zeros(64, 100)
    with pytest.raises(GLIGENFileError, match=r"has shape \[64, 100\], expected \[64, 256\]"):
        check_file(write(tmp_path, "bad.safetensors", bad))
    path = write(tmp_path, "trunc.safetensors", sd)
    data = open(path, "rb").read()
    open(path, "wb").write(data[: len(data) - 10])
    with pytest.raises(GLIGENFileError, match="truncated or corrupt"):
        check_file(path)
    with pytest.raises(GLIGENFileError, match="no GLIGEN tensors"):
        check_file(write(tmp_path, "ckpt.safetensors", {"model.diffusion_model.out.2.weight": torch.zeros(2)}))
    assert check_file(write(tmp_path, "x.pth", sd)) == "PyTorch checkpoint (checked when loaded)"


def test_non_finite_or_integer_weights_are_named(sd, tmp_path):
    bad = dict(sd)
    bad["middle_block.1.transformer_blocks.0.fuser.alpha_dense"] = torch.tensor(float("nan"))
    bad["position_net.linears.2.bias"] = torch.zeros(512, dtype=torch.int32)
    msg = error_of(write(tmp_path, "nan.safetensors", bad))
    assert "'middle_block.1.transformer_blocks.0.fuser.alpha_dense' contains NaN or infinite values" in msg
    assert "'position_net.linears.2.bias' holds int32 values" in msg
