"""The training loop: frozen base, trainable adapter, data-parallel steps, checkpoints, logs, output file."""
from __future__ import annotations

import contextlib
import logging
import os
import time
from dataclasses import dataclass, field
from typing import Callable

import torch

from ..gligen_core import AdapterShape, GLIGENAdapter, TokenizerShape, load_adapter
from ..gligen_core.errors import GLIGENError
from .batches import LatentSource, make_batch
from .checkpoints import check_same_schedule, load_state, resume_path, save_state, write_adapter
from .config import TrainConfig
from .data import ReadReport, Row, read_manifest
from .dist import make_runner
from .objective import GroundedDenoiser
from .sampling import Schedule

log = logging.getLogger(__name__)

TOKENIZER_HIDDEN = 512
FOURIER_FREQS = 8


@dataclass
class TrainResult:
    adapter_path: str | None
    steps: int
    losses: list[float] = field(default_factory=list)   # mean loss per optimizer step run in this call
    seconds: float = 0.0
    report: ReadReport | None = None


def new_adapter(base, phrase_dim: int, seed: int) -> GLIGENAdapter:
    """A fresh adapter for every transformer block of the base UNet: zero gates (so it starts as the base
    model exactly), PyTorch's default init elsewhere, zero null features (as the official code)."""
    token_dim = base.token_dim
    shape = AdapterShape(fusers=base.fuser_widths(), token_dim=token_dim,
                         tokenizer=TokenizerShape(phrase_dim, token_dim, TOKENIZER_HIDDEN, FOURIER_FREQS))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return GLIGENAdapter(shape)


def initial_adapter(cfg: TrainConfig, base, phrase_dim: int) -> GLIGENAdapter:
    if cfg.init_adapter is None:
        return new_adapter(base, phrase_dim, cfg.seed)
    from ..nodes.model_fit import check_fit
    adapter = load_adapter(cfg.init_adapter).adapter
    check_fit(adapter, base.model)
    if adapter.phrase_dim != phrase_dim:
        raise GLIGENError(f"init_adapter {cfg.init_adapter!r} takes {adapter.phrase_dim}-d phrase features; this "
                          f"base model's CLIP gives {phrase_dim}-d ones. Use a GLIGEN file made for this model family.")
    return adapter


def _precision_dtype(runner) -> torch.dtype:
    return {"fp16": torch.float16, "bf16": torch.bfloat16}.get(runner.mixed_precision, torch.float32)


class _Logs:
    """TensorBoard (main process, when installed) and a progress bar with loss and speed."""

    def __init__(self, cfg: TrainConfig, main: bool, start: int) -> None:
        self.writer = None
        self.bar = None
        if not main:
            return
        if cfg.tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
                self.writer = SummaryWriter(os.path.join(cfg.output, "logs"))
            except ImportError:
                log.warning("tensorboard is not installed: no TensorBoard logs (pip install tensorboard)")
        from tqdm import tqdm
        self.bar = tqdm(total=cfg.max_steps, initial=start, desc="training", unit="step", dynamic_ncols=True)

    def step(self, step: int, loss: float, lrs: list[float], seconds: float, every: int,
             gates: Callable[[], float]) -> None:
        if self.bar is not None:
            self.bar.set_postfix(loss=f"{loss:.4f}", lr=f"{lrs[0]:.2e}", s_per_step=f"{seconds:.2f}")
            self.bar.update(1)
        if self.writer is not None and step % every == 0:
            self.writer.add_scalar("train/loss", loss, step)
            self.writer.add_scalar("train/learning_rate", lrs[0], step)
            self.writer.add_scalar("train/gate_learning_rate", lrs[1], step)
            self.writer.add_scalar("train/gate_opening", gates(), step)
            self.writer.add_scalar("train/seconds_per_step", seconds, step)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        if self.writer is not None:
            self.writer.close()


GATES = ("alpha_attn", "alpha_dense")


def gates_and_weights(adapter: torch.nn.Module) -> tuple[list[torch.nn.Parameter], list[torch.nn.Parameter]]:
    """The fusers' scalar gates (``GATES``) and every other adapter parameter."""
    named = list(adapter.named_parameters())
    return ([p for n, p in named if n.rsplit(".", 1)[-1] in GATES],
            [p for n, p in named if n.rsplit(".", 1)[-1] not in GATES])


def make_optimizer(adapter: torch.nn.Module, cfg: TrainConfig) -> torch.optim.AdamW:
    """AdamW over the adapter in two groups: every weight at ``learning_rate``, the fusers' scalar gates at
    ``gate_learning_rate`` (``learning_rate`` when unset: the paper). Adam moves a parameter by about its lr a
    step whatever its gradient, so at a short run's lr a gate (from 0) opens only after thousands of steps."""
    gates, weights = gates_and_weights(adapter)
    gate_lr = cfg.learning_rate if cfg.gate_learning_rate is None else cfg.gate_learning_rate
    return torch.optim.AdamW([{"params": weights}, {"params": gates, "lr": gate_lr}], lr=cfg.learning_rate,
                             weight_decay=cfg.weight_decay)


def gate_opening(adapter: torch.nn.Module) -> float:
    """The mean |tanh(gate)| over the fusers' gates: 0 is the base model, 1 the fusers fully added."""
    with torch.no_grad():
        return float(torch.stack([g.float().tanh().abs() for g in gates_and_weights(adapter)[0]]).mean())


