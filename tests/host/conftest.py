"""Host tests use the fixtures of tests/conftest.py (shared with the browser tests)."""

import pytest  # noqa: E402

from gligen_pack.runner.demo_models import TINY_FUSERS  # noqa: E402
from helpers.map_files import build_keypoint_file, build_map_file  # noqa: E402
from helpers.models import provide  # noqa: E402


@pytest.fixture(scope="session")
def pose_gligen(host, models_dir) -> str:
    """A tiny keypoint GLIGEN (released key layout, one fuser per block of the tiny UNet)."""
    return provide(models_dir, "gligen", "gligen_keypoint_tiny.safetensors", build_keypoint_file, blocks=TINY_FUSERS)


@pytest.fixture(scope="session")
def depth_gligen(host, models_dir) -> str:
    """A tiny depth GLIGEN (released key layout, small ConvNeXt trunk, 12-channel first conv)."""
    return provide(models_dir, "gligen", "gligen_depth_tiny.safetensors", build_map_file, modality="depth",
                   blocks=TINY_FUSERS)
