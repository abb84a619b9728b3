"""Credits through the API: holds on submit, capture on success, full refunds on failure."""

from __future__ import annotations

import asyncio

from ..support import Gateway, auth


async def test_concurrent_submits_never_overdraw(gw: Gateway) -> None:
    gw.state.adapters["fake"].behaviour.hang = True  # type: ignore[attr-defined]  # keep every hold open
    key = gw.new_key(credits=10)  # each clip costs 1 credit: room for exactly 10

    responses = await asyncio.gather(*[gw.create(key, prompt=f"p{i}", model="fake-video") for i in range(30)])
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(200) == 10 and statuses.count(402) == 20
    assert all(r.json()["error"]["code"] == "insufficient_credits" for r in responses if r.status_code == 402)
    balance = gw.balance(key)
    assert (balance.balance_mc, balance.held_mc) == (10_000, 10_000)
    listing = (await gw.client.get("/v1/videos?limit=100", headers=auth(key))).json()
    assert len(listing["data"]) == 10
    for video in listing["data"]:
        await gw.client.post(f"/v1/videos/{video['id']}/cancel", headers=auth(key))
    for video in listing["data"]:
        await gw.wait(key, video["id"])
    balance = gw.balance(key)
    assert (balance.balance_mc, balance.held_mc) == (10_000, 0)


async def test_insufficient_credits_is_402_and_nothing_queued(gw: Gateway) -> None:
    key = gw.new_key(credits=0.5)
    response = await gw.create(key, prompt="p", model="fake-video")
    assert response.status_code == 402
    assert response.json()["error"]["code"] == "insufficient_credits"
    assert (await gw.client.get("/v1/videos", headers=auth(key))).json()["data"] == []


async def test_permanent_failure_refunds_in_full(gw: Gateway) -> None:
    gw.state.adapters["fake"].behaviour.fail = "permanent"  # type: ignore[attr-defined]
    key = gw.new_key(credits=3)
    video = (await gw.create(key, prompt="p", model="fake-video")).json()
    done = await gw.wait(key, video["id"])
    assert done["status"] == "failed"
    assert done["error"]["code"] == "generation_failed"
    assert done["cost"] == 0
    balance = gw.balance(key)
    assert (balance.balance_mc, balance.held_mc) == (3000, 0)


async def test_transient_failure_is_retried_and_charged_once(gw: Gateway) -> None:
    fake = gw.state.adapters["fake"]
    fake.behaviour.fail, fake.behaviour.fail_times = "transient", 2  # type: ignore[attr-defined]
    key = gw.new_key(credits=3)
    video = (await gw.create(key, prompt="p", model="fake-video")).json()
    done = await gw.wait(key, video["id"])
    assert done["status"] == "completed"
    assert done["cost"] == 1.0
    balance = gw.balance(key)
    assert (balance.balance_mc, balance.held_mc) == (2000, 0)
    assert fake.behaviour.calls == 3  # type: ignore[attr-defined]


async def test_transient_failures_past_max_attempts_fail_and_refund(gw: Gateway) -> None:
    gw.state.adapters["fake"].behaviour.fail = "transient"  # type: ignore[attr-defined]
    key = gw.new_key(credits=3)
    video = (await gw.create(key, prompt="p", model="fake-video")).json()
    done = await gw.wait(key, video["id"])
    assert done["status"] == "failed" and done["error"]["code"] == "backend_unavailable"
    assert gw.state.adapters["fake"].behaviour.calls == gw.state.settings.retries_per_backend  # type: ignore[attr-defined]
    balance = gw.balance(key)
    assert (balance.balance_mc, balance.held_mc) == (3000, 0)


async def test_cancel_queued_job_refunds(gw: Gateway) -> None:
    gw.state.adapters["fake"].behaviour.hang = True  # type: ignore[attr-defined]
    key = gw.new_key(credits=2)
    first = (await gw.create(key, prompt="runs", model="fake-video")).json()
    second = (await gw.create(key, prompt="waits", model="fake-video")).json()
    await asyncio.sleep(0.2)
    response = await gw.client.post(f"/v1/videos/{second['id']}/cancel", headers=auth(key))
    assert response.status_code == 200
    assert response.json()["status"] == "failed" and response.json()["error"]["code"] == "cancelled"
    balance = gw.balance(key)
    assert balance.held_mc == 1000
    await gw.client.post(f"/v1/videos/{first['id']}/cancel", headers=auth(key))
    await gw.wait(key, first["id"])
    assert gw.balance(key).held_mc == 0


async def test_concurrent_submits_with_jobs_finishing_balance_exactly(gw: Gateway) -> None:
    """Many clients at once against a small balance while jobs complete (and some fail): no overdraft,
    and the final balance is exactly grants minus what completed jobs were charged."""
    import billing

    fake = gw.state.adapters["fake"]
    fake.behaviour.fail_rate = 0.3  # type: ignore[attr-defined]  # transient: retried, some fail for good
    key = gw.new_key(credits=7)

    async def client(i: int) -> list[int]:
        codes = []
        for j in range(4):
            r = await gw.create(key, prompt=f"c{i}-{j}", model="fake-video", seconds=1)
            codes.append(r.status_code)
        return codes

    # The price, from the catalog and from a quote (not from the jobs themselves): 1 credit/s x 1 s.
    models = (await gw.client.get("/v1/models", headers=auth(key))).json()["data"]
    per_second = next(m for m in models if m["id"] == "fake-video")["price"]["credits_per_second"]
    quote = await gw.client.post(
        "/v1/quotes", json={"prompt": "p", "model": "fake-video", "seconds": 1}, headers=auth(key)
    )
    price = quote.json()["data"][0]["cost"]
    assert price == per_second * 1 == 1.0

    results = await asyncio.gather(*[client(i) for i in range(10)])
    assert {c for codes in results for c in codes} <= {200, 402}
    listing = (await gw.client.get("/v1/videos?limit=100", headers=auth(key))).json()["data"]
    assert len(listing) == sum(codes.count(200) for codes in results) >= 7
    done = [await gw.wait(key, v["id"]) for v in listing]
    completed = [v for v in done if v["status"] == "completed"]
    assert completed, "no job completed: nothing here was charged, so nothing was checked"
    for video in done:
        assert video["quoted_cost"] == price, video
        assert video["cost"] == (price if video["status"] == "completed" else 0), video
    charged = sum(v["cost"] for v in done)
    assert charged == len(completed) * price
    balance = gw.balance(key)
    assert balance.held_mc == 0
    assert balance.balance_mc == 7000 - round(charged * 1000)
    assert balance.balance_mc >= 0
    with gw.state.db.read() as conn:
        assert billing.verify_ledger(conn) == []
