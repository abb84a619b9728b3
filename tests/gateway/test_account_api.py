"""Account, ledger, usage, quotes, projects with budgets, and Idempotency-Key, through the API."""

from __future__ import annotations

import asyncio
import csv
import io

from ..support import Gateway, auth


async def test_account_shows_balance_held_available(gw: Gateway) -> None:
    gw.state.adapters["fake"].behaviour.hang = True  # type: ignore[attr-defined]
    key = gw.new_key(credits=10)
    await gw.create(key, prompt="p", model="fake-video", seconds=2)
    body = (await gw.client.get("/v1/account", headers=auth(key))).json()
    assert body["object"] == "account"
    assert (body["balance"], body["held"], body["available"]) == (10.0, 2.0, 8.0)
    assert body["key"]["daily_budget"] is None


async def test_ledger_lists_grants_and_charges(gw: Gateway) -> None:
    key = gw.new_key(credits=5)
    video = (await gw.create(key, prompt="p", model="fake-video")).json()
    await gw.wait(key, video["id"])
    ledger = (await gw.client.get("/v1/account/ledger", headers=auth(key))).json()
    kinds = [(e["kind"], e["amount"]) for e in ledger["data"]]
    assert kinds == [("capture", -1.0), ("grant", 5.0)]
    assert ledger["data"][0]["video_id"] == video["id"] and ledger["data"][0]["model"] == "fake-video"
    page = (await gw.client.get("/v1/account/ledger?limit=1", headers=auth(key))).json()
    assert page["has_more"] is True
    rest = (await gw.client.get(f"/v1/account/ledger?after={page['last_id']}", headers=auth(key))).json()
    assert [e["kind"] for e in rest["data"]] == ["grant"]


async def test_usage_report_and_csv(gw: Gateway) -> None:
    key = gw.new_key(credits=20)
    for seconds in (1, 2):
        video = (await gw.create(key, prompt="p", model="fake-video", seconds=seconds)).json()
        await gw.wait(key, video["id"])
    by_model = (await gw.client.get("/v1/usage?group_by=model", headers=auth(key))).json()
    assert by_model["data"] == [
        {
            "model": "fake-video",
            "jobs": 2,
            "video_seconds": 3.0,
            "frames": 24,
            "device_seconds": by_model["data"][0]["device_seconds"],
            "cost": 3.0,
        }
    ]
    by_day = (await gw.client.get("/v1/usage", headers=auth(key))).json()
    assert len(by_day["data"]) == 1 and by_day["data"][0]["jobs"] == 2
    empty = (await gw.client.get("/v1/usage?from=2099-01-01", headers=auth(key))).json()
    assert empty["data"] == []
    text = (await gw.client.get("/v1/usage?group_by=key&format=csv", headers=auth(key))).text
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows[0]["jobs"] == "2" and rows[0]["cost"] == "3.0" and rows[0]["key"].startswith("key_")
    bad = await gw.client.get("/v1/usage?from=yesterday", headers=auth(key))
    assert bad.status_code == 400


async def test_quotes_create_nothing(gw: Gateway) -> None:
    key = gw.new_key(credits=1)
    quote = (
        await gw.client.post(
            "/v1/quotes", json={"prompt": "p", "model": "fake-video", "seconds": 4}, headers=auth(key)
        )
    ).json()
    assert quote["object"] == "quote" and quote["data"][0]["cost"] == 4.0 and quote["total"] == 4.0
    compare = (
        await gw.client.post(
            "/v1/quotes",
            json={"prompt": "p", "models": ["fake-video", "wan-tiny"], "size": "64x64", "seconds": 1},
            headers=auth(key),
        )
    ).json()
    assert [q["model"] for q in compare["data"]] == ["fake-video", "wan-tiny"]
    assert compare["data"][1]["frames"] == 17 and compare["data"][1]["cost"] == 1.063
    i2v = (
        await gw.client.post(
            "/v1/quotes", json={"prompt": "p", "mode": "i2v", "size": "48x32"}, headers=auth(key)
        )
    ).json()
    assert i2v["data"][0]["model"] == "fake-video" and i2v["data"][0]["mode"] == "i2v"
    bad = await gw.client.post(
        "/v1/quotes", json={"prompt": "p", "model": "wan-tiny", "size": "7x7"}, headers=auth(key)
    )
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "unsupported_size"
    assert (await gw.client.get("/v1/videos", headers=auth(key))).json()["data"] == []
    assert gw.balance(key).held_mc == 0


