"""A finished clip is decoded once: the frames decoded for its posters feed its quality checks."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.engine.jobs import clips

from ..support import Gateway, auth


async def test_posters_and_quality_checks_share_one_decode(
    gw: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    decodes: list[str] = []
    real = clips.read_frames_bounded

    def counting(path: Any, **caps: Any) -> Any:
        decodes.append(str(path))
        return real(path, **caps)

    monkeypatch.setattr(clips, "read_frames_bounded", counting)
    key = gw.new_key()
    fake: Any = gw.state.adapters["fake"]
    fake.behaviour.posters = False  # like a hosted provider: the worker decodes the clip for posters
    video = (await gw.create(key, prompt="a red square moves left", model="fake-video")).json()
    done = await gw.wait_qc(key, video["id"])
    assert done["status"] == "completed" and done["qc"] is not None
    assert len(decodes) == 1
    thumb = await gw.client.get(f"/v1/videos/{video['id']}/content?variant=thumbnail", headers=auth(key))
    assert thumb.status_code == 200 and thumb.content[:4] == b"RIFF"  # a WebP poster was written
