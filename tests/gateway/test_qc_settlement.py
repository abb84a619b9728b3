"""Pay for usable takes: a take with a hard defect is re-rendered once with a new seed, free; if the
re-render has one too, the job completes with its clip and flags and its charge is refunded, with the
reason on the account's statement. Soft flags never change the bill; an account can turn it off."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

import billing

from ..support import Gateway, auth, make_settings, running_gateway

CONFIG = """
[backends.fake]
type = "fake"
models = [{ id = "fake-video", price_per_second = 2.0 }]
"""
PROMPT = "a red square slides right"  # asks for motion


async def _gateway(tmp_path: Path, database_url: str, models_dir: Path, **overrides: Any) -> Any:
    return running_gateway(make_settings(tmp_path, database_url, models_dir, config=CONFIG, **overrides))


@pytest.fixture
async def qgw(tmp_path: Path, models_dir: Path) -> AsyncIterator[Gateway]:
    async with await _gateway(tmp_path, f"sqlite:///{tmp_path / 'q.db'}", models_dir) as gateway:
        yield gateway


def fake(gw: Gateway):  # type: ignore[no-untyped-def]
    return gw.state.adapters["fake"].behaviour  # type: ignore[attr-defined]


async def _ledger(gw: Gateway, key: str, video_id: str) -> list[dict[str, Any]]:
    response = await gw.client.get("/v1/account/ledger?order=asc", headers=auth(key))
    assert response.status_code == 200, response.text
    return [e for e in response.json()["data"] if e["video_id"] == video_id]


def _verified(gw: Gateway) -> None:
    with gw.state.db.read() as conn:
        assert billing.verify_ledger(conn) == []


async def test_a_blank_half_take_is_rerendered_then_refunded_with_its_reason(
    tmp_path: Path, database_url: str, models_dir: Path
) -> None:
    async with await _gateway(tmp_path, database_url, models_dir) as gw:
        fake(gw).blank_tail = 0.5  # every render: the second half is black
        key = gw.new_key(credits=10)
        created = (await gw.create(key, model="fake-video", prompt=PROMPT, seconds="2", seed=41)).json()
        done = await gw.wait_qc(key, created["id"])
        assert done["status"] == "completed"
        assert fake(gw).calls == 2  # the take and one re-render, never more
        bill = done["billing"]
        assert bill["rerendered"] is True and bill["first_seed"] == 41 and done["seed"] == 42
        assert bill["charged"] == 0 and bill["refunded"] == 4.0 and done["cost"] == 0
        assert bill["reason"] == "qc_hard_defect" and bill["defects"] == ["blank_frames"]
        assert bill["first_defects"] == ["blank_frames"]
        assert "blank_frames" in {f["code"] for f in done["qc"]["flags"]}  # the clip keeps its flags
        content = await gw.client.get(f"/v1/videos/{created['id']}/content", headers=auth(key))
        assert content.status_code == 200 and content.content[4:8] == b"ftyp"  # the clip is delivered
        balance = gw.balance(key)
        assert (balance.balance_mc, balance.held_mc) == (10_000, 0)
        lines = await _ledger(gw, key, created["id"])
        assert [(e["kind"], e["amount"], e["reason"]) for e in lines] == [
            ("capture", -4.0, None),
            ("refund", 4.0, "qc_hard_defect"),
        ]
        usage = (await gw.client.get("/v1/usage", headers=auth(key))).json()
        assert sum(row["cost"] for row in usage["data"]) == 0
        _verified(gw)


async def test_a_rerender_that_comes_out_clean_is_charged_once(qgw: Gateway) -> None:
    fake(qgw).blank_tail, fake(qgw).blank_times = 0.5, 1  # only the first render is defective
    key = qgw.new_key(credits=10)
    created = (await qgw.create(key, model="fake-video", prompt=PROMPT, seconds="2", seed=7)).json()
    done = await qgw.wait_qc(key, created["id"])
    assert done["status"] == "completed" and fake(qgw).calls == 2
    bill = done["billing"]
    assert bill["rerendered"] is True and bill["refunded"] == 0 and bill["charged"] == 4.0
    assert "re-rendered once" in bill["message"] and done["seed"] == 8
    assert bill["first_defects"] == ["blank_frames"] and bill["defects"] == []
    assert "blank_frames" not in {f["code"] for f in done["qc"]["flags"]}
    assert qgw.balance(key).balance_mc == 6_000
    assert [e["kind"] for e in await _ledger(qgw, key, created["id"])] == ["capture"]
    _verified(qgw)


async def test_a_clean_take_is_charged_once_and_never_rerendered(qgw: Gateway) -> None:
    key = qgw.new_key(credits=10)
    created = (await qgw.create(key, model="fake-video", prompt=PROMPT, seconds="2")).json()
    done = await qgw.wait(key, created["id"])
    assert fake(qgw).calls == 1
    assert done["billing"] == {
        "charged": 4.0,
        "refunded": 0.0,
        "reason": None,
        "message": None,
        "rerendered": False,
        "first_seed": None,
        "first_defects": [],
        "defects": [],
    }
    assert created["billing"] is None  # not settled yet


async def test_an_account_can_turn_it_off_and_pay_for_every_take(qgw: Gateway) -> None:
    fake(qgw).blank_tail = 0.5
    key = qgw.new_key(credits=10)
    account = (await qgw.client.get("/v1/account", headers=auth(key))).json()
    assert account["qc_settlement"] == "hard_defects"  # on by default
    patched = await qgw.client.patch("/v1/account", json={"qc_settlement": "off"}, headers=auth(key))
    assert patched.status_code == 200 and patched.json()["qc_settlement"] == "off", patched.text
    created = (await qgw.create(key, model="fake-video", prompt=PROMPT, seconds="2")).json()
    done = await qgw.wait_qc(key, created["id"])
    assert fake(qgw).calls == 1 and done["cost"] == 4.0 and done["billing"]["rerendered"] is False
    assert "blank_frames" in {f["code"] for f in done["qc"]["flags"]}  # flagged, still charged
    assert qgw.balance(key).balance_mc == 6_000
    back = await qgw.client.patch("/v1/account", json={"qc_settlement": None}, headers=auth(key))
    assert back.json()["qc_settlement"] == "hard_defects"


@pytest.mark.parametrize(
    "body", [{"qc_settlement": "sometimes"}, {"qc_settlement": 1}, {"balance": 1000}, [1], "x"]
)
async def test_account_settings_refuse_what_they_do_not_know(qgw: Gateway, body: Any) -> None:
    key = qgw.new_key(credits=1)
    response = await qgw.client.patch("/v1/account", json=body, headers=auth(key))
    assert 400 <= response.status_code < 500 and response.json()["error"]["code"], response.text
    assert qgw.balance(key).balance_mc == 1_000


async def test_the_gateway_default_applies_to_accounts_that_did_not_choose(
    tmp_path: Path, models_dir: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'off.db'}"
    async with await _gateway(tmp_path, url, models_dir, qc_settlement="off") as gw:
        fake(gw).blank_tail = 0.5
        key = gw.new_key(credits=10)
        assert (await gw.client.get("/v1/account", headers=auth(key))).json()["qc_settlement"] == "off"
        created = (await gw.create(key, model="fake-video", prompt=PROMPT, seconds="2")).json()
        done = await gw.wait(key, created["id"])
        assert fake(gw).calls == 1 and done["cost"] == 4.0


async def test_a_prompt_that_asks_for_black_is_not_refunded_for_it(qgw: Gateway) -> None:
    fake(qgw).blank_tail = 0.5
    key = qgw.new_key(credits=10)
    body = {"model": "fake-video", "prompt": "a red square slides right, then fades to black", "seconds": "2"}
    done = await qgw.wait(key, (await qgw.create(key, **body)).json()["id"])
    assert fake(qgw).calls == 1 and done["cost"] == 4.0 and done["billing"]["rerendered"] is False


async def test_an_extension_is_settled_and_judged_on_its_new_segment(qgw: Gateway) -> None:
    """An extension is refunded for a defect in its new segment (what was generated and billed), and
    its stored checks judge that segment too, with the flags on the joined clip's frames. (They used
    to judge the joined clip: a refunded segment could show checks that passed.)"""
    key = qgw.new_key(credits=20)
    source = (await qgw.create(key, model="fake-video", prompt=PROMPT, seconds="1")).json()
    clean = await qgw.wait_qc(key, source["id"])  # 8 frames, none black
    assert "blank_frames" not in {f["code"] for f in clean["qc"]["flags"]}
    fake(qgw).blank_tail = 0.5  # the new segment's second half is black
    body = {"video": {"id": source["id"]}, "prompt": PROMPT, "seconds": "2"}
    made = await qgw.client.post("/v1/videos/extensions", json=body, headers=auth(key))
    assert made.status_code == 200, made.text
    done = await qgw.wait_qc(key, made.json()["id"])
    assert done["frames"] == 24 and done["billing"]["defects"] == ["blank_frames"]
    blank = next(f for f in done["qc"]["flags"] if f["code"] == "blank_frames")
    assert blank["message"].startswith("8 of 16 frames")  # the segment's, not the joined clip's 24
    assert blank["frames"] == [16, 23]  # the joined clip's last eight
