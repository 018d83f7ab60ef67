"""Training settings, read from a JSON or TOML file; the defaults are the paper's recipe (spec section 6).

Every key of the file must be a field below (a typo is an error naming it, never silently ignored);
relative paths are relative to the config file.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import MISSING, asdict, dataclass, fields

from ..gligen_core.errors import GLIGENError

PRECISIONS = ("no", "fp16", "bf16", "auto")


class ConfigError(GLIGENError):
    """A training config that cannot be used."""


@dataclass
class TrainConfig:
    checkpoint: str                      # the frozen base: a checkpoint file, or a name in models/checkpoints
    manifest: str                        # the JSONL manifest (see data.py)
    output: str                          # the run folder: checkpoints/, logs/ and the adapter
    init_adapter: str | None = None      # fine-tune an existing GLIGEN file instead of starting from zero gates
    name: str = "gligen_trained"         # the written file is <output>/<name>.safetensors
    resolution: int = 512                # images are centre-cropped and resized to this square size
    batch_size: int = 2                  # per process (per GPU); global batch = batch_size x processes x accumulation
    gradient_accumulation: int = 1
    max_steps: int = 500_000             # optimizer steps
    learning_rate: float = 5e-5          # AdamW
    weight_decay: float = 0.0
    gate_learning_rate: float | None = None  # the gates' (alpha_attn, alpha_dense) lr; None: learning_rate (the paper)
    warmup_steps: int = 10_000           # linear warm-up, then constant
    grounding_dropout: float = 0.1       # per batch: the whole grounding input becomes the null input
    caption_dropout: float = 0.5         # per sample: the caption becomes ""
    max_boxes: int = 30                  # per image, the largest kept
    min_box_area: float = 0.01           # boxes under this fraction of the image are dropped
    flip: bool = True                    # random horizontal flip, boxes flipped with the image
    mixed_precision: str = "auto"        # no | fp16 | bf16 | auto (bf16 on a GPU that has it, else no)
    save_every: int = 1000               # steps between resumable checkpoints
    keep_checkpoints: int = 2            # resumable checkpoints kept (the newest)
    log_every: int = 10                  # steps between TensorBoard points
    seed: int = 0
    cache_latents: bool = False          # keep each encoded image (and its flip) in memory
    tensorboard: bool = True             # write TensorBoard logs when tensorboard is installed
    cpu: bool = False                    # train on the CPU even when a GPU is there

    def __post_init__(self) -> None:
        checks = [
            ("resolution", self.resolution >= 64 and self.resolution % 8 == 0, "a multiple of 8, at least 64"),
            ("batch_size", self.batch_size >= 1, "at least 1"),
            ("gradient_accumulation", self.gradient_accumulation >= 1, "at least 1"),
            ("max_steps", self.max_steps >= 1, "at least 1"),
            ("learning_rate", math.isfinite(self.learning_rate) and self.learning_rate > 0, "a positive number"),
            ("gate_learning_rate", self.gate_learning_rate is None or (math.isfinite(self.gate_learning_rate)
                                                                      and self.gate_learning_rate > 0),
             "a positive number, or leave it out to use learning_rate"),
            ("weight_decay", math.isfinite(self.weight_decay) and self.weight_decay >= 0, "0 or more"),
            ("warmup_steps", self.warmup_steps >= 0, "0 or more"),
            ("grounding_dropout", 0.0 <= self.grounding_dropout <= 1.0, "between 0 and 1"),
            ("caption_dropout", 0.0 <= self.caption_dropout <= 1.0, "between 0 and 1"),
            ("max_boxes", 1 <= self.max_boxes <= 30, "between 1 and 30 (the tokenizer's slots)"),
            ("min_box_area", 0.0 <= self.min_box_area < 1.0, "between 0 and 1"),
            ("mixed_precision", self.mixed_precision in PRECISIONS, f"one of {', '.join(PRECISIONS)}"),
            ("save_every", self.save_every >= 1, "at least 1"),
            ("keep_checkpoints", self.keep_checkpoints >= 1, "at least 1"),
            ("log_every", self.log_every >= 1, "at least 1"),
        ]
        for name, ok, want in checks:
            if not ok:
                raise ConfigError(f"config: {name} = {getattr(self, name)!r} is not valid; give {want}.")

    def as_dict(self) -> dict:
        return asdict(self)


def _types() -> dict[str, type]:
    return {f.name: f.type for f in fields(TrainConfig)}


def config_from_dict(data: dict, base_dir: str = ".") -> TrainConfig:
    """A checked config; unknown keys, missing required keys and wrong types are errors naming them."""
    known = {f.name: f for f in fields(TrainConfig)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ConfigError(f"config: unknown key(s) {', '.join(map(repr, unknown))}; the keys are "
                          f"{', '.join(sorted(known))}.")
    missing = [n for n, f in known.items() if f.default is MISSING and n not in data]
    if missing:
        raise ConfigError(f"config: {', '.join(map(repr, missing))} must be given.")
    values = {}
    for key, value in data.items():
        kind = known[key].type
        if "bool" in kind and not isinstance(value, bool):
            raise ConfigError(f"config: {key} must be true or false, got {value!r}.")
        if kind == "int" and (isinstance(value, bool) or not isinstance(value, int)):
            raise ConfigError(f"config: {key} must be a whole number, got {value!r}.")
        if kind.startswith("float") and not (value is None and "None" in kind) and (
                isinstance(value, bool) or not isinstance(value, (int, float))):
            raise ConfigError(f"config: {key} must be a number, got {value!r}.")
        if kind.startswith("str") and not (isinstance(value, str) or (value is None and "None" in kind)):
            raise ConfigError(f"config: {key} must be text, got {value!r}.")
        if kind.startswith("float") and value is not None:
            value = float(value)
        values[key] = value
    for key in ("manifest", "output", "init_adapter", "checkpoint"):
        v = values.get(key)
        if isinstance(v, str) and v and not os.path.isabs(v) and (key != "checkpoint" or os.sep in v or
                                                                  os.path.exists(os.path.join(base_dir, v))):
            values[key] = os.path.normpath(os.path.join(base_dir, v))
    return TrainConfig(**values)


def load_config(path: str, overrides: dict | None = None) -> TrainConfig:
    """Read a ``.json`` or ``.toml`` config; ``overrides`` (from the command line) win."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise ConfigError(f"cannot read the config {path!r}: {e.strerror}.") from None
    try:
        if path.endswith(".toml"):
            import tomllib
            data = tomllib.loads(raw.decode("utf-8"))
        else:
            data = json.loads(raw)
    except ValueError as e:
        raise ConfigError(f"the config {path!r} is not valid {'TOML' if path.endswith('.toml') else 'JSON'}: {e}.") from None
    if not isinstance(data, dict):
        raise ConfigError(f"the config {path!r} must be an object of settings, got {type(data).__name__}.")
    data.update(overrides or {})
    return config_from_dict(data, os.path.dirname(os.path.abspath(path)))
