"""Where a fuser sits in a UNet, and how each weight layout names that place.

A position is ``(part, block, inner)``: ``part`` is ``"input"``, ``"middle"`` or ``"output"``,
``block`` the index in ``input_blocks`` / ``output_blocks`` (0 for the middle block) and ``inner``
the transformer block inside that SpatialTransformer (0 for SD1.x; SDXL has 2 or 10). This is the
address ComfyUI hands to a ``middle_patch`` as ``extra_options["block"]`` + ``["block_index"]``.

Layouts:
- LDM (official checkpoints, ComfyUI pruned files): ``input_blocks.{b}.1.transformer_blocks.{i}``,
  ``middle_block.1.transformer_blocks.{i}``, ``output_blocks.{b}.1.transformer_blocks.{i}``.
- diffusers: ``down_blocks.{k}.attentions.{a}``, ``mid_block.attentions.0``,
  ``up_blocks.{k}.attentions.{a}``; with ``L`` resnets per down block the LDM index is
  ``k*(L+1) + a + 1`` for inputs and ``k*(L+1) + a`` for outputs (GLIGEN spec 7.4).
"""
from __future__ import annotations

import re
from typing import NamedTuple


class BlockPosition(NamedTuple):
    part: str
    block: int
    inner: int

    @property
    def module_key(self) -> str:
        """A name usable as an ``nn.ModuleDict`` key."""
        return f"{self.part}_{self.block}_{self.inner}"

    @classmethod
    def from_module_key(cls, key: str) -> "BlockPosition":
        part, block, inner = key.split("_")
        return cls(part, int(block), int(inner))

    def ldm_prefix(self) -> str:
        if self.part == "middle":
            return f"middle_block.1.transformer_blocks.{self.inner}"
        return f"{self.part}_blocks.{self.block}.1.transformer_blocks.{self.inner}"

    def sort_key(self) -> tuple[int, int, int]:
        return ({"input": 0, "middle": 1, "output": 2}[self.part], self.block, self.inner)

    def __str__(self) -> str:
        return self.ldm_prefix()


LDM_FUSER = re.compile(
    r"^(?P<prefix>.*?)(?:(?P<part>input|output)_blocks\.(?P<block>\d+)|middle_block)\.(?P<sub>\d+)"
    r"\.transformer_blocks\.(?P<inner>\d+)\.fuser\.(?P<param>.+)$")
DIFFUSERS_FUSER = re.compile(
    r"^(?P<prefix>.*?)(?:(?P<part>down|up)_blocks\.(?P<block>\d+)\.attentions\.(?P<attn>\d+)"
    r"|mid_block\.attentions\.(?P<mid>\d+))\.transformer_blocks\.(?P<inner>\d+)\.fuser\.(?P<param>.+)$")
DIFFUSERS_RESNET = re.compile(r"(?:^|\.)down_blocks\.(\d+)\.resnets\.(\d+)\.")


def parse_ldm(key: str) -> tuple[str, BlockPosition, str, int] | None:
    """``(prefix, position, param, sub_index)`` of an LDM fuser key, or None."""
    m = LDM_FUSER.match(key)
    if not m:
        return None
    part = m["part"] or "middle"
    block = int(m["block"]) if m["block"] is not None else 0
    return m["prefix"], BlockPosition(part, block, int(m["inner"])), m["param"], int(m["sub"])


def parse_diffusers(key: str, resnets_per_block: int = 2) -> tuple[str, BlockPosition, str] | None:
    """``(prefix, position, param)`` of a diffusers fuser key, or None."""
    m = DIFFUSERS_FUSER.match(key)
    if not m:
        return None
    inner = int(m["inner"])
    if m["part"] is None:
        return m["prefix"], BlockPosition("middle", 0, inner), m["param"]
    k, a, stride = int(m["block"]), int(m["attn"]), resnets_per_block + 1
    if m["part"] == "down":
        return m["prefix"], BlockPosition("input", k * stride + a + 1, inner), m["param"]
    return m["prefix"], BlockPosition("output", k * stride + a, inner), m["param"]


def diffusers_resnets_per_block(keys) -> int | None:
    """Resnets per down block, read from a full diffusers UNet's keys (None when absent)."""
    found = [int(m.group(2)) for k in keys if (m := DIFFUSERS_RESNET.search(k))]
    return max(found) + 1 if found else None
