"""The shapes family's rules through the API (an untrained build, registered like user weights)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from local_models.video import read_frames

from ..fixtures.tiny_models import build_tiny
from ..support import FAKE_CONFIG, Gateway, auth, make_settings, png_bytes, running_gateway


@pytest.fixture(scope="module")
def untrained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("weights") / "shapes-untrained"
    build_tiny("shapes", path, seed=1)
    return path


@pytest.fixture
async def sgw(tmp_path: Path, models_dir: Path, untrained: Path) -> AsyncIterator[Gateway]:
    config = (
        FAKE_CONFIG
        + f"""
[[models]]
id = "my-shapes"
family = "shapes"
weights = "{untrained}"
default_steps = 2
"""
    )
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite'}", models_dir, config=config)
    async with running_gateway(settings) as gateway:
        yield gateway


async def test_rules_are_published(sgw: Gateway) -> None:
    key = sgw.new_key()
    model = (await sgw.client.get("/v1/models/my-shapes", headers=auth(key))).json()
    assert model["modes"] == ["i2v", "t2v"]
    assert model["sizes"]["allowed"] == ["32x32", "64x64", "128x128", "256x256", "512x512"]
    assert model["frames"]["rule"] == "7k+1 from 8 to 29" and model["fps"] == 8
    assert model["negative_prompt"] is False


async def test_upsampled_clip_records_it(sgw: Gateway, tmp_path: Path) -> None:
    key = sgw.new_key()
    video = (
        await sgw.create(key, prompt="a red circle moving right", model="my-shapes", size="64x64")
    ).json()
    done = await sgw.wait(key, video["id"])
    assert done["status"] == "completed" and done["upsampled_from"] == "32x32"
    content = await sgw.client.get(f"/v1/videos/{video['id']}/content", headers=auth(key))
    (tmp_path / "a.mp4").write_bytes(content.content)
    frames, fps = read_frames(tmp_path / "a.mp4")
    assert frames.shape == (8, 64, 64, 3) and fps == 8
    native = (await sgw.create(key, prompt="a red circle", model="my-shapes", size="32x32")).json()
    assert (await sgw.wait(key, native["id"]))["upsampled_from"] is None


async def test_longer_clips_chain_and_i2v_works(sgw: Gateway, tmp_path: Path) -> None:
    key = sgw.new_key()
    response = await sgw.client.post(
        "/v1/videos",
        headers=auth(key),
        data={"prompt": "move it left", "model": "my-shapes", "seconds": "2"},
        files={"input_reference": ("a.png", png_bytes(40, 40), "image/png")},
    )
    assert response.status_code == 200, response.text
    assert response.json()["frames"] == 15 and response.json()["mode"] == "i2v"
    done = await sgw.wait(key, response.json()["id"])
    assert done["status"] == "completed"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"size": "100x100"}, "unsupported_size"),
        ({"size": "64x32"}, "unsupported_size"),
        ({"seconds": "10"}, "unsupported_seconds"),
        ({"frames": 9}, "unsupported_frames"),
        ({"negative_prompt": "blurry"}, "unsupported_negative_prompt"),
    ],
)
async def test_rule_violations(sgw: Gateway, body: dict, code: str) -> None:
    key = sgw.new_key()
    response = await sgw.create(key, prompt="a red circle", model="my-shapes", **body)
    assert response.status_code == 400 and response.json()["error"]["code"] == code


async def test_what_the_model_will_ignore_is_said_before_the_spend(sgw: Gateway) -> None:
    key = sgw.new_key()
    created = await sgw.create(
        key, prompt="a cat on a red background", model="my-shapes", size="128x128", seconds=2
    )
    assert created.status_code == 200, created.text
    warnings = {w["code"]: w for w in created.json()["warnings"]}
    assert warnings["ignored_terms"]["terms"] == ["cat", "red background"]
    assert "32x32" in warnings["upsampled"]["message"]
    assert "8 frames" in warnings["beyond_trained_length"]["message"]
    header = created.headers["framegate-warning"]
    assert "ignored_terms" in header and "upsampled" in header and "beyond_trained_length" in header
    # A request in the model's own words, at its defaults, hears nothing.
    clean = await sgw.create(key, prompt="a big red circle moving slowly right", model="my-shapes")
    assert "warnings" not in clean.json() and "framegate-warning" not in clean.headers
    await sgw.wait(key, created.json()["id"])
    await sgw.wait(key, clean.json()["id"])


async def test_the_capability_guard_can_refuse(tmp_path: Path, models_dir: Path, untrained: Path) -> None:
    config = FAKE_CONFIG + f'\n[[models]]\nid = "my-shapes"\nfamily = "shapes"\nweights = "{untrained}"\n'
    settings = make_settings(
        tmp_path, f"sqlite:///{tmp_path / 'db.sqlite'}", models_dir, config=config, capability_guard="block"
    )
    async with running_gateway(settings) as gw:
        key = gw.new_key(credits=10)
        refused = await gw.create(key, prompt="a dog jumping", model="my-shapes")
        assert refused.status_code == 400 and refused.json()["error"]["code"] == "ignored_terms"
        assert "'dog'" in refused.json()["error"]["message"]
        assert gw.balance(key).available_mc == 10_000
