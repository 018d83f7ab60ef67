"""Reading containers (gligen_core/files.py): one dispatch for files, shards and pickles; shard names
confined to the index's folder; errors that name the problem and never quote a file's bytes."""
from __future__ import annotations

import json
import os
import pickle

import pytest
import torch
from safetensors.torch import save_file

from gligen_pack.gligen_core import GLIGENFileError, check_file, load_adapter, read_tensors
from gligen_pack.gligen_core import files
from helpers.gligen_files import pruned_state, set_header_metadata, write_index, write_shards

SECRET = b"TOPSECRET-api-key=hunter2-never-print-me\n"
SECRET_NUMBER = str(int.from_bytes(SECRET[:8], "little"))  # what a "header length" read from it would be


@pytest.fixture(scope="module")
def sd():
    return pruned_state([("input_blocks.1.1", 8), ("middle_block.1", 16)], seed=0, hidden=8)


def errors(path: str) -> list[str]:
    """The queue-time check's error and the loader's, for the same path."""
    out = []
    for check in (check_file, load_adapter):
        with pytest.raises(GLIGENFileError) as e:
            check(path)
        out.append(str(e.value))
    return out


def test_one_dispatch_reads_files_indexes_and_pickles(sd, tmp_path):
    single = tmp_path / "g.safetensors"
    save_file(sd, str(single))
    unet = tmp_path / "unet"
    unet.mkdir()
    write_shards(sd, unet, parts=2)
    pickled = tmp_path / "g.pth"
    torch.save(sd, str(pickled))
    for source, sharded in ((single, False), (unet, True), (unet / "diffusion_pytorch_model-00002-of-00002.safetensors", True)):
        head = read_tensors(str(source), header_only=True)
        full = read_tensors(str(source))
        assert sorted(head.keys) == sorted(full.keys) == sorted(sd) and head.sharded == full.sharded == sharded
        key = "position_net.linears.0.weight"
        assert head.get(key).device.type == "meta" and head.get(key).shape == sd[key].shape
        assert torch.equal(full.get(key), sd[key])
    assert read_tensors(str(pickled), header_only=True) is None     # a pickle cannot be inspected unread
    assert torch.equal(read_tensors(str(pickled)).get("position_net.linears.0.weight"), sd["position_net.linears.0.weight"])


# ---- shard names: plain names in the index's own folder ---------------------------------------------------

BAD_SHARD_NAMES = {
    "parent": ("../../../outside/shard.safetensors", "path separator"),
    "absolute": (None, "path separator"),                 # filled in with the outside file's absolute path
    "subfolder": ("sub/shard.safetensors", "path separator"),
    "backslash": ("sub\\shard.safetensors", "path separator"),
    "dotdot": ("..", "names a folder"),
    "empty": ("", "is empty"),
    "number": (7, "not a file name"),
}


@pytest.mark.parametrize("case", sorted(BAD_SHARD_NAMES))
def test_shard_names_that_leave_the_folder_are_refused_before_opening(sd, tmp_path, monkeypatch, case):
    value, why = BAD_SHARD_NAMES[case]
    outside = tmp_path / "outside"
    outside.mkdir()
    save_file(sd, str(outside / "shard.safetensors"))     # a complete adapter: reading it would succeed
    unet = tmp_path / "models" / "gligen" / "unet"
    (unet / "sub").mkdir(parents=True)
    save_file(sd, str(unet / "sub" / "shard.safetensors"))
    save_file(sd, str(unet / "sub\\shard.safetensors"))   # on POSIX a backslash is part of a file name
    value = str(outside / "shard.safetensors") if value is None else value
    index = write_index(unet, {k: value for k in sd})
    opened: list[str] = []
    real = files.read_safetensors
    monkeypatch.setattr(files, "read_safetensors", lambda p, *a: opened.append(p) or real(p, *a))
    for msg in errors(index):
        assert "not a plain file name in the index's own folder" in msg and why in msg, msg
        assert f"maps tensor '{next(iter(sd))}' to {repr(value)[:20]}" in msg, msg
        assert "download the index again, or fix that entry" in msg
    assert opened == []


def test_symlinked_shards_in_the_folder_still_load(sd, tmp_path):
    """A Hugging Face cache snapshot: every shard is a link into a blobs folder outside the snapshot."""
    blobs = tmp_path / "hub" / "blobs"
    blobs.mkdir(parents=True)
    staging = tmp_path / "staging"
    staging.mkdir()
    weight_map = write_shards(sd, staging, parts=2)
    unet = tmp_path / "hub" / "snapshots" / "abc123" / "unet"
    unet.mkdir(parents=True)
    for i, shard in enumerate(sorted(set(weight_map.values()))):
        os.replace(staging / shard, blobs / f"blob{i}")
        os.symlink(os.path.join("..", "..", "..", "blobs", f"blob{i}"), unet / shard)
    index = write_index(unet, weight_map)
    assert check_file(index) == "SD1.x, 2 fusers, comfyui-pruned layout (sharded)"
    assert len(load_adapter(str(unet / sorted(set(weight_map.values()))[0])).adapter.positions()) == 2


