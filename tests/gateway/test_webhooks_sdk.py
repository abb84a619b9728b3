"""Webhooks through the official SDK: endpoints managed with ``client.webhooks``, deliveries that
``client.webhooks.unwrap`` verifies, retries with one ``webhook-id``, one-off ``webhook_url`` targets."""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ..receiver import Receiver, receiver
from ..support import live_server, make_settings, require_module

openai = require_module("openai")
warnings.filterwarnings("ignore", category=DeprecationWarning)


@pytest.fixture
def server(tmp_path: Path, database_url: str, models_dir: Path) -> Iterator[tuple[str, str, Any]]:
    settings = make_settings(tmp_path, database_url, models_dir)
    with live_server(settings) as (url, app):
        import billing
        from gateway.engine.keys import create_key

        with app.state.fg.db.write() as conn:
            account = billing.ensure_account(conn, "hooks")
            billing.grant(conn, account, billing.millicredits(50))
            key = create_key(conn, account).secret
        yield url, key, app


@pytest.fixture
def rec() -> Iterator[Receiver]:
    with receiver() as r:
        yield r


def _client(url: str, key: str) -> Any:
    return openai.OpenAI(base_url=f"{url}/v1", api_key=key)


def test_sdk_endpoint_receives_a_verified_video_completed(
    server: tuple[str, str, Any], rec: Receiver
) -> None:
    url, key, _ = server
    client = _client(url, key)
    endpoint = client.webhooks.create(url=f"{rec.url}/hook", name="studio", event_types=["video.completed"])
    assert endpoint.signing_secret.startswith("whsec_")
    assert endpoint.signing_secret_hint and endpoint.signing_secret_hint.endswith(
        endpoint.signing_secret[-4:]
    )
    video = client.videos.create_and_poll(model="fake-video", prompt="a red square")
    assert video.status == "completed"
    [post] = rec.wait_for(1)
    event = client.webhooks.unwrap(post.body, post.headers, secret=endpoint.signing_secret)
    assert event.type == "video.completed" and event.data.id == video.id
    assert post.headers["webhook-id"] == event.id and event.object == "event"
    body = json.loads(post.body)
    assert body["data"]["status"] == "completed" and body["data"]["cost"] == video.cost  # type: ignore[attr-defined]
    with pytest.raises(openai.InvalidWebhookSignatureError):
        client.webhooks.unwrap(post.body + b" ", post.headers, secret=endpoint.signing_secret)

    # The rest of client.webhooks.
    listed = client.webhooks.list()
    assert [e.id for e in listed.data] == [endpoint.id]
    fetched = client.webhooks.retrieve(endpoint.id)
    assert (fetched.url == f"{rec.url}/hook" and not hasattr(fetched, "signing_secret")) or (
        getattr(fetched, "signing_secret", None) is None
    )
    updated = client.webhooks.update(
        endpoint.id, name="renamed", event_types=["video.completed", "video.failed"]
    )
    assert updated.name == "renamed" and updated.event_types == ["video.completed", "video.failed"]
    test = client.webhooks.test(endpoint.id, event_type="video.failed")
    assert test.status_code == 200 and test.webhook_endpoint_id == endpoint.id
    rotated = client.webhooks.rotate_secret(endpoint.id)
    assert rotated.signing_secret != endpoint.signing_secret
    test_post = rec.wait_for(2)[-1]
    client.webhooks.unwrap(test_post.body, test_post.headers, secret=endpoint.signing_secret)  # signed before
    assert client.webhooks.event_types.list().data == [
        "video.completed",
        "video.failed",
        "project.cut.completed",
    ]
    assert client.webhooks.delete(endpoint.id).deleted is True
    with pytest.raises(openai.NotFoundError):
        client.webhooks.retrieve(endpoint.id)


def test_a_failing_receiver_gets_the_same_webhook_id_until_it_answers(
    server: tuple[str, str, Any], rec: Receiver
) -> None:
    url, key, _ = server
    client = _client(url, key)
    rec.fail_first = 2
    endpoint = client.webhooks.create(url=rec.url, name="flaky", event_types=["video.completed"])
    video = client.videos.create_and_poll(model="fake-video", prompt="a blue square")
    posts = rec.wait_for(3)
    assert len({p.headers["webhook-id"] for p in posts}) == 1
    for post in posts:
        client.webhooks.unwrap(post.body, post.headers, secret=endpoint.signing_secret)
    deliveries = _wait_delivered(url, key, f"/v1/webhook_endpoints/{endpoint.id}/deliveries")
    [delivery] = deliveries
    assert delivery["video_id"] == video.id and delivery["attempts"] == 3
    one = httpx.get(
        f"{url}/v1/webhook_deliveries/{delivery['id']}", headers={"authorization": f"Bearer {key}"}
    )
    assert [a["status_code"] for a in one.json()["attempt_log"]] == [500, 500, 200]

    # A delivered event can be sent again on request, with the same id.
    again = httpx.post(
        f"{url}/v1/webhook_deliveries/{delivery['id']}/resend", headers={"authorization": f"Bearer {key}"}
    )
    assert again.status_code == 200, again.text
    assert rec.wait_for(4)[-1].headers["webhook-id"] == posts[0].headers["webhook-id"]


def _wait_delivered(url: str, key: str, path: str, timeout: float = 20.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        data = httpx.get(f"{url}{path}", headers={"authorization": f"Bearer {key}"}).json()["data"]
        if data and all(d["status"] == "delivered" for d in data):
            return data  # type: ignore[no-any-return]
        assert time.monotonic() < deadline, data
        time.sleep(0.05)


def test_cancel_is_a_video_failed_event_and_one_off_urls_use_the_account_secret(
    server: tuple[str, str, Any], rec: Receiver
) -> None:
    url, key, app = server
    headers = {"authorization": f"Bearer {key}"}
    app.state.fg.adapters["fake"].behaviour.hang = True
    created = httpx.post(
        f"{url}/v1/videos",
        json={"model": "fake-video", "prompt": "a slow square", "webhook_url": f"{rec.url}/once"},
        headers=headers,
    ).json()
    assert created["webhook_url"] == f"{rec.url}/once"
    httpx.post(f"{url}/v1/videos/{created['id']}/cancel", headers=headers)
    [post] = rec.wait_for(1)
    secret = httpx.get(f"{url}/v1/webhook_secret", headers=headers).json()["signing_secret"]
    event = _client(url, key).webhooks.unwrap(post.body, post.headers, secret=secret)
    body = json.loads(post.body)
    assert event.type == "video.failed" and body["data"]["error"]["code"] == "cancelled"
    assert post.path == "/once"
    listed = httpx.get(f"{url}/v1/webhook_deliveries?video_id={created['id']}", headers=headers).json()
    assert [d["url"] for d in listed["data"]] == [f"{rec.url}/once"]
    rotated = httpx.post(f"{url}/v1/webhook_secret/rotate", headers=headers).json()["signing_secret"]
    assert rotated != secret
