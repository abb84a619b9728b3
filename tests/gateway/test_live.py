"""Push and wait: server-sent events (also from a job another gateway process runs) and Prefer: wait."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from ..support import Gateway, auth, live_server, make_settings


def _events(text: str) -> list[dict[str, Any]]:
    events = []
    for block in text.split("\n\n"):
        fields: dict[str, Any] = {}
        for line in block.splitlines():
            name, _, value = line.partition(": ")
            if name in ("event", "id", "data"):
                fields[name] = value
        if "event" in fields:
            events.append(fields)
    return events


def test_events_stream_from_a_job_another_process_runs(tmp_path: Path, models_dir: Path) -> None:
    """The API process runs no worker: every change it streams was made by the other process."""
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    api_only = make_settings(tmp_path / "a", url, models_dir, workers=0, secret_key="s" * 32)
    worker = make_settings(tmp_path / "b", url, models_dir, workers=1, secret_key="s" * 32)
    with live_server(api_only) as (api_url, api_app), live_server(worker) as (_, worker_app):
        worker_app.state.fg.adapters["fake"].behaviour.step_seconds = 0.1
        import billing
        from gateway.engine.keys import create_key

        with api_app.state.fg.db.write() as conn:
            account = billing.ensure_account(conn, "live")
            billing.grant(conn, account, billing.millicredits(10))
            key = create_key(conn, account).secret
        with httpx.Client(base_url=api_url, headers=auth(key), timeout=60) as http:
            video = http.post("/v1/videos", json={"model": "fake-video", "prompt": "a red square"}).json()
            with http.stream("GET", f"/v1/videos/{video['id']}/events") as stream:
                assert stream.headers["content-type"].startswith("text/event-stream")
                text = "".join(stream.iter_text())
            events = _events(text)
            assert events[-1]["event"] == "video.completed"
            final = json.loads(events[-1]["data"])
            assert final["status"] == "completed" and final["progress"] == 100
            progress = [json.loads(e["data"])["progress"] for e in events]
            assert progress == sorted(progress) and len(events) >= 3  # queued/started, steps, done
            assert len({e["id"] for e in events}) == len(events)

            # Resuming with the last id gets nothing it already has: just the end of the stream.
            again = http.get(f"/v1/videos/{video['id']}/events", headers={"last-event-id": events[-1]["id"]})
            assert _events(again.text) == []
            missing = http.get("/v1/videos/video_" + "0" * 28 + "/events")
            assert missing.status_code == 404


async def test_prefer_wait_answers_with_the_finished_video(gw: Gateway) -> None:
    key = gw.new_key(credits=10)
    created = await gw.client.post(
        "/v1/videos",
        json={"model": "fake-video", "prompt": "a blue square"},
        headers={**auth(key), "prefer": "wait=20"},
    )
    assert created.status_code == 200
    assert created.json()["status"] == "completed" and created.headers["preference-applied"] == "wait=20"
    assert "openai-poll-after-ms" not in created.headers
    got = await gw.client.get(f"/v1/videos/{created.json()['id']}", headers={**auth(key), "prefer": "wait=5"})
    assert got.json()["status"] == "completed"
    for bad in ("wait=0", "wait=61", "wait=abc", "wait=-1", "wait=1.5"):
        answer = await gw.client.post(
            "/v1/videos", json={"model": "fake-video", "prompt": "p"}, headers={**auth(key), "prefer": bad}
        )
        assert answer.status_code == 400 and answer.json()["error"]["code"] == "invalid_prefer_wait", bad
    assert gw.balance(key).held_mc == 0


async def test_prefer_wait_gives_up_after_n_seconds(gw: Gateway) -> None:
    key = gw.new_key(credits=10)
    gw.state.adapters["fake"].behaviour.hang = True  # type: ignore[attr-defined]
    created = await gw.client.post(
        "/v1/videos",
        json={"model": "fake-video", "prompt": "slow"},
        headers={**auth(key), "prefer": "wait=1"},
    )
    assert created.json()["status"] in ("queued", "in_progress")
    await gw.client.post(f"/v1/videos/{created.json()['id']}/cancel", headers=auth(key))


async def test_a_video_deleted_during_prefer_wait_is_not_found(gw: Gateway) -> None:
    """The wait answers 404 as soon as the video is deleted, not its old object after N seconds."""
    import asyncio
    import time

    key = gw.new_key(credits=10)
    gw.state.adapters["fake"].behaviour.hang = True  # type: ignore[attr-defined]
    video = (await gw.create(key, model="fake-video", prompt="slow")).json()
    started = time.monotonic()
    waiting = asyncio.create_task(
        gw.client.get(f"/v1/videos/{video['id']}", headers={**auth(key), "prefer": "wait=20"})
    )
    await asyncio.sleep(0.3)
    assert (await gw.client.delete(f"/v1/videos/{video['id']}", headers=auth(key))).status_code == 200
    answer = await waiting
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "video_not_found"
    assert time.monotonic() - started < 15
    assert gw.balance(key).held_mc == 0
