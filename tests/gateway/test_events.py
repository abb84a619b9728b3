"""Job events: every transition reaches every sink once, after it is committed, with the money it moved."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from gateway.engine.events import JobEvent, RecordingSink

from ..support import Gateway, auth

STATUS_AFTER = {
    "video.submitted": "queued",
    "video.started": "in_progress",
    "video.progress": "in_progress",
    "video.completed": "completed",
    "video.failed": "failed",
    "video.cancelled": "failed",
}


class CommittedCheck:
    """Reads the job back from the database, in a connection of its own, as each event arrives: a
    sink must only ever hear of a state that is already committed."""

    def __init__(self, gw: Gateway) -> None:
        self.gw = gw
        self.seen: list[tuple[str, str | None]] = []

    def handle(self, event: JobEvent) -> None:
        row = self.gw.state.jobs.get_any(event.job_id)
        self.seen.append((event.type, None if row is None else row.status))


class Broken:
    def handle(self, event: JobEvent) -> None:
        raise RuntimeError("this sink is broken")


async def _heard(recording: RecordingSink, job_id: str, event_type: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while event_type not in recording.types(job_id):
        assert time.monotonic() < deadline, f"{job_id} never sent {event_type}: {recording.types(job_id)}"
        await asyncio.sleep(0.02)


def _record(gw: Gateway) -> tuple[RecordingSink, CommittedCheck]:
    recording, committed = RecordingSink(), CommittedCheck(gw)
    gw.state.events.register("broken", Broken())  # registered first: the others must still hear
    gw.state.events.register("test", recording)
    gw.state.events.register("committed", committed)
    return recording, committed


async def test_a_finished_job_tells_each_step_once_after_commit(gw: Gateway) -> None:
    recording, committed = _record(gw)
    key = gw.new_key(credits=10)
    video = (await gw.create(key, prompt="a red square", model="fake-video")).json()
    done = await gw.wait(key, video["id"])
    assert done["status"] == "completed"
    # The event follows the commit that the API has already shown: give the worker a moment to send it.
    await _heard(recording, video["id"], "video.completed")

    types = recording.types(video["id"])
    assert types[:2] == ["video.submitted", "video.started"]
    assert types[-1] == "video.completed"
    assert set(types[2:-1]) <= {"video.progress"}
    events = [e for e in recording if e.job_id == video["id"]]
    assert len({e.id for e in events}) == len(events)  # each transition its own id
    submitted, completed = events[0], events[-1]
    assert submitted.credits_mc == round(video["quoted_cost"] * 1000)
    assert completed.credits_mc == round(done["cost"] * 1000)
    assert 10 - gw.balance(key).available_mc / 1000 == done["cost"]
    assert completed.job.status == "completed" and completed.account_id == submitted.account_id
    # What the database holds when the sink hears an event is that event's state or a later one (the
    # job moves on in other threads), never an earlier one.
    rank = {"queued": 0, "in_progress": 1, "completed": 2, "failed": 2}
    assert all(rank[str(status)] >= rank[STATUS_AFTER[t]] for t, status in committed.seen), committed.seen
    # The id is stable: the same transition of the same job always has the same id.
    assert JobEvent.of("video.completed", completed.job).id == completed.id


async def test_failures_and_cancels_return_the_hold(gw: Gateway) -> None:
    recording, _ = _record(gw)
    key = gw.new_key(credits=10)
    fake: Any = gw.state.adapters["fake"]
    fake.behaviour.fail = "permanent"
    failed = (await gw.create(key, prompt="p", model="fake-video")).json()
    assert (await gw.wait(key, failed["id"]))["status"] == "failed"
    fake.behaviour.fail, fake.behaviour.hang = None, True
    running = (await gw.create(key, prompt="q", model="fake-video")).json()
    deadline = time.monotonic() + 60
    while "video.started" not in recording.types(running["id"]) and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    cancel = await gw.client.post(f"/v1/videos/{running['id']}/cancel", headers=auth(key))
    assert cancel.status_code == 200
    assert (await gw.wait(key, running["id"]))["status"] == "failed"
    await _heard(recording, failed["id"], "video.failed")
    await _heard(recording, running["id"], "video.cancelled")

    last_failed = [e for e in recording if e.job_id == failed["id"]][-1]
    assert last_failed.type == "video.failed"
    assert last_failed.credits_mc == round(failed["quoted_cost"] * 1000)
    last_cancelled = [e for e in recording if e.job_id == running["id"]][-1]
    assert last_cancelled.type == "video.cancelled"
    assert last_cancelled.credits_mc == round(running["quoted_cost"] * 1000)
    assert gw.balance(key).available_mc == 10_000  # every hold came back
