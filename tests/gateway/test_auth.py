"""Every /v1 route needs a valid key; keys are stored hashed and can be revoked."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from gateway.auth import revoke_key
from gateway.db import api_keys

from ..support import Gateway, auth

ROUTES = [
    ("GET", "/v1/videos"),
    ("POST", "/v1/videos"),
    ("GET", "/v1/models"),
    ("GET", "/v1/videos/video_00000000000000000000000000ff"),
    ("GET", "/v1/videos/video_00000000000000000000000000ff/content"),
    ("DELETE", "/v1/videos/video_00000000000000000000000000ff"),
    ("POST", "/v1/videos/video_00000000000000000000000000ff/cancel"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_routes_need_a_key(gw: Gateway, method: str, path: str) -> None:
    missing = await gw.client.request(method, path)
    assert missing.status_code == 401 and missing.json()["error"]["code"] == "missing_api_key"
    wrong = await gw.client.request(method, path, headers=auth("fg-not-a-real-key"))
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "invalid_api_key"
    basic = await gw.client.request(method, path, headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert basic.status_code == 401


async def test_keys_are_hashed_at_rest(gw: Gateway) -> None:
    key = gw.new_key()
    with gw.state.db.read() as conn:
        stored = [tuple(row) for row in conn.execute(select(api_keys))]
    assert stored and all(key not in str(value) for row in stored for value in row)


async def test_revoked_key_is_refused(gw: Gateway) -> None:
    key = gw.new_key()
    assert (await gw.client.get("/v1/videos", headers=auth(key))).status_code == 200
    gw.state.keys.clear()  # as another process would see it once the short cache expires
    with gw.state.db.write() as conn:
        key_id = conn.execute(select(api_keys.c.id)).scalars().all()
        for kid in key_id:
            revoke_key(conn, kid)
    gw.state.keys.clear()
    response = await gw.client.get("/v1/videos", headers=auth(key))
    assert response.status_code == 401 and response.json()["error"]["code"] == "invalid_api_key"


async def test_health_endpoints_are_open(gw: Gateway) -> None:
    assert (await gw.client.get("/healthz")).json() == {"status": "ok"}
    ready = await gw.client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
