"""The GLIGEN file a prompt names, over HTTP: sharded indexes that try to leave the models folder,
files whose bytes must never reach an error, keys missing from shards, crafted pickles, symbolic-link
loops, and a file name fed to the loader by a link (checked when the loader runs, with the same errors)."""
from __future__ import annotations

import json
import os

import pytest
import torch
from safetensors.torch import load_file, save_file

from gligen_pack.runner.demo_models import TINY_FUSERS, random_gligen_state
from helpers.gligen_files import set_header_metadata, write_index, write_shards
from helpers.prompts import Graph, base, ksampler, ours
from helpers.server import execution_error

SECRET = b"TOPSECRET-api-key=hunter2-never-print-me\n"
SECRET_NUMBER = str(int.from_bytes(SECRET[:8], "little"))  # the bytes read as a safetensors header length
SHARD = "diffusion_pytorch_model-00001-of-00002.safetensors"


def grounded(ckpt: str, gligen: str, linked: bool = False, seed: int = 1) -> tuple[Graph, str, str]:
    """A grounded text-to-image graph; with ``linked`` the file name reaches the loader through a link.
    Returns the graph, the loader's id and the SaveLatent's id."""
    g = Graph()
    b = base(g, ckpt, size=64)
    name = g.out(g.add("GLIGENTestComboSource", value=gligen)) if linked else gligen
    model, pos, _ = ours(g, b, name, size=64)
    ks = ksampler(g, model, pos, b["negative"], b["latent"], seed=seed, steps=2)
    save = g.add("SaveLatent", samples=g.out(ks), filename_prefix="latents/loader_files")
    loader = next(i for i, n in g.nodes.items() if n["class_type"] == "GLIGENAdapterLoader")
    return g, loader, save


def refused_when_queued(server, g: Graph, loader: str) -> str:
    """The loader is refused when the prompt is queued, with exactly one error; returns its text."""
    status, body = server.queue(g.prompt())
    assert status in (200, 400) and loader in body.get("node_errors", {}), f"{status}: {body}"
    if status == 200:            # the boxes preview, an output node of its own, still runs
        server.wait(body["prompt_id"])
    errors = body["node_errors"][loader]["errors"]
    assert len(errors) == 1, errors
    return errors[0]["details"]


def fails_when_run(server, g: Graph) -> dict:
    entry = server.run(g.prompt())
    err = execution_error(entry)
    assert err is not None, entry.get("status")
    assert err["node_type"] == "GLIGENAdapterLoader", err
    return err


def every_error_text(server, g: Graph) -> str:
    """Whatever the server answers about the prompt: the queue reply and, if it ran, its history."""
    status, body = server.queue(g.prompt())
    text = json.dumps(body)
    if status == 200:
        text += json.dumps(server.wait(body["prompt_id"]))
    return text


def latent_of(server, entry: dict, node: str) -> torch.Tensor:
    info = entry["outputs"][node]["latents"][0]
    return load_file(os.path.join(server.base_dir, "output", info["subfolder"], info["filename"]))["latent_tensor"]


@pytest.fixture(scope="module")
def valid_sd():
    return random_gligen_state(TINY_FUSERS, seed=11)


def sharded_folder(models_dir, folder: str, sd: dict) -> tuple[str, dict]:
    """``sd`` written as a two-shard UNet in models/gligen/<folder>; returns the name the loader
    lists for its first shard, and the weight_map."""
    path = models_dir / "gligen" / folder
    path.mkdir(exist_ok=True)
    weight_map = write_shards(sd, path, parts=2)
    return f"{folder}/{SHARD}", weight_map


# ---- a sharded index may only name files in its own folder --------------------------------------------------

