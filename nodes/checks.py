"""Checks of a node's widget values at the start of ``execute``, against the node's own schema.

ComfyUI checks a typed-in widget value against its input's type, min and max when the prompt is
queued, but a value that comes through a link (a PrimitiveInt shared by several nodes, say) exists
only when the graph runs, and NaN passes its min/max test (every comparison with NaN is false). So
each node checks its widget values again here, before any work, with the limits its schema declares:
one place for the limits, the same errors whether a value was typed or linked.

Why not in ``validate_inputs``: ComfyUI passes None there for a linked input, drops its own min/max
and combo checks for every input named in that function, and reports its error once per argument.
The exception is a node's only combo: this ComfyUI does not check a V3 combo's value when a prompt is
queued at all, so ``typed_choices`` checks a typed one there (a linked one is None there and is checked
when the node runs, with the same message). A node with two combos (ScheduledSampler's sampler_name
and scheduler) is left to run time: ComfyUI would attach the error to both inputs.
"""
from __future__ import annotations

import math
from typing import Any

from comfy_api.latest import io

from ..gligen_core.errors import InputValueError


def check_widgets(node: type[io.ComfyNode], **values: Any) -> None:
    """Raise ``InputValueError`` naming the first input of ``node`` whose value its schema refuses."""
    specs = {spec.id: spec for spec in node.define_schema().inputs}
    for name, value in values.items():
        check_value(name, value, specs[name])


def typed_choices(node: type[io.ComfyNode], **values: Any) -> bool | str:
    """For a node's ``validate_inputs``: True, or the error of the first typed combo value of ``node`` that
    is not one of its choices. Values that are None (linked inputs) are left to ``check_widgets`` at run time."""
    try:
        check_widgets(node, **{name: value for name, value in values.items() if value is not None})
    except InputValueError as e:
        return str(e)
    return True


def check_value(name: str, value: Any, spec: io.Input) -> None:
    if value is None:
        raise InputValueError(f"{name} got no value (None) from the node linked to it; connect a node that "
                              f"outputs {spec.get_io_type()}, or type the value in the widget.")
    if isinstance(spec, io.Int.Input):
        _check_int(name, value, spec.min, spec.max)
    elif isinstance(spec, io.Float.Input):
        _check_float(name, value, spec.min, spec.max)
    elif isinstance(spec, io.Boolean.Input) and not isinstance(value, bool):
        raise InputValueError(f"{name} = {value!r} is not true or false; connect a BOOLEAN.")
    elif isinstance(spec, io.String.Input) and not isinstance(value, str):
        raise InputValueError(f"{name} = {value!r} is not text; connect a STRING.")
    elif isinstance(spec, io.Combo.Input) and value not in spec.options:
        shown = ", ".join(map(repr, spec.options[:12])) + (", ..." if len(spec.options) > 12 else "")
        raise InputValueError(f"{name} = {value!r} is not one of the choices ({shown}); link a node that gives "
                              f"one of them, or pick one in the widget.")


def _number(v: float) -> str:
    return str(v) if isinstance(v, int) else f"{v:g}"


def _range(lo: float | None, hi: float | None) -> str:
    return f"{'-inf' if lo is None else _number(lo)}..{'inf' if hi is None else _number(hi)}"


def _outside(value: float, lo: float | None, hi: float | None) -> bool:
    return (lo is not None and value < lo) or (hi is not None and value > hi)


def _check_int(name: str, value: Any, lo: int | None, hi: int | None) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputValueError(f"{name} = {value!r} is not a whole number; give an integer in {_range(lo, hi)}.")
    if _outside(value, lo, hi):
        raise InputValueError(f"{name} = {value} is outside {_range(lo, hi)}; give a whole number in that range.")


def _check_float(name: str, value: Any, lo: float | None, hi: float | None) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputValueError(f"{name} = {value!r} is not a number; give a number in {_range(lo, hi)}.")
    if math.isnan(value):
        raise InputValueError(f"{name} is NaN (not a number); give a finite number in {_range(lo, hi)}.")
    if math.isinf(value):
        raise InputValueError(f"{name} = {value} is not finite; give a finite number in {_range(lo, hi)}.")
    if _outside(value, lo, hi):
        raise InputValueError(f"{name} = {_number(value)} is outside {_range(lo, hi)}; give a number in that range.")
