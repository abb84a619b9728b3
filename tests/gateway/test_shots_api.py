"""Projects -> shots -> takes on several models -> pick winners -> re-render with lineage -> the cut."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from local_models.video import probe, read_frames

from ..receiver import receiver
from ..support import Gateway, auth


async def test_shot_list_to_cut(gw: Gateway, tmp_path: Path) -> None:
    key = gw.new_key(credits=50)
    h = auth(key)
    project = (
        await gw.client.post("/v1/projects", json={"name": "Teaser", "brief": "two shapes meet"}, headers=h)
    ).json()
    pid = project["id"]
    first = (
        await gw.client.post(
            f"/v1/projects/{pid}/shots",
            headers=h,
            json={"prompt": "a red square moving right", "size": "64x64", "seconds": 1},
        )
    ).json()
    second = (
        await gw.client.post(
            f"/v1/projects/{pid}/shots",
            headers=h,
            json={"prompt": "a blue square moving left", "size": "64x48", "notes": "close-up"},
        )
    ).json()
    assert (first["position"], second["position"]) == (1, 2)

    # Render shot 1 on two models at once: credits are held for both.
    takes = (
        await gw.client.post(
            f"/v1/shots/{first['id']}/takes",
            headers=h,
            json={"models": ["fake-video", "wan-tiny"], "seed": 3},
        )
    ).json()["data"]
    assert [t["model"] for t in takes] == ["fake-video", "wan-tiny"]
    held = gw.balance(key).held_mc
    assert held == round(1000 * sum(t["quoted_cost"] for t in takes))
    for t in takes:
        await gw.wait_qc(key, t["video"]["id"])

    # The cut needs a winner for every shot.
    refused = await gw.client.post(f"/v1/projects/{pid}/cut", headers=h)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "shot_without_winner"

    shot = (await gw.client.get(f"/v1/shots/{first['id']}?sort=qc", headers=h)).json()
    assert len(shot["takes"]) == 2 and all(t["status"] == "completed" for t in shot["takes"])
    assert all(t["qc_scores"] is not None for t in shot["takes"])
    picked = (await gw.client.post(f"/v1/takes/{takes[0]['id']}/winner", headers=h)).json()
    assert picked["winner_take_id"] == takes[0]["id"]

    # Re-render shot 2 with a changed prompt: lineage says where it came from and what changed.
    base = (
        await gw.client.post(f"/v1/shots/{second['id']}/takes", headers=h, json={"models": ["fake-video"]})
    ).json()["data"][0]
    await gw.wait(key, base["video"]["id"])
    redo = (
        await gw.client.post(
            f"/v1/shots/{second['id']}/takes",
            headers=h,
            json={
                "models": ["fake-video"],
                "from_take": base["id"],
                "prompt": "a blue square moving left quickly",
            },
        )
    ).json()["data"][0]
    assert redo["parent_take_id"] == base["id"]
    assert redo["change"] == "prompt: 'a blue square moving left' -> 'a blue square moving left quickly'"
    await gw.wait(key, redo["video"]["id"])
    await gw.client.post(f"/v1/takes/{redo['id']}/winner", headers=h)

    with receiver() as rec:  # an endpoint subscribed to cuts hears of this one
        hook = {"url": rec.url, "name": "cuts", "event_types": ["project.cut.completed"]}
        assert (await gw.client.post("/v1/webhook_endpoints", headers=h, json=hook)).status_code == 200
        cut = (
            await gw.client.post(f"/v1/projects/{pid}/cut", headers=h, json={"size": "64x64", "fps": 8})
        ).json()
        [post] = await asyncio.to_thread(rec.wait_for, 1)
    event = json.loads(post.body)
    assert event["type"] == "project.cut.completed" and event["data"]["id"] == cut["id"]
    assert cut["object"] == "cut" and cut["takes"] == [takes[0]["id"], redo["id"]]
    # Continuity across the cut, from the winners' boundary frames: scores for the one cut, naming both
    # shots; any flag names them too (test_qc_seed_checks covers what is flagged).
    assert [s["shots"] for s in cut["qc"]["scores"]] == [[first["id"], second["id"]]]
    assert all(f["shots"] == [first["id"], second["id"]] for f in cut["qc"]["flags"])
    content = await gw.client.get(cut["url"], headers=h)
    assert content.headers["content-type"] == "video/mp4"
    path = tmp_path / "cut.mp4"
    path.write_bytes(content.content)
    frames, fps = read_frames(path)
    assert probe(path).video_codec == "h264" and fps == 8
    assert frames.shape == (16, 64, 64, 3)  # two 1-second takes at 8 fps

    # Everything cost exactly what the takes say.
    listing = (await gw.client.get(f"/v1/projects/{pid}/shots", headers=h)).json()["data"]
    total = sum(s["cost"] for s in listing)
    assert gw.balance(key).balance_mc == 50_000 - round(total * 1000) and gw.balance(key).held_mc == 0
    assert (await gw.client.get(f"/v1/projects/{pid}", headers=h)).json()["committed"] == total


async def test_shots_are_private_and_validated(gw: Gateway) -> None:
    alice, bob = gw.new_key(), gw.new_key()
    pid = (await gw.client.post("/v1/projects", json={"name": "P"}, headers=auth(alice))).json()["id"]
    shot = (
        await gw.client.post(f"/v1/projects/{pid}/shots", json={"prompt": "x"}, headers=auth(alice))
    ).json()
    assert (await gw.client.get(f"/v1/shots/{shot['id']}", headers=auth(bob))).status_code == 404
    assert (
        await gw.client.post(f"/v1/projects/{pid}/shots", json={"prompt": "x"}, headers=auth(bob))
    ).status_code == 404
    bad = await gw.client.post(
        f"/v1/projects/{pid}/shots", json={"prompt": "x", "size": "big"}, headers=auth(alice)
    )
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_size"
    take = (
        await gw.client.post(
            f"/v1/shots/{shot['id']}/takes", json={"models": ["fake-video"]}, headers=auth(alice)
        )
    ).json()["data"][0]
    early = await gw.client.post(f"/v1/takes/{take['id']}/winner", headers=auth(bob))
    assert early.status_code == 404
    unknown = await gw.client.post(
        f"/v1/shots/{shot['id']}/takes", json={"models": ["nope"]}, headers=auth(alice)
    )
    assert unknown.status_code == 400 and unknown.json()["error"]["code"] == "model_not_found"
    empty = await gw.client.post(f"/v1/projects/{pid}/cut", headers=auth(alice))
    assert empty.status_code == 409


async def test_a_retried_takes_request_queues_and_charges_once(gw: Gateway) -> None:
    """``Idempotency-Key`` on ``POST /v1/shots/{id}/takes``: a retry after a lost response answers
    with the same takes (in their current state); another body under the key is a 409."""
    key = gw.new_key(credits=20)
    h = auth(key)
    pid = (await gw.client.post("/v1/projects", json={"name": "P"}, headers=h)).json()["id"]
    shot = (
        await gw.client.post(f"/v1/projects/{pid}/shots", json={"prompt": "a red ball"}, headers=h)
    ).json()
    url, body = f"/v1/shots/{shot['id']}/takes", {"models": ["fake-video", "wan-tiny"]}
    retry = h | {"Idempotency-Key": "takes-once"}
    first = await gw.client.post(url, json=body, headers=retry)
    assert first.status_code == 200, first.text
    spent = gw.balance(key)
    again = await gw.client.post(url, json=body, headers=retry)
    assert again.status_code == 200
    assert [t["id"] for t in again.json()["data"]] == [t["id"] for t in first.json()["data"]]
    assert "idempotent-replayed" not in first.headers and again.headers["idempotent-replayed"] == "true"
    assert gw.balance(key) == spent
    shown = (await gw.client.get(f"/v1/shots/{shot['id']}", headers=h)).json()
    assert len(shown["takes"]) == 2
    other = await gw.client.post(url, json={"models": ["fake-video"]}, headers=retry)
    assert other.status_code == 409 and other.json()["error"]["code"] == "idempotency_key_reused"
    # The same key for another shot is a reuse: refused, never a replay of the first shot's takes.
    shot2 = (await gw.client.post(f"/v1/projects/{pid}/shots", json={"prompt": "a cube"}, headers=h)).json()
    elsewhere = await gw.client.post(f"/v1/shots/{shot2['id']}/takes", json=body, headers=retry)
    assert elsewhere.status_code == 409
