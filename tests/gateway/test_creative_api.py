"""Prompt help, quality checks on any clip and on every take, and the regeneration guard."""

from __future__ import annotations

import asyncio
import contextlib
import io
import random
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from gateway.creative import analyze_prompt, wants_motion
from local_models.shapes.vocab import Attributes
from local_models.video import encode_mp4
from tools.shapes.data import render_clips, sample_specs, to_uint8

from ..support import Gateway, auth, make_settings, running_gateway

ARTICLE_EXAMPLE = (
    "dense pine forest, morning mist at ground level, shafts of light through the canopy; "
    "slow dolly forward along the forest floor, camera at knee height; quiet, slightly eerie, "
    "no wind; the mist thickens gradually toward the end of the clip"
)


@pytest.mark.parametrize(
    ("prompt", "codes"),
    [
        ("forest", {"missing_motion", "missing_mood", "missing_temporal_arc"}),
        ("slowly drifting toward the end, quiet and eerie", {"missing_scene"}),
        ("a dog runs across a beach, the waves roll in, gradually the sun sets", {"missing_mood"}),
        ("a calm lake at dawn, mist over the water, gradually brightening", {"missing_motion"}),
        ("a tense street at night, a car drives past", {"missing_temporal_arc"}),
        ("Cinematic sunset, mountains, 4k, epic", {"keyword_list", "missing_motion", "missing_temporal_arc"}),
        (
            "a man, a woman, a dog, a cat and a horse walk through a quiet park, then it rains",
            {"too_many_subjects"},
        ),
        (ARTICLE_EXAMPLE, set()),
    ],
)
def test_each_rule(prompt: str, codes: set[str]) -> None:
    assert {w["code"] for w in analyze_prompt(prompt).warnings} == codes


def test_camera_moves_are_found() -> None:
    analysis = analyze_prompt("handheld tracking shot, then a whip pan and a rack focus onto the candle")
    assert {"handheld", "rack focus", "tracking", "whip pan"} <= set(analysis.camera)
    assert wants_motion("slow dolly forward") is True
    assert wants_motion("a still life of apples, static shot") is False
    assert wants_motion("a bowl of apples") is None


async def test_analyze_endpoint(gw: Gateway) -> None:
    key = gw.new_key()
    body = (
        await gw.client.post("/v1/prompts/analyze", json={"prompt": ARTICLE_EXAMPLE}, headers=auth(key))
    ).json()
    assert body["object"] == "prompt.analysis" and body["layers_present"] == 4 and body["warnings"] == []
    assert body["layers"]["motion"]["camera"] == ["dolly"]
    bare = (await gw.client.post("/v1/prompts/analyze", json={"prompt": "forest"}, headers=auth(key))).json()
    assert {w["code"] for w in bare["warnings"]} >= {"missing_motion"}
    assert all(w["suggestion"] for w in bare["warnings"])
    assert (await gw.client.post("/v1/prompts/analyze", json={}, headers=auth(key))).status_code == 400


def _clip(tmp_path: Path, frames: np.ndarray) -> bytes:
    path = tmp_path / "upload.mp4"
    encode_mp4(frames, 8, path)
    return path.read_bytes()


