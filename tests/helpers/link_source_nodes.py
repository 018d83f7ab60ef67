"""Test-only ComfyUI nodes, installed beside the pack in the host suite's server: they feed a widget
through a link, as nodes of other packs do. ComfyUI core has no node whose output fits a combo input,
so without one a linked file name cannot be sent at all."""


class GLIGENTestComboSource:
    """Outputs its text as a COMBO value, to link into any combo widget (a model name, a mode)."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"value": ("STRING", {"default": ""})}}

    RETURN_TYPES = ("COMBO",)
    FUNCTION = "run"
    CATEGORY = "testing"

    def run(self, value):
        return (value,)


NODE_CLASS_MAPPINGS = {"GLIGENTestComboSource": GLIGENTestComboSource}
