"""Every /v1 route needs a valid key; keys are stored hashed and can be revoked."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from gateway.auth import hash_key, revoke_key
from gateway.db import api_keys

from ..support import Gateway, auth, make_settings, running_gateway

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
    """Revoked anywhere (here: a connection of its own, as the CLI or another gateway would), the key
    is refused on the very next request although this process has it cached; other keys still work."""
    key, other = gw.new_key(), gw.new_key()
    for _ in range(2):  # the second request is served from the key cache
        assert (await gw.client.get("/v1/videos", headers=auth(key))).status_code == 200
    assert (await gw.client.get("/v1/videos", headers=auth(other))).status_code == 200
    with gw.state.db.write() as conn:
        key_id = conn.execute(select(api_keys.c.id).where(api_keys.c.key_hash == hash_key(key))).scalar_one()
        assert revoke_key(conn, key_id)
    response = await gw.client.get("/v1/videos", headers=auth(key))
    assert response.status_code == 401 and response.json()["error"]["code"] == "invalid_api_key"
    assert (await gw.client.get("/v1/videos", headers=auth(other))).status_code == 200


async def test_a_key_revoked_through_another_gateway_is_refused_here_at_once(
    tmp_path: Path, database_url: str, models_dir: Path
) -> None:
    """Two gateways on one database, each with its key cache warm: a revoke through one (the CLI's
    code path) is honoured by the other on its next request."""
    first_dir, second_dir = tmp_path / "a", tmp_path / "b"
    first_dir.mkdir()
    second_dir.mkdir()
    async with (
        running_gateway(make_settings(first_dir, database_url, models_dir)) as one,
        running_gateway(make_settings(second_dir, database_url, models_dir)) as two,
    ):
        key = one.new_key()
        for gw in (one, two, one, two):
            assert (await gw.client.get("/v1/videos", headers=auth(key))).status_code == 200
        with two.state.db.write() as conn:
            key_id = conn.execute(
                select(api_keys.c.id).where(api_keys.c.key_hash == hash_key(key))
            ).scalar_one()
            assert revoke_key(conn, key_id)
        for gw in (one, two):
            assert (await gw.client.get("/v1/videos", headers=auth(key))).status_code == 401


async def test_health_endpoints_are_open(gw: Gateway) -> None:
    assert (await gw.client.get("/healthz")).json() == {"status": "ok"}
    ready = await gw.client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