@pytest.mark.parametrize("how", ["relative", "absolute"])
def test_index_pointing_outside_the_models_folder_is_refused(server, models_dir, tiny_ckpt, valid_sd, how):
    outside = models_dir.parent / "outside_models"
    outside.mkdir(exist_ok=True)
    save_file(valid_sd, str(outside / "adapter.safetensors"))     # complete: reading it would work
    name, weight_map = sharded_folder(models_dir, f"escape_{how}", valid_sd)
    target = ("../../../outside_models/adapter.safetensors" if how == "relative"
              else str(outside / "adapter.safetensors"))
    key = sorted(weight_map)[0]
    write_index(models_dir / "gligen" / f"escape_{how}", {**weight_map, key: target})
    g, loader, _ = grounded(tiny_ckpt, name)
    msg = refused_when_queued(server, g, loader)
    assert f"maps tensor '{key}' to '{target[:30]}" in msg and "not a plain file name in the index's own folder" in msg
    assert "download the index again, or fix that entry" in msg


# ---- no error quotes a file's bytes -------------------------------------------------------------------------

def secret_targets(models_dir, valid_sd) -> dict[str, str]:
    """Names the loader lists, each leading to the secret: through an index entry that leaves the
    folder, through one that names a text file beside it, and a header whose metadata is the secret."""
    (models_dir.parent / "secret.txt").write_bytes(SECRET * 4)
    names = {}
    for case, target in (("leaves", "../../../secret.txt"), ("beside", "notes.txt")):
        folder = models_dir / "gligen" / f"secret_{case}"
        folder.mkdir(exist_ok=True)
        (folder / "notes.txt").write_bytes(SECRET * 4)
        save_file({"w": torch.zeros(1)}, str(folder / SHARD))
        write_index(folder, {"position_net.linears.0.weight": target})
        names[case] = f"secret_{case}/{SHARD}"
    complete = str(models_dir / "gligen" / "secret_metadata.safetensors")   # a whole adapter, but for its metadata
    save_file(valid_sd, complete)
    set_header_metadata(complete, SECRET.decode().strip())
    names["metadata"] = "secret_metadata.safetensors"
    return names


@pytest.mark.parametrize("fed", ["widget", "link"])
@pytest.mark.parametrize("case", ["leaves", "beside", "metadata"])
def test_errors_never_quote_the_file_read(server, models_dir, tiny_ckpt, valid_sd, case, fed):
    name = secret_targets(models_dir, valid_sd)[case]
    g, _, _ = grounded(tiny_ckpt, name, linked=fed == "link")
    text = every_error_text(server, g)
    expected = "not a plain file name" if case == "leaves" else "not a readable safetensors file"
    assert expected in text, text[:3000]
    assert "TOPSECRET" not in text and "hunter2" not in text and SECRET_NUMBER not in text, text[:3000]


# ---- a weight_map key missing from its shard ------------------------------------------------------------------

@pytest.mark.parametrize("fed", ["widget", "link"])
def test_key_missing_from_its_shard_is_named(server, models_dir, tiny_ckpt, valid_sd, fed):
    name, weight_map = sharded_folder(models_dir, "moved_key", valid_sd)
    key = "position_net.linears.4.weight"
    wrong = next(s for s in sorted(set(weight_map.values())) if s != weight_map[key])
    write_index(models_dir / "gligen" / "moved_key", {**weight_map, key: wrong})
    g, loader, _ = grounded(tiny_ckpt, name, linked=fed == "link")
    msg = refused_when_queued(server, g, loader) if fed == "widget" else fails_when_run(server, g)["exception_message"]
    assert f"says tensor '{key}' is in shard '{wrong}', but that shard has no such tensor" in msg, msg
    assert "Download the whole unet folder again" in msg


# ---- pickles ---------------------------------------------------------------------------------------------------

def test_pickle_refusal_never_advises_weights_only_false(server, models_dir, tiny_ckpt):
    """A crafted pickle whose only global is an inert OmegaConf class, followed by an opcode the
    weights-only reader refuses: PyTorch's message for it advises weights_only=False."""
    (models_dir / "gligen" / "crafted_config.bin").write_bytes(
        b"\x80\x02" + b"comegaconf.dictconfig\nDictConfig\n" + b")R" + b"\x82\x01" + b"0" + b".")
    g, _, _ = grounded(tiny_ckpt, "crafted_config.bin")
    msg = fails_when_run(server, g)["exception_message"]
    assert "Refused to load 'crafted_config.bin'" in msg and "use the .safetensors release" in msg, msg
    assert "weights_only" not in msg and "trust" not in msg.lower(), msg


