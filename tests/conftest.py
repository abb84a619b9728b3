from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from .support import Gateway, make_settings, postgres_available, postgres_database, running_gateway

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Shipped tiny models are materialized once per test session."""
    return tmp_path_factory.mktemp("models")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'framegate.db'}"
        return
    if not postgres_available():
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")
    with postgres_database() as url:
        yield url


@pytest.fixture
async def gw(tmp_path: Path, database_url: str, models_dir: Path) -> AsyncIterator[Gateway]:
    async with running_gateway(make_settings(tmp_path, database_url, models_dir)) as gateway:
        yield gateway


@pytest.fixture
def db(database_url: str):  # type: ignore[no-untyped-def]
    """A migrated database (SQLite or PostgreSQL)."""
    from gateway.db import Database, upgrade

    database = Database(database_url)
    upgrade(database)
    yield database
    database.dispose()
