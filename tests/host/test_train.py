"""The trainer against the real ComfyUI: a tiny SD1.x base built with ComfyUI's own classes (and the demo
checkpoint's CLIP through ComfyUI's loader), pre-encoded latent rows, CPU, fixed seeds.

- a few steps lower the loss on a fixed batch;
- gradients reach only the adapter, and the base UNet is bit-identical after training;
- a fresh adapter (zero gates) gives exactly the base model's output through the pack's patch;
- a run interrupted and resumed ends with exactly the adapter of an uninterrupted run;
- the written file round-trips through the pack's loader, with its metadata, and GLIGENApply takes it.
"""
from __future__ import annotations

import hashlib
import json

import pytest
import torch

UNET = dict(image_size=8, in_channels=4, out_channels=4, model_channels=32, num_res_blocks=[1, 1], channel_mult=[1, 2],
            num_heads=4, use_spatial_transformer=True, transformer_depth=[1, 1], transformer_depth_middle=1,
            transformer_depth_output=[1, 1, 1, 1], context_dim=768, use_linear_in_transformer=False, legacy=False)
PHRASES = ["a red ball", "a blue box", "a green tree"]


@pytest.fixture(scope="module")
def clip(host):
    from gligen_pack.train.tiny_base import demo_clip
    return demo_clip()


@pytest.fixture
def base(clip):
    from gligen_pack.train.tiny_base import tiny_base
    return tiny_base(UNET, seed=0, clip=clip)


@pytest.fixture(scope="module")
def manifest(tmp_path_factory):
    from safetensors.torch import save_file
    d = tmp_path_factory.mktemp("latents")
    gen = torch.Generator().manual_seed(0)
    with open(d / "m.jsonl", "w") as f:
        for i in range(6):
            save_file({"latent": torch.randn(4, 8, 8, generator=gen)}, str(d / f"{i}.safetensors"))
            boxes = [{"phrase": PHRASES[(i + k) % 3], "box": [0.1 * k, 0.1, 0.1 * k + 0.5, 0.8]} for k in range(1 + i % 2)]
            f.write(json.dumps({"latent": f"{i}.safetensors", "width": 64, "height": 64,
                                "caption": f"scene {i % 2}", "boxes": boxes}) + "\n")
    return str(d / "m.jsonl")


def _config(manifest, output, **kw):
    from gligen_pack.train.config import config_from_dict
    settings = dict(checkpoint="tiny", manifest=manifest, output=str(output), resolution=64, batch_size=2,
                    max_steps=4, learning_rate=1e-3, warmup_steps=2, save_every=2, cpu=True, tensorboard=False)
    settings.update(kw)
    return config_from_dict(settings)