# ---- symbolic links in models/gligen --------------------------------------------------------------------------

def test_symlink_loops_are_named_and_hide_no_other_file(server, models_dir, tiny_ckpt, tiny_gligen):
    folder = models_dir / "gligen"
    links = {"loop_self.safetensors": "loop_self.safetensors", "loop_a.safetensors": "loop_b.safetensors",
             "loop_b.safetensors": "loop_a.safetensors", "dangling.safetensors": "moved_away.safetensors"}
    for link, target in links.items():
        os.symlink(target, folder / link)
    try:
        status, info = server.request("/object_info/GLIGENAdapterLoader")
        spec = info["GLIGENAdapterLoader"]["input"]["required"]["gligen_name"]
        options = spec[0] if isinstance(spec[0], list) else spec[1]["options"]
        assert tiny_gligen in options and "loop_self.safetensors" in options

        g, loader, _ = grounded(tiny_ckpt, "loop_self.safetensors")
        msg = refused_when_queued(server, g, loader)
        assert "is a symbolic link that loops (loop_self.safetensors -> loop_self.safetensors)" in msg, msg
        seen = os.path.join(server.base_dir, "models", "gligen")    # the folder as the server sees it
        assert f"Remove the link '{os.path.join(seen, 'loop_self.safetensors')}'" in msg
        g, loader, _ = grounded(tiny_ckpt, "loop_a.safetensors")
        assert "loops (loop_a.safetensors -> loop_b.safetensors -> loop_a.safetensors)" in refused_when_queued(server, g, loader)
        g, loader, _ = grounded(tiny_ckpt, "dangling.safetensors")
        msg = refused_when_queued(server, g, loader)
        assert f"is a symbolic link to '{os.path.join(seen, 'moved_away.safetensors')}', which does not exist" in msg, msg
        g, _, _ = grounded(tiny_ckpt, "loop_b.safetensors", linked=True)
        assert "is a symbolic link that loops" in fails_when_run(server, g)["exception_message"]

        g, _, save = grounded(tiny_ckpt, tiny_gligen, seed=31)     # the valid file beside the loops still runs
        entry = server.run(g.prompt())
        assert execution_error(entry) is None and torch.isfinite(latent_of(server, entry, save)).all()
    finally:
        for link in links:
            os.unlink(folder / link)


# ---- a file name fed by a link -----------------------------------------------------------------------------------

def test_linked_file_name_runs_like_the_widget(server, tiny_ckpt, tiny_gligen):
    results = []
    for linked in (False, True):
        g, _, save = grounded(tiny_ckpt, tiny_gligen, linked=linked, seed=47)
        entry = server.run(g.prompt())
        assert execution_error(entry) is None, execution_error(entry)
        results.append(latent_of(server, entry, save))
    assert torch.equal(results[0], results[1])


def test_linked_bad_names_fail_when_run_with_the_queue_time_errors(server, models_dir, tiny_ckpt, valid_sd):
    g, _, _ = grounded(tiny_ckpt, "no_such_gligen.safetensors", linked=True)
    msg = fails_when_run(server, g)["exception_message"]
    assert "GLIGEN file 'no_such_gligen.safetensors' is not in models/gligen" in msg, msg
    bad = {k: v for k, v in valid_sd.items() if k != "middle_block.1.transformer_blocks.0.fuser.norm1.bias"}
    save_file(bad, str(models_dir / "gligen" / "linked_missing_tensor.safetensors"))
    queued = refused_when_queued(server, *grounded(tiny_ckpt, "linked_missing_tensor.safetensors")[:2])
    g, _, _ = grounded(tiny_ckpt, "linked_missing_tensor.safetensors", linked=True)
    ran = fails_when_run(server, g)["exception_message"]
    assert "missing tensor 'middle_block.1.transformer_blocks.0.fuser.norm1.bias'" in queued
    assert queued == f"gligen_name - {ran.strip()}"          # ComfyUI prefixes the input's name when queued
