"""QC-gated settlement: pay for usable takes.

The rule (the README's "Pay for usable takes"): when a take has a hard defect
(:mod:`local_models.qc_screen`: mostly blank, frozen although motion was asked, off-prompt where the
model can be checked, or a clip that cannot be decoded), it is rendered once more with a new seed at
no extra charge. If the re-render has a hard defect too, the job completes with that clip and its
flags, and what it was charged is refunded, with the reason, on the account's statement. Soft flags
never change the bill. Accounts choose with ``qc_settlement`` (``hard_defects`` or ``off``); the
gateway's ``FRAMEGATE_QC_SETTLEMENT`` is the default.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Connection, and_, select, update

import billing
from billing.schema import accounts
from gateway.engine.db import Database, jobs
from gateway.engine.jobs.states import IN_PROGRESS
from gateway.engine.prompts import wants_motion
from local_models.qc_screen import screen_frames
from local_models.spec import MAX_SEED
from local_models.video import InvalidVideo, VideoRejected, read_frames_bounded

__all__ = [
    "QC_SETTLEMENT_MODES",
    "Inspection",
    "QcSettlement",
    "account_mode",
    "billing_block",
    "inspect_clip",
    "read_account_mode",
    "refund_for",
    "reseed",
    "set_account_mode",
]

log = logging.getLogger("framegate.worker")

QcSettlement = Literal["hard_defects", "off"]
QC_SETTLEMENT_MODES: tuple[QcSettlement, ...] = ("hard_defects", "off")
REFUND_REASON = "qc_hard_defect"


@dataclass(frozen=True)
class Inspection:
    """A finished clip's hard defects (``{code, message}``; none: billable) and its decoded frames
    (None when it could not be decoded or is over the caps), which the full checks reuse."""

    defects: list[dict[str, str]] = field(default_factory=list)
    frames: Any | None = None


def inspect_clip(
    video: Path, prompt: str, *, prompt_check: str | None, max_frames: int, max_pixels: int
) -> Inspection:
    """Decode a finished clip (under the QC caps) and screen it for hard defects. A clip over the
    caps is not judged (no defects); one that cannot be decoded is ``undecodable``."""
    try:
        frames = read_frames_bounded(video, max_frames=max_frames, max_pixels=max_pixels).frames
    except InvalidVideo as exc:
        return Inspection([{"code": "undecodable", "message": f"the clip cannot be decoded: {exc.message}"}])
    except VideoRejected:
        return Inspection()
    found = screen_frames(frames, prompt=prompt, wants_motion=wants_motion(prompt), prompt_check=prompt_check)
    return Inspection([{"code": f.code, "message": f.message} for f in found.defects], frames)


def account_mode(db: Database, account_id: str, default: QcSettlement) -> QcSettlement:
    """The account's ``qc_settlement``, else the gateway's default."""
    with db.read() as conn:
        return read_account_mode(conn, account_id, default)


def read_account_mode(conn: Connection, account_id: str, default: QcSettlement) -> QcSettlement:
    """:func:`account_mode` in the caller's transaction."""
    mode = conn.execute(
        select(accounts.c.qc_settlement).where(accounts.c.id == account_id)
    ).scalar_one_or_none()
    return "off" if mode == "off" else "hard_defects" if mode == "hard_defects" else default


def set_account_mode(conn: Connection, account_id: str, mode: QcSettlement | None) -> None:
    """Set the account's ``qc_settlement`` (None: follow the gateway's default), in the caller's
    transaction."""
    conn.execute(update(accounts).where(accounts.c.id == account_id).values(qc_settlement=mode))


def _next_seed(seed: int) -> int:
    return (int(seed) + 1) % (MAX_SEED + 1)


def reseed(db: Database, job_id: str, owner: str, defects: list[dict[str, str]]) -> Any | None:
    """Give a running job a new seed (on every candidate of its chain) for its one re-render, and
    forget a hosted provider's handle so the re-render is a new submission. Records the first
    render's seed and defects in ``jobs.rerender``. The row after, or None if the job is no longer
    ours or a cancel arrived."""
    owned = and_(
        jobs.c.id == job_id,
        jobs.c.status == IN_PROGRESS,
        jobs.c.lease_owner == owner,
        jobs.c.cancel_requested.is_(False),
    )
    with db.write() as conn:
        row = conn.execute(select(jobs.c.params, jobs.c.candidates).where(owned)).one_or_none()
        if row is None:
            return None
        first = int(row.params["seed"])
        seed = _next_seed(first)
        chain = [{**c, "params": {**c["params"], "seed": seed}} for c in row.candidates or []]
        return conn.execute(
            update(jobs)
            .where(owned)
            .values(
                params={**row.params, "seed": seed},
                candidates=chain or row.candidates,
                external=None,
                rerender={"seed": first, "flags": defects},
            )
            .returning(*jobs.c)
        ).one_or_none()


def refund_for(defects: list[dict[str, str]], rerender: dict[str, Any] | None) -> billing.Refund:
    """The ledger's refund for a take whose re-render kept a hard defect."""
    return billing.Refund(
        REFUND_REASON,
        {"flags": [d["code"] for d in defects], "rerendered": rerender is not None},
    )


def billing_block(
    settled: billing.Settlement, defects: list[dict[str, str]], rerender: dict[str, Any] | None
) -> dict[str, Any]:
    """The job's ``billing`` block: charged, refunded and why (kept in its result)."""
    reason = message = None
    if settled.refunded_mc:
        reason = REFUND_REASON
        codes = ", ".join(d["code"] for d in defects)
        tried = "a re-render with a new seed" if rerender is not None else "the take"
        message = f"{tried} still had a hard defect ({codes}): delivered with its flags, refunded"
    elif rerender is not None:
        codes = ", ".join(d["code"] for d in rerender.get("flags", []))
        message = f"re-rendered once, free, with a new seed: the first take had {codes}"
    return {
        "charged_mc": settled.charged_mc,
        "refunded_mc": settled.refunded_mc,
        "reason": reason,
        "message": message,
        "rerendered": rerender is not None,
        "first_seed": rerender.get("seed") if rerender is not None else None,
        "first_defects": [d["code"] for d in rerender.get("flags", [])] if rerender is not None else [],
        "defects": [d["code"] for d in defects],
    }