async def test_project_budget_is_enforced(gw: Gateway) -> None:
    gw.state.adapters["fake"].behaviour.hang = True  # type: ignore[attr-defined]
    key = gw.new_key(credits=100)
    project = (
        await gw.client.post(
            "/v1/projects", json={"name": "Trailer", "brief": "a cat", "budget": 3}, headers=auth(key)
        )
    ).json()
    assert project["object"] == "project" and project["budget"] == 3.0
    ok = await gw.create(key, prompt="p", model="fake-video", seconds=2, project=project["id"])
    assert ok.status_code == 200 and ok.json()["project"] == project["id"]
    over = await gw.create(key, prompt="p", model="fake-video", seconds=2, project=project["id"])
    assert over.status_code == 402 and over.json()["error"]["code"] == "budget_exceeded"
    fetched = (await gw.client.get(f"/v1/projects/{project['id']}", headers=auth(key))).json()
    assert fetched["committed"] == 2.0
    other = gw.new_key()
    missing = await gw.create(other, prompt="p", model="fake-video", project=project["id"])
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "project_not_found"


async def test_key_budget_is_enforced(gw: Gateway) -> None:
    from sqlalchemy import update

    from gateway.engine.db import api_keys

    key = gw.new_key(credits=100)
    with gw.state.db.write() as conn:
        conn.execute(update(api_keys).values(daily_budget_mc=2500))
    assert (await gw.create(key, prompt="p", model="fake-video", seconds=2)).status_code == 200
    over = await gw.create(key, prompt="p", model="fake-video", seconds=1)
    assert over.status_code == 402 and over.json()["error"]["code"] == "budget_exceeded"
    account = (await gw.client.get("/v1/account", headers=auth(key))).json()
    assert account["key"]["daily_budget"]["limit"] == 2.5


async def test_idempotency_key_replays_and_conflicts(gw: Gateway) -> None:
    key = gw.new_key(credits=10)
    headers = auth(key) | {"Idempotency-Key": "retry-me-1"}
    first = await gw.client.post("/v1/videos", json={"prompt": "p", "model": "fake-video"}, headers=headers)
    again = await gw.client.post("/v1/videos", json={"model": "fake-video", "prompt": "p"}, headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.json()["id"] == first.json()["id"] and again.headers["idempotent-replayed"] == "true"
    other = await gw.client.post(
        "/v1/videos", json={"prompt": "different", "model": "fake-video"}, headers=headers
    )
    assert other.status_code == 409 and other.json()["error"]["code"] == "idempotency_key_reused"
    listing = (await gw.client.get("/v1/videos", headers=auth(key))).json()
    assert len(listing["data"]) == 1
    await gw.wait(key, first.json()["id"])
    assert gw.balance(key).balance_mc == 9000  # charged once


async def test_concurrent_retries_with_one_key_create_one_job(gw: Gateway) -> None:
    gw.state.adapters["fake"].behaviour.hang = True  # type: ignore[attr-defined]
    key = gw.new_key(credits=10)
    headers = auth(key) | {"Idempotency-Key": "storm"}
    responses = await asyncio.gather(
        *[
            gw.client.post(
                "/v1/videos",
                data={"prompt": "p", "model": "fake-video"},
                headers=headers,
                files={"input_reference": ("a.png", _png(), "image/png")},
            )
            for _ in range(12)
        ]
    )
    assert {r.status_code for r in responses} == {200}
    assert len({r.json()["id"] for r in responses}) == 1
    assert gw.balance(key).held_mc == 1000
    # Retries that lost the race kept nothing: one stored input image.
    assert len(list((gw.state.settings.artifacts_dir / "inputs").iterdir())) == 1


async def test_multipart_idempotency_ignores_the_boundary(gw: Gateway) -> None:
    key = gw.new_key(credits=10)
    headers = auth(key) | {"Idempotency-Key": "form-1"}
    a = await gw.client.post(
        "/v1/videos",
        data={"prompt": "p", "model": "fake-video"},
        headers=headers,
        files={"input_reference": ("a.png", _png(), "image/png")},
    )
    b = await gw.client.post(
        "/v1/videos",
        data={"prompt": "p", "model": "fake-video"},
        headers=headers,
        files={"input_reference": ("b.png", _png(), "image/png")},
    )
    assert a.json()["id"] == b.json()["id"]
    # The replay kept nothing of its own: one stored input image, the first request's.
    assert len(list((gw.state.settings.artifacts_dir / "inputs").iterdir())) == 1


def _png() -> bytes:
    from ..support import png_bytes

    return png_bytes(32, 32)


async def test_project_create_is_idempotent(gw: Gateway) -> None:
    key = gw.new_key()
    headers = auth(key) | {"Idempotency-Key": "p-1"}
    a = await gw.client.post("/v1/projects", json={"name": "Spot"}, headers=headers)
    b = await gw.client.post("/v1/projects", json={"name": "Spot"}, headers=headers)
    assert a.json()["id"] == b.json()["id"]
    assert len((await gw.client.get("/v1/projects", headers=auth(key))).json()["data"]) == 1
    c = await gw.client.post("/v1/projects", json={"name": "Other"}, headers=headers)
    assert c.status_code == 409
