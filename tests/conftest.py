from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from .support import (
    Gateway,
    make_settings,
    postgres_available,
    postgres_database,
    require,
    running_gateway,
)

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
    require(postgres_available(), "PostgreSQL is not reachable on 127.0.0.1:5432")
    with postgres_database() as url:
        yield url


@pytest.fixture
async def gw(tmp_path: Path, database_url: str, models_dir: Path) -> AsyncIterator[Gateway]:
    async with running_gateway(make_settings(tmp_path, database_url, models_dir)) as gateway:
        yield gateway


@pytest.fixture
def db(database_url: str):  # type: ignore[no-untyped-def]
    """A migrated database (SQLite or PostgreSQL)."""
    from gateway.engine.db import Database, upgrade

    database = Database(database_url)
    upgrade(database)
    yield database
    database.dispose()


# The longest tests, started first so that under pytest-xdist (-n 2) they run beside the rest instead of
# after it (the scale-out scenario alone takes minutes).
_FIRST = (
    "tests/system/",
    "tests/local_models/shapes/test_shipped_models.py",
    "tests/adapters/test_ray_serve.py",
)


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[Any]) -> None:
    def rank(item: Any) -> int:
        path = item.nodeid
        return next((i for i, prefix in enumerate(_FIRST) if path.startswith(prefix)), len(_FIRST))

    items.sort(key=rank)  # stable: the rest keep their order


_EXIT_STATUS: list[int] = []


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _EXIT_STATUS.append(int(exitstatus))


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    # Triton's nanobind bindings (imported by torch/diffusers when triton is installed) print
    # pages of "leaked instance" warnings during interpreter shutdown, after pytest's summary,
    # burying the line that says how the run ended. Everything is written and closed by now, so
    # leave without the interpreter's finalizers.
    # bench/mutation.py runs pytest inside mutmut's own processes, which must return normally.
    # xdist's workers report to the controller as they shut down: only the controller leaves early.
    leave = not os.environ.get("FRAMEGATE_NO_FAST_EXIT") and not os.environ.get("PYTEST_XDIST_WORKER")
    if _EXIT_STATUS and "triton" in sys.modules and leave:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_EXIT_STATUS[-1])