def test_a_key_missing_from_its_shard_is_named(sd, tmp_path):
    weight_map = write_shards(sd, tmp_path, parts=2)
    key = "position_net.linears.0.weight"
    other = next(s for s in sorted(set(weight_map.values())) if s != weight_map[key])
    weight_map[key] = other
    index = write_index(tmp_path, weight_map)
    for msg in errors(index):
        assert f"says tensor '{key}' is in shard '{other}', but that shard has no such tensor" in msg, msg
        assert "Download the whole unet folder again" in msg


# ---- no error quotes a file's bytes ---------------------------------------------------------------------

def safetensors_with_header(path, header: dict, data: bytes = b"\0" * 16) -> str:
    raw = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(len(raw).to_bytes(8, "little") + raw + data)
    return str(path)


def test_errors_never_quote_what_a_shard_name_points_at(sd, tmp_path):
    (tmp_path / "notes.txt").write_bytes(SECRET * 4)
    index = write_index(tmp_path, {k: "notes.txt" for k in sd})
    for msg in errors(index):
        assert "not a readable safetensors file" in msg and "notes.txt" in msg
        assert "TOPSECRET" not in msg and "hunter2" not in msg and SECRET_NUMBER not in msg, msg


@pytest.mark.parametrize("where", ["metadata", "shape", "dtype"])
def test_errors_never_quote_a_header(sd, tmp_path, where):
    secret = SECRET.decode().strip()
    if where == "metadata":   # a complete adapter whose header metadata is not a table of text
        path = str(tmp_path / "metadata.safetensors")
        save_file(sd, path)
        set_header_metadata(path, secret)
    else:
        tensor = {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}
        path = safetensors_with_header(tmp_path / f"{where}.safetensors", {"w": {**tensor, where: secret}})
    for msg in errors(path):
        assert "not a readable safetensors file" in msg and "Download it again" in msg
        assert "TOPSECRET" not in msg and "hunter2" not in msg, msg


def test_offsets_that_do_not_fit_the_shapes_are_refused_when_queued(tmp_path):
    path = safetensors_with_header(tmp_path / "short.safetensors",
                                   {"w": {"dtype": "F32", "shape": [8], "data_offsets": [0, 16]}})
    for msg in errors(path):
        assert "tensor 'w' has 16 bytes for 8 values of 4 bytes" in msg, msg


# ---- pickles: never advise turning the weights-only loader off ---------------------------------------------

class _RunsCode:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def crafted_config_pickle(path) -> str:
    """A plain pickle whose only global is an (inert) OmegaConf class, followed by an opcode the
    weights-only unpickler does not support: refused on the second, stand-in pass."""
    with open(path, "wb") as f:
        f.write(b"\x80\x02" + b"comegaconf.dictconfig\nDictConfig\n" + b")R" + b"\x82\x01" + b"0" + b".")
    return str(path)


def test_pickle_refusals_never_advise_weights_only_false(sd, tmp_path):
    torch.save({"model": dict(sd), "payload": _RunsCode()}, str(tmp_path / "evil.pth"))
    (tmp_path / "evil.bin").write_bytes(pickle.dumps(_RunsCode()))
    (tmp_path / "notes.pth").write_bytes(SECRET * 4)
    messages = {}
    for name in ("evil.pth", "evil.bin", "notes.pth"):
        with pytest.raises(GLIGENFileError) as e:
            load_adapter(str(tmp_path / name))
        messages[name] = str(e.value)
    with pytest.raises(GLIGENFileError) as e:
        load_adapter(crafted_config_pickle(tmp_path / "crafted.bin"))
    messages["crafted.bin"] = str(e.value)
    assert "Refused to load 'crafted.bin'" in messages["crafted.bin"]
    assert "not a readable PyTorch checkpoint" in messages["notes.pth"]   # not a pickle at all: not "code"
    for name, msg in messages.items():
        assert "weights_only" not in msg and "trust" not in msg.lower(), (name, msg)
        assert "TOPSECRET" not in msg and "'T'" not in msg, (name, msg)


# ---- broken links in a models folder -----------------------------------------------------------------------

def test_broken_links_are_described_with_the_fix(tmp_path):
    (tmp_path / "good.safetensors").write_bytes(b"x")
    os.symlink("good.safetensors", tmp_path / "alias.safetensors")
    os.symlink("loop.safetensors", tmp_path / "loop.safetensors")
    os.symlink("b.safetensors", tmp_path / "a.safetensors")
    os.symlink("a.safetensors", tmp_path / "b.safetensors")
    os.symlink("gone.safetensors", tmp_path / "dangling.safetensors")
    root = str(tmp_path)
    assert files.broken_link(str(tmp_path / "good.safetensors"), root) is None
    assert files.broken_link(str(tmp_path / "alias.safetensors"), root) is None
    loop = files.broken_link(str(tmp_path / "loop.safetensors"), root)
    assert "symbolic link that loops (loop.safetensors -> loop.safetensors)" in loop
    assert f"Remove the link '{tmp_path / 'loop.safetensors'}'" in loop
    cycle = files.broken_link(str(tmp_path / "a.safetensors"), root)
    assert "loops (a.safetensors -> b.safetensors -> a.safetensors)" in cycle
    dangling = files.broken_link(str(tmp_path / "dangling.safetensors"), root)
    assert f"symbolic link to '{tmp_path / 'gone.safetensors'}', which does not exist" in dangling