async def test_qc_endpoint_flags(gw: Gateway, tmp_path: Path) -> None:
    key = gw.new_key()
    attrs = Attributes("red", "circle", "right", "quickly", "gray", None)
    moving = to_uint8(
        render_clips(sample_specs([attrs], random.Random(1), frames=8, size=32), frames=8, size=32)
    )[0]
    moving = np.repeat(np.repeat(moving, 4, axis=1), 4, axis=2)  # 128x128, like a displayed take

    async def qc(frames: np.ndarray, **fields: str) -> dict:
        response = await gw.client.post(
            "/v1/qc",
            headers=auth(key),
            data=fields,
            files={"file": ("c.mp4", io.BytesIO(_clip(tmp_path, frames)), "video/mp4")},
        )
        assert response.status_code == 200, response.text
        return dict(response.json())

    good = await qc(
        moving, prompt="a red circle moving right quickly on a gray background", model="shapes-fast"
    )
    assert good["passed"] and good["flags"] == [] and good["frames"] == 8 and good["width"] == 128
    frozen = await qc(np.repeat(moving[:1], 8, axis=0), prompt="a red circle moving right")
    assert {f["code"] for f in frozen["flags"]} == {"frozen", "low_motion"}
    assert "moving right" in next(f["message"] for f in frozen["flags"] if f["code"] == "low_motion")
    flicker = moving.astype(int)
    flicker[::2] += 70
    assert "flicker" in {f["code"] for f in (await qc(np.clip(flicker, 0, 255).astype(np.uint8)))["flags"]}
    blank = moving.copy()
    blank[3:5] = 0
    assert "blank_frames" in {f["code"] for f in (await qc(blank))["flags"]}
    off = await qc(moving, prompt="a blue square moving left on a gray background", model="shapes-fast")
    assert "off_prompt" in {f["code"] for f in off["flags"]} and off["adherence"]["passed"] is False
    not_video = await gw.client.post(
        "/v1/qc", headers=auth(key), files={"file": ("x.mp4", b"nope", "video/mp4")}
    )
    assert not_video.status_code == 400 and not_video.json()["error"]["code"] == "invalid_video"
    missing = await gw.client.post("/v1/qc", headers=auth(key), data={"prompt": "x"})
    assert missing.status_code == 400


async def test_every_take_gets_qc(gw: Gateway) -> None:
    key = gw.new_key()
    video = (await gw.create(key, prompt="a square moving right", model="fake-video")).json()
    done = await gw.wait(key, video["id"])
    assert done["status"] == "completed"  # the clip does not wait for its checks
    done = await gw.wait_qc(key, video["id"])
    assert set(done["qc"]["scores"]) >= {"temporal_consistency", "flicker", "motion", "frozen_fraction"}
    assert done["qc"]["scores"]["motion"] > 0


async def test_regeneration_guard_warns_then_can_block(tmp_path: Path, models_dir: Path) -> None:
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite'}", models_dir)
    async with running_gateway(settings) as gw:
        key = gw.new_key(credits=50)
        # Case, spacing, punctuation, articles and word order are cosmetic: the same prompt each time.
        cosmetic = [
            "A red  circle, moving right!",
            "moving right, the red circle",
            "a red circle moving right",
        ]
        for prompt in cosmetic:
            response = await gw.create(key, prompt=prompt, model="fake-video")
            assert "warnings" not in response.json() and "framegate-warning" not in response.headers
            change = response.json().get("prompt_change")
            assert change is None or change["changed_layers"] == []
        fourth = await gw.create(key, prompt="Moving right: a red circle.", model="fake-video")
        assert fourth.status_code == 200 and fourth.headers["framegate-warning"] == "unchanged_prompt"
        assert fourth.json()["warnings"][0]["code"] == "unchanged_prompt"
        changed = await gw.create(key, prompt="a red circle moving right, gloomy", model="fake-video")
        assert "warnings" not in changed.json()
        assert changed.json()["prompt_change"] == {
            "previous_video_id": fourth.json()["id"],
            "changed_layers": ["mood"],
        }
        # A deleted video is never the previous one (it cannot be opened), but it still counts as a run.
        await gw.wait(key, changed.json()["id"])
        gone = await gw.client.delete(f"/v1/videos/{changed.json()['id']}", headers=auth(key))
        assert gone.status_code == 200
        after = await gw.create(key, prompt="a red circle moving right, cheerful", model="fake-video")
        assert after.json()["prompt_change"]["previous_video_id"] == fourth.json()["id"]
    (tmp_path / "b").mkdir()
    blocking = make_settings(
        tmp_path / "b", f"sqlite:///{tmp_path / 'b.sqlite'}", models_dir, regeneration_guard="block"
    )
    async with running_gateway(blocking) as gw:
        key = gw.new_key(credits=50)
        for _ in range(3):
            await gw.create(key, prompt="same", model="fake-video")
        refused = await gw.create(key, prompt="same", model="fake-video")
        assert refused.status_code == 409 and refused.json()["error"]["code"] == "unchanged_prompt"
        assert gw.balance(key).balance_mc - gw.balance(key).held_mc == 47_000


