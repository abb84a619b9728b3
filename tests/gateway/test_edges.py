"""What enters at the edges: another tenant through the dashboard, malformed and hostile bodies on every
JSON route, forms that must follow the API's rules, secrets kept out of URLs, headers on every page.
Each case was a 500, a silent acceptance or a cross-tenant effect before; all run on both databases."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ..support import (
    FAKE_CONFIG,
    Gateway,
    auth,
    dashboard_login,
    make_settings,
    png_bytes,
    running_gateway,
)
from .test_bad_input import data_url

SLOW_CONFIG = FAKE_CONFIG.replace('type = "fake"', 'type = "fake"\nstep_seconds = 0.1')
DEEP = b'{"a":' * 10_000 + b"1" + b"}" * 10_000


@pytest.fixture
async def slow_gw(tmp_path: Path, database_url: str, models_dir: Path) -> AsyncIterator[Gateway]:
    settings = make_settings(tmp_path, database_url, models_dir, config=SLOW_CONFIG)
    async with running_gateway(settings) as gateway:
        yield gateway


async def _running(gw: Gateway, key: str) -> str:
    video = (await gw.create(key, prompt="a long one", model="fake-video", seconds=4)).json()
    for _ in range(500):
        body = (await gw.client.get(f"/v1/videos/{video['id']}", headers=auth(key))).json()
        if body["status"] == "in_progress":
            return str(video["id"])
        await asyncio.sleep(0.02)
    raise AssertionError(f"{video['id']} never started")


async def test_the_dashboard_cannot_cancel_another_accounts_job(slow_gw: Gateway) -> None:
    gw = slow_gw
    owner, intruder = gw.new_key(credits=50), gw.new_key(credits=50)
    video_id = await _running(gw, owner)
    async with httpx.AsyncClient(transport=gw.client._transport, base_url="http://testserver") as browser:
        csrf = await dashboard_login(browser, intruder)
        answer = await browser.post(f"/jobs/{video_id}/cancel", data={"csrf": csrf})
    assert answer.status_code == 303
    assert "error" in httpx.URL(answer.headers["location"]).params
    assert "flash" not in httpx.URL(answer.headers["location"]).params
    done = await gw.wait(owner, video_id)
    assert done["status"] == "completed" and done["error"] is None
    assert gw.balance(owner).balance_mc == 50_000 - round(done["cost"] * 1000)


async def test_the_api_cannot_cancel_or_delete_another_accounts_job(slow_gw: Gateway) -> None:
    gw = slow_gw
    owner, intruder = gw.new_key(credits=50), gw.new_key(credits=50)
    video_id = await _running(gw, owner)
    for method, path in (("POST", f"/v1/videos/{video_id}/cancel"), ("DELETE", f"/v1/videos/{video_id}")):
        answer = await gw.client.request(method, path, headers=auth(intruder))
        assert answer.status_code == 404 and answer.json()["error"]["code"] == "video_not_found"
    assert (await gw.wait(owner, video_id))["status"] == "completed"


def _hostile_json_routes(ids: dict[str, str]) -> list[tuple[str, str]]:
    return [
        ("POST", "/v1/videos"),
        ("POST", "/v1/quotes"),
        ("POST", "/v1/projects"),
        ("POST", "/v1/prompts/analyze"),
        ("POST", "/v1/prompts/optimize"),
        ("POST", "/v1/billing/checkout"),
        ("POST", f"/v1/projects/{ids['project']}/shots"),
        ("PATCH", f"/v1/shots/{ids['shot']}"),
        ("POST", f"/v1/shots/{ids['shot']}/takes"),
        ("POST", f"/v1/projects/{ids['project']}/cut"),
        ("POST", f"/v1/projects/{ids['project']}/shots/draft"),
    ]


async def _project_and_shot(gw: Gateway, key: str) -> dict[str, str]:
    project = (await gw.client.post("/v1/projects", json={"name": "p"}, headers=auth(key))).json()
    shot = (
        await gw.client.post(
            f"/v1/projects/{project['id']}/shots", json={"prompt": "a red ball"}, headers=auth(key)
        )
    ).json()
    return {"project": project["id"], "shot": shot["id"]}


RAW_BODIES = [
    ("nested 10,000 deep", DEEP, "invalid_json"),
    ("4,301-digit integer", b'{"seed": ' + b"9" * 4301 + b"}", "invalid_json"),
    ("NaN", b'{"budget": NaN}', "invalid_json"),
    ("lone surrogate", b'{"prompt": "a \\ud800 b", "name": "\\ud800"}', "invalid_parameter"),
    ("NUL byte", b'{"prompt": "a\\u0000b", "name": "a\\u0000b"}', "invalid_parameter"),
    ("integer past 64 bits", b'{"seed": 18446744073709551617}', "invalid_parameter"),
    ("number past a double", b'{"budget": 1e400}', "invalid_parameter"),
]


@pytest.mark.parametrize(("case", "raw", "code"), RAW_BODIES, ids=[c[0] for c in RAW_BODIES])
async def test_hostile_json_on_every_json_route(gw: Gateway, case: str, raw: bytes, code: str) -> None:
    key = gw.new_key(credits=10)
    ids = await _project_and_shot(gw, key)
    for method, path in _hostile_json_routes(ids):
        answer = await gw.client.request(
            method, path, content=raw, headers={**auth(key), "content-type": "application/json"}
        )
        assert answer.status_code == 400, (path, answer.text)
        assert answer.json()["error"]["code"] == code, (path, answer.text)
    assert gw.balance(key).held_mc == 0


FIELD_CASES: list[tuple[str, str, dict[str, Any], str]] = [
    ("superscript size", "video", {"prompt": "p", "model": "fake-video", "size": "²x²"}, "invalid_size"),
    (
        "arabic-indic size",
        "video",
        {"prompt": "p", "model": "fake-video", "size": "\u0661\u0662\u0668x\u0661\u0662\u0668"},
        "invalid_size",
    ),
    ("NUL in prompt", "video", {"prompt": "a\x00b", "model": "fake-video"}, "invalid_parameter"),
    ("NUL in project name", "project", {"name": "a\x00b"}, "invalid_parameter"),
    ("huge budget", "project", {"name": "p", "budget": 1e300}, "invalid_parameter"),
    ("NUL in shot prompt", "shot", {"prompt": "a\x00b"}, "invalid_parameter"),
    ("position 2^31", "shot", {"prompt": "p", "position": 2**31}, "invalid_parameter"),
    ("position 2^63-1", "shot", {"prompt": "p", "position": 2**63 - 1}, "invalid_parameter"),
    ("superscript shot size", "shot", {"prompt": "p", "size": "²x²"}, "invalid_size"),
    ("null prompt", "patch", {"prompt": None}, "invalid_parameter"),
    ("null position", "patch", {"position": None}, "invalid_parameter"),
    ("huge cut", "cut", {"size": "99998x99998"}, "unsupported_size"),
    ("16k cut", "cut", {"size": "16000x16000"}, "unsupported_size"),
]


@pytest.mark.parametrize(("case", "where", "body", "code"), FIELD_CASES, ids=[c[0] for c in FIELD_CASES])
async def test_bad_fields_are_refused_the_same_on_both_databases(
    gw: Gateway, case: str, where: str, body: dict[str, Any], code: str
) -> None:
    key = gw.new_key(credits=10)
    ids = await _project_and_shot(gw, key)
    method, path = {
        "video": ("POST", "/v1/videos"),
        "project": ("POST", "/v1/projects"),
        "shot": ("POST", f"/v1/projects/{ids['project']}/shots"),
        "patch": ("PATCH", f"/v1/shots/{ids['shot']}"),
        "cut": ("POST", f"/v1/projects/{ids['project']}/cut"),
    }[where]
    answer = await gw.client.request(method, path, json=body, headers=auth(key))
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"] == code, answer.text
    listing = (await gw.client.get("/v1/videos", headers=auth(key))).json()
    assert listing["data"] == []
    shot = (await gw.client.get(f"/v1/shots/{ids['shot']}", headers=auth(key))).json()
    assert shot["prompt"] == "a red ball" and shot["position"] == 1


async def test_a_refused_cut_keeps_the_earlier_one(gw: Gateway) -> None:
    key = gw.new_key(credits=50)
    ids = await _project_and_shot(gw, key)
    takes = await gw.client.post(
        f"/v1/shots/{ids['shot']}/takes", json={"models": ["fake-video"]}, headers=auth(key)
    )
    take = takes.json()["data"][0]
    await gw.wait(key, take["video"]["id"])
    assert (await gw.client.post(f"/v1/takes/{take['id']}/winner", headers=auth(key))).status_code == 200
    cut = f"/v1/projects/{ids['project']}/cut"
    assert (await gw.client.post(cut, json={"size": "64x64"}, headers=auth(key))).status_code == 200
    first = await gw.client.get(f"{cut}/content", headers=auth(key))
    assert first.status_code == 200 and first.content[4:8] == b"ftyp"
    refused = await gw.client.post(cut, json={"size": "99998x99998"}, headers=auth(key))
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "unsupported_size"
    again = await gw.client.get(f"{cut}/content", headers=auth(key))
    assert again.status_code == 200 and again.content == first.content


async def test_a_refused_shot_leaves_no_image_behind(gw: Gateway) -> None:
    key = gw.new_key()
    ids = await _project_and_shot(gw, key)
    answer = await gw.client.post(
        f"/v1/projects/{ids['project']}/shots",
        json={"prompt": "p", "position": 2**40, "image_url": data_url(png_bytes())},
        headers=auth(key),
    )
    assert answer.status_code == 400
    inputs = gw.state.settings.artifacts_dir / "inputs"
    assert not inputs.exists() or list(inputs.iterdir()) == []


@pytest.mark.parametrize("value", ["nan", "1e400", "-1", "inf"])
async def test_usage_refuses_times_that_are_not_times(gw: Gateway, value: str) -> None:
    key = gw.new_key()
    answer = await gw.client.get(f"/v1/usage?from={value}", headers=auth(key))
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "invalid_parameter"


@pytest.mark.parametrize(
    "path",
    [
        "/v1/projects/%00",
        "/v1/shots/a%00b",
        "/v1/videos?after=%00",
        "/v1/usage?from=%ff%fe",
        "/v1/videos/%ff%fe",
        "/v1/videos/video_%C3%28/content",
    ],
)
async def test_urls_with_nul_or_broken_utf8_are_refused(gw: Gateway, path: str) -> None:
    key = gw.new_key()
    answer = await gw.client.get(path, headers=auth(key))
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "invalid_url"


FORM_CASES = [
    ("/projects", {"name": "p", "budget": "abc"}),
    ("/projects", {"name": "p", "budget": "inf"}),
    ("/projects", {"name": "p", "budget": "nan"}),
    ("/projects", {"name": "p", "budget": "-5"}),
    ("/projects", {"name": "p", "budget": "1e300"}),
    ("/projects", {"name": "x" * 201}),
    ("shots", {"prompt": "p", "seconds": "abc"}),
    ("shots", {"prompt": "p", "seconds": "nan"}),
    ("shots", {"prompt": "p", "seconds": "-1"}),
    ("shots", {"prompt": "p", "size": "huge"}),
    ("shots", {"prompt": "p", "size": "²x²"}),
]


@pytest.mark.parametrize(("where", "fields"), FORM_CASES)
async def test_dashboard_forms_follow_the_api_rules(gw: Gateway, where: str, fields: dict[str, str]) -> None:
    key = gw.new_key()
    ids = await _project_and_shot(gw, key)
    csrf = await dashboard_login(gw.client, key)
    path = where if where.startswith("/") else f"/projects/{ids['project']}/shots"
    answer = await gw.client.post(path, data={**fields, "csrf": csrf})
    assert answer.status_code == 303, answer.text
    params = httpx.URL(answer.headers["location"]).params
    assert params.get("error") and not params.get("flash"), answer.headers["location"]
    projects = (await gw.client.get("/v1/projects", headers=auth(key))).json()["data"]
    assert [p["id"] for p in projects] == [ids["project"]]
    shots = (await gw.client.get(f"/v1/projects/{ids['project']}/shots", headers=auth(key))).json()["data"]
    assert [s["id"] for s in shots] == [ids["shot"]]


async def test_dashboard_form_with_a_nul_byte_is_a_400(gw: Gateway) -> None:
    key = gw.new_key()
    csrf = await dashboard_login(gw.client, key)
    answer = await gw.client.post("/projects", data={"name": "a\x00b", "csrf": csrf})
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "invalid_parameter"
    assert (await gw.client.get("/v1/projects", headers=auth(key))).json()["data"] == []


async def test_a_new_key_is_shown_once_and_never_in_a_url(gw: Gateway) -> None:
    key = gw.new_key()
    csrf = await dashboard_login(gw.client, key)
    made = await gw.client.post("/keys", data={"name": "laptop", "csrf": csrf})
    assert made.status_code == 303 and "fg-" not in made.headers["location"]
    shown = await gw.client.get(made.headers["location"])
    secret = re.search(r"data-new-key>(fg-[^<]+)<", shown.text)
    assert secret is not None
    assert (await gw.client.get("/v1/videos", headers=auth(secret.group(1)))).status_code == 200
    again = await gw.client.get("/keys")
    assert "data-new-key" not in again.text and secret.group(1) not in again.text
    spoofed = await gw.client.get("/keys?new_key=fg-attacker-chosen")
    assert "fg-attacker-chosen" not in spoofed.text


async def test_security_headers_on_pages_and_api(gw: Gateway) -> None:
    key = gw.new_key()
    for path, headers in (("/login", {}), ("/v1/models", auth(key)), ("/healthz", {})):
        answer = await gw.client.get(path, headers=headers)
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["referrer-policy"] == "no-referrer"
        csp = answer.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp


async def test_metrics_can_require_a_token(tmp_path: Path, models_dir: Path) -> None:
    settings = make_settings(
        tmp_path, f"sqlite:///{tmp_path / 'db.sqlite'}", models_dir, metrics_token="scrape-me"
    )
    async with running_gateway(settings) as gw:
        assert (await gw.client.get("/metrics")).status_code == 401
        wrong = await gw.client.get("/metrics", headers={"authorization": "Bearer nope"})
        assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "invalid_metrics_token"
        right = await gw.client.get("/metrics", headers={"authorization": "Bearer scrape-me"})
        assert right.status_code == 200 and "framegate" in right.text


STRIPE_SECRET = "whsec_edges"


def _signed(payload: Any) -> tuple[bytes, str]:
    import hashlib
    import hmac

    body = json.dumps(payload).encode()
    stamp = int(time.time())
    mac = hmac.new(STRIPE_SECRET.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return body, f"t={stamp},v1={mac}"


@pytest.mark.parametrize(
    "payload",
    [
        [1, 2, 3],
        {"id": "evt_1", "type": "checkout.session.completed"},
        {"id": "evt_2", "type": "checkout.session.completed", "data": {"object": "cs_1"}},
        {"id": "evt_3", "type": "checkout.session.completed", "data": "x"},
        {"id": 7, "type": "checkout.session.completed", "data": {"object": {"id": "cs_1"}}},
        {"id": "evt_\u0000", "type": "x", "data": {"object": {"id": "cs_1"}}},
    ],
    ids=["list", "no data", "object is a string", "data is a string", "numeric id", "NUL id"],
)
async def test_signed_stripe_events_of_the_wrong_shape_are_a_400(
    tmp_path: Path, database_url: str, models_dir: Path, payload: Any
) -> None:
    settings = make_settings(tmp_path, database_url, models_dir, stripe_webhook_secret=STRIPE_SECRET)
    async with running_gateway(settings) as gw:
        body, header = _signed(payload)
        answer = await gw.client.post(
            "/v1/billing/stripe/webhook",
            content=body,
            headers={"stripe-signature": header, "content-type": "application/json"},
        )
        assert answer.status_code == 400, answer.text


@pytest.mark.parametrize("poll", [True, False], ids=["poll", "list"])
async def test_unknown_or_repeated_query_parameters_are_refused_before_the_key(
    gw: Gateway, poll: bool
) -> None:
    """The status poll is served by a plain route ahead of FastAPI's (``videos.POLL_ROUTE``); it
    refuses what every other route refuses, in the same order: the query first, then the key."""
    key = gw.new_key()
    video = (await gw.create(key, prompt="a dot", model="fake-video")).json()
    path = f"/v1/videos/{video['id']}" if poll else "/v1/videos"
    typo = await gw.client.get(f"{path}?limt=5", headers=auth(key))
    assert typo.status_code == 400 and typo.json()["error"] | {"message": ""} == {
        "code": "unknown_parameter",
        "param": "limt",
        "message": "",
        "type": "invalid_request_error",
    }
    no_key = await gw.client.get(f"{path}?limt=5")
    assert no_key.status_code == 400 and no_key.json()["error"]["code"] == "unknown_parameter"
    twice = await gw.client.get(f"{path}?order=asc&order=desc", headers=auth(key))
    assert twice.status_code == 400 and twice.json()["error"]["code"] == "invalid_parameter"
    assert (await gw.client.get(path)).status_code == 401
    wrong_method = await gw.client.put(path, headers=auth(key))
    assert wrong_method.status_code == 405 and wrong_method.json()["error"]["code"]
    assert (await gw.client.head(path, headers=auth(key))).status_code == 405  # GET only, as documented
    fine = await gw.client.get(path, headers=auth(key))
    assert fine.status_code == 200
