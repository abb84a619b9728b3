"""The official ``openai`` SDK, unchanged, against the gateway on a real loopback port."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from local_models.video import probe, read_frames

from ..support import live_server, make_settings, png_gradient, require_module

openai = require_module("openai")
warnings.filterwarnings("ignore", category=DeprecationWarning)


@pytest.fixture
def server(tmp_path: Path, database_url: str, models_dir: Path) -> Iterator[tuple[str, str]]:
    settings = make_settings(tmp_path, database_url, models_dir)
    with live_server(settings) as (url, app):
        import billing
        from gateway.engine.keys import create_key

        with app.state.fg.db.write() as conn:
            account = billing.ensure_account(conn, "sdk")
            billing.grant(conn, account, billing.millicredits(50))
            key = create_key(conn, account).secret
        yield url, key


def test_create_and_poll_then_download(server: tuple[str, str], tmp_path: Path) -> None:
    url, key = server
    client = openai.OpenAI(base_url=f"{url}/v1", api_key=key)
    video = client.videos.create_and_poll(model="wan-tiny", prompt="a red circle moving right")
    assert video.status == "completed", video
    assert video.progress == 100 and video.model == "wan-tiny" and video.size == "64x64"
    out = tmp_path / "sdk.mp4"
    client.videos.download_content(video.id).write_to_file(out)
    info = probe(out)
    assert (info.video_codec, info.pix_fmt) == ("h264", "yuv420p")
    frames, _ = read_frames(out)
    assert frames.shape == (17, 64, 64, 3)
    thumb = client.videos.download_content(video.id, variant="thumbnail")
    assert thumb.content[:4] == b"RIFF"

    listed = client.videos.list(limit=10)
    assert [v.id for v in listed.data] == [video.id]
    retrieved = client.videos.retrieve(video.id)
    assert retrieved.id == video.id and retrieved.status == "completed"
    deleted = client.videos.delete(video.id)
    assert deleted.deleted is True
    with pytest.raises(openai.NotFoundError):
        client.videos.retrieve(video.id)


def test_image_to_video_and_native_extras(server: tuple[str, str]) -> None:
    url, key = server
    client = openai.OpenAI(base_url=f"{url}/v1", api_key=key)
    video = client.videos.create_and_poll(
        model="fake-video",
        prompt="slide it",
        seconds="2",
        size="48x32",
        input_reference=("first.png", png_gradient(48, 32), "image/png"),
        extra_body={"seed": 1234, "steps": 3},
    )
    assert video.status == "completed"
    raw = client.videos.with_raw_response.retrieve(video.id).http_response.json()
    assert raw["mode"] == "i2v" and raw["seed"] == 1234 and raw["steps"] == 3 and raw["frames"] == 16


def test_errors_surface_as_sdk_exceptions(server: tuple[str, str]) -> None:
    url, key = server
    client = openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0)
    with pytest.raises(openai.BadRequestError) as bad:
        client.videos.create(model="no-such-model", prompt="x")
    assert bad.value.code == "model_not_found"
    with pytest.raises(openai.BadRequestError) as size:
        client.videos.create(model="wan-tiny", prompt="x", size="720x1280")
    assert size.value.code == "unsupported_size"
    broke = openai.OpenAI(base_url=f"{url}/v1", api_key="fg-wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        broke.videos.list()
    poor = client.videos.create  # 50 credits; wan-tiny at 2 s costs ~2.1, so ask for too many at once
    with pytest.raises(openai.APIStatusError) as no_money:
        for _ in range(40):
            poor(model="wan-tiny", prompt="x", seconds="2")
    assert no_money.value.status_code == 402


def test_routing_in_extra_body_reaches_the_router(server: tuple[str, str]) -> None:
    """The SDK writes ``extra_body={"routing": {...}}`` as ``routing[...]`` form fields: they are routing."""
    url, key = server
    client = openai.OpenAI(base_url=f"{url}/v1", api_key=key)
    routing = {
        "policy": "quality",
        "only": ["shapes-fast", "shapes-hq"],
        "allow_fallbacks": False,
        "max_price": 40,
    }
    video = client.videos.create(prompt="a red circle moving right", extra_body={"routing": routing})
    assert video.model == "shapes-hq"  # the better of the two allowed, by the quality policy
    compare = client.videos.with_raw_response.create(
        prompt="a blue square", extra_body={"routing": {"compare": ["shapes-fast", "wan-tiny"]}}
    )
    body = compare.http_response.json()
    assert body["object"] == "list" and [v["model"] for v in body["data"]] == ["shapes-fast", "wan-tiny"]
    with pytest.raises(openai.BadRequestError) as refused:
        client.videos.create(prompt="p", extra_body={"routing": {"policy": "slowest"}})
    assert refused.value.body["code"] == "invalid_parameter"  # type: ignore[index]
