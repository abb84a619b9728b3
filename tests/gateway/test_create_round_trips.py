"""A create's transaction costs few statements: on PostgreSQL two (the account's lock with the budgets;
the job with the regeneration guard's history and the credit hold with its transfer), on SQLite five
(the lock, the history, the job, the hold and its transfer: no data-modifying CTEs there). Budgets,
however many, add one statement. Counted from the statements SQLAlchemy sends; the whole wire
(BEGIN, COMMIT, the key check) is counted in test_postgres_round_trips.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event, update

from gateway.engine.db import api_keys

from ..support import Gateway, make_settings, running_gateway

# Reads that are not part of the create's transaction (the key check; background loops).
_OUTSIDE = ("key_revocations", "webhook_deliveries", "BEGIN", "COMMIT", "ROLLBACK")


async def _statements(gw: Gateway, key: str, **fields: Any) -> list[str]:
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not any(word in statement for word in _OUTSIDE):
            seen.append(" ".join(statement.split())[:60])

    event.listen(gw.state.db.engine, "before_cursor_execute", record)
    try:
        response = await gw.create(key, model="fake-video", **fields)
    finally:
        event.remove(gw.state.db.engine, "before_cursor_execute", record)
    assert response.status_code == 200, response.text
    return seen


async def test_a_create_is_two_statements_on_postgresql(
    tmp_path: Path, database_url: str, models_dir: Path
) -> None:
    async with running_gateway(make_settings(tmp_path, database_url, models_dir, workers=0)) as gw:
        key = gw.new_key(credits=100)
        await gw.create(key, model="fake-video", prompt="warm up")  # caches, first-use paths
        postgres = gw.state.db.engine.dialect.name == "postgresql"
        plain = await _statements(gw, key, prompt="a red square")
        assert len(plain) == (2 if postgres else 5), plain
        with gw.state.db.write() as conn:  # a daily and a monthly budget: one more statement for both
            conn.execute(update(api_keys).values(daily_budget_mc=50_000, monthly_budget_mc=90_000))
        budgeted = await _statements(gw, key, prompt="a blue square")
        assert len(budgeted) == len(plain) + 1, budgeted
        balance = gw.balance(key)
        assert balance.held_mc == 3 * 1000 and balance.balance_mc == 100_000
