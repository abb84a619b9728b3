"""Webhook endpoints refuse bad targets and stay within their account."""

from __future__ import annotations

from pathlib import Path

import pytest

from ..support import Gateway, auth, make_settings, running_gateway


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("not a url", "invalid_url"),
        ("ftp://example.com/hook", "insecure_url"),
        ("http://10.0.0.7/hook", "forbidden_address"),
        ("http://169.254.169.254/latest/meta-data", "forbidden_address"),
        ("http://[::ffff:10.0.0.1]/hook", "forbidden_address"),
        ("http://0.0.0.0:8080/hook", "forbidden_address"),
        ("http://[64:ff9b::a00:1]/hook", "forbidden_address"),  # NAT64 of 10.0.0.1
        ("http://[2002:a00:1::]/hook", "forbidden_address"),  # 6to4 of 10.0.0.1
        ("http://[::10.0.0.1]/hook", "forbidden_address"),  # IPv4-compatible
        ("http://user:pw@127.0.0.1/hook", "invalid_url"),
        ("http://127.0.0.1:99999/hook", "invalid_url"),
        ("http://no-such-host.invalid/hook", "unresolvable_host"),
        ("http://127.0.0.1/" + "a" * 2100, "invalid_url"),
    ],
)
async def test_bad_targets_are_refused(gw: Gateway, url: str, code: str) -> None:
    key = gw.new_key()
    answer = await gw.client.post(
        "/v1/webhook_endpoints",
        json={"url": url, "name": "n", "event_types": ["video.completed"]},
        headers=auth(key),
    )
    assert answer.status_code == 400 and answer.json()["error"]["code"] == code, answer.text
    listed = await gw.client.get("/v1/webhook_endpoints", headers=auth(key))
    assert listed.json()["data"] == []


async def test_https_only_and_no_loopback_by_default(
    tmp_path: Path, database_url: str, models_dir: Path
) -> None:
    settings = make_settings(
        tmp_path, database_url, models_dir, outbound_allow_http=False, outbound_allow_networks=[]
    )
    async with running_gateway(settings) as gw:
        key = gw.new_key()
        for url, code in [
            ("http://example.com/h", "insecure_url"),
            ("https://localhost/h", "forbidden_address"),
        ]:
            answer = await gw.client.post(
                "/v1/webhook_endpoints",
                json={"url": url, "name": "n", "event_types": ["video.failed"]},
                headers=auth(key),
            )
            assert answer.status_code == 400 and answer.json()["error"]["code"] == code, answer.text
        one_off = await gw.client.post(
            "/v1/videos", json={"prompt": "p", "webhook_url": "https://127.0.0.1/h"}, headers=auth(key)
        )
        assert one_off.status_code == 400 and one_off.json()["error"]["code"] == "forbidden_address"
        assert gw.balance(key).held_mc == 0


async def test_event_types_and_other_accounts(gw: Gateway) -> None:
    mine, theirs = gw.new_key(), gw.new_key()
    body = {"url": "http://127.0.0.1:9/h", "name": "n", "event_types": ["video.completed"]}
    for event_types, code in [(["video.exploded"], "unsupported_event_type"), ([], "invalid_parameter")]:
        answer = await gw.client.post(
            "/v1/webhook_endpoints", json={**body, "event_types": event_types}, headers=auth(mine)
        )
        assert answer.status_code == 400 and answer.json()["error"]["code"] == code, answer.text
    created = (await gw.client.post("/v1/webhook_endpoints", json=body, headers=auth(mine))).json()
    path = f"/v1/webhook_endpoints/{created['id']}"
    for method, suffix, payload in [
        ("GET", "", None),
        ("POST", "", {"name": "x"}),
        ("DELETE", "", None),
        ("POST", "/rotate_secret", {}),
        ("POST", "/test", {"event_type": "video.completed"}),
        ("GET", "/deliveries", None),
    ]:
        answer = await gw.client.request(method, path + suffix, json=payload, headers=auth(theirs))
        assert answer.status_code == 404, (method, suffix, answer.text)
    for delivery in ("/v1/webhook_deliveries/wdl_nope", "/v1/webhook_deliveries/wdl_nope/resend"):
        method = "POST" if delivery.endswith("resend") else "GET"
        assert (await gw.client.request(method, delivery, headers=auth(mine))).status_code == 404
    unreachable = await gw.client.post(
        path + "/test", json={"event_type": "video.completed"}, headers=auth(mine)
    )
    assert unreachable.status_code == 400 and unreachable.json()["error"]["code"] == "webhook_unreachable"
    assert "signing_secret" not in (await gw.client.get(path, headers=auth(mine))).json()


async def test_test_says_whether_the_receiver_accepted(gw: Gateway) -> None:
    from ..receiver import receiver

    key = gw.new_key()
    with receiver() as rec:
        rec.fail_first = 1
        body = {"url": rec.url, "name": "n", "event_types": ["video.completed"]}
        created = (await gw.client.post("/v1/webhook_endpoints", json=body, headers=auth(key))).json()
        path = f"/v1/webhook_endpoints/{created['id']}/test"
        first = (await gw.client.post(path, json={"event_type": "video.completed"}, headers=auth(key))).json()
        second = (
            await gw.client.post(path, json={"event_type": "video.completed"}, headers=auth(key))
        ).json()
    assert (first["status_code"], first["success"]) == (500, False)
    assert (second["status_code"], second["success"]) == (200, True)
