"""Data parallelism through Hugging Face Accelerate, or one process without it.

Under ``accelerate launch`` (several GPUs, machines, or CPU processes with gloo) the ``Accelerator``
sets up the process group, wraps the trainable module in DistributedDataParallel (gradients averaged
over processes), and handles mixed precision. Without accelerate installed, ``SingleProcess`` does
the same for one process (autocast, and a gradient scaler for fp16), so the trainer and the benchmark
run on a machine that has only torch and ComfyUI.
"""
from __future__ import annotations

import contextlib
import logging

import torch

log = logging.getLogger(__name__)


def resolve_precision(requested: str, device: torch.device) -> str:
    if requested != "auto":
        return requested
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return "bf16"
    return "no"


class SingleProcess:
    """The few things the trainer asks of an Accelerator, for one process."""

    num_processes = 1
    process_index = 0
    is_main_process = True

    def __init__(self, mixed_precision: str, cpu: bool) -> None:
        self.device = torch.device("cuda" if torch.cuda.is_available() and not cpu else "cpu")
        self.mixed_precision = resolve_precision(mixed_precision, self.device)
        self._scaler = torch.amp.GradScaler(self.device.type) if self.mixed_precision == "fp16" else None

    def prepare(self, module, optimizer):
        return module.to(self.device), optimizer

    def autocast(self):
        if self.mixed_precision == "no":
            return contextlib.nullcontext()
        dtype = torch.float16 if self.mixed_precision == "fp16" else torch.bfloat16
        return torch.autocast(self.device.type, dtype=dtype)

    def no_sync(self, module):
        return contextlib.nullcontext()

    def backward(self, loss: torch.Tensor) -> None:
        (self._scaler.scale(loss) if self._scaler else loss).backward()

    def step(self, optimizer) -> None:
        if self._scaler:
            self._scaler.step(optimizer)
            self._scaler.update()
        else:
            optimizer.step()

    def mean(self, value: torch.Tensor) -> torch.Tensor:
        return value

    def wait_for_everyone(self) -> None:
        pass

    def unwrap(self, module):
        return module

    def scaler_state(self) -> dict | None:
        return self._scaler.state_dict() if self._scaler else None

    def load_scaler_state(self, state: dict | None) -> None:
        if self._scaler and state:
            self._scaler.load_state_dict(state)


class AccelerateRunner:
    """``accelerate.Accelerator`` behind the same methods."""

    def __init__(self, mixed_precision: str, cpu: bool) -> None:
        from accelerate import Accelerator
        probe = torch.device("cuda" if torch.cuda.is_available() and not cpu else "cpu")
        self.acc = Accelerator(mixed_precision=resolve_precision(mixed_precision, probe), cpu=cpu)
        self.device = self.acc.device
        self.mixed_precision = self.acc.mixed_precision
        self.num_processes = self.acc.num_processes
        self.process_index = self.acc.process_index
        self.is_main_process = self.acc.is_main_process

    def prepare(self, module, optimizer):
        return self.acc.prepare(module, optimizer)

    def autocast(self):
        return self.acc.autocast()

    def no_sync(self, module):
        return self.acc.no_sync(module)

    def backward(self, loss: torch.Tensor) -> None:
        self.acc.backward(loss)

    def step(self, optimizer) -> None:
        optimizer.step()  # the prepared optimizer unscales and skips overflowing fp16 steps itself

    def mean(self, value: torch.Tensor) -> torch.Tensor:
        return self.acc.reduce(value.detach().to(self.device), reduction="mean")

    def wait_for_everyone(self) -> None:
        self.acc.wait_for_everyone()

    def unwrap(self, module):
        return self.acc.unwrap_model(module)

    def scaler_state(self) -> dict | None:
        scaler = getattr(self.acc, "scaler", None)
        return scaler.state_dict() if scaler is not None else None

    def load_scaler_state(self, state: dict | None) -> None:
        scaler = getattr(self.acc, "scaler", None)
        if scaler is not None and state:
            scaler.load_state_dict(state)


def make_runner(mixed_precision: str, cpu: bool, use_accelerate: bool | None = None):
    """Accelerate when installed (and not turned off), else one process."""
    if use_accelerate is not False:
        try:
            import accelerate  # noqa: F401
        except ImportError:
            if use_accelerate:
                raise
            log.info("accelerate is not installed: training in one process")
        else:
            return AccelerateRunner(mixed_precision, cpu)
    return SingleProcess(mixed_precision, cpu)
