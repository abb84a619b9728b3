"""Spending caps per API key (daily, monthly) and per project, checked when credits are reserved."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, case, func, or_, select

from .errors import BudgetExceeded
from .pricing import credits
from .schema import transfers

__all__ = ["BudgetLimits", "check_budgets", "spent_mc"]


@dataclass(frozen=True)
class BudgetLimits:
    """Caps in millicredits; None means no cap. Windows are calendar days and months in UTC."""

    key_daily_mc: int | None = None
    key_monthly_mc: int | None = None
    project_mc: int | None = None


def _day_start(now: float) -> float:
    d = dt.datetime.fromtimestamp(now, dt.UTC)
    return dt.datetime(d.year, d.month, d.day, tzinfo=dt.UTC).timestamp()


def _month_start(now: float) -> float:
    d = dt.datetime.fromtimestamp(now, dt.UTC)
    return dt.datetime(d.year, d.month, 1, tzinfo=dt.UTC).timestamp()


# What a reserve costs against a budget: its hold while pending, what was charged once captured.
_COMMITTED = case(
    (transfers.c.state == "pending", transfers.c.amount_mc),
    (transfers.c.state == "captured", transfers.c.captured_mc),
    else_=0,
)


def spent_mc(
    conn: Connection,
    *,
    api_key_id: str | None = None,
    project_id: str | None = None,
    since: float | None = None,
) -> int:
    """Credits committed (held or charged) by a key or project since ``since``."""
    query = select(func.coalesce(func.sum(_COMMITTED), 0)).where(transfers.c.kind == "reserve")
    if api_key_id is not None:
        query = query.where(transfers.c.api_key_id == api_key_id)
    if project_id is not None:
        query = query.where(transfers.c.project_id == project_id)
    if since is not None:
        query = query.where(transfers.c.created_at >= since)
    return int(conn.execute(query).scalar_one())


def check_budgets(
    conn: Connection,
    limits: BudgetLimits,
    *,
    amount_mc: int,
    api_key_id: str | None,
    project_id: str | None,
    now: float,
) -> None:
    """Raise :class:`BudgetExceeded` if ``amount_mc`` more would pass one of ``limits`` (what is
    already committed is read in one statement, whatever the number of budgets)."""
    checks: list[tuple[str, int, Any]] = []  # (name, cap, the committed credits it counts)
    if api_key_id and limits.key_daily_mc is not None:
        since = _day_start(now)
        day = (transfers.c.api_key_id == api_key_id) & (transfers.c.created_at >= since)
        checks.append(("this key's daily budget", limits.key_daily_mc, day))
    if api_key_id and limits.key_monthly_mc is not None:
        month = (transfers.c.api_key_id == api_key_id) & (transfers.c.created_at >= _month_start(now))
        checks.append(("this key's monthly budget", limits.key_monthly_mc, month))
    if project_id and limits.project_mc is not None:
        checks.append(("the project's budget", limits.project_mc, transfers.c.project_id == project_id))
    if not checks:
        return
    sums = [func.coalesce(func.sum(case((cond, _COMMITTED), else_=0)), 0) for _, _, cond in checks]
    scope = or_(*(cond for _, _, cond in checks))
    spent_all = conn.execute(select(*sums).where(transfers.c.kind == "reserve", scope)).one()
    for (name, cap, _), spent in zip(checks, spent_all, strict=True):
        if int(spent) + amount_mc > cap:
            raise BudgetExceeded(
                f"this job costs {credits(amount_mc):g} credits; {name} is {credits(cap):g} and "
                f"{credits(int(spent)):g} are already committed"
            )