async def test_the_prompt_refusal_comes_before_the_balance_one(
    tmp_path: Path, database_url: str, models_dir: Path
) -> None:
    """In block mode an unchanged prompt is refused as such even when the credits have run out too:
    buying credits would not have let it through."""
    settings = make_settings(tmp_path, database_url, models_dir, regeneration_guard="block")
    async with running_gateway(settings) as gw:
        key = gw.new_key(credits=3)  # three fake-video jobs' worth
        for _ in range(3):
            assert (await gw.create(key, prompt="same", model="fake-video")).status_code == 200
        refused = await gw.create(key, prompt="same", model="fake-video")
        assert refused.status_code == 409 and refused.json()["error"]["code"] == "unchanged_prompt"
        broke = await gw.create(key, prompt="something else entirely", model="fake-video")
        assert broke.status_code == 402 and broke.json()["error"]["code"] == "insufficient_credits"


async def test_a_speed_change_is_a_motion_change(tmp_path: Path, models_dir: Path) -> None:
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite'}", models_dir, workers=0)
    async with running_gateway(settings) as gw:
        key = gw.new_key(credits=10)
        layers = []
        for prompt in (
            "a red circle moving down slowly",
            "a red circle moving down quickly",
            "a big red circle moving down quickly",
        ):
            made = (await gw.create(key, prompt=prompt, model="fake-video")).json()
            layers.append(made.get("prompt_change", {}).get("changed_layers"))
        assert layers == [None, ["motion"], ["other"]]


async def test_a_long_history_is_counted_to_a_hundred_and_the_last_video_still_found(
    tmp_path: Path, database_url: str, models_dir: Path
) -> None:
    """The guard's count stops at 100 (it runs under the account's lock, so it must not grow with the
    account's history), and says so; the previous video is still the newest one."""
    settings = make_settings(tmp_path, database_url, models_dir, workers=0)
    async with running_gateway(settings) as gw:
        key = gw.new_key(credits=200)
        messages = []
        for _ in range(102):
            video = (await gw.create(key, prompt="same", model="fake-video")).json()
            messages.append(video["warnings"][0]["message"] if "warnings" in video else None)
        assert messages[:3] == [None, None, None]
        assert "generated 3 times" in messages[3]
        assert "generated 99 times" in messages[99]
        assert "generated 100 or more times" in messages[100] and "100 or more times" in messages[101]
        other = (await gw.create(key, prompt="same, at dusk", model="fake-video")).json()
        assert other["prompt_change"]["previous_video_id"] == video["id"]


@contextlib.asynccontextmanager
async def _capped(tmp_path: Path, models_dir: Path, **overrides: Any) -> AsyncIterator[tuple[Gateway, str]]:
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite'}", models_dir, **overrides)
    async with running_gateway(settings) as gw:
        yield gw, gw.new_key()


