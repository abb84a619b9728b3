"""Routing through the API: explain, policies and preferences, backends, fallbacks and faults.

Every job ends completed or failed-and-refunded; the job names the model that produced the video
and is charged that model's price; the ledger always verifies."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import billing

from ..support import Gateway, auth, make_settings, png_bytes, running_gateway

CONFIG = """
[backends.flaky]
type = "fake"
models = [{ id = "fake-a", price_per_second = 1.0 }, { id = "shared", price_per_second = 1.0 }]

[backends.good]
type = "fake"
models = [{ id = "fake-b", price_per_second = 2.0 }, { id = "shared", price_per_second = 1.0 }]

[routes]
fallbacks = { "fake-a" = ["fake-b"] }
"""


@pytest.fixture
async def rgw(tmp_path: Path, database_url: str, models_dir: Path) -> AsyncIterator[Gateway]:
    settings = make_settings(
        tmp_path, database_url, models_dir, config=CONFIG, generation_timeout_seconds=1.0
    )
    async with running_gateway(settings) as gateway:
        yield gateway


def flaky(gw: Gateway):  # type: ignore[no-untyped-def]
    return gw.state.adapters["flaky"].behaviour  # type: ignore[attr-defined]


def ledger_ok(gw: Gateway) -> None:
    with gw.state.db.read() as conn:
        assert billing.verify_ledger(conn) == []


async def quoted_prices(gw: Gateway, key: str, model_ids: list[str], **fields: object) -> dict[str, float]:
    """What a default clip of each model costs, from ``POST /v1/quotes``, checked against the
    catalog's price per second in ``GET /v1/models``."""
    listed = {m["id"]: m for m in (await gw.client.get("/v1/models", headers=auth(key))).json()["data"]}
    response = await gw.client.post(
        "/v1/quotes", json={"prompt": "p", "models": model_ids, **fields}, headers=auth(key)
    )
    assert response.status_code == 200, response.text
    out = {}
    for q in response.json()["data"]:
        per_second = listed[q["model"]]["price"]["credits_per_second"]
        assert q["cost"] == pytest.approx(per_second * q["duration"], abs=0.001), q
        out[q["model"]] = q["cost"]
    return out


async def test_explain_ranks_and_excludes(rgw: Gateway) -> None:
    key = rgw.new_key()
    listed = [m["id"] for m in (await rgw.client.get("/v1/models", headers=auth(key))).json()["data"]]
    prices = await quoted_prices(rgw, key, listed, size="64x64")
    cheap_enough = {m for m, p in prices.items() if p <= 0.5}
    assert cheap_enough and cheap_enough != set(prices)  # max_price really excludes something
    body = {
        "prompt": "p",
        "size": "64x64",
        "routing": {"policy": "cheapest", "ignore": ["good"], "max_price": 0.5},
    }
    explained = (await rgw.client.post("/v1/routes/explain", json=body, headers=auth(key))).json()
    assert explained["object"] == "route.explanation" and explained["policy"] == "cheapest"
    ranked = explained["ranked"]
    # Exactly the offers within the price cap (none on the ignored backend), cheapest first.
    assert [r["model"] for r in ranked] == sorted(cheap_enough, key=lambda m: (prices[m], m))
    assert [r["price"] for r in ranked] == sorted(prices[m] for m in cheap_enough)
    assert all(r["backend"] != "good" for r in ranked)
    codes = {(e["model"], e["backend"], e["code"]) for e in explained["excluded"]}
    assert ("fake-b", "good", "ignored") in codes and ("fake-a", "flaky", "over_max_price") in codes
    for r in ranked:
        assert r["eta_seconds"] == pytest.approx(
            r["queue_seconds"] + r["load_seconds"] + r["run_seconds"], abs=0.01
        )
    # Unfiltered, every offer is ranked, and in order of its quoted price.
    body = {"prompt": "p", "size": "64x64", "routing": {"policy": "cheapest"}}
    ranked = (await rgw.client.post("/v1/routes/explain", json=body, headers=auth(key))).json()["ranked"]
    assert {r["model"] for r in ranked} == set(prices)
    assert [r["price"] for r in ranked] == [prices[r["model"]] for r in ranked]
    assert [r["price"] for r in ranked] == sorted(prices[r["model"]] for r in ranked)
    assert ranked[0]["model"] == min(prices, key=lambda m: prices[m])
    assert (await rgw.client.get("/v1/videos", headers=auth(key))).json()["data"] == []


