"""``python -m gligen_grounding train CONFIG`` and ``import-coco``; also under ``accelerate launch``."""
from __future__ import annotations

import argparse
import json

from ..gligen_core.errors import GLIGENError


def add_commands(sub) -> None:
    t = sub.add_parser("train", help="train a GLIGEN adapter on a frozen ComfyUI checkpoint (one process, or several "
                                     "under `accelerate launch`)")
    t.add_argument("config", help="a .json or .toml training config (see README, 'Train your own GLIGEN')")
    t.add_argument("--resume", nargs="?", const="latest", default=None, metavar="STATE",
                   help="continue the run in the config's output folder from its newest state (or from STATE)")
    t.add_argument("--max-steps", type=int, help="override max_steps")
    t.add_argument("--cpu", action="store_true", help="train on the CPU even when a GPU is available")
    t.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key (VALUE as JSON, or as text when it is not JSON); repeatable")
    c = sub.add_parser("import-coco", help="write a training manifest (JSONL) from COCO detection annotations")
    c.add_argument("annotations", help="a COCO instances file (instances_train2017.json)")
    c.add_argument("images", help="the folder of its images")
    c.add_argument("manifest", help="the .jsonl manifest to write")
    c.add_argument("--captions", help="a COCO captions file: use each image's first caption (default: the category "
                                      "names joined by ', ')")
    c.add_argument("--include-crowd", action="store_true", help="keep crowd annotations")
    c.add_argument("--skip-empty", action="store_true", help="leave out images without boxes")


def _overrides(opts: argparse.Namespace) -> dict:
    out = {}
    for item in opts.set:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise GLIGENError(f"--set {item!r}: write KEY=VALUE, e.g. --set batch_size=4")
        try:
            out[key] = json.loads(value)
        except ValueError:
            out[key] = value
    if opts.max_steps is not None:
        out["max_steps"] = opts.max_steps
    if opts.cpu:
        out["cpu"] = True
    return out


def run_train(opts: argparse.Namespace) -> int:
    from .config import load_config
    try:
        cfg = load_config(opts.config, _overrides(opts))
        from .base import ensure_comfy
        ensure_comfy(cfg.cpu)
        from .trainer import train
        train(cfg, resume=opts.resume)
    except GLIGENError as e:
        print(f"error: {e}", flush=True)
        return 2
    return 0


def run_import_coco(opts: argparse.Namespace) -> int:
    from .coco import coco_rows, write_manifest
    try:
        rows, report = coco_rows(opts.annotations, opts.images, opts.captions, opts.include_crowd, opts.skip_empty)
    except GLIGENError as e:
        print(f"error: {e}", flush=True)
        return 2
    write_manifest(rows, opts.manifest)
    print(f"wrote {opts.manifest}: {report.summary()}", flush=True)
    return 0


def run_command(opts: argparse.Namespace) -> int:
    return run_train(opts) if opts.command == "train" else run_import_coco(opts)