def _digest(module: torch.nn.Module) -> str:
    h = hashlib.sha256()
    for k, v in sorted(module.state_dict().items()):
        h.update(k.encode())
        h.update(v.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def _fixed_batch(base, n: int = 4):
    from gligen_pack.train.objective import Batch
    gen = torch.Generator().manual_seed(1)
    context = torch.stack([base.caption("a picture")[0]] * n)
    features = torch.zeros(n, 30, 768)
    boxes, masks = torch.zeros(n, 30, 4), torch.zeros(n, 30)
    for b in range(n):
        for k in range(2):
            features[b, k] = base.phrase_feature(PHRASES[k], 768)
            boxes[b, k] = torch.tensor([0.1 + 0.4 * k, 0.2, 0.5 + 0.4 * k, 0.9]) - 0.1 * k
            masks[b, k] = 1.0
    return Batch(torch.randn(n, 4, 8, 8, generator=gen), torch.randn(n, 4, 8, 8, generator=gen),
                 torch.tensor([50, 300, 600, 900][:n]), context, None, boxes, masks, features)


def _module(base, seed: int = 0):
    from gligen_pack.train.objective import GroundedDenoiser
    from gligen_pack.train.trainer import new_adapter
    adapter = new_adapter(base, 768, seed).requires_grad_(True)
    return GroundedDenoiser(adapter, base.unet, base.alphas_cumprod, base.prediction)


def test_a_few_steps_lower_the_loss_on_a_fixed_batch(base):
    module = _module(base)
    batch = _fixed_batch(base)
    opt = torch.optim.AdamW(module.parameters(), lr=5e-3)
    losses = []
    for _ in range(8):
        loss = module(batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    with torch.no_grad():
        final = float(module(batch))
    steps = losses + [final]
    assert all(b < a for a, b in zip(steps, steps[1:])), steps  # every step lowers it
    assert final < losses[0] - 1e-3, steps


def test_gradients_reach_only_the_adapter_and_the_base_stays_bit_identical(base, manifest, tmp_path):
    from gligen_pack.train.trainer import train
    module = _module(base)
    loss = module(_fixed_batch(base))
    loss.backward()
    unet_params = list(base.unet.parameters())
    assert unet_params and all(not p.requires_grad and p.grad is None for p in unet_params)
    adapter_params = dict(module.adapter.named_parameters())
    assert set(n for n, _ in module.named_parameters()) == {f"adapter.{n}" for n in adapter_params}
    got = {n for n, p in adapter_params.items() if p.grad is not None and p.grad.abs().sum() > 0}
    assert {n for n in adapter_params if n.endswith("alpha_attn") or n.endswith("alpha_dense")} <= got

    before = _digest(base.unet)
    result = train(_config(manifest, tmp_path / "run", max_steps=3), base=base, say=lambda m: None)
    assert _digest(base.unet) == before
    assert all(not p.requires_grad for p in base.unet.parameters())
    from gligen_pack.gligen_core import load_adapter
    trained = load_adapter(result.adapter_path).adapter
    assert any(float(f.alpha_attn) != 0.0 for f in trained.fusers.values())  # the gates did move


def test_zero_gates_give_exactly_the_base_models_output(base):
    module = _module(base, seed=5)
    batch = _fixed_batch(base)
    x_t, _ = module.noised(batch)
    with torch.no_grad():
        plain = base.unet(x_t, batch.timesteps.float(), context=batch.context)
        grounded = module.predict(x_t, batch.timesteps, batch.context, None, batch.boxes, batch.masks, batch.features)
        module.adapter.fusers[next(iter(module.adapter.fusers))].alpha_attn.fill_(0.3)
        moved = module.predict(x_t, batch.timesteps, batch.context, None, batch.boxes, batch.masks, batch.features)
    assert torch.equal(grounded, plain.float())
    assert not torch.allclose(moved, plain.float())  # the patch is really in the UNet's path


def test_resume_after_an_interruption_continues_exactly(base, manifest, tmp_path):
    from gligen_pack.gligen_core import GLIGENError
    from gligen_pack.train.trainer import train
    quiet = lambda m: None  # noqa: E731
    whole = train(_config(manifest, tmp_path / "whole"), base=base, say=quiet)

    class Interrupted(Exception):
        pass

    def stop_at_3(step, loss):
        if step == 3:
            raise Interrupted

    cfg = _config(manifest, tmp_path / "cut")
    with pytest.raises(Interrupted):
        train(cfg, base=base, say=quiet, on_step=stop_at_3)
    with pytest.raises(GLIGENError, match="already holds a run .*pass --resume"):
        train(cfg, base=base, say=quiet)
    resumed = train(cfg, base=base, say=quiet, resume=True)
    assert resumed.steps == 4 and len(resumed.losses) == 2
    assert resumed.losses == whole.losses[2:]
    from safetensors.torch import load_file
    a, b = load_file(whole.adapter_path), load_file(resumed.adapter_path)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    with pytest.raises(GLIGENError, match="settings that decide the data order changed .*batch_size 2 -> 3"):
        train(_config(manifest, tmp_path / "cut", batch_size=3, max_steps=6), base=base, say=quiet, resume=True)
    state_path = sorted((tmp_path / "cut" / "checkpoints").glob("step_*.pt"))[-1]
    state = torch.load(state_path, weights_only=True)  # as the trainer wrote it before the gates had a group
    groups = state["optimizer"]["param_groups"]
    state["optimizer"]["param_groups"] = [dict(groups[0], params=groups[0]["params"] + groups[1]["params"])]
    torch.save(state, state_path)
    with pytest.raises(GLIGENError, match="does not fit this trainer's parameter groups .*Start a new run"):
        train(_config(manifest, tmp_path / "cut", max_steps=6), base=base, say=quiet, resume=True)


def test_the_written_file_round_trips_through_the_packs_loader(base, manifest, tmp_path):
    from safetensors import safe_open
    from gligen_pack.gligen_core import load_adapter
    from gligen_pack.nodes.apply import grounded_model
    from gligen_pack.nodes.loader import load_ref
    from gligen_pack.train.trainer import train
    result = train(_config(manifest, tmp_path / "run", max_steps=2, name="mine"), base=base, say=lambda m: None)
    assert result.adapter_path.endswith("mine.safetensors")
    state = torch.load(sorted((tmp_path / "run" / "checkpoints").glob("step_*.pt"))[-1], weights_only=True)["adapter"]
    loaded = load_adapter(result.adapter_path)
    assert loaded.layout == "comfyui-pruned"
    got = loaded.adapter.state_dict()
    assert got.keys() == state.keys() and all(torch.equal(got[k], state[k]) for k in got)
    with safe_open(result.adapter_path, "pt") as f:
        meta = f.metadata()
    assert meta["base_model"] == "tiny-sd1-32ch" and meta["steps"] == "2" and meta["data"] == "m.jsonl"
    assert json.loads(meta["config"])["learning_rate"] == 1e-3
    assert len(loaded.adapter.positions()) == 7
    patched = grounded_model(base.model, load_ref(result.adapter_path))  # fits the model it was trained on
    assert patched is not base.model


@pytest.mark.parametrize("gate_lr", [None, 0.05])
def test_the_gates_take_their_own_learning_rate(base, manifest, tmp_path, gate_lr):
    """While the gates are 0 only they get a gradient, and Adam's first step moves a parameter by about its
    lr: the gates by gate_learning_rate (learning_rate when unset), then the weights by learning_rate."""
    from gligen_pack.gligen_core import load_adapter
    from gligen_pack.train.trainer import new_adapter, train
    cfg = _config(manifest, tmp_path / "run", max_steps=2, warmup_steps=0, save_every=1, gate_learning_rate=gate_lr)
    result = train(cfg, base=base, say=lambda m: None)
    want = gate_lr or cfg.learning_rate
    start = new_adapter(base, 768, cfg.seed).state_dict()
    first = torch.load(tmp_path / "run" / "checkpoints" / "step_00000001.pt", weights_only=True)
    assert [g["lr"] for g in first["optimizer"]["param_groups"]] == [cfg.learning_rate, want]
    gates = {k for k in start if k.endswith(("alpha_attn", "alpha_dense"))}
    assert len(gates) == 14 and all(float(start[k]) == 0.0 for k in gates)
    after = first["adapter"]
    assert all(abs(abs(float(after[k])) - want) < 0.01 * want for k in gates), {k: float(after[k]) for k in gates}
    assert all(torch.equal(after[k], start[k]) for k in start if k not in gates)
    trained = load_adapter(result.adapter_path).adapter.state_dict()
    moved = max(float((trained[k] - after[k]).abs().max()) for k in trained if k not in gates)
    assert 0.5 * cfg.learning_rate < moved <= 1.001 * cfg.learning_rate  # the weights' first step


def test_tensorboard_logs_the_loss_both_learning_rates_and_the_gates(base, manifest, tmp_path):
    pytest.importorskip("tensorboard", reason="pip install tensorboard (tests/requirements.txt) to check the logs")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from gligen_pack.train.trainer import train
    cfg = _config(manifest, tmp_path / "run", max_steps=3, warmup_steps=0, log_every=1, gate_learning_rate=0.05,
                  tensorboard=True)
    result = train(cfg, base=base, say=lambda m: None)
    events = EventAccumulator(str(tmp_path / "run" / "logs"))
    events.Reload()
    scalars = {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}
    assert set(scalars) == {"train/loss", "train/learning_rate", "train/gate_learning_rate", "train/gate_opening",
                            "train/seconds_per_step"}
    assert [round(v, 6) for _, v in scalars["train/loss"]] == [round(v, 6) for v in result.losses]
    assert [v for _, v in scalars["train/learning_rate"]] == pytest.approx([1e-3] * 3)
    assert [v for _, v in scalars["train/gate_learning_rate"]] == pytest.approx([0.05] * 3)
    opening = dict(scalars["train/gate_opening"])
    assert sorted(opening) == [1, 2, 3] and opening[1] == pytest.approx(0.05, rel=0.01)  # tanh(0.05) after step 1
    assert 0 < opening[3] <= 0.15


@pytest.mark.parametrize("prediction", ["eps", "v"])
def test_the_trainer_trains_what_gligenapply_runs_in_a_sampler(clip, tmp_path, prediction):
    """The training forward (GroundedDenoiser.predict) and a ComfyUI sampler's call of the GLIGENApply-patched
    model give the same denoised latent for the same boxes, phrases, caption, noise and sigma, for eps and
    v-prediction bases: the box convention, the token path and the timestep mapping of training are those of
    inference. (The boxes' own effect is checked to be far larger than any difference.)"""
    import comfy.sample
    import comfy.samplers
    from gligen_pack.gligen_core import MAX_OBJECTS, Grounding
    from gligen_pack.nodes.apply import grounded_model
    from gligen_pack.nodes.loader import load_ref
    from gligen_pack.nodes.types import GROUNDING_KEY
    from gligen_pack.train.checkpoints import write_adapter
    from gligen_pack.train.tiny_base import tiny_base
    base = tiny_base(UNET, seed=0, clip=clip, prediction=prediction)
    assert base.prediction == prediction
    module = _module(base, seed=3)
    with torch.no_grad():
        for i, fuser in enumerate(module.adapter.fusers.values()):  # open gates, each its own
            fuser.alpha_attn.fill_(0.4 + 0.05 * i)
            fuser.alpha_dense.fill_(0.3 - 0.05 * i)
    path = write_adapter(module.adapter, str(tmp_path / "open.safetensors"), {"gligen_grounding": "test"})
    boxes = torch.tensor([[0.0, 0.125, 0.5, 0.625], [0.625, 0.5, 1.0, 1.0]])
    features = torch.stack([base.phrase_feature(p, 768) for p in PHRASES[:2]])
    context = base.caption("a red ball and a blue box")[0][None]
    model = grounded_model(base.model, load_ref(path))
    sampling = model.get_model_object("model_sampling")
    sigma = sampling.sigma(torch.tensor([620.0]))
    seen = {}

    def one_call(m, x, sigmas, extra_args=None, callback=None, disable=None):
        seen["x"] = x.clone()
        seen["denoised"] = m(x, sigmas[0] * x.new_ones([x.shape[0]]), **(extra_args or {}))
        return seen["denoised"]

    noise = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(7))
    comfy.sample.sample_custom(model, noise, 1.0, comfy.samplers.KSAMPLER(one_call), torch.tensor([float(sigma), 0.0]),
                               [[context, {GROUNDING_KEY: Grounding(tuple(PHRASES[:2]), boxes, features)}]],
                               [[base.caption("")[0][None], {}]], torch.zeros(1, 4, 8, 8), disable_pbar=True, seed=0)
    x = seen["x"]
    x_in, timestep = sampling.calculate_input(sigma, x), sampling.timestep(sigma)

    def trained_view(slot_boxes: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        slots, features_in = torch.zeros(1, MAX_OBJECTS, 4), torch.zeros(1, MAX_OBJECTS, 768)
        slots[0, :2], features_in[0, :2] = slot_boxes, features
        mask = torch.zeros(1, MAX_OBJECTS)
        mask[0, :2] = masks
        with torch.no_grad():
            out = module.predict(x_in, timestep, context, None, slots, mask, features_in * mask[..., None])
        return sampling.calculate_denoised(sigma, out, x)

    same = trained_view(boxes, torch.ones(2))
    gap = float((seen["denoised"].float() - same).abs().max())
    transposed = float((trained_view(boxes[:, [1, 0, 3, 2]], torch.ones(2)) - same).abs().max())  # x <-> y
    null = float((trained_view(boxes, torch.zeros(2)) - same).abs().max())
    assert gap <= 1e-6 * float(same.abs().max())
    assert transposed > 100 * max(gap, 1e-9) and null > 100 * max(gap, 1e-9)