async def test_routing_on_create_json_and_multipart(rgw: Gateway) -> None:
    key = rgw.new_key()
    quality_of = {
        (spec.id, name): spec.quality for name, a in rgw.state.adapters.items() for spec in a.models()
    }
    best_quality = max(quality_of.values())
    # The quality policy ranks by the catalog's quality, best first (ties: cheapest first).
    explain = {"prompt": "p", "size": "64x64", "routing": {"policy": "quality"}}
    ranked = (await rgw.client.post("/v1/routes/explain", json=explain, headers=auth(key))).json()["ranked"]
    keys = [(-quality_of[(r["model"], r["backend"])], r["price"]) for r in ranked]
    assert keys == sorted(keys) and len(ranked) == len(quality_of)
    assert quality_of[(ranked[0]["model"], ranked[0]["backend"])] == best_quality
    assert ranked[0]["price"] > min(r["price"] for r in ranked)  # quality is not simply the cheapest
    best = await rgw.create(key, prompt="p", size="64x64", routing={"policy": "quality"})
    assert best.status_code == 200, best.text
    assert (best.json()["model"], best.json()["backend"]) == (ranked[0]["model"], ranked[0]["backend"])
    assert best.json()["quoted_cost"] == ranked[0]["price"]
    assert best.json()["eta_seconds"] is not None
    # Restricted to backends whose models are all of one quality: the cheapest of them wins.
    only = {"policy": "quality", "only": ["flaky", "good"]}
    prices = await quoted_prices(rgw, key, ["fake-a", "fake-b", "shared"], size="64x64")
    assert len({quality_of[k] for k in quality_of if k[1] in only["only"]}) == 1
    chosen = (await rgw.create(key, prompt="p", size="64x64", routing=only)).json()
    assert chosen["backend"] in only["only"] and chosen["quoted_cost"] == min(prices.values())
    assert prices[chosen["model"]] == min(prices.values()) < prices["fake-b"]
    form = await rgw.client.post(
        "/v1/videos",
        headers=auth(key),
        files={"input_reference": ("a.png", png_bytes(), "image/png")},
        data={"prompt": "p", "size": "48x32", "routing": '{"order": ["fake-b"], "allow_fallbacks": false}'},
    )
    assert form.status_code == 200 and form.json()["model"] == "fake-b"
    bad = await rgw.create(key, prompt="p", routing={"policy": "luck"})
    assert bad.status_code == 400 and bad.json()["error"]["param"].startswith("routing")
    too_cheap = await rgw.create(key, prompt="p", model="fake-b", routing={"max_price": 0.1})
    assert too_cheap.status_code == 400 and too_cheap.json()["error"]["code"] == "no_model_available"


async def test_fallback_to_pricier_model_moves_the_reserve(rgw: Gateway) -> None:
    flaky(rgw).fail = "transient"
    key = rgw.new_key(credits=5)
    video = (await rgw.create(key, prompt="p", model="fake-a")).json()
    assert video["model"] == "fake-a" and video["quoted_cost"] == 1.0
    done = await rgw.wait(key, video["id"])
    assert done["status"] == "completed"
    assert (done["model"], done["backend"], done["cost"]) == ("fake-b", "good", 2.0)
    assert rgw.balance(key).balance_mc == 3000 and rgw.balance(key).held_mc == 0
    usage = (await rgw.client.get("/v1/usage?group_by=model", headers=auth(key))).json()["data"]
    assert [u["model"] for u in usage] == ["fake-b"]
    ledger_ok(rgw)


