"""The job state machine.

```
queued ──claim──> in_progress ──success──> completed   (hold captured)
   │                 │  │ ──failure/cancel──> failed  (hold released)
   │                 │  └─lease expired──> queued (again, attempts < max) or failed
   └──cancel──> failed (error.code = "cancelled", hold released)
```
"""

from __future__ import annotations

QUEUED = "queued"
IN_PROGRESS = "in_progress"
COMPLETED = "completed"
FAILED = "failed"

STATUSES = (QUEUED, IN_PROGRESS, COMPLETED, FAILED)
TERMINAL = frozenset({COMPLETED, FAILED})
