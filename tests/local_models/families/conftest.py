from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ...support import FAKE_CONFIG, Gateway, make_settings, running_gateway
from .tiny import catalog_toml


@pytest.fixture
async def fgw(tmp_path: Path, models_dir: Path, tiny_paths: dict[str, Path]) -> AsyncIterator[Gateway]:
    """A gateway on SQLite serving every tiny family, registered through the catalog config. Random
    tiny weights can draw a still clip; the contract is what is generated, not what QC-gated
    settlement does about it (tests/gateway/test_qc_settlement.py), so it is off."""
    config = FAKE_CONFIG + catalog_toml(tiny_paths)
    settings = make_settings(
        tmp_path,
        f"sqlite:///{tmp_path / 'db.sqlite'}",
        models_dir,
        config=config,
        max_loaded_models=4,
        qc_settlement="off",
    )
    async with running_gateway(settings) as gateway:
        yield gateway
