"""The budgets a job is held to: its key's daily and monthly limits and its project's total."""

from __future__ import annotations

from sqlalchemy import Connection, bindparam, select

import billing
from gateway.engine.db import api_keys, projects

__all__ = ["limits_for", "lock_with_limits"]


def limits_for(conn: Connection, key_id: str | None, project_id: str | None) -> billing.BudgetLimits:
    """The budgets a job of ``key_id`` in ``project_id`` is held to (the key's daily and monthly
    limits, the project's total), read in ``conn``'s transaction."""
    key = (
        conn.execute(
            select(api_keys.c.daily_budget_mc, api_keys.c.monthly_budget_mc).where(api_keys.c.id == key_id)
        ).one_or_none()
        if key_id
        else None
    )
    project = (
        conn.execute(select(projects.c.budget_mc).where(projects.c.id == project_id)).scalar_one_or_none()
        if project_id
        else None
    )
    return billing.BudgetLimits(
        key_daily_mc=key.daily_budget_mc if key else None,
        key_monthly_mc=key.monthly_budget_mc if key else None,
        project_mc=project,
    )


# What a create reads with its account lock: the key's daily and monthly caps, the project's total.
_KEY_DAILY = select(api_keys.c.daily_budget_mc).where(api_keys.c.id == bindparam("key_id")).scalar_subquery()
_KEY_MONTHLY = (
    select(api_keys.c.monthly_budget_mc).where(api_keys.c.id == bindparam("key_id")).scalar_subquery()
)
_PROJECT = select(projects.c.budget_mc).where(projects.c.id == bindparam("project_id")).scalar_subquery()


def lock_with_limits(
    conn: Connection, account_id: str, key_id: str | None, project_id: str | None
) -> billing.BudgetLimits:
    """Take the account's lock (:func:`billing.lock_account`) and read the budgets a job of
    ``key_id`` in ``project_id`` is held to, in one statement."""
    daily, monthly, project = billing.lock_account(
        conn,
        account_id,
        _KEY_DAILY,
        _KEY_MONTHLY,
        _PROJECT,
        params={"key_id": key_id, "project_id": project_id},
    )
    return billing.BudgetLimits(key_daily_mc=daily, key_monthly_mc=monthly, project_mc=project)
