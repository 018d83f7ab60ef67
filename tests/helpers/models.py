"""Generated test models in the test models folder."""
from __future__ import annotations

import os

from gligen_pack.runner.demo_models import cached


def provide(models_dir, kind: str, name: str, build, **kwargs) -> str:
    """A generated model (built once, cached) linked into the test models folder; returns its name."""
    target = models_dir / kind / name
    if not target.exists():
        os.symlink(cached(name, build, **kwargs), target)
    return name
