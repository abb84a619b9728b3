"""Key budgets are calendar days and months in UTC; a project budget never resets.

Every reserve is placed at a moment the test sets (``reserve(..., now=...)``), on SQLite and
PostgreSQL, and in process time zones other than UTC (the windows must not follow the server's zone).
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Iterator

import pytest

import billing

DAILY, MONTHLY = 3000, 4000
LIMITS = billing.BudgetLimits(key_daily_mc=DAILY, key_monthly_mc=MONTHLY)


def _at(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: float = 0.0) -> float:
    return dt.datetime(year, month, day, hour, minute, tzinfo=dt.UTC).timestamp() + second


@pytest.fixture(params=["UTC", "Pacific/Kiritimati"])
def server_zone(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The gateway process's local time zone, which must not move the budget windows."""
    monkeypatch.setenv("TZ", request.param)
    time.tzset()
    yield request.param
    monkeypatch.undo()
    time.tzset()


def _account(db, credits_mc: int = 1_000_000) -> str:  # type: ignore[no-untyped-def]
    with db.write() as conn:
        account_id = billing.create_account(conn, f"a{time.monotonic_ns()}")
        billing.grant(conn, account_id, credits_mc)
    return account_id


def _spend(  # type: ignore[no-untyped-def]
    db,
    acct: str,
    amount_mc: int,
    at: float,
    *,
    key: str = "k1",
    project: str | None = None,
    limits: billing.BudgetLimits = LIMITS,
) -> str:
    """Reserve ``amount_mc`` at ``at`` for a job and charge all of it; the job's id."""
    job = f"job_{uuid.uuid4().hex[:12]}"
    with db.write() as conn:
        billing.reserve(conn, acct, job, amount_mc, api_key_id=key, project_id=project, limits=limits, now=at)
        assert billing.capture(conn, job) == amount_mc
    return job


def _refused(  # type: ignore[no-untyped-def]
    db,
    acct: str,
    amount_mc: int,
    at: float,
    *,
    key: str = "k1",
    project: str | None = None,
    limits: billing.BudgetLimits = LIMITS,
) -> str:
    """The budget named in the refusal of a reserve at ``at`` (fails if it was accepted)."""
    with pytest.raises(billing.BudgetExceeded) as err, db.write() as conn:
        billing.reserve(
            conn,
            acct,
            f"job_{uuid.uuid4().hex[:12]}",
            amount_mc,
            api_key_id=key,
            project_id=project,
            limits=limits,
            now=at,
        )
    return err.value.message


# The last moment of a month and the first of the next, in UTC (a leap day and a year end too).
MONTH_ENDS = [
    pytest.param((2025, 1, 31), (2025, 2, 1), id="jan-feb"),
    pytest.param((2024, 2, 29), (2024, 3, 1), id="leap-feb-mar"),
    pytest.param((2025, 12, 31), (2026, 1, 1), id="dec-jan"),
]


@pytest.mark.parametrize(("last_day", "first_day"), MONTH_ENDS)
def test_daily_and_monthly_windows_reset_at_utc_midnight_on_the_first(  # type: ignore[no-untyped-def]
    db, server_zone: str, last_day: tuple[int, int, int], first_day: tuple[int, int, int]
) -> None:
    acct = _account(db)
    _spend(db, acct, 2500, _at(*last_day, 23, 59, 59.5))
    # Still the old day: the daily budget (3) has 0.5 left.
    assert "daily budget" in _refused(db, acct, 1000, _at(*last_day, 23, 59, 59.9))
    # Midnight UTC on the 1st: a new day and a new month, so 2.5 more fits both budgets (3 and 4)...
    _spend(db, acct, 2500, _at(*first_day))
    # ...and that spend counts from the very first instant of the new day.
    assert "daily budget" in _refused(db, acct, 1000, _at(*first_day, 0, 0, 1.0))
    assert "daily budget" in _refused(db, acct, 1000, _at(*first_day, 23, 59, 59.9))


@pytest.mark.parametrize(("last_day", "first_day"), MONTH_ENDS)
def test_monthly_window_starts_at_utc_midnight_on_the_first(  # type: ignore[no-untyped-def]
    db, server_zone: str, last_day: tuple[int, int, int], first_day: tuple[int, int, int]
) -> None:
    acct = _account(db)
    monthly = billing.BudgetLimits(key_monthly_mc=MONTHLY)
    # Spent at the first instant of the month: it counts all month long.
    _spend(db, acct, 3000, _at(*first_day), limits=monthly)
    assert "monthly budget" in _refused(db, acct, 1500, _at(*first_day, 12), limits=monthly)
    next_month_last = _at(*first_day) + 27 * 86400 + 86399.9  # the 28th, 23:59:59.9: same month
    assert "monthly budget" in _refused(db, acct, 1500, next_month_last, limits=monthly)
    # A spend just before the month began does not count against it.
    other = _account(db)
    _spend(db, other, 3000, _at(*last_day, 23, 59, 59.9), key="k2", limits=monthly)
    _spend(db, other, 3000, _at(*first_day), key="k2", limits=monthly)


