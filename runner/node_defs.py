"""What the frontend builds for a node from its definition (``/object_info``): its widgets, in order,
and its input sockets, in the order a loaded node has them.

The frontend (1.27) gives every input with a widget type a widget and a socket; the node's inputs are
the socket-only inputs first, then one socket per widget, in ``input_order`` (required, then optional),
then any saved input the definition does not name. An INT named ``seed``/``noise_seed`` or with
``control_after_generate`` gets a second widget (the control), saved in ``widgets_values`` but never
queued; so does an image upload (``image_upload``), whose button is added after the required inputs.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# The frontend's core widget types (ComfyWidgets in scripts/widgets.ts).
WIDGET_TYPES = {"INT", "FLOAT", "BOOLEAN", "STRING", "MARKDOWN", "COMBO", "IMAGEUPLOAD", "FILEUPLOAD", "COLOR",
                "IMAGECOMPARE", "TREESELECT", "MULTISELECT", "CHART", "GALLERIA", "SELECTBUTTON", "TEXTAREA"}


@dataclass(frozen=True)
class Widget:
    name: str
    queued: bool                 # False for the control and upload widgets (options.serialize === false)
    dynamic_prompts: bool = False


@dataclass(frozen=True)
class InputSpec:
    name: str
    type: str
    widget: bool


@dataclass(frozen=True)
class NodeDef:
    inputs: tuple[InputSpec, ...]        # in the loaded node's socket order
    widgets: tuple[Widget, ...]          # in widget order (the order of widgets_values)
    outputs: tuple[str, ...]             # output types
    display_name: str
    legacy: tuple[tuple[bool, int], ...] = ()   # (forceInput, widgets it counts) per original widget input


def migrate_values(definition: NodeDef, values: list) -> list:
    """``migrateWidgetsValues``: values saved when forceInput inputs still had widgets lose theirs. The
    frontend pairs the i-th original input with the i-th value (not counting control widgets), so do we."""
    if sum(n for _, n in definition.legacy) != len(values) or not any(f for f, _ in definition.legacy):
        return values
    return [v for i, v in enumerate(values) if not (i < len(definition.legacy) and definition.legacy[i][0])]


def _spec(raw: Any) -> tuple[str, dict]:
    if not isinstance(raw, (list, tuple)) or not raw:
        return "*", {}
    kind = raw[0]
    opts = raw[1] if len(raw) > 1 and isinstance(raw[1], dict) else {}
    if isinstance(kind, (list, tuple)):
        return "COMBO", opts
    return (kind if isinstance(kind, str) else "*"), opts


def _ordered(info: dict) -> list[tuple[str, Any, bool]]:
    """(name, spec, optional) in the frontend's order: input_order when given, else as listed."""
    inputs = info.get("input") if isinstance(info.get("input"), dict) else {}
    order = info.get("input_order") if isinstance(info.get("input_order"), dict) else None
    out: list[tuple[str, Any, bool]] = []
    for section in ("required", "optional"):
        specs = inputs.get(section) if isinstance(inputs.get(section), dict) else {}
        names = list(specs)
        if order is not None and isinstance(order.get(section), list):
            names = [n for n in order[section] if n in specs]
        out.extend((n, specs[n], section == "optional") for n in names)
    return out


def node_def(info: dict) -> NodeDef:
    ordered = _ordered(info)
    sockets: list[InputSpec] = []
    widget_inputs: list[InputSpec] = []
    widgets: list[Widget] = []
    upload_at = sum(1 for _, _, optional in ordered if not optional)
    upload: Widget | None = None
    for i, (name, raw, _optional) in enumerate(ordered):
        kind, opts = _spec(raw)
        widget_kind = opts.get("widgetType") if isinstance(opts.get("widgetType"), str) else kind
        if widget_kind in WIDGET_TYPES and not opts.get("forceInput"):
            widget_inputs.append(InputSpec(name, kind, True))
            widgets.append(Widget(name, True, opts.get("dynamicPrompts") is True and kind == "STRING"))
            control = opts.get("control_after_generate")
            if control is None:
                control = kind == "INT" and name in ("seed", "noise_seed")
            if control and kind in ("INT", "FLOAT", "COMBO"):
                widgets.append(Widget("control_after_generate", False))
            if opts.get("image_upload") or opts.get("animated_image_upload"):
                upload = Widget("upload", False)
        else:
            sockets.append(InputSpec(name, kind, False))
        if upload is not None and i + 1 == upload_at:
            widgets.append(upload)
            upload = None
    if upload is not None:
        widgets.append(upload)
    outputs = tuple(o if isinstance(o, str) else "COMBO" if isinstance(o, (list, tuple)) else "*"
                    for o in (info.get("output") or []))
    name = info.get("display_name") or info.get("name")
    widget_names = {w.name for w in widgets}
    legacy = []
    for section in ("required", "optional"):
        specs = (info.get("input") or {}).get(section) if isinstance(info.get("input"), dict) else None
        for input_name, raw in (specs.items() if isinstance(specs, dict) else ()):
            _, opts = _spec(raw)
            if input_name in widget_names or opts.get("forceInput"):
                two = bool(opts.get("control_after_generate")) or input_name in ("seed", "noise_seed")
                legacy.append((bool(opts.get("forceInput")), 2 if two else 1))
    return NodeDef(tuple(sockets + widget_inputs), tuple(widgets), outputs, name if isinstance(name, str) else "",
                   tuple(legacy))
