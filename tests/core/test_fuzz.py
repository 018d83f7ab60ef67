"""Property-based fuzzing, bounded in time: the boxes parser and the weight loader either succeed or
raise their own clear error type, never anything else."""
from __future__ import annotations

import json
import math
import os
import tempfile

import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.torch import save_file

from gligen_pack.gligen_core import BoxesError, GLIGENFileError, load_adapter, parse_boxes
from gligen_pack.gligen_core.files import Tensors
from gligen_pack.gligen_core.loading import adapter_from_tensors
from helpers.gligen_files import pruned_state

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = (st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.text(max_size=12)
           | st.floats(allow_nan=True, allow_infinity=True))
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=6)
    | st.dictionaries(st.sampled_from(["phrase", "box", "box_px", "boxes", "color", "id", "bbox"]) | st.text(max_size=4),
                      children, max_size=5),
    max_leaves=40)
coords = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-100, 5000), st.text(max_size=3), st.none())
entries = st.fixed_dictionaries(
    {"phrase": st.one_of(st.text(max_size=30), st.none(), st.integers())},
    optional={"box": st.lists(coords, min_size=0, max_size=5), "box_px": st.lists(coords, min_size=0, max_size=5)})


def check_layout(layout, w, h):
    assert len(layout.boxes) <= 30
    for b in layout.boxes:
        x0, y0, x1, y1 = b.box
        assert all(math.isfinite(v) for v in b.box)
        assert 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1
        assert b.phrase.strip()


@FAST
@given(value=json_values, w=st.integers(-3, 9000), h=st.integers(-3, 9000))
def test_any_json_value(value, w, h):
    try:
        check_layout(parse_boxes(json.dumps(value), w, h), w, h)
    except BoxesError:
        pass


@FAST
@given(items=st.lists(entries, max_size=40), w=st.integers(1, 4096), h=st.integers(1, 4096))
def test_box_like_entries(items, w, h):
    try:
        check_layout(parse_boxes(json.dumps(items), w, h), w, h)
    except BoxesError:
        pass


@FAST
@given(text=st.text(max_size=200))
def test_any_text(text):
    try:
        parse_boxes(text, 512, 512)
    except BoxesError:
        pass


VALID = pruned_state([("input_blocks.1.1", 8), ("middle_block.1", 16)], seed=0, hidden=8)


def valid_bytes(suffix):
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "v" + suffix)
        save_file(VALID, path) if suffix == ".safetensors" else torch.save(VALID, path)
        return open(path, "rb").read()


SAFE, PICKLED = valid_bytes(".safetensors"), valid_bytes(".pth")


def load_bytes(data: bytes, suffix: str):
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "g" + suffix)
        with open(path, "wb") as f:
            f.write(data)
        try:
            load_adapter(path)
        except GLIGENFileError:
            pass


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=512), suffix=st.sampled_from([".safetensors", ".pth", ".bin", ".gligen"]))
def test_random_bytes(data, suffix):
    load_bytes(data, suffix)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(base=st.sampled_from([(SAFE, ".safetensors"), (PICKLED, ".pth")]), cut=st.integers(0, 10**6),
       flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=4))
def test_damaged_valid_files(base, cut, flips):
    data, suffix = bytearray(base[0]), base[1]
    for pos, value in flips:
        data[pos % len(data)] = value
    load_bytes(bytes(data[: max(0, len(data) - cut % (len(data) + 1))]), suffix)


key_parts = st.sampled_from(["input_blocks.1.1", "middle_block.1", "output_blocks.3.1", "down_blocks.0.attentions.0",
                             "input_blocks.2.0", "x"])
params = st.sampled_from(["linear.weight", "linear.bias", "attn.to_q.weight", "ff.net.0.proj.weight", "norm1.weight",
                          "alpha_attn", "alpha_dense", "bogus"])
tok_params = st.sampled_from(["null_positive_feature", "null_position_feature", "linears.0.weight", "linears.4.weight",
                              "linears.0.bias", "linears_text.0.weight", "other"])
shapes = st.lists(st.integers(0, 9), min_size=0, max_size=3)


@FAST
@given(fuser_keys=st.lists(st.tuples(key_parts, st.integers(0, 2), params, shapes), max_size=12),
       tok_keys=st.lists(st.tuples(tok_params, shapes), max_size=8),
       dtype=st.sampled_from([torch.float32, torch.float16, torch.int64]))
def test_random_state_dicts(fuser_keys, tok_keys, dtype):
    sd = {f"{prefix}.transformer_blocks.{inner}.fuser.{param}": torch.zeros(shape, dtype=dtype)
          for prefix, inner, param, shape in fuser_keys}
    sd.update({f"position_net.{param}": torch.zeros(shape, dtype=dtype) for param, shape in tok_keys})
    try:
        adapter_from_tensors(Tensors(sd, sd.__getitem__), "fuzz.safetensors")
    except GLIGENFileError:
        pass
