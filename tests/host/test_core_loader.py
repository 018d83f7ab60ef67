"""The loader's list (a sharded UNet once) and core's GLIGENLoader output driving GLIGENApply."""
from __future__ import annotations

import pytest
import torch

from gligen_pack.runner.demo_models import TINY_FUSERS, random_gligen_state
from helpers.gligen_files import write_shards
from helpers.prompts import Graph, base, ours, sampled_latent

INDEX = "diffusion_pytorch_model.safetensors.index.json"


def latent(host, g: Graph, b: dict, model, positive) -> torch.Tensor:
    return sampled_latent(host, g, b, model, positive, seed=5)


def loader_options(host) -> list[str]:
    spec = host.node_info("GLIGENAdapterLoader")["input"]["required"]["gligen_name"]
    return spec[1]["options"] if spec[0] == "COMBO" else list(spec[0])


def grounded_latent(host, ckpt: str, gligen: str) -> torch.Tensor:
    g = Graph()
    b = base(g, ckpt)
    model, positive, _ = ours(g, b, gligen)
    return latent(host, g, b, model, positive)


def test_sharded_unet_is_listed_once_and_saved_shard_names_still_load(host, models_dir, tiny_ckpt):
    folder = models_dir / "gligen" / "sharded_listing"
    folder.mkdir()
    write_shards(random_gligen_state(TINY_FUSERS, seed=3), folder, parts=3)
    options = loader_options(host)
    ours_listed = [o for o in options if o.startswith("sharded_listing/")]
    assert ours_listed == [f"sharded_listing/{INDEX}"], options
    by_index = grounded_latent(host, tiny_ckpt, f"sharded_listing/{INDEX}")
    # a workflow saved when every shard was listed names a shard: it still validates and loads the same
    by_shard = grounded_latent(host, tiny_ckpt, "sharded_listing/diffusion_pytorch_model-00002-of-00003.safetensors")
    assert torch.equal(by_index, by_shard)


@pytest.mark.parametrize("negative", ["null", "same_as_positive"])
def test_core_gligen_loader_drives_gligen_apply_with_the_same_latents(host, tiny_ckpt, tiny_gligen, negative):
    g = Graph()
    b = base(g, tiny_ckpt)
    model, positive, _ = ours(g, b, tiny_gligen, negative_mode=negative)
    pack = latent(host, g, b, model, positive)

    g = Graph()
    b = base(g, tiny_ckpt)
    model, positive, _ = ours(g, b, tiny_gligen, negative_mode=negative)
    core_loader = g.add("GLIGENLoader", gligen_name=tiny_gligen)
    g.nodes[model[0]]["inputs"]["gligen"] = g.out(core_loader)
    del g.nodes[positive[0]]["inputs"]["gligen"]  # the encoder needs no adapter
    # the pack's loader is left with nothing linked to it, so it never runs
    with_core = latent(host, g, b, model, positive)
    assert torch.equal(pack, with_core)
    plain = Graph()
    pb = base(plain, tiny_ckpt)
    assert not torch.equal(with_core, latent(host, plain, pb, pb["model"], pb["positive"]))
