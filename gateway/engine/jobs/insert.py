"""The job row's insert with its credit hold, and what the account ran before on that model.

A create needs, besides the row: its credits held (:class:`billing.Hold`), how often this exact
prompt already ran on the model (the regeneration guard) and the account's last video there
(``prompt_change``). On PostgreSQL all of it is one statement, one round trip: the history, the
hold and its transfer are CTEs beside the insert. Every part of a statement sees the snapshot taken
when it starts (after the caller's account lock), so the history never counts the row being
inserted; the transfer's foreign key to the job is checked at the statement's end, when the job is
there. Elsewhere the history is read, the row inserted and the hold placed, in turn.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, and_, bindparam, func, insert, literal_column, select

import billing
from gateway.engine.db import jobs

__all__ = ["History", "insert_job", "source_prompt"]


@dataclass(frozen=True)
class History:
    """How often this prompt ran on this model for the account (deleted videos too; counted up to
    the caller's ``count_up_to``), and its last video there that is not deleted."""

    earlier: int
    last_id: str | None
    last_prompt: str | None


def _history_statement() -> Any:
    mine = and_(jobs.c.account_id == bindparam("h_account_id"), jobs.c.model == bindparam("h_model"))
    # The previous video is one the creator can still open; the count is of runs, deleted or not
    # (a deleted take was still rendered and paid for). Both run under the account's lock, so
    # neither may grow with the account's history: the last video is one step down
    # ix_jobs_account_model, and the count stops at ``h_count_up_to`` (the guard only needs to
    # know that the limit was reached).
    kept = and_(mine, jobs.c.deleted_at.is_(None))
    last = select(jobs.c.id, jobs.c.prompt).where(kept).order_by(jobs.c.id.desc()).limit(1).subquery("last")
    runs = (
        select(literal_column("1"))
        .select_from(jobs)
        .where(mine, jobs.c.prompt_key == bindparam("h_prompt_key"))
        .limit(bindparam("h_count_up_to"))
        .subquery("runs")
    )
    same = select(func.count()).select_from(runs)
    # One row even without a last video: the count's row, the last video outer-joined to it.
    counted = select(same.scalar_subquery().label("h_earlier")).subquery("counted")
    return select(
        counted.c.h_earlier, last.c.id.label("h_last_id"), last.c.prompt.label("h_last_prompt")
    ).select_from(counted.outerjoin(last, literal_column("true")))


# Built once: a create's statements take their values as parameters, so SQLAlchemy neither rebuilds
# them nor recomputes their cache keys on each create (that was a third of a create's time).
_HISTORY = _history_statement()
_INSERT = insert(jobs).returning(*jobs.c)
_WITH_HISTORY: dict[tuple[tuple[str, ...], tuple[str, ...]], Any] = {}


def _insert_held(names: tuple[str, ...], hold: tuple[str, ...]) -> Any:
    """PostgreSQL: the insert, the history and the hold in one statement (built once per field sets)."""
    statement = _WITH_HISTORY.get((names, hold))
    if statement is None:
        values = {n: bindparam(f"j_{n}", type_=jobs.c[n].type) for n in names}
        job = insert(jobs).values(values).returning(*jobs.c).cte("job")
        history = _HISTORY.cte("history")
        reserved = billing.hold_cte(hold)
        held = select(func.count()).select_from(reserved).scalar_subquery().label("h_held")
        statement = _WITH_HISTORY[(names, hold)] = select(
            *job.c, history.c.h_earlier, history.c.h_last_id, history.c.h_last_prompt, held
        ).select_from(job.join(history, literal_column("true")))
    return statement


def insert_job(
    conn: Connection,
    values: dict[str, Any],
    hold: billing.Hold,
    check: Callable[[History], object],
    *,
    count_up_to: int,
) -> tuple[Row[Any], History]:
    """Insert the job row ``values`` (``id``, ``account_id``, ``model``, ``prompt_key``...) and place
    its ``hold``; the row as stored and the account's :class:`History` on that model from before
    this row (its count stops at ``count_up_to``). The caller holds the account's lock.
    ``check(history)`` may refuse the job: it runs before a hold that did not fit is refused, so its
    error comes first. Raises
    :class:`billing.InsufficientCredits` (roll the transaction back: on PostgreSQL the row is in it)."""
    asked = {
        "h_account_id": values["account_id"],
        "h_model": values["model"],
        "h_prompt_key": values["prompt_key"],
        "h_count_up_to": count_up_to,
    }
    if conn.dialect.name != "postgresql":
        earlier, last_id, last_prompt = conn.execute(_HISTORY, asked).one()
        history = History(int(earlier), last_id, last_prompt)
        check(history)
        row = conn.execute(_INSERT, values).one()
        billing.place(conn, hold)
        return row, history
    params = {**asked, **{f"j_{n}": v for n, v in values.items()}, **hold.params}
    row = conn.execute(_insert_held(tuple(values), hold.names), params).one()
    history = History(int(row.h_earlier), row.h_last_id, row.h_last_prompt)
    check(history)
    if not row.h_held:
        raise hold.refused(conn)
    return row, history


_SOURCE_PROMPT = select(jobs.c.prompt).where(jobs.c.id == bindparam("source_id"))


def source_prompt(conn: Connection, video_id: str) -> str | None:
    """The prompt of the video a remix, extension or edit derives from (the caller checked that it
    is the account's)."""
    prompt: str | None = conn.execute(_SOURCE_PROMPT, {"source_id": video_id}).scalar_one_or_none()
    return prompt
