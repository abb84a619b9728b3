"""A quote (and explain) prices exactly what the same body would create, and refuses what it would refuse."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ..support import Gateway, auth, make_settings, png_bytes, running_gateway

CONFIG = """
[backends.fake]
type = "fake"
models = [{ id = "cheap", price_per_second = 0.5 }, { id = "dear", price_per_second = 2.0 }]

[routes]
defaults = { policy = "cheapest" }
keys = { "limited" = { only = ["cheap"] } }
"""


@pytest.fixture
async def qgw(tmp_path: Path, database_url: str, models_dir: Path) -> AsyncIterator[Gateway]:
    async with running_gateway(make_settings(tmp_path, database_url, models_dir, config=CONFIG)) as gateway:
        yield gateway


async def test_a_compare_is_quoted_as_it_is_created(qgw: Gateway) -> None:
    key = qgw.new_key(credits=100)
    body = {"prompt": "a red square", "seconds": 2, "routing": {"compare": ["cheap", "dear"]}}
    quote = await qgw.client.post("/v1/quotes", json=body, headers=auth(key))
    assert quote.status_code == 200, quote.text
    assert [q["model"] for q in quote.json()["data"]] == ["cheap", "dear"]
    created = await qgw.client.post("/v1/videos", json=body, headers=auth(key))
    assert created.status_code == 200
    held = sum(v["quoted_cost"] for v in created.json()["data"])
    assert (
        quote.json()["total"]
        == pytest.approx(held)
        == pytest.approx(100 - qgw.balance(key).available_mc / 1000)
    )

    explain = await qgw.client.post("/v1/routes/explain", json=body, headers=auth(key))
    assert explain.status_code == 200
    assert {r["model"] for r in explain.json()["ranked"]} == {"cheap", "dear"}


@pytest.mark.parametrize(
    "extra, code, param",
    [
        ({"routing": {"compare": ["cheap", "cheap"]}}, "invalid_routing", "routing.compare"),
        ({"models": ["cheap", "cheap"]}, "invalid_parameter", "models"),
        ({"models": ["cheap"], "model": "dear"}, "invalid_parameter", "models"),
        ({"models": ["cheap"], "routing": {"compare": ["dear"]}}, "invalid_parameter", "models"),
        ({"project": "proj_nobody"}, "project_not_found", "project"),
        ({"negative_prompt": "n" * 5000}, "negative_prompt_too_long", "negative_prompt"),
        ({"seconds": True}, "invalid_parameter", "seconds"),
        ({"routing": '{"policy": "fastest"}'}, "invalid_parameter", "routing"),
    ],
)
async def test_quotes_refuse_what_a_create_refuses(qgw: Gateway, extra: dict, code: str, param: str) -> None:
    key = qgw.new_key()
    response = await qgw.client.post("/v1/quotes", json={"prompt": "p", **extra}, headers=auth(key))
    assert response.status_code in (400, 404), response.text
    assert (response.json()["error"]["code"], response.json()["error"]["param"]) == (code, param)


async def test_t2v_with_an_image_is_a_contradiction(qgw: Gateway) -> None:
    import base64

    key = qgw.new_key()
    image = "data:image/png;base64," + base64.b64encode(png_bytes()).decode()
    response = await qgw.client.post(
        "/v1/quotes",
        json={"prompt": "p", "mode": "t2v", "input_reference": {"image_url": image}},
        headers=auth(key),
    )
    assert response.status_code == 400 and response.json()["error"]["param"] == "mode"


async def test_takes_follow_the_keys_routing_defaults(qgw: Gateway) -> None:
    """A key limited to ``cheap`` by its routing defaults cannot render a take on ``dear``."""
    from gateway.engine.keys import lookup

    key = qgw.new_key(credits=100)
    principal = lookup(qgw.state.db, key)
    assert principal is not None
    qgw.state.service._key_routing[principal.key_id] = qgw.state.service._key_routing["limited"]
    project = (await qgw.client.post("/v1/projects", json={"name": "p"}, headers=auth(key))).json()
    shot = (
        await qgw.client.post(
            f"/v1/projects/{project['id']}/shots", json={"prompt": "a red square"}, headers=auth(key)
        )
    ).json()
    refused = await qgw.client.post(
        f"/v1/shots/{shot['id']}/takes", json={"models": ["dear"]}, headers=auth(key)
    )
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "no_model_available"
    twice = await qgw.client.post(
        f"/v1/shots/{shot['id']}/takes", json={"models": ["cheap", "cheap"]}, headers=auth(key)
    )
    assert twice.status_code == 400 and twice.json()["error"]["param"] == "models"
    ok = await qgw.client.post(f"/v1/shots/{shot['id']}/takes", json={"models": ["cheap"]}, headers=auth(key))
    assert ok.status_code == 200, ok.text
