"""The dashboard's live-progress stream (``/events``): it stops the moment the session ends, and a job
the page showed running still gets its final state when it ended before the stream opened."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path

import httpx

from ..support import auth, live_server, make_settings
from .test_edges import SLOW_CONFIG


def test_the_event_stream_stops_when_the_session_ends(tmp_path: Path, models_dir: Path) -> None:
    """Signed out in one tab, the live-progress stream open in another stops sending at once."""
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite'}", models_dir, config=SLOW_CONFIG)
    with live_server(settings) as (url, app):
        import billing
        from gateway.engine.keys import create_key

        with app.state.fg.db.write() as conn:
            account = billing.ensure_account(conn, "viewer")
            billing.grant(conn, account, billing.millicredits(50))
            key = create_key(conn, account).secret
        with httpx.Client(base_url=url, timeout=30) as client:
            page = client.get("/login")
            token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
            client.post("/login", data={"api_key": key, "csrf": token})
            csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/jobs").text).group(1)  # type: ignore[union-attr]
            client.post(
                "/v1/videos", json={"prompt": "p", "model": "fake-video", "seconds": 8}, headers=auth(key)
            )
            ended = threading.Event()
            received: list[bytes] = []

            def listen() -> None:
                with client.stream("GET", "/events") as stream:
                    for chunk in stream.iter_bytes():
                        received.append(chunk)
                ended.set()

            listener = threading.Thread(target=listen, daemon=True)
            listener.start()
            deadline = time.monotonic() + 20
            while not any(b"event: job" in c for c in received) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert any(b"event: job" in c for c in received), received
            with httpx.Client(base_url=url, cookies=client.cookies) as other_tab:
                assert other_tab.post("/logout", data={"csrf": csrf}).status_code == 303
            assert ended.wait(10), "the stream kept sending after sign-out"


def test_the_event_stream_sends_the_final_state_of_a_watched_job_that_already_ended(
    tmp_path: Path, models_dir: Path
) -> None:
    """``/events?watch=id``: a job the page showed running but which ended before the stream opened
    still gets its final event; another account's job named there gets nothing."""
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite'}", models_dir)
    with live_server(settings) as (url, app):
        import billing
        from gateway.engine.keys import create_key

        with app.state.fg.db.write() as conn:
            keys = []
            for name in ("viewer", "other"):
                account = billing.ensure_account(conn, name)
                billing.grant(conn, account, billing.millicredits(50))
                keys.append(create_key(conn, account).secret)
        ids = []
        for key in keys:
            made = httpx.post(
                f"{url}/v1/videos", json={"prompt": "p", "model": "fake-video"}, headers=auth(key)
            )
            ids.append(made.json()["id"])
            deadline = time.monotonic() + 30
            while httpx.get(f"{url}/v1/videos/{ids[-1]}", headers=auth(key)).json()["status"] != "completed":
                assert time.monotonic() < deadline
                time.sleep(0.1)
        with httpx.Client(base_url=url, timeout=30) as client:
            page = client.get("/login")
            token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
            client.post("/login", data={"api_key": keys[0], "csrf": token})
            received: list[bytes] = []

            def listen() -> None:
                with client.stream("GET", f"/events?watch={ids[0]},{ids[1]},not-an-id") as stream:
                    for chunk in stream.iter_bytes():
                        received.append(chunk)
                        if b"event: job" in b"".join(received):
                            return

            listener = threading.Thread(target=listen, daemon=True)
            listener.start()
            listener.join(20)
        text = b"".join(received).decode()
        assert f'"id": "{ids[0]}", "status": "completed"' in text, text
        assert ids[1] not in text
