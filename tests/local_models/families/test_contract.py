"""The contract every model family passes, through the gateway API with tiny random weights:
its rules are published and enforced, t2v/i2v make clips of exactly the frames and size asked
for, a seed reproduces a clip, progress reaches 100, and sound is muxed where the model makes it."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from local_models.video import probe, read_frames

from ...support import Gateway, auth, png_bytes
from .tiny import TINY_MODELS, TinyModel

CASES = [pytest.param(m, mode, id=f"{m.id}-{mode}") for m in TINY_MODELS for mode in m.modes]
MODELS = [pytest.param(m, id=m.id) for m in TINY_MODELS]


async def create(gw: Gateway, key: str, model: TinyModel, mode: str, **fields: Any) -> httpx.Response:
    data = {"prompt": "a red circle moving right", "model": model.id, "size": model.size, **fields}
    form = {k: str(v) for k, v in data.items()}
    files = None
    if mode == "i2v":
        # Wider than the clip, so the family's crop-and-resize to its grid is exercised.
        files = {"input_reference": ("first.png", png_bytes(96, 40, (220, 40, 40)), "image/png")}
    return await gw.client.post("/v1/videos", headers=auth(key), data=form, files=files)


async def finish(
    gw: Gateway, key: str, video_id: str, tmp_path: Path
) -> tuple[dict[str, Any], np.ndarray, Path]:
    seen: list[int] = []
    for _ in range(3000):
        body = (await gw.client.get(f"/v1/videos/{video_id}", headers=auth(key))).json()
        seen.append(body["progress"])
        if body["status"] in ("completed", "failed"):
            break
        await asyncio.sleep(0.02)
    assert body["status"] == "completed", body
    assert seen == sorted(seen) and seen[-1] == 100
    content = await gw.client.get(f"/v1/videos/{video_id}/content", headers=auth(key))
    assert content.status_code == 200 and content.headers["content-type"] == "video/mp4"
    path = tmp_path / f"{video_id}.mp4"
    path.write_bytes(content.content)
    frames, _ = read_frames(path)
    return body, frames, path


@pytest.mark.parametrize(("model", "mode"), CASES)
async def test_generates_exactly_what_was_asked(
    fgw: Gateway, model: TinyModel, mode: str, tmp_path: Path
) -> None:
    key = fgw.new_key(credits=1000)
    spec = (await fgw.client.get(f"/v1/models/{model.id}", headers=auth(key))).json()
    frames = spec["frames"]["min"]
    first = await create(fgw, key, model, mode, frames=frames, seed=7)
    assert first.status_code == 200, first.text
    assert first.json()["mode"] == mode and first.json()["frames"] == frames
    body, clip, path = await finish(fgw, key, first.json()["id"], tmp_path)
    width, height = (int(v) for v in model.size.split("x"))
    assert clip.shape == (frames, height, width, 3)
    assert body["size"] == model.size and body["seed"] == 7 and body["fps"] == spec["fps"]
    info = probe(path)
    assert info.video_codec == "h264" and info.pix_fmt == "yuv420p"
    assert (info.audio_codec == "aac") is model.audio and body["audio"] is model.audio

    again = await create(fgw, key, model, mode, frames=frames, seed=7)
    _, same, _ = await finish(fgw, key, again.json()["id"], tmp_path)
    assert np.array_equal(clip, same), "the same seed must reproduce the clip"


@pytest.mark.parametrize("model", MODELS)
async def test_rules_are_published_and_enforced(fgw: Gateway, model: TinyModel) -> None:
    key = fgw.new_key(credits=1000)
    spec = (await fgw.client.get(f"/v1/models/{model.id}", headers=auth(key))).json()
    assert sorted(spec["modes"]) == sorted(model.modes) and spec["audio"] is model.audio
    rule = spec["frames"]
    if rule["multiple"] > 1:
        bad = await create(fgw, key, model, model.modes[0], frames=rule["min"] + 1)
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "unsupported_frames"
        assert rule["rule"] in bad.json()["error"]["message"]
    multiple = spec["sizes"]["multiple"]
    odd = f"{multiple * 2 + multiple // 2}x{multiple * 2}"
    bad = await create(fgw, key, model, model.modes[0], size=odd)
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "unsupported_size"
    assert f"multiples of {multiple}" in bad.json()["error"]["message"]
    missing = next((m for m in ("t2v", "i2v") if m not in model.modes), None)
    if missing is not None:
        bad = await create(fgw, key, model, missing)
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "unsupported_mode"
    if not model.audio:
        bad = await create(fgw, key, model, model.modes[0], audio="true")
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "unsupported_audio"
    assert fgw.balance(key).held_mc == 0  # nothing refused was held


async def test_audio_can_be_turned_off(fgw: Gateway, tmp_path: Path) -> None:
    model = next(m for m in TINY_MODELS if m.audio)
    key = fgw.new_key(credits=1000)
    response = await create(fgw, key, model, "t2v", audio="false", seed=1)
    body, _, path = await finish(fgw, key, response.json()["id"], tmp_path)
    assert body["audio"] is False and probe(path).audio_codec is None
