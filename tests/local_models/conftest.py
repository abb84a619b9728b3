from __future__ import annotations

from pathlib import Path

import pytest

from .families.tiny import build_all


@pytest.fixture(scope="session")
def tiny_paths(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every family's tiny checkpoint, built offline once per test session."""
    return build_all(tmp_path_factory.mktemp("tiny-families"))
