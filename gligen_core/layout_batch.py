"""A layout per image of a batch: image ``i`` gets layout ``i % len(layouts)``."""
from __future__ import annotations

from dataclasses import dataclass

from .boxes import BoxLayout
from .keyframes import AnimatedLayout

Layout = BoxLayout | AnimatedLayout


@dataclass(frozen=True)
class LayoutBatch:
    layouts: tuple[Layout, ...]

    def __post_init__(self) -> None:
        if not self.layouts:
            raise ValueError("a layout batch needs at least one layout")

    @classmethod
    def of(cls, layouts: list["Layout | LayoutBatch"]) -> "LayoutBatch":
        """The layouts in order, a batch given among them counting as its layouts."""
        flat: list[Layout] = []
        for x in layouts:
            flat.extend(x.layouts if isinstance(x, LayoutBatch) else (x,))
        return cls(tuple(flat))

    def report(self) -> str:
        return "\n".join(f"image {i} (and every {len(self.layouts)}th after it): {lay.report()}"
                         for i, lay in enumerate(self.layouts))
