"""Signed content links (no API key) and retention: clips deleted, the job and its bill kept."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from urllib.parse import urlsplit

from gateway.app import _expire_and_sweep

from ..support import auth, make_settings, running_gateway


async def test_signed_links_and_retention(tmp_path: Path, database_url: str, models_dir: Path) -> None:
    settings = make_settings(tmp_path, database_url, models_dir, retention_days=1 / 86400)  # one second
    async with running_gateway(settings) as gw:
        key = gw.new_key(credits=10)
        created = await gw.client.post(
            "/v1/videos",
            json={"model": "fake-video", "prompt": "a red square"},
            headers={**auth(key), "prefer": "wait=30"},
        )
        video = created.json()
        assert video["status"] == "completed" and video["expires_at"] == video["completed_at"] + 1
        link = urlsplit(video["url"])
        path = f"{link.path}?{link.query}"
        clip = await gw.client.get(path)  # no API key
        assert clip.status_code == 200 and clip.headers["content-type"] == "video/mp4"
        assert (
            clip.content
            == (await gw.client.get(f"/v1/videos/{video['id']}/content", headers=auth(key))).content
        )
        for bad, code in [
            (path.replace("signature=", "signature=x"), "invalid_signature"),
            (path.replace("variant=video", "variant=thumbnail"), "invalid_signature"),
        ]:
            answer = await gw.client.get(bad)
            assert answer.status_code == 403 and answer.json()["error"]["code"] == code
        stale = gw.state.links.url(video["id"], now=time.time() - 7200)
        answer = await gw.client.get(urlsplit(stale).path + "?" + urlsplit(stale).query)
        assert answer.status_code == 403 and answer.json()["error"]["code"] == "link_expired"

        charged = gw.balance(key)
        await asyncio.sleep(1.1)
        await asyncio.to_thread(_expire_and_sweep, gw.state)
        gone = await gw.client.get(f"/v1/videos/{video['id']}/content", headers=auth(key))
        assert gone.status_code == 410 and gone.json()["error"]["code"] == "video_expired"
        assert (await gw.client.get(path)).status_code == 410
        after = (await gw.client.get(f"/v1/videos/{video['id']}", headers=auth(key))).json()
        assert after["expired"] is True and after["url"] is None and after["cost"] == video["cost"]
        remix = await gw.client.post(
            f"/v1/videos/{video['id']}/remix", json={"prompt": "again"}, headers=auth(key)
        )
        assert remix.status_code == 410
        assert gw.balance(key) == charged  # the bill and the ledger stay as they were
        assert gw.state.artifacts.local_path(video["id"], "video") is None
