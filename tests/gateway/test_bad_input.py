"""Every bad input gets a 4xx with a machine-readable code, and nothing is stored or charged."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from ..support import Gateway, auth, make_settings, png_bytes, png_header_only, running_gateway

BIG_IMAGE = png_bytes(4200, 4100)  # 17.2M pixels: over the default 16.7M cap, under Pillow's own


def data_url(raw: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(raw).decode()


JSON_CASES: list[tuple[str, Any, int, str]] = [
    ("missing prompt", {"model": "fake-video"}, 400, "missing_prompt"),
    ("empty prompt", {"prompt": "   ", "model": "fake-video"}, 400, "missing_prompt"),
    ("prompt too long", {"prompt": "x" * 4001, "model": "fake-video"}, 400, "prompt_too_long"),
    ("prompt not a string", {"prompt": 12, "model": "fake-video"}, 400, "invalid_parameter"),
    ("unknown model", {"prompt": "p", "model": "sora-9"}, 400, "model_not_found"),
    ("malformed size", {"prompt": "p", "model": "fake-video", "size": "big"}, 400, "invalid_size"),
    ("unsupported size", {"prompt": "p", "model": "wan-tiny", "size": "100x100"}, 400, "unsupported_size"),
    ("size too large", {"prompt": "p", "model": "wan-tiny", "size": "1280x720"}, 400, "unsupported_size"),
    ("seconds too long", {"prompt": "p", "model": "wan-tiny", "seconds": "12"}, 400, "unsupported_seconds"),
    (
        "seconds not a number",
        {"prompt": "p", "model": "fake-video", "seconds": "four"},
        400,
        "invalid_parameter",
    ),
    ("negative seconds", {"prompt": "p", "model": "fake-video", "seconds": -1}, 400, "invalid_parameter"),
    ("frames break the rule", {"prompt": "p", "model": "wan-tiny", "frames": 16}, 400, "unsupported_frames"),
    ("bad seed", {"prompt": "p", "model": "fake-video", "seed": -5}, 400, "invalid_seed"),
    ("too many steps", {"prompt": "p", "model": "fake-video", "steps": 100000}, 400, "invalid_steps"),
    ("unknown parameter", {"prompt": "p", "model": "fake-video", "sead": 1}, 400, "unknown_parameter"),
    (
        "i2v on a t2v model",
        {"prompt": "p", "model": "wan-tiny", "input_reference": {"image_url": data_url(png_bytes())}},
        400,
        "unsupported_mode",
    ),
    (
        "remote image url",
        {"prompt": "p", "model": "fake-video", "input_reference": {"image_url": "http://10.0.0.1/x.png"}},
        400,
        "forbidden_address",
    ),
    (
        "image is not an image",
        {
            "prompt": "p",
            "model": "fake-video",
            "input_reference": {"image_url": data_url(b"hello, not a png")},
        },
        400,
        "invalid_image",
    ),
    (
        "truncated png",
        {
            "prompt": "p",
            "model": "fake-video",
            "input_reference": {"image_url": data_url(png_bytes(64, 64)[:60])},
        },
        400,
        "invalid_image",
    ),
    (
        "bad base64",
        {"prompt": "p", "model": "fake-video", "input_reference": {"image_url": "data:image/png;base64,@@@"}},
        400,
        "invalid_image",
    ),
    (
        "decompression bomb",
        {
            "prompt": "p",
            "model": "fake-video",
            "input_reference": {"image_url": data_url(png_header_only(40000, 40000))},
        },
        413,
        "image_too_large",
    ),
    (
        "image over the pixel cap",
        {"prompt": "p", "model": "fake-video", "input_reference": {"image_url": data_url(BIG_IMAGE)}},
        413,
        "image_too_large",
    ),
    (
        "file ids",
        {"prompt": "p", "model": "fake-video", "input_reference": {"file_id": "file_1"}},
        400,
        "unsupported_file_id",
    ),
]


async def assert_nothing_happened(gw: Gateway, key: str, credits_mc: int) -> None:
    listing = await gw.client.get("/v1/videos", headers=auth(key))
    assert listing.json()["data"] == []
    balance = gw.balance(key)
    assert (balance.balance_mc, balance.held_mc) == (credits_mc, 0)
    inputs = list((gw.state.settings.artifacts_dir / "inputs").iterdir())
    assert inputs == []


@pytest.mark.parametrize(("case", "body", "status", "code"), JSON_CASES, ids=[c[0] for c in JSON_CASES])
async def test_bad_json_create(gw: Gateway, case: str, body: Any, status: int, code: str) -> None:
    key = gw.new_key(credits=10)
    response = await gw.create(key, **body)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]
    await assert_nothing_happened(gw, key, 10_000)


@pytest.mark.parametrize(
    ("fields", "files", "code"),
    [
        ({"model": "fake-video"}, None, "missing_prompt"),
        ({"prompt": "p", "model": "fake-video", "seconds": "x"}, None, "invalid_parameter"),
        (
            {"prompt": "p", "model": "fake-video"},
            {"input_reference": ("a.txt", b"text", "text/plain")},
            "invalid_image",
        ),
        (
            {"prompt": "p", "model": "fake-video"},
            {"input_reference": ("bomb.png", png_header_only(40000, 40000), "image/png")},
            "image_too_large",
        ),
        (
            {"prompt": "p", "model": "fake-video"},
            {"other": ("a.png", png_bytes(), "image/png")},
            "unknown_parameter",
        ),
    ],
    ids=["missing prompt", "bad seconds", "text file", "bomb", "unexpected file"],
)
async def test_bad_multipart_create(gw: Gateway, fields: dict[str, str], files: Any, code: str) -> None:
    key = gw.new_key(credits=10)
    response = await gw.client.post("/v1/videos", headers=auth(key), data=fields, files=files)
    assert 400 <= response.status_code < 500, response.text
    assert response.json()["error"]["code"] == code
    await assert_nothing_happened(gw, key, 10_000)


async def test_malformed_json(gw: Gateway) -> None:
    key = gw.new_key()
    for raw in (b"{not json", b"[1, 2]", b"\xff\xfe"):
        response = await gw.client.post(
            "/v1/videos", content=raw, headers={**auth(key), "content-type": "application/json"}
        )
        assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_json"


async def test_wrong_content_type(gw: Gateway) -> None:
    key = gw.new_key()
    response = await gw.client.post(
        "/v1/videos", content=b"prompt=hi", headers={**auth(key), "content-type": "text/plain"}
    )
    assert response.status_code == 415 and response.json()["error"]["code"] == "unsupported_media_type"
    response = await gw.client.post("/v1/videos", content=b"prompt=hi", headers=auth(key))
    assert response.status_code == 415


async def test_oversized_body(tmp_path: Path, models_dir: Path) -> None:
    settings = make_settings(
        tmp_path, f"sqlite:///{tmp_path / 'db.sqlite'}", models_dir, max_body_bytes=64_000
    )
    async with running_gateway(settings) as gw:
        key = gw.new_key(credits=10)
        response = await gw.create(key, prompt="x" * 70_000, model="fake-video")
        assert response.status_code == 413 and response.json()["error"]["code"] == "request_too_large"

        async def chunks():  # no content-length: the limit is enforced while streaming
            for _ in range(10):
                yield b"a" * 10_000

        response = await gw.client.post(
            "/v1/videos", content=chunks(), headers={**auth(key), "content-type": "application/json"}
        )
        assert response.status_code == 413
        await assert_nothing_happened(gw, key, 10_000)


@pytest.mark.parametrize(
    "path",
    [
        "/v1/videos/video_00000000000000000000000000ff",
        "/v1/videos/nope",
        "/v1/videos/..%2F..%2Fetc%2Fpasswd",
        "/v1/videos/..%2F..%2Fetc%2Fpasswd/content",
        "/v1/videos/video_..%2Finputs/content",
        "/v1/videos/%00/content",
    ],
)
async def test_unknown_and_malicious_ids(gw: Gateway, path: str) -> None:
    key = gw.new_key()
    response = await gw.client.get(path, headers=auth(key))
    if "%00" in path:  # refused before routing: no id can hold a NUL
        assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_url"
        return
    assert response.status_code == 404
    assert response.json()["error"]["code"] in ("video_not_found", "not_found")


async def test_bad_variant(gw: Gateway) -> None:
    key = gw.new_key()
    video = (await gw.create(key, prompt="p", model="fake-video")).json()
    await gw.wait(key, video["id"])
    response = await gw.client.get(f"/v1/videos/{video['id']}/content?variant=../../etc", headers=auth(key))
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_variant"


async def test_bad_list_params(gw: Gateway) -> None:
    key = gw.new_key()
    for query in ("limit=0", "limit=1000", "order=sideways", "after=../x"):
        response = await gw.client.get(f"/v1/videos?{query}", headers=auth(key))
        assert response.status_code == 400, query
        assert response.json()["error"]["code"] in ("invalid_request", "invalid_cursor")


async def test_errors_come_in_the_same_order_whatever_the_body_holds(gw: Gateway) -> None:
    """The prompt is checked before the size, and a reused Idempotency-Key before either: a body with
    several problems names the same one every time."""
    key = gw.new_key()
    empty = await gw.create(key, prompt="", size="abc", model="fake-video")
    assert (empty.status_code, empty.json()["error"]["code"]) == (400, "missing_prompt")
    bad_size = await gw.create(key, prompt="p", size="abc", model="fake-video")
    assert (bad_size.json()["error"]["code"], bad_size.json()["error"]["param"]) == ("invalid_size", "size")
    headers = {**auth(key), "Idempotency-Key": "order-check-1"}
    first = await gw.client.post("/v1/videos", json={"prompt": "p", "model": "fake-video"}, headers=headers)
    assert first.status_code == 200
    reused = await gw.client.post(
        "/v1/videos", json={"prompt": "other", "size": "abc", "model": "fake-video"}, headers=headers
    )
    assert (reused.status_code, reused.json()["error"]["code"]) == (409, "idempotency_key_reused")
