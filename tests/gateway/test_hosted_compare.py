"""One shot, side by side on a local shapes model and a hosted (fake fal) model: through the official SDK
and through the shots API, with quality checks on both takes; routing explains hosted exclusions."""

from __future__ import annotations

import asyncio
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fake_providers.common import API_KEY, Script, serve
from tests.fake_providers.fal import fal_app

from ..support import Gateway, auth, live_server, make_settings, require_module, running_gateway

openai = require_module("openai")
warnings.filterwarnings("ignore", category=DeprecationWarning)


def config(url: str, extra: str = "") -> str:
    return f"""
[backends.fal]
type = "fal"
url = "{url}"
api_key = "{API_KEY}"
poll_seconds = 0.05

[[backends.fal.models]]
id = "kling-fake"
target = "fal-ai/kling-video/v2/master/text-to-video"
sizes = ["64x64", "128x128"]
seconds = [1, 2]
fps = 8
quality = 0.95
eta_seconds = 1
price = {{ per_clip = 2, sizes = {{ "128x128" = 4 }} }}
{extra}
"""


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """Routing and compare do not depend on the database; the shot takes test runs on both."""
    return f"sqlite:///{tmp_path / 'framegate.db'}"


@pytest.fixture
def fal() -> Iterator[tuple[str, Script]]:
    script = Script(run_polls=1)
    with serve(fal_app(script)) as url:
        yield url, script


def test_sdk_compare_runs_the_same_shot_locally_and_at_the_provider(
    fal: tuple[str, Script], tmp_path: Path, sqlite_url: str, models_dir: Path
) -> None:
    url, script = fal
    settings = make_settings(tmp_path, sqlite_url, models_dir, config=config(url))
    with live_server(settings) as (base, app):
        import billing
        from gateway.engine.keys import create_key

        with app.state.fg.db.write() as conn:
            account = billing.ensure_account(conn, "ab")
            billing.grant(conn, account, billing.millicredits(50))
            key = create_key(conn, account).secret
        client = openai.OpenAI(base_url=f"{base}/v1", api_key=key)
        raw = client.videos.with_raw_response.create(
            prompt="a red circle moving right",
            size="64x64",
            seconds="1",  # type: ignore[arg-type]
            extra_body={"routing": {"compare": ["shapes-fast", "kling-fake"]}},
        )
        ids = [v["id"] for v in raw.http_response.json()["data"]]
        deadline = time.monotonic() + 60
        videos = [client.videos.retrieve(i) for i in ids]
        while any(v.status != "completed" or not (v.model_extra or {}).get("qc") for v in videos):
            assert time.monotonic() < deadline, videos
            assert all(v.status != "failed" for v in videos), videos
            time.sleep(0.1)
            videos = [client.videos.retrieve(i) for i in ids]
        local, hosted = videos
        assert (local.model, hosted.model) == ("shapes-fast", "kling-fake")
        assert (local.model_extra or {})["backend"] == "local" and (hosted.model_extra or {})[
            "backend"
        ] == "fal"
        assert (hosted.model_extra or {})["cost"] == 2.0  # per clip: 64x64 has no size tier
        for v in videos:
            assert (v.model_extra or {})["qc"]["scores"] is not None
            out = tmp_path / f"{v.id}.mp4"
            client.videos.download_content(v.id).write_to_file(out)
            assert out.stat().st_size > 0
        assert script.submits == 1


async def test_shot_takes_mix_local_and_hosted_models_and_show_where_each_ran(
    fal: tuple[str, Script], tmp_path: Path, database_url: str, models_dir: Path
) -> None:
    url, _ = fal
    settings = make_settings(tmp_path, database_url, models_dir, config=config(url))
    async with running_gateway(settings) as gw:
        key = gw.new_key(credits=50)
        h = auth(key)
        project = (await gw.client.post("/v1/projects", json={"name": "Hybrid"}, headers=h)).json()
        shot = (
            await gw.client.post(
                f"/v1/projects/{project['id']}/shots",
                headers=h,
                json={"prompt": "a white ball moving left", "size": "128x128", "seconds": 2},
            )
        ).json()
        response = await gw.client.post(
            f"/v1/shots/{shot['id']}/takes", headers=h, json={"models": ["shapes-fast", "kling-fake"]}
        )
        assert response.status_code == 200, response.text
        takes = response.json()["data"]
        assert [(t["model"], t["backend"]) for t in takes] == [
            ("shapes-fast", "local"),
            ("kling-fake", "fal"),
        ]
        for t in takes:
            done = await gw.wait_qc(key, t["video"]["id"])
            assert done["status"] == "completed" and done["qc"]["scores"] is not None
        assert takes[1]["quoted_cost"] == 2 + 4 * 2  # per clip + the 128x128 tier for 2 s
        listing = (await gw.client.get(f"/v1/shots/{shot['id']}", headers=h)).json()
        assert {t["backend"] for t in listing["takes"]} == {"local", "fal"}
        page = await _dashboard_project(gw, key, project["id"])
        assert "on fal" in page and "on local" in page


async def _dashboard_project(gw: Gateway, key: str, project_id: str) -> str:
    from ..support import dashboard_login

    await dashboard_login(gw.client, key)
    return (await gw.client.get(f"/projects/{project_id}")).text


