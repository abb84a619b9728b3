"""Cheaper polls: ETag and 304 on a video, and a poll hint that follows the job."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from gateway.api.polling import matches, poll_after_ms

from ..support import Gateway, auth


async def test_an_unchanged_video_answers_304_without_a_body(gw: Gateway) -> None:
    key = gw.new_key()
    fake: Any = gw.state.adapters["fake"]
    fake.behaviour.hang = True
    video = (await gw.create(key, prompt="p", model="fake-video")).json()
    first = await gw.client.get(f"/v1/videos/{video['id']}", headers=auth(key))
    etag = first.headers["etag"]
    assert etag.startswith('W/"') and first.headers["cache-control"] == "private, no-cache"
    for _ in range(200):  # the job moves on (started, progress) until it hangs: the tag moves with it
        again = await gw.client.get(f"/v1/videos/{video['id']}", headers={**auth(key), "if-none-match": etag})
        if again.status_code == 304:
            break
        assert again.status_code == 200 and again.headers["etag"] != etag
        etag = again.headers["etag"]
        await asyncio.sleep(0.05)
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    assert "openai-poll-after-ms" in again.headers
    # Once it changes, the old tag no longer matches.
    await gw.client.post(f"/v1/videos/{video['id']}/cancel", headers=auth(key))
    done = await gw.wait(key, video["id"])
    after = await gw.client.get(f"/v1/videos/{video['id']}", headers={**auth(key), "if-none-match": etag})
    assert after.status_code == 200 and after.json()["status"] == done["status"] == "failed"
    assert "openai-poll-after-ms" not in after.headers  # nothing left to wait for
    other = gw.new_key()
    hidden = await gw.client.get(f"/v1/videos/{video['id']}", headers={**auth(other), "if-none-match": "*"})
    assert hidden.status_code == 404  # the tag never reveals another account's video


@pytest.mark.parametrize(
    "header, expected",
    [
        (None, False),
        ("", False),
        ('W/"abc"', True),
        ('"abc"', True),
        ('"x", W/"abc"', True),
        ("*", True),
        ('"ab"', False),
    ],
)
def test_if_none_match_uses_weak_comparison(header: str | None, expected: bool) -> None:
    assert matches(header, 'W/"abc"') is expected


def _job(status: str, **fields: Any) -> SimpleNamespace:
    base = {"created_at": 1000.0, "started_at": None, "eta_seconds": None, "progress": 0}
    return SimpleNamespace(status=status, **{**base, **fields})


def test_the_poll_hint_follows_the_job() -> None:
    floor = 500
    # Far back in the queue: rarely (a quarter of the time left, at most 10 s).
    assert poll_after_ms(_job("queued", eta_seconds=600.0), floor, now=1000.0) == 10_000
    assert poll_after_ms(_job("queued", eta_seconds=8.0), floor, now=1000.0) == 2_000
    assert poll_after_ms(_job("queued", eta_seconds=8.0), floor, now=1010.0) == floor  # overdue
    assert poll_after_ms(_job("queued"), floor, now=1000.0) == floor  # no estimate yet
    # Running: a third of the time left at its pace; often near the end, never under the floor.
    running = {"started_at": 1000.0}
    assert (
        poll_after_ms(_job("in_progress", progress=0, **running), floor, now=1030.0) == floor
    )  # no estimate
    no_progress = {"started_at": 1000.0, "eta_seconds": 12.0, "progress": 0}
    assert poll_after_ms(_job("in_progress", **no_progress), floor, now=1000.0) == 3_000  # from the estimate
    assert poll_after_ms(_job("in_progress", progress=25, **running), floor, now=1003.0) == 3_000
    assert poll_after_ms(_job("in_progress", progress=10, **running), floor, now=1010.0) == 5_000
    assert poll_after_ms(_job("in_progress", progress=95, **running), floor, now=1019.0) == floor
    assert poll_after_ms(_job("completed"), floor) is None and poll_after_ms(_job("failed"), floor) is None
