"""Every /v1 route needs a valid key; keys are stored hashed and can be revoked."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from gateway.engine.db import api_keys
from gateway.engine.keys import hash_key, revoke_key

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


async def test_keys_are_made_and_listed_as_documented(gw: Gateway) -> None:
    import re

    import billing
    from gateway.engine.keys import create_key, list_keys, lookup

    with gw.state.db.write() as conn:
        one = billing.ensure_account(conn, "keys-one")
        two = billing.ensure_account(conn, "keys-two")
        first = create_key(conn, one, "laptop")
        second = create_key(conn, one, None)
        theirs = create_key(conn, two, "ci")
    # 256 random bits, url-safe; ids are key_ + 16 hex; the listed prefix is the first 10 characters
    assert re.fullmatch(r"fg-[A-Za-z0-9_-]{43}", first.secret) and re.fullmatch(r"key_[0-9a-f]{16}", first.id)
    assert first.prefix == first.secret[:10]
    with gw.state.db.read() as conn:
        mine = list_keys(conn, one)
        everyone = list_keys(conn)
    assert [(k["id"], k["name"], k["prefix"]) for k in mine] == [
        (first.id, "laptop", first.prefix),
        (second.id, None, second.prefix),
    ]
    assert {k["id"] for k in everyone} >= {first.id, second.id, theirs.id}
    assert [k["id"] for k in everyone] == sorted(
        (k["id"] for k in everyone), key=lambda i: next(e["created_at"] for e in everyone if e["id"] == i)
    )
    found = lookup(gw.state.db, first.secret)
    assert found is not None and (found.account_id, found.key_id) == (one, first.id)
    account = (await gw.client.get("/v1/account", headers=auth(first.secret))).json()
    assert account["key"]["id"] == first.id


@pytest.mark.parametrize(
    ("header", "code", "words"),
    [
        (None, "missing_api_key", "Authorization: Bearer <key>"),
        ("Basic dXNlcjpwYXNz", "invalid_api_key", "must be 'Bearer <key>'"),
        ("Bearer ", "invalid_api_key", "must be 'Bearer <key>'"),
        ("Bearer fg-not-a-key", "invalid_api_key", "invalid or revoked"),
    ],
)
async def test_auth_errors_say_what_to_send(gw: Gateway, header: str | None, code: str, words: str) -> None:
    headers = {"Authorization": header} if header is not None else {}
    answer = await gw.client.get("/v1/videos", headers=headers)
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == code and words in answer.json()["error"]["message"]


async def test_the_scheme_is_case_insensitive_and_extra_spaces_are_forgiven(gw: Gateway) -> None:
    key = gw.new_key()
    for header in (f"bearer {key}", f"BEARER {key}", f"Bearer  {key} "):
        assert (await gw.client.get("/v1/videos", headers={"Authorization": header})).status_code == 200