def train(cfg: TrainConfig, *, base=None, rows: list[Row] | None = None, resume: str | bool | None = None,
          runner=None, on_step: Callable[[int, float], None] | None = None,
          say: Callable[[str], None] = print) -> TrainResult:
    """Train ``cfg``. ``base`` (a ``base.FrozenBase``) and ``rows`` may be given in place of the config's
    checkpoint and manifest (the benchmark does). ``on_step(step, loss)`` runs after every optimizer step."""
    runner = runner or make_runner(cfg.mixed_precision, cfg.cpu)
    report = None
    if rows is None:
        rows, report = read_manifest(cfg.manifest, cfg.min_box_area, cfg.max_boxes)
        if runner.is_main_process:
            say(report.summary())
    if not rows:
        raise GLIGENError(f"no usable rows in {cfg.manifest!r}; fix the rows listed above.")
    if base is None:
        from .base import ensure_comfy, load_base
        ensure_comfy(cfg.cpu)
        base = load_base(cfg.checkpoint, _precision_dtype(runner) if runner.device.type == "cuda" else torch.float32)
    os.makedirs(cfg.output, exist_ok=True)
    state_path = resume_path(cfg.output, resume)  # every process: states are written only after step 1

    phrase_dim = base.phrase_feature("a", None).shape[0]
    adapter = initial_adapter(cfg, base, phrase_dim).float()
    adapter.requires_grad_(True).train()
    module = GroundedDenoiser(adapter, base.unet.to(runner.device), base.alphas_cumprod, base.prediction)
    optimizer = make_optimizer(adapter, cfg)
    warmup = cfg.warmup_steps
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(1.0, (s + 1) / warmup) if warmup else 1.0)
    schedule = Schedule(len(rows), cfg.batch_size, runner.num_processes, cfg.gradient_accumulation, cfg.seed,
                        base.num_timesteps, cfg.flip, cfg.caption_dropout, cfg.grounding_dropout)
    shaping = {"seed": cfg.seed, "batch_size": cfg.batch_size, "gradient_accumulation": cfg.gradient_accumulation,
               "processes": runner.num_processes, "flip": cfg.flip, "caption_dropout": cfg.caption_dropout,
               "grounding_dropout": cfg.grounding_dropout, "rows": len(rows)}

    start = 0
    saved = load_state(state_path) if state_path else None
    if saved is not None:
        check_same_schedule(saved["schedule"], shaping)
        adapter.load_state_dict(saved["adapter"])
        start = int(saved["step"])
    module, optimizer = runner.prepare(module, optimizer)
    if saved is not None:
        try:
            optimizer.load_state_dict(saved["optimizer"])
        except ValueError as e:
            raise GLIGENError(f"cannot resume from {state_path!r}: its optimizer state does not fit this trainer's "
                              f"parameter groups ({e}); an older version of the trainer wrote it. Start a new run "
                              f"in another output folder.") from None
        scheduler.load_state_dict(saved["scheduler"])
        runner.load_scaler_state(saved.get("scaler"))
        torch.set_rng_state(saved["rng"])
        if runner.is_main_process:
            say(f"resumed from {state_path} at step {start}")
    if start >= cfg.max_steps:
        say(f"the run is already at step {start} of {cfg.max_steps}; raise max_steps to train further")

    latents = LatentSource(base, cfg.resolution, cfg.cache_latents)
    logs = _Logs(cfg, runner.is_main_process, start)
    losses: list[float] = []
    began = time.perf_counter()
    step = start
    try:
        for step in range(start, cfg.max_steps):
            t0 = time.perf_counter()
            total = torch.zeros((), device=runner.device)
            for micro in range(cfg.gradient_accumulation):
                draws = schedule.draws(step, micro, runner.process_index)
                batch = make_batch(rows, draws, latents, base, phrase_dim, cfg.max_boxes, cfg.min_box_area,
                                   schedule.grounding_dropped(step, micro)).to(runner.device)
                last = micro == cfg.gradient_accumulation - 1
                with (contextlib.nullcontext() if last else runner.no_sync(module)):
                    with runner.autocast():
                        loss = module(batch)
                    runner.backward(loss / cfg.gradient_accumulation)
                total += loss.detach() / cfg.gradient_accumulation
            runner.step(optimizer)
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            mean_loss = float(runner.mean(total))
            losses.append(mean_loss)
            done = step + 1
            logs.step(done, mean_loss, scheduler.get_last_lr(), time.perf_counter() - t0, cfg.log_every,
                      lambda: gate_opening(adapter))
            if done % cfg.save_every == 0 or done == cfg.max_steps:
                if runner.is_main_process:
                    save_state(cfg.output, done, {
                        "step": done, "adapter": runner.unwrap(module).adapter.state_dict(),
                        "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                        "scaler": runner.scaler_state(), "rng": torch.get_rng_state(), "schedule": shaping,
                    }, cfg.keep_checkpoints)
                runner.wait_for_everyone()
            if on_step is not None:
                on_step(done, mean_loss)
        step = cfg.max_steps
    finally:
        logs.close()

    path = None
    if runner.is_main_process:
        trained = runner.unwrap(module).adapter
        path = write_adapter(trained, os.path.join(cfg.output, f"{cfg.name}.safetensors"), {
            "gligen_grounding": "trained adapter", "base_model": base.name, "base_family": base.family,
            "prediction": base.prediction, "steps": str(step), "global_batch":
                str(cfg.batch_size * runner.num_processes * cfg.gradient_accumulation),
            "data": os.path.basename(cfg.manifest), "rows": str(len(rows)), "config": cfg.as_dict(),
        })
        say(f"wrote {path} ({step} steps); put it in ComfyUI/models/gligen")
    runner.wait_for_everyone()
    return TrainResult(path, step, losses, time.perf_counter() - began, report)
