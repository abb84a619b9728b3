"""Progress from the generation thread to the job row: throttled, advisory, never fatal."""

from __future__ import annotations

import logging
import time

from gateway.engine.jobs.store import JobStore

__all__ = ["ProgressWriter"]

log = logging.getLogger("framegate.worker")


class ProgressWriter:
    """Throttled progress writes from the generation thread (denoising maps to 0-95%)."""

    def __init__(self, store: JobStore, job_id: str, owner: str) -> None:
        self.store, self.job_id, self.owner = store, job_id, owner
        self.last_pct = 0
        self.last_write = 0.0

    def __call__(self, fraction: float) -> None:
        pct = max(0, min(95, int(fraction * 95)))
        now = time.monotonic()
        if pct > self.last_pct and (now - self.last_write >= 0.2 or pct == 95):
            self.last_pct, self.last_write = pct, now
            try:
                self.store.set_progress(self.job_id, self.owner, pct)
            except Exception:  # progress is advisory; never fail a generation over it
                log.warning("could not record progress of %s", self.job_id, exc_info=True)