async def test_no_fallback_the_account_cannot_pay_for(rgw: Gateway) -> None:
    flaky(rgw).fail = "transient"
    key = rgw.new_key(credits=1.5)
    video = (await rgw.create(key, prompt="p", model="fake-a")).json()
    done = await rgw.wait(key, video["id"])
    assert done["status"] == "failed" and done["cost"] == 0 and done["error"]["code"] == "backend_unavailable"
    assert (rgw.balance(key).balance_mc, rgw.balance(key).held_mc) == (1500, 0)
    ledger_ok(rgw)


async def test_same_model_falls_back_to_another_backend(rgw: Gateway) -> None:
    flaky(rgw).fail = "transient"
    key = rgw.new_key()
    video = (await rgw.create(key, prompt="p", model="shared", routing={"order": []})).json()
    done = await rgw.wait(key, video["id"])
    assert done["status"] == "completed" and done["backend"] == "good" and done["model"] == "shared"


@pytest.mark.parametrize("fault", ["hang", "corrupt", "die_at_step"])
async def test_faults_are_retried_then_routed_around(rgw: Gateway, fault: str) -> None:
    setattr(flaky(rgw), fault, True if fault != "die_at_step" else 2)
    key = rgw.new_key(credits=5)
    video = (await rgw.create(key, prompt="p", model="fake-a", steps=4)).json()
    done = await rgw.wait(key, video["id"], timeout=30)
    assert done["status"] == "completed" and done["model"] == "fake-b", done
    assert rgw.balance(key).held_mc == 0
    ledger_ok(rgw)


async def test_permanent_errors_never_fall_back(rgw: Gateway) -> None:
    flaky(rgw).fail = "permanent"
    key = rgw.new_key(credits=5)
    video = (await rgw.create(key, prompt="p", model="fake-a")).json()
    done = await rgw.wait(key, video["id"])
    assert (
        done["status"] == "failed"
        and done["model"] == "fake-a"
        and done["error"]["code"] == "generation_failed"
    )
    assert rgw.state.adapters["good"].behaviour.calls == 0  # type: ignore[attr-defined]
    assert rgw.balance(key).balance_mc == 5000


async def test_breaker_opens_and_router_skips_the_backend(rgw: Gateway) -> None:
    flaky(rgw).fail = "transient"
    key = rgw.new_key(credits=50)
    for _ in range(3):
        video = (await rgw.create(key, prompt="p", model="fake-a")).json()
        await rgw.wait(key, video["id"])
    backends = {b["id"]: b for b in (await rgw.client.get("/v1/backends", headers=auth(key))).json()["data"]}
    assert backends["flaky"]["state"] == "open" and backends["flaky"]["error_rate"] > 0.5
    assert backends["good"]["state"] == "closed" and backends["good"]["latency_p50_seconds"] is not None
    explained = (
        await rgw.client.post(
            "/v1/routes/explain", json={"prompt": "p", "model": "shared"}, headers=auth(key)
        )
    ).json()
    assert [r["backend"] for r in explained["ranked"]] == ["good"]
    assert ("flaky", "circuit_open") in {(e["backend"], e["code"]) for e in explained["excluded"]}


