"""Which examples a step trains on, and every random draw, as functions of (seed, step, sample).

Nothing depends on a process's own random state: the data order is a seeded permutation per epoch, and
a sample's timestep, noise, flip and caption dropout come from a generator seeded by its place in the
global batch; the per-batch grounding dropout from one seeded by the micro-batch. So the same global
batch split over 1 or N processes draws the same numbers, and a resumed run continues exactly where
the interrupted one stopped.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import torch


def seeded(*parts: int) -> torch.Generator:
    """A CPU generator whose seed is a hash of ``parts``."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return torch.Generator().manual_seed(int.from_bytes(digest, "little") & ((1 << 63) - 1))


@dataclass(frozen=True)
class Draw:
    """The random choices for one sample."""
    index: int          # row of the manifest
    timestep: int       # in [0, num_timesteps)
    flip: bool
    drop_caption: bool
    noise_seed: int     # seeds the noise, drawn at the latent's shape


class Schedule:
    """The global batches of a run: ``per_process`` samples on each of ``processes``, for each of
    ``accumulation`` micro-batches per optimizer step."""

    def __init__(self, rows: int, per_process: int, processes: int, accumulation: int, seed: int,
                 num_timesteps: int, flip: bool, caption_dropout: float, grounding_dropout: float) -> None:
        if rows < 1:
            raise ValueError("no training rows")
        self.rows, self.per_process, self.processes = rows, per_process, processes
        self.accumulation, self.seed, self.num_timesteps = accumulation, seed, num_timesteps
        self.flip, self.caption_dropout, self.grounding_dropout = flip, caption_dropout, grounding_dropout
        self._perms: dict[int, torch.Tensor] = {}

    @property
    def global_batch(self) -> int:
        return self.per_process * self.processes

    def _perm(self, epoch: int) -> torch.Tensor:
        if epoch not in self._perms:
            self._perms = {epoch: torch.randperm(self.rows, generator=seeded(self.seed, 1, epoch))}
        return self._perms[epoch]

    def epoch_of(self, step: int) -> float:
        return step * self.accumulation * self.global_batch / self.rows

    def draws(self, step: int, micro: int, process: int) -> list[Draw]:
        """This process's samples of micro-batch ``micro`` of optimizer step ``step`` (0-based)."""
        out = []
        start = (step * self.accumulation + micro) * self.global_batch + process * self.per_process
        for position in range(start, start + self.per_process):
            index = int(self._perm(position // self.rows)[position % self.rows])
            g = seeded(self.seed, 2, position)
            t = int(torch.randint(0, self.num_timesteps, (1,), generator=g))
            u = torch.rand(2, generator=g)
            noise_seed = int(torch.randint(0, 2 ** 62, (1,), generator=g))
            out.append(Draw(index, t, self.flip and bool(u[0] < 0.5), bool(u[1] < self.caption_dropout), noise_seed))
        return out

    def grounding_dropped(self, step: int, micro: int) -> bool:
        """One draw per (global) batch: replace the whole grounding input by the null input."""
        return bool(torch.rand(1, generator=seeded(self.seed, 3, step, micro)) < self.grounding_dropout)


def noise_like(shape: tuple[int, ...], seed: int) -> torch.Tensor:
    return torch.randn(shape, generator=seeded(seed, 4))
