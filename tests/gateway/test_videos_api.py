"""The OpenAI Videos contract through the real app, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import base64
import io

import numpy as np
from PIL import Image

from local_models.video import probe, read_frames

from ..support import Gateway, auth, png_bytes

OPENAI_FIELDS = {
    "id",
    "object",
    "created_at",
    "completed_at",
    "model",
    "status",
    "progress",
    "seconds",
    "size",
    "prompt",
    "error",
}


async def test_json_create_then_poll_then_download(gw: Gateway, tmp_path) -> None:
    key = gw.new_key(credits=10)
    created = await gw.create(
        key, prompt="a red circle moving right", model="fake-video", seconds="2", size="64x48", seed=7
    )
    assert created.status_code == 200, created.text
    body = created.json()
    assert body.keys() >= OPENAI_FIELDS
    assert body["object"] == "video"
    assert body["status"] == "queued"
    assert body["id"].startswith("video_")
    assert body["model"] == "fake-video"
    assert body["seconds"] == "2" and body["size"] == "64x48"
    assert body["backend"] == "fake" and body["seed"] == 7
    assert body["frames"] == 16 and body["fps"] == 8
    # 2 s at 1 credit/s, scaled by pixels: 64x48 is 3/4 of the model's base 64x64.
    assert body["quoted_cost"] == 1.5 and body["cost"] is None
    assert int(created.headers["openai-poll-after-ms"]) > 0

    done = await gw.wait(key, body["id"])
    assert done["status"] == "completed", done
    assert done["progress"] == 100 and done["error"] is None
    assert done["completed_at"] >= done["created_at"]
    assert done["cost"] == 1.5

    content = await gw.client.get(f"/v1/videos/{body['id']}/content", headers=auth(key))
    assert content.status_code == 200
    assert content.headers["content-type"] == "video/mp4"
    path = tmp_path / "clip.mp4"
    path.write_bytes(content.content)
    info = probe(path)
    assert (info.video_codec, info.pix_fmt) == ("h264", "yuv420p")
    frames, fps = read_frames(path)
    assert frames.shape == (16, 48, 64, 3) and fps == 8

    thumb = await gw.client.get(f"/v1/videos/{body['id']}/content?variant=thumbnail", headers=auth(key))
    assert thumb.headers["content-type"] == "image/webp"
    assert Image.open(io.BytesIO(thumb.content)).size == (64, 48)
    sheet = await gw.client.get(
        f"/v1/videos/{body['id']}/content", params={"variant": "spritesheet"}, headers=auth(key)
    )
    assert sheet.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(sheet.content)).format == "JPEG"
    balance = gw.balance(key)
    assert (balance.balance_mc, balance.held_mc) == (8500, 0)


async def test_multipart_create_with_image_file(gw: Gateway, tmp_path) -> None:
    key = gw.new_key()
    response = await gw.client.post(
        "/v1/videos",
        headers=auth(key),
        data={"prompt": "slide the red frame", "model": "fake-video", "seconds": "1", "size": "32x32"},
        files={"input_reference": ("first.png", png_bytes(50, 40, (250, 0, 0)), "image/png")},
    )
    assert response.status_code == 200, response.text
    assert response.json()["mode"] == "i2v"
    done = await gw.wait(key, response.json()["id"])
    assert done["status"] == "completed"
    content = await gw.client.get(f"/v1/videos/{done['id']}/content", headers=auth(key))
    path = tmp_path / "i2v.mp4"
    path.write_bytes(content.content)
    frames, _ = read_frames(path)
    # The fake makes the (resized) image the first frame: it is red everywhere.
    first = frames[0].astype(int)
    assert first[..., 0].mean() > 200 and first[..., 1].mean() < 40


async def test_multipart_image_as_data_url_field(gw: Gateway) -> None:
    key = gw.new_key()
    data_url = "data:image/png;base64," + base64.b64encode(png_bytes()).decode()
    response = await gw.client.post(
        "/v1/videos",
        headers=auth(key),
        data={"prompt": "p", "model": "fake-video", "input_reference[image_url]": data_url},
    )
    assert response.status_code == 200, response.text
    assert response.json()["mode"] == "i2v"


async def test_json_image_reference(gw: Gateway) -> None:
    key = gw.new_key()
    data_url = "data:image/png;base64," + base64.b64encode(png_bytes()).decode()
    response = await gw.create(key, prompt="p", model="fake-video", input_reference={"image_url": data_url})
    assert response.status_code == 200, response.text
    assert response.json()["mode"] == "i2v"


async def test_seconds_as_number_and_defaults(gw: Gateway) -> None:
    key = gw.new_key()
    response = await gw.create(key, prompt="p", model="fake-video", seconds=1.5)
    assert response.status_code == 200
    body = response.json()
    assert body["seconds"] == "1.5" and body["frames"] == 12
    default = (await gw.create(key, prompt="p", model="fake-video")).json()
    assert default["seconds"] == "1" and default["size"] == "64x64"


async def test_progress_rises_to_100(gw: Gateway) -> None:
    gw.state.adapters["fake"].behaviour.step_seconds = 0.05  # type: ignore[attr-defined]
    key = gw.new_key()
    video = (await gw.create(key, prompt="p", model="fake-video", steps=20)).json()
    seen = []
    for _ in range(2000):
        body = (await gw.client.get(f"/v1/videos/{video['id']}", headers=auth(key))).json()
        seen.append(body["progress"])
        if body["status"] == "completed":
            break
        await asyncio.sleep(0.01)
    assert seen[-1] == 100
    assert seen == sorted(seen), "progress never goes backwards"
    assert any(0 < p < 100 for p in seen), f"no intermediate progress in {sorted(set(seen))}"


async def test_list_pagination_and_order(gw: Gateway) -> None:
    key = gw.new_key()
    ids = [(await gw.create(key, prompt=f"p{i}", model="fake-video")).json()["id"] for i in range(5)]
    page = (await gw.client.get("/v1/videos?limit=2", headers=auth(key))).json()
    assert page["object"] == "list" and page["has_more"] is True
    assert [v["id"] for v in page["data"]] == ids[::-1][:2]
    rest = (await gw.client.get(f"/v1/videos?limit=10&after={page['last_id']}", headers=auth(key))).json()
    assert [v["id"] for v in rest["data"]] == ids[::-1][2:] and rest["has_more"] is False
    asc = (await gw.client.get("/v1/videos", params={"order": "asc"}, headers=auth(key))).json()
    assert [v["id"] for v in asc["data"]] == ids


async def test_accounts_never_see_each_other(gw: Gateway) -> None:
    alice, bob = gw.new_key(), gw.new_key()
    video = (await gw.create(alice, prompt="mine", model="fake-video")).json()
    for path in (f"/v1/videos/{video['id']}", f"/v1/videos/{video['id']}/content"):
        response = await gw.client.get(path, headers=auth(bob))
        assert response.status_code == 404 and response.json()["error"]["code"] == "video_not_found"
    assert (await gw.client.delete(f"/v1/videos/{video['id']}", headers=auth(bob))).status_code == 404
    assert (await gw.client.post(f"/v1/videos/{video['id']}/cancel", headers=auth(bob))).status_code == 404
    assert (await gw.client.get("/v1/videos", headers=auth(bob))).json()["data"] == []


async def test_cancel_running_job_refunds(gw: Gateway) -> None:
    gw.state.adapters["fake"].behaviour.hang = True  # type: ignore[attr-defined]
    key = gw.new_key(credits=5)
    video = (await gw.create(key, prompt="p", model="fake-video")).json()
    for _ in range(500):
        if (await gw.client.get(f"/v1/videos/{video['id']}", headers=auth(key))).json()[
            "status"
        ] == "in_progress":
            break
        await asyncio.sleep(0.01)
    response = await gw.client.post(f"/v1/videos/{video['id']}/cancel", headers=auth(key))
    assert response.status_code == 200
    done = await gw.wait(key, video["id"])
    assert done["status"] == "failed" and done["error"]["code"] == "cancelled"
    assert done["cost"] == 0
    balance = gw.balance(key)
    assert (balance.balance_mc, balance.held_mc) == (5000, 0)
    again = await gw.client.post(f"/v1/videos/{video['id']}/cancel", headers=auth(key))
    assert again.status_code == 409 and again.json()["error"]["code"] == "video_not_cancellable"


async def test_delete_removes_video(gw: Gateway) -> None:
    key = gw.new_key()
    video = (await gw.create(key, prompt="p", model="fake-video")).json()
    await gw.wait(key, video["id"])
    response = await gw.client.delete(f"/v1/videos/{video['id']}", headers=auth(key))
    assert response.status_code == 200
    assert response.json() == {"id": video["id"], "object": "video.deleted", "deleted": True}
    assert (await gw.client.get(f"/v1/videos/{video['id']}", headers=auth(key))).status_code == 404
    assert gw.state.artifacts.local_path(video["id"], "video") is None


async def test_content_before_completion_is_409(gw: Gateway) -> None:
    gw.state.adapters["fake"].behaviour.hang = True  # type: ignore[attr-defined]
    key = gw.new_key()
    video = (await gw.create(key, prompt="p", model="fake-video")).json()
    response = await gw.client.get(f"/v1/videos/{video['id']}/content", headers=auth(key))
    assert response.status_code == 409 and response.json()["error"]["code"] == "video_not_ready"
    await gw.client.post(f"/v1/videos/{video['id']}/cancel", headers=auth(key))


async def test_models_endpoint_lists_rules_and_prices(gw: Gateway) -> None:
    key = gw.new_key()
    body = (await gw.client.get("/v1/models", headers=auth(key))).json()
    by_id = {m["id"]: m for m in body["data"]}
    wan = by_id["wan-tiny"]
    assert wan["modes"] == ["t2v"]
    assert wan["frames"]["multiple"] == 4 and wan["frames"]["offset"] == 1
    assert wan["sizes"]["multiple"] == 16
    assert wan["price"]["credits_per_second"] > 0
    assert by_id["fake-video"]["modes"] == ["i2v", "t2v"]
    one = await gw.client.get("/v1/models/wan-tiny", headers=auth(key))
    assert one.json()["id"] == "wan-tiny"
    assert (await gw.client.get("/v1/models/nope", headers=auth(key))).status_code == 404


async def test_auto_picks_cheapest_fitting_model(gw: Gateway) -> None:
    key = gw.new_key()
    # Whatever is installed, auto takes the model with the lowest quote for the request.
    models = (await gw.client.get("/v1/models", headers=auth(key))).json()["data"]
    t2v = [m["id"] for m in models if "t2v" in m["modes"] and "64x64" in _sizes(m)]
    quotes = (
        await gw.client.post(
            "/v1/quotes", json={"prompt": "p", "models": t2v, "size": "64x64"}, headers=auth(key)
        )
    ).json()["data"]
    cheapest = min(quotes, key=lambda q: (q["cost"], q["model"]))["model"]
    assert (await gw.create(key, prompt="p", size="64x64")).json()["model"] == cheapest
    # A non-square image-to-video clip: only the fake model can do that.
    response = await gw.client.post(
        "/v1/videos",
        headers=auth(key),
        data={"prompt": "p", "model": "auto", "size": "48x32"},
        files={"input_reference": ("a.png", png_bytes(), "image/png")},
    )
    assert response.json()["model"] == "fake-video"
    # Nothing fits: the error names every model's reason.
    response = await gw.create(key, prompt="p", size="1000x1000")
    assert response.status_code == 400 and response.json()["error"]["code"] == "no_model_available"
    assert "wan-tiny" in response.json()["error"]["message"]


def _sizes(model: dict) -> list[str]:
    sizes = model["sizes"]
    if "allowed" in sizes:
        return list(sizes["allowed"])
    return [f"{w}x{w}" for w in range(sizes["min"], sizes["max"] + 1, sizes["multiple"])]


async def test_wan_tiny_real_pipeline_frames_and_size(gw: Gateway, tmp_path) -> None:
    key = gw.new_key()
    response = await gw.create(
        key, prompt="a blue square moving left", model="wan-tiny", seconds=1, size="96x64", seed=3
    )
    assert response.status_code == 200, response.text
    assert response.json()["frames"] == 17
    done = await gw.wait(key, response.json()["id"])
    assert done["status"] == "completed", done
    content = await gw.client.get(f"/v1/videos/{done['id']}/content", headers=auth(key))
    path = tmp_path / "wan.mp4"
    path.write_bytes(content.content)
    frames, fps = read_frames(path)
    assert frames.shape == (17, 64, 96, 3) and fps == 16
    assert np.ptp(frames) > 0