async def test_routing_explains_why_a_hosted_model_is_left_out_and_accepts_provider_names(
    fal: tuple[str, Script], tmp_path: Path, sqlite_url: str, models_dir: Path
) -> None:
    url, _ = fal
    async with running_gateway(make_settings(tmp_path, sqlite_url, models_dir, config=config(url))) as gw:
        key = gw.new_key(credits=50)
        h = auth(key)
        body = {
            "prompt": "a red circle",
            "size": "64x64",
            "seconds": 3,
            "routing": {"only": ["fal", "shapes-fast"]},
        }
        explain = (await gw.client.post("/v1/routes/explain", json=body, headers=h)).json()
        [left_out] = [e for e in explain["excluded"] if e["model"] == "kling-fake"]
        assert left_out["code"] == "unsupported_seconds" and "1, 2 seconds" in left_out["reason"]
        assert [r["model"] for r in explain["ranked"]] == ["shapes-fast"]
        # "fal" (the provider) in routing.only picks the hosted model; in routing.ignore it leaves it out.
        only = {**body, "seconds": 1, "routing": {"only": ["fal"]}}
        assert (await gw.create(key, **only)).json()["model"] == "kling-fake"
        ignore = {**body, "seconds": 1, "routing": {"ignore": ["fal"], "policy": "quality"}}
        assert (await gw.create(key, **ignore)).json()["model"] != "kling-fake"
        model = (await gw.client.get("/v1/models/kling-fake", headers=h)).json()
        assert model["seconds_allowed"] == [1.0, 2.0] and model["provider"] == "fal"
        assert model["fixed_parameters"] == ["fps", "guidance", "steps"]
        assert model["price"]["credits_per_clip"] == 2 and model["price"]["credits_per_second_by_size"] == {
            "128x128": 4
        }
        steps = await gw.create(key, prompt="a red circle", model="kling-fake", seconds=1, steps=20)
        assert steps.status_code == 400 and steps.json()["error"]["code"] == "unsupported_parameter"


async def test_a_key_barred_from_a_provider_cannot_use_it(
    fal: tuple[str, Script], tmp_path: Path, sqlite_url: str, models_dir: Path
) -> None:
    url, script = fal
    settings = make_settings(tmp_path, sqlite_url, models_dir, config=config(url))
    async with running_gateway(settings) as gw:
        key = gw.new_key(credits=50)
        from gateway.engine.keys import lookup

        principal = lookup(gw.state.db, key)
        assert principal is not None
        key_id = principal.key_id
    barred = config(url, extra=f'\n[routes]\nallow = {{ "{key_id}" = ["local"] }}\n')
    async with running_gateway(make_settings(tmp_path, sqlite_url, models_dir, config=barred)) as gw:
        refused = await gw.create(key, prompt="a red circle", model="kling-fake", seconds=1)
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"]["code"] == "model_not_allowed"
        assert "allow-list" in refused.json()["error"]["message"]
        auto = await gw.create(
            key, prompt="a red circle", size="64x64", routing={"only": ["fal", "shapes-fast"]}
        )
        assert auto.json()["model"] == "shapes-fast"
        other = gw.new_key(credits=10)  # another key is not barred
        assert (
            await gw.create(other, prompt="a red circle", model="kling-fake", seconds=1)
        ).status_code == 200
    assert script.submits <= 1


async def test_a_busy_local_gpu_sends_auto_requests_to_the_provider(
    fal: tuple[str, Script], tmp_path: Path, sqlite_url: str, models_dir: Path
) -> None:
    url, _ = fal
    busy = config(
        url,
        extra='\n[backends.gpu]\ntype = "fake"\nstep_seconds = 0.5\n'
        'models = [{ id = "fake-slow", price_per_second = 0.5 }]\n',
    )
    busy = busy.replace("eta_seconds = 1", "eta_seconds = 5")
    async with running_gateway(make_settings(tmp_path, sqlite_url, models_dir, config=busy)) as gw:
        key = gw.new_key(credits=100)
        auto = {
            "prompt": "a red circle",
            "size": "64x64",
            "seconds": 1,
            "routing": {"policy": "fastest", "only": ["fake-slow", "fal"]},
        }
        idle = (await gw.client.post("/v1/routes/explain", json=auto, headers=auth(key))).json()
        assert idle["ranked"][0]["model"] == "fake-slow"  # idle: the local GPU is quicker than the provider
        for _ in range(5):
            assert (
                await gw.create(key, prompt="queued locally", model="fake-slow", size="64x64")
            ).status_code == 200
        await asyncio.sleep(0.6)  # the fleet's snapshot is refreshed twice a second
        explained = (await gw.client.post("/v1/routes/explain", json=auto, headers=auth(key))).json()
        first, second = explained["ranked"][:2]
        assert first["model"] == "kling-fake" and second["model"] == "fake-slow"
        assert second["eta_seconds"] > first["eta_seconds"]
        assert (await gw.create(key, **auto)).json()["backend"] == "fal"


async def test_a_failing_local_model_falls_back_to_the_provider_billed_at_its_price(
    fal: tuple[str, Script], tmp_path: Path, sqlite_url: str, models_dir: Path
) -> None:
    url, script = fal
    broken = config(
        url,
        extra='\n[backends.gpu]\ntype = "fake"\nfail = "transient"\n'
        'models = [{ id = "local-broken", price_per_second = 0.5 }]\n\n'
        '[routes]\nfallbacks = { "local-broken" = ["kling-fake"] }\n',
    )
    async with running_gateway(make_settings(tmp_path, sqlite_url, models_dir, config=broken)) as gw:
        key = gw.new_key(credits=10)
        created = await gw.create(key, prompt="a red circle", model="local-broken", size="64x64", seconds=1)
        assert created.json()["quoted_cost"] == 0.5  # quoted and held at the local price first
        done = await gw.wait(key, created.json()["id"])
        assert done["status"] == "completed", done
        assert (done["model"], done["backend"], done["cost"]) == ("kling-fake", "fal", 2.0)
        assert gw.balance(key).available_mc == 8_000 and script.submits == 1
