"""Prometheus metrics a gateway operator relies on."""

from __future__ import annotations

import asyncio
import time

from prometheus_client.parser import text_string_to_metric_families

import billing

from ..support import Gateway, auth


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return out


async def test_job_and_request_metrics(gw: Gateway) -> None:
    key = gw.new_key()
    video = (await gw.create(key, prompt="p", model="fake-video")).json()
    await gw.wait(key, video["id"])
    gw.state.adapters["fake"].behaviour.fail = "permanent"  # type: ignore[attr-defined]
    failed = (await gw.create(key, prompt="p", model="fake-video")).json()
    await gw.wait(key, failed["id"])

    # Metrics come from the job events, sent just after the commits the API already shows.
    finished = ("framegate_jobs_finished_total", frozenset({("model", "fake-video"), ("outcome", "failed")}))
    deadline = time.monotonic() + 60
    while True:
        text = (await gw.client.get("/metrics")).text
        values = samples(text)
        if values.get(finished) == 1 or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.02)
    assert values[("framegate_jobs_submitted_total", frozenset({("model", "fake-video")}))] == 2
    assert (
        values[
            ("framegate_jobs_finished_total", frozenset({("model", "fake-video"), ("outcome", "completed")}))
        ]
        == 1
    )
    assert (
        values[("framegate_jobs_finished_total", frozenset({("model", "fake-video"), ("outcome", "failed")}))]
        == 1
    )
    assert values[("framegate_job_run_seconds_count", frozenset({("model", "fake-video")}))] == 1
    assert 'le="1200.0"' in text
    assert values[("framegate_queue_depth", frozenset())] == 0
    route_labels = {
        dict(labels).get("route")
        for (name, labels) in values
        if name == "framegate_http_request_duration_seconds_count"
    }
    assert "/v1/videos/{video_id}" in route_labels and "/v1/videos" in route_labels
    assert not any(video["id"] in (label or "") for label in route_labels)
    model = frozenset({("model", "fake-video")})
    assert values[("framegate_credits_reserved_total", model)] == 2.0
    assert values[("framegate_credits_captured_total", model)] == 1.0
    assert values[("framegate_credits_released_total", model)] == 1.0
    assert values[("framegate_usage_video_seconds_total", model)] == 1.0
    assert not any(key in text for key in (auth(key)["Authorization"][7:], "acct_"))
    # The event loop's lag is sampled all along (20 times a second).
    assert values[("framegate_event_loop_lag_seconds_count", frozenset())] > 0


async def test_ledger_check_feeds_the_metric(gw: Gateway) -> None:
    from gateway.app import verify_into_metrics

    assert verify_into_metrics(gw.state) == []
    values = samples((await gw.client.get("/metrics")).text)
    assert values[("framegate_ledger_verify_last_success_timestamp_seconds", frozenset())] > 0
    assert values[("framegate_ledger_verify_problems", frozenset())] == 0


async def test_a_hold_that_outlived_its_job_is_released_and_counted(gw: Gateway) -> None:
    """The maintenance sweep voids a reserve whose job is gone, returns the credits and counts them."""
    from gateway.app import _expire_and_sweep
    from gateway.engine.keys import lookup

    key = gw.new_key(credits=10)
    principal = lookup(gw.state.db, key)
    assert principal is not None
    with gw.state.db.write() as conn:
        billing.reserve(conn, principal.account_id, "video_vanished", 1500, model="fake-video")
    assert gw.balance(key).available_mc == 8500
    _expire_and_sweep(gw.state)
    assert gw.balance(key).available_mc == 10_000
    values = samples((await gw.client.get("/metrics")).text)
    assert values[("framegate_credits_released_total", frozenset({("model", "fake-video")}))] == 1.5