async def test_chaos_every_job_completes_or_is_refunded(rgw: Gateway) -> None:
    b = flaky(rgw)
    b.fail_rate, b.seed = 0.5, 7
    rgw.state.adapters["good"].behaviour.fail_rate = 0.2  # type: ignore[attr-defined]
    key = rgw.new_key(credits=100)
    prices = await quoted_prices(rgw, key, ["fake-a", "fake-b"])
    assert prices == {"fake-a": 1.0, "fake-b": 2.0}
    created = await asyncio.gather(*[rgw.create(key, prompt=f"c{i}", model="fake-a") for i in range(24)])
    assert all(r.status_code == 200 for r in created)
    ids = [r.json()["id"] for r in created]
    done = [await rgw.wait(key, i, timeout=60) for i in ids]
    assert {d["status"] for d in done} <= {"completed", "failed"}
    completed = [d for d in done if d["status"] == "completed"]
    assert completed, "nothing completed: a chaos run that charges nothing proves nothing"
    for d in done:
        # The hold follows the model actually run; a completed job is charged exactly its quote.
        assert d["quoted_cost"] == prices[d["model"]], d
        assert d["cost"] == (prices[d["model"]] if d["status"] == "completed" else 0), d
    charged = sum(d["cost"] for d in done)
    assert charged == sum(prices[d["model"]] for d in completed)
    balance = rgw.balance(key)
    assert balance.held_mc == 0 and balance.balance_mc == 100_000 - round(charged * 1000)
    ledger_ok(rgw)


async def test_compare_renders_one_job_per_model_atomically(rgw: Gateway) -> None:
    rgw.state.adapters["good"].behaviour.hang = True  # type: ignore[attr-defined]
    flaky(rgw).hang = True
    key = rgw.new_key(credits=3)
    response = await rgw.create(
        key, prompt="a red circle", size="64x64", routing={"compare": ["fake-a", "fake-b"]}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["object"] == "list" and [v["model"] for v in body["data"]] == ["fake-a", "fake-b"]
    assert len({v["id"] for v in body["data"]}) == 2 and len({v["seed"] for v in body["data"]}) == 2
    assert rgw.balance(key).held_mc == 3000
    # Not enough left for both takes: neither is created.
    again = await rgw.create(key, prompt="p", routing={"compare": ["fake-a", "fake-b"]})
    assert again.status_code == 402
    assert len((await rgw.client.get("/v1/videos", headers=auth(key))).json()["data"]) == 2
    # The first take fits, the second does not: the message counts the balance before the compare
    # (the first take's hold is rolled back with it), not the balance after the first take.
    short = rgw.new_key(credits=2)
    refused = await rgw.create(short, prompt="p", size="64x64", routing={"compare": ["fake-a", "fake-b"]})
    assert refused.status_code == 402 and refused.json()["error"]["code"] == "insufficient_credits"
    assert refused.json()["error"]["message"] == (
        "this compare's 2 takes cost 3 credits in all but only 2 are available (0 held by running jobs)"
    )
    assert rgw.balance(short).held_mc == 0
    dup = await rgw.create(key, prompt="p", routing={"compare": ["fake-a", "fake-a"]})
    assert dup.status_code == 400 and dup.json()["error"]["code"] == "invalid_routing"
    for v in body["data"]:
        await rgw.client.post(f"/v1/videos/{v['id']}/cancel", headers=auth(key))


async def test_estimates_learn_from_measured_runs(rgw: Gateway) -> None:
    key = rgw.new_key()
    body = {"prompt": "p", "model": "fake-b"}
    before = (await rgw.client.post("/v1/routes/explain", json=body, headers=auth(key))).json()["ranked"][0]
    assert before["run_seconds"] == pytest.approx(0.05 * 8 * 4)  # the catalog prior: frames x steps
    video = (await rgw.create(key, **body)).json()
    assert (await rgw.wait(key, video["id"]))["status"] == "completed"
    rgw.state.fleet.invalidate()  # the snapshot is cached for half a second
    after = (await rgw.client.post("/v1/routes/explain", json=body, headers=auth(key))).json()["ranked"][0]
    # The estimate is now the run the worker measured (same frames and steps), not the prior. No
    # bound on how long that run took: a loaded machine may take any time.
    job = rgw.state.jobs.get_any(video["id"])
    assert job is not None and job.params["frames"] * job.params["steps"] == 8 * 4
    assert after["run_seconds"] == pytest.approx(job.result["run_seconds"], abs=0.002)
    assert after["warm"] is True