def test_spends_earlier_in_the_same_utc_day_count(db, server_zone: str) -> None:  # type: ignore[no-untyped-def]
    acct = _account(db)
    _spend(db, acct, 2000, _at(2025, 3, 15))  # exactly midnight UTC: today
    _spend(db, acct, 500, _at(2025, 3, 15, 7, 30))
    message = _refused(db, acct, 1000, _at(2025, 3, 15, 23, 59, 59.9))
    assert "daily budget is 3" in message and "2.5 are already committed" in message
    _spend(db, acct, 500, _at(2025, 3, 15, 23, 59, 59.9))  # exactly up to the budget is fine


def test_the_daily_window_resets_at_utc_midnight_mid_month(db, server_zone: str) -> None:  # type: ignore[no-untyped-def]
    acct = _account(db)
    _spend(db, acct, 2500, _at(2025, 3, 14, 23, 59, 59.9))
    _spend(db, acct, 1000, _at(2025, 3, 15))  # a new UTC day: the 2.5 of yesterday no longer count
    # The month still counts both: 3.5 of 4.
    message = _refused(db, acct, 1000, _at(2025, 3, 15, 0, 0, 1.0))
    assert "monthly budget is 4" in message and "3.5 are already committed" in message


def test_a_monthly_budget_refuses_what_the_daily_one_allows(db, server_zone: str) -> None:  # type: ignore[no-untyped-def]
    acct = _account(db)
    _spend(db, acct, 2500, _at(2025, 3, 1))
    _spend(db, acct, 1000, _at(2025, 3, 2))
    # A new day (daily: 0 of 3 spent) but the month has 3.5 of 4 committed.
    message = _refused(db, acct, 1000, _at(2025, 3, 31, 23, 59, 59.9))
    assert "this key's monthly budget is 4" in message
    # Only a monthly budget: it alone refuses.
    only_monthly = billing.BudgetLimits(key_monthly_mc=MONTHLY)
    assert "monthly budget" in _refused(db, acct, 1000, _at(2025, 3, 20), limits=only_monthly)
    _spend(db, acct, 500, _at(2025, 3, 20), limits=only_monthly)  # up to the cap exactly
    # The next month starts afresh.
    _spend(db, acct, 2500, _at(2025, 4, 1))


def test_a_pending_reserve_counts_and_a_void_gives_it_back(db) -> None:  # type: ignore[no-untyped-def]
    acct = _account(db)
    with db.write() as conn:
        billing.reserve(conn, acct, "held", 2500, api_key_id="k1", limits=LIMITS, now=_at(2025, 3, 10, 9))
    assert "daily budget" in _refused(db, acct, 1000, _at(2025, 3, 10, 10))
    with db.write() as conn:
        assert billing.void(conn, "held") is True
    _spend(db, acct, 3000, _at(2025, 3, 10, 11))


def test_budgets_are_per_key(db) -> None:  # type: ignore[no-untyped-def]
    acct = _account(db)
    _spend(db, acct, 3000, _at(2025, 3, 10), key="k1")
    _spend(db, acct, 3000, _at(2025, 3, 10), key="k2")  # another key on the same account
    assert "daily budget" in _refused(db, acct, 1, _at(2025, 3, 10, 1), key="k1")


def test_a_project_budget_never_resets(db, server_zone: str) -> None:  # type: ignore[no-untyped-def]
    acct = _account(db)
    project = billing.BudgetLimits(project_mc=5000)
    _spend(db, acct, 4000, _at(2025, 1, 31, 23, 59, 59.9), project="p1", limits=project)
    # Months later, from another key, the project's budget still remembers.
    message = _refused(db, acct, 1500, _at(2025, 6, 1), key="k2", project="p1", limits=project)
    assert "project's budget" in message
    _spend(db, acct, 1000, _at(2025, 6, 1), key="k2", project="p1", limits=project)


def test_raising_a_reserve_checks_the_budget_at_that_moment(db) -> None:  # type: ignore[no-untyped-def]
    acct = _account(db)
    with db.write() as conn:
        billing.reserve(conn, acct, "j", 2000, api_key_id="k1", limits=LIMITS, now=_at(2025, 3, 10, 9))
    with pytest.raises(billing.BudgetExceeded), db.write() as conn:
        billing.adjust_reserve(conn, "j", 3500, limits=LIMITS, now=_at(2025, 3, 10, 9, 1))
    with db.write() as conn:
        billing.adjust_reserve(conn, "j", 3000, limits=LIMITS, now=_at(2025, 3, 10, 9, 1))
    with db.read() as conn:
        assert billing.get_balance(conn, acct).held_mc == 3000
