"""Artifacts in an S3-compatible bucket (moto's server on loopback): every process sees every clip."""

from __future__ import annotations

import shutil
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ..support import auth, make_settings, png_bytes, require_module, running_gateway

boto3 = require_module("boto3")
moto_server = require_module("moto.server")


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def bucket(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    client = boto3.client("s3", endpoint_url=s3_endpoint)
    name = f"clips-{tmp_path.name.lower().replace('_', '-')[-40:]}"
    client.create_bucket(Bucket=name)
    return client, name


def _keys(client: Any, bucket: str) -> set[str]:
    return {item["Key"] for item in client.list_objects_v2(Bucket=bucket).get("Contents", [])}


async def test_clips_live_in_the_bucket(
    tmp_path: Path, models_dir: Path, s3_endpoint: str, bucket: Any
) -> None:
    client, name = bucket
    settings = make_settings(
        tmp_path,
        f"sqlite:///{tmp_path / 'db.sqlite'}",
        models_dir,
        artifacts_url=f"s3://{name}/framegate",
        s3_endpoint_url=s3_endpoint,
    )
    async with running_gateway(settings) as gw:
        key = gw.new_key(credits=100)
        response = await gw.client.post(
            "/v1/videos",
            headers=auth(key),
            data={"prompt": "a red square", "model": "fake-video"},
            files={"input_reference": ("first.png", png_bytes(32, 32), "image/png")},
        )
        video_id = response.json()["id"]
        assert (await gw.wait(key, video_id))["status"] == "completed"
        keys = _keys(client, name)
        assert {f"framegate/{video_id}/video.mp4", f"framegate/{video_id}/thumbnail.webp"} <= keys
        assert f"framegate/inputs/{video_id}.png" in keys
        stored = client.get_object(Bucket=name, Key=f"framegate/{video_id}/video.mp4")["Body"].read()

        # Another host (an empty local cache) still serves the clip, from the bucket.
        shutil.rmtree(settings.artifacts_dir / video_id)
        content = await gw.client.get(f"/v1/videos/{video_id}/content", headers=auth(key))
        assert content.status_code == 200 and content.content == stored
        thumb = await gw.client.get(f"/v1/videos/{video_id}/content?variant=thumbnail", headers=auth(key))
        assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/webp"

        deleted = await gw.client.delete(f"/v1/videos/{video_id}", headers=auth(key))
        assert deleted.status_code == 200
        assert not any(video_id in k for k in _keys(client, name))


def test_a_worker_on_another_host_fetches_the_input_image(
    tmp_path: Path, s3_endpoint: str, bucket: Any
) -> None:
    from gateway.engine.artifacts_s3 import S3Store

    _, name = bucket
    api = S3Store(f"s3://{name}/fg", tmp_path / "api", endpoint_url=s3_endpoint)
    worker = S3Store(f"s3://{name}/fg", tmp_path / "worker", endpoint_url=s3_endpoint)
    stored = api.save_input("video_1", b"png-bytes", ".png")
    stored.unlink()  # the path the job row records does not exist on the worker's host
    local = worker.input_file(str(stored))
    assert local == tmp_path / "worker" / "inputs" / "video_1.png" and local.read_bytes() == b"png-bytes"
    assert worker.local_path("video_404", "video") is None
    with pytest.raises(ValueError, match="s3://bucket/prefix"):
        S3Store("https://example.invalid/x", tmp_path / "x")