@contextlib.contextmanager
def _no_decoding(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Containers may be opened (metadata), never decoded: a decode records itself and fails."""
    decoded: list[str] = []
    real_open = av.open

    class Undecodable:
        def __init__(self, container: Any) -> None:
            self.container = container

        def __getattr__(self, name: str) -> Any:
            return getattr(self.container, name)

        def __enter__(self) -> Undecodable:
            return self

        def __exit__(self, *exc: object) -> None:
            self.container.close()

        def decode(self, *args: Any, **kwargs: Any) -> Any:
            decoded.append("decode")
            raise AssertionError("the clip was decoded although its metadata refuses it")

    with monkeypatch.context() as patch:
        patch.setattr(av, "open", lambda *a, **k: Undecodable(real_open(*a, **k)))
        yield decoded


async def _post_clip(gw: Gateway, key: str, data: bytes) -> Any:
    return await gw.client.post(
        "/v1/qc", headers=auth(key), files={"file": ("c.mp4", io.BytesIO(data), "video/mp4")}
    )


async def test_qc_refuses_a_long_clip_from_its_metadata(
    tmp_path: Path, models_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    frames = np.zeros((60, 64, 64, 3), dtype=np.uint8)
    frames[:, :, :32] = np.arange(60, dtype=np.uint8)[:, None, None, None] * 4
    async with _capped(tmp_path, models_dir, qc_max_frames=50) as (gw, key):
        with _no_decoding(monkeypatch) as decoded:
            refused = await _post_clip(gw, key, _clip(tmp_path, frames))
        assert refused.status_code == 400, refused.text
        assert refused.json()["error"]["code"] == "video_too_long"
        assert (
            refused.json()["error"]["param"] == "file" and "60 frames" in refused.json()["error"]["message"]
        )
        assert decoded == [], "refused before a single frame was decoded"
        at_cap = await _post_clip(gw, key, _clip(tmp_path, frames[:50]))
        assert at_cap.status_code == 200 and at_cap.json()["frames"] == 50


async def test_qc_refuses_a_clip_over_the_pixel_cap(
    tmp_path: Path, models_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    frames = np.full((4, 320, 400, 3), 90, dtype=np.uint8)
    async with _capped(tmp_path, models_dir, qc_max_pixels=320 * 320) as (gw, key):
        with _no_decoding(monkeypatch) as decoded:
            refused = await _post_clip(gw, key, _clip(tmp_path, frames))
        assert refused.status_code == 413, refused.text
        assert (
            refused.json()["error"]["code"] == "video_too_large"
            and refused.json()["error"]["param"] == "file"
        )
        assert decoded == []
        fits = await _post_clip(gw, key, _clip(tmp_path, frames[:, :, :320]))
        body = fits.json()
        assert fits.status_code == 200 and (body["width"], body["height"], body["frames"]) == (320, 320, 4)


async def test_qc_oversized_body_is_413(tmp_path: Path, models_dir: Path) -> None:
    async with _capped(tmp_path, models_dir, max_body_bytes=64_000) as (gw, key):
        declared = await _post_clip(gw, key, b"\x00" * 70_000)
        assert declared.status_code == 413 and declared.json()["error"]["code"] == "request_too_large"

        async def chunks() -> AsyncIterator[
            bytes
        ]:  # no content-length: the limit is enforced while streaming
            yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="c.mp4"\r\n\r\n'
            for _ in range(10):
                yield b"\x00" * 10_000
            yield b"\r\n--b--\r\n"

        streamed = await gw.client.post(
            "/v1/qc",
            content=chunks(),
            headers={**auth(key), "content-type": "multipart/form-data; boundary=b"},
        )
        assert streamed.status_code == 413, streamed.text
        assert streamed.json()["error"]["code"] == "request_too_large"


async def test_a_take_over_the_qc_caps_gets_no_qc(
    tmp_path: Path, models_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with _capped(tmp_path, models_dir, qc_max_frames=1) as (gw, key):
        video = (await gw.create(key, prompt="a square moving right", model="fake-video")).json()
        done = await gw.wait(key, video["id"])
        assert done["status"] == "completed"
        for _ in range(500):
            if "no quality checks for" in caplog.text:
                break
            await asyncio.sleep(0.02)
        assert f"no quality checks for {video['id']}" in caplog.text and "video_too_long" in caplog.text
        assert (await gw.wait(key, video["id"]))["qc"] is None
