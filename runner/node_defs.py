"""What the frontend builds for a node from its definition (``/object_info``): its widgets, in order,
and its input sockets, in the order a loaded node has them.

The frontend (1.27) gives every input with a widget type a widget and a socket; the node's inputs are
the socket-only inputs first, then one socket per widget, in ``input_order`` (required, then optional),
then any saved input the definition does not name (inputs missing from ``input_order`` come after
the ordered ones). An INT named ``seed``/``noise_seed`` or with ``control_after_generate`` gets a second
widget (the control), a COMBO with ``control_after_generate`` two (the control and its filter list);
they are saved in ``widgets_values`` but never queued; so is an image or video upload's button, an
``upload`` input the frontend adds after the required inputs. ``widgets_values`` fill the widgets in
order; widgets it does not reach keep their default (``default``, a combo's first option, 0, "" or
false).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# The frontend's core widget types (ComfyWidgets in scripts/widgets.ts).
WIDGET_TYPES = {"INT", "FLOAT", "BOOLEAN", "STRING", "MARKDOWN", "COMBO", "IMAGEUPLOAD", "FILEUPLOAD", "COLOR",
                "IMAGECOMPARE", "TREESELECT", "MULTISELECT", "CHART", "GALLERIA", "SELECTBUTTON", "TEXTAREA"}


_UNDEFINED = object()


@dataclass(frozen=True)
class Widget:
    name: str
    queued: bool                 # False for the control and upload widgets (options.serialize === false)
    dynamic_prompts: bool = False
    default: Any = None          # the value when widgets_values does not reach it; _UNDEFINED: none

    @property
    def has_default(self) -> bool:
        return self.default is not _UNDEFINED


def _default(kind: str, raw: Any, opts: dict) -> Any:
    """The value the frontend's widget starts with (useIntWidget, useComboWidget, ...)."""
    if kind in ("INT", "FLOAT"):
        return opts["default"] if opts.get("default") is not None else 0
    if kind == "STRING":
        return opts["default"] if opts.get("default") is not None else ""
    if kind == "BOOLEAN":
        return opts["default"] if opts.get("default") is not None else False
    if kind == "COMBO":
        if opts.get("default"):
            return opts["default"]
        options = raw[0] if isinstance(raw, (list, tuple)) and raw and isinstance(raw[0], (list, tuple)) \
            else opts.get("options")
        if isinstance(options, (list, tuple)) and options:
            return options[0]
        return _UNDEFINED
    return opts["default"] if "default" in opts else _UNDEFINED


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
    order = info.get("input_order") if isinstance(info.get("input_order"), dict) else {}
    specs = {section: dict(inputs.get(section)) if isinstance(inputs.get(section), dict) else {}
             for section in ("required", "optional")}
    if any(_spec(raw)[1].get(k) for raw in specs["required"].values()
           for k in ("image_upload", "video_upload", "animated_image_upload")):
        specs["required"].setdefault("upload", ["IMAGEUPLOAD", {}])      # extensions/core/uploadImage.ts
    out: list[tuple[str, Any, bool]] = []
    for section in ("required", "optional"):
        names = order.get(section) if isinstance(order.get(section), list) else []
        out.extend((n, specs[section][n], section == "optional") for n in names
                   if isinstance(n, str) and n in specs[section] and n not in {o[0] for o in out})
    done = {o[0] for o in out}
    for section in ("required", "optional"):   # the inputs input_order does not list, as they come
        out.extend((n, raw, section == "optional") for n, raw in specs[section].items() if n not in done)
    return out


def node_def(info: dict) -> NodeDef:
    ordered = _ordered(info)
    sockets: list[InputSpec] = []
    widget_inputs: list[InputSpec] = []
    widgets: list[Widget] = []
    for name, raw, _optional in ordered:
        kind, opts = _spec(raw)
        widget_kind = opts.get("widgetType") if isinstance(opts.get("widgetType"), str) else kind
        if kind == "IMAGEUPLOAD":          # the upload button: a widget, saved, never queued, no socket
            widgets.append(Widget(name, False, default="image"))
        elif widget_kind in WIDGET_TYPES and not opts.get("forceInput"):
            widget_inputs.append(InputSpec(name, kind, True))
            widgets.append(Widget(name, True, opts.get("dynamicPrompts") is True and kind == "STRING",
                                  _default(kind, raw, opts)))
            control = opts.get("control_after_generate")
            if control is None and kind == "INT":
                control = name in ("seed", "noise_seed")
            if control and kind in ("INT", "COMBO"):
                widgets.append(Widget("control_after_generate", False, default="randomize"))
                if kind == "COMBO":
                    widgets.append(Widget("control_filter_list", False, default=""))
        else:
            sockets.append(InputSpec(name, kind, False))
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
