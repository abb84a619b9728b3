"""The job state machine.

```
queued ──claim──> in_progress ──success──> completed   (hold captured)
   │                 │  │ ──failure/cancel──> failed  (hold released)
   │                 │  └─lease expired──> queued (again, attempts < max) or failed
   └──cancel──> failed (error.code = "cancelled", hold released)
```
"""

from __future__ import annotations

from typing import Any

QUEUED = "queued"
IN_PROGRESS = "in_progress"
COMPLETED = "completed"
FAILED = "failed"

STATUSES = (QUEUED, IN_PROGRESS, COMPLETED, FAILED)
TERMINAL = frozenset({COMPLETED, FAILED})


def claim_values(owner: str, now: float, lease_seconds: float) -> dict[str, Any]:
    """The values a queued job's row takes when ``owner`` claims it (``jobs.attempts`` counts one up)."""
    from gateway.engine.db import jobs

    return {
        "status": IN_PROGRESS,
        "lease_owner": owner,
        "lease_expires_at": now + lease_seconds,
        "started_at": now,
        "attempts": jobs.c.attempts + 1,
        "progress": 0,
    }
