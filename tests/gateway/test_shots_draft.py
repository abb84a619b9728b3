"""``POST /v1/projects/{id}/shots/draft``: a shot list proposed from the project's brief (nothing saved), each
shot with a layered prompt, a length and a served model with the reason; accepted by posting the shots.
By the rules, or by an LLM on loopback that falls back to the rules when its answer is no good."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from local_models.shapes.vocab import ignored_terms

from ..fake_llm import FakeLlm, Raw, asked, completion, content, fake_llm
from ..support import Gateway, auth, make_settings, running_gateway

BRIEF = (
    "A 30-second ad for a small coffee roaster: morning light in the roastery, beans tumbling in the drum, "
    "a barista pouring latte art, customers smiling at the counter. It should feel warm and unhurried. "
    "Target audience: young professionals."
)
SHAPES_BRIEF = "a big red circle moving slowly right on a dark blue background"


async def _gateway(tmp_path: Path, models_dir: Path, **settings: Any) -> AsyncIterator[Gateway]:
    url = f"sqlite:///{tmp_path / 'framegate.db'}"
    async with running_gateway(make_settings(tmp_path, url, models_dir, workers=0, **settings)) as gateway:
        yield gateway


@pytest.fixture
async def gw(tmp_path: Path, models_dir: Path) -> AsyncIterator[Gateway]:
    async for gateway in _gateway(tmp_path, models_dir):
        yield gateway


async def _project(gw: Gateway, key: str, brief: str | None = BRIEF) -> str:
    body: dict[str, Any] = {"name": "spot", **({"brief": brief} if brief is not None else {})}
    response = await gw.client.post("/v1/projects", json=body, headers=auth(key))
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


async def _draft(gw: Gateway, key: str, project: str, body: Any = None) -> httpx.Response:
    url = f"/v1/projects/{project}/shots/draft"
    if body is None:
        return await gw.client.post(url, headers=auth(key))
    return await gw.client.post(url, json=body, headers=auth(key))


async def _served(gw: Gateway, key: str) -> set[str]:
    return {m["id"] for m in (await gw.client.get("/v1/models", headers=auth(key))).json()["data"]}


async def test_a_brief_becomes_a_shot_list_that_is_not_saved(gw: Gateway) -> None:
    key = gw.new_key()
    project = await _project(gw, key)
    response = await _draft(gw, key, project)
    assert response.status_code == 200, response.text
    draft = response.json()
    assert draft["object"] == "shot_list.draft" and draft["project_id"] == project
    assert draft["saved"] is False and draft["engine"] == "rules"
    shots = draft["shots"]
    assert [s["position"] for s in shots] == [1, 2, 3, 4]  # one per visual beat; the audience is no shot
    assert [s["beat"] for s in shots] == [
        "morning light in the roastery",
        "beans tumbling in the drum",
        "a barista pouring latte art",
        "customers smiling at the counter",
    ]
    served = await _served(gw, key)
    for shot in shots:
        assert shot["model"] in served and shot["reason"]
        assert shot["beat"].lower() in shot["prompt"].lower()
        assert "warm and unhurried" in shot["prompt"].lower()  # the brief's tone, in every shot
        assert shot["seconds"] > 0 and set(shot["layers"]) == {"scene", "motion", "mood", "arc"}
    assert "wide establishing shot" in shots[0]["layers"]["motion"]["text"]
    assert "close-up of the customers" in shots[-1]["layers"]["motion"]["text"]
    assert draft["seconds"] == pytest.approx(sum(s["seconds"] for s in shots), abs=0.01)
    listed = await gw.client.get(f"/v1/projects/{project}/shots", headers=auth(key))
    assert listed.json()["data"] == []  # a draft saves nothing

    # Accepting it: each shot the user keeps is posted with the add-shot API as it stands.
    for shot in shots[:3]:
        fields = {k: shot[k] for k in ("prompt", "seconds", "position")}
        added = await gw.client.post(f"/v1/projects/{project}/shots", json=fields, headers=auth(key))
        assert added.status_code == 200, added.text
    saved = (await gw.client.get(f"/v1/projects/{project}/shots", headers=auth(key))).json()["data"]
    assert [s["prompt"] for s in saved] == [s["prompt"] for s in shots[:3]]


async def test_count_length_and_model_can_be_chosen(gw: Gateway) -> None:
    key = gw.new_key()
    project = await _project(gw, key)
    draft = (await _draft(gw, key, project, {"shots": 6, "seconds": 1.5, "model": "fake-video"})).json()
    assert len(draft["shots"]) == 6
    assert {s["model"] for s in draft["shots"]} == {"fake-video"}
    assert {s["seconds"] for s in draft["shots"]} == {1.5}
    assert draft["shots"][0]["reason"] == "fake-video was asked for"
    merged = (await _draft(gw, key, project, {"shots": 2})).json()["shots"]
    assert merged[0]["beat"] == "morning light in the roastery, beans tumbling in the drum"


async def test_a_shapes_brief_goes_to_a_shapes_model_in_its_vocabulary(gw: Gateway) -> None:
    key = gw.new_key()
    project = await _project(gw, key, SHAPES_BRIEF)
    draft = (await _draft(gw, key, project, {"seconds": 4})).json()
    assert len(draft["shots"]) == 3
    for shot in draft["shots"]:
        assert shot["model"] == "shapes-hq" and "vocabulary" in shot["reason"]
        assert ignored_terms(shot["prompt"]) == []
    adjusted = [w for w in draft["warnings"] if w["code"] == "seconds_adjusted"]
    assert adjusted and adjusted[0]["shot"] == 1  # 4 s is more than shapes-hq renders: said, not hidden


async def test_wrong_project_or_body_is_refused(gw: Gateway) -> None:
    owner, other = gw.new_key(), gw.new_key()
    project = await _project(gw, owner)
    theirs = await _draft(gw, other, project)
    assert theirs.status_code == 404 and theirs.json()["error"]["code"] == "project_not_found"
    missing = await _draft(gw, owner, "proj_doesnotexist")
    assert missing.status_code == 404
    briefless = await _draft(gw, owner, await _project(gw, owner, brief=None))
    assert briefless.status_code == 409 and briefless.json()["error"]["code"] == "missing_brief"
    for body, code in (
        ({"shots": 0}, "invalid_parameter"),
        ({"shots": 13}, "invalid_parameter"),
        ({"shots": "3"}, "invalid_parameter"),
        ({"shots": True}, "invalid_parameter"),
        ({"seconds": -1}, "invalid_parameter"),
        ({"model": "no-such-model"}, "model_not_found"),
        ({"accept": True}, "unknown_parameter"),
        ([1, 2], "invalid_json"),
    ):
        response = await _draft(gw, owner, project, body)
        assert response.status_code == 400, (body, response.text)
        assert response.json()["error"]["code"] == code, body
    anonymous = await gw.client.post(f"/v1/projects/{project}/shots/draft")
    assert anonymous.status_code == 401


# -- the LLM engine, against a real HTTP server on loopback -----------------------------------------------


def _good_draft(body: dict[str, Any]) -> Raw:
    question = asked(body)
    count = question["shots"] if isinstance(question["shots"], int) else 2
    model = question["models"][0]["id"]
    shots = [
        {
            "prompt": f"Shot {i}: the roastery at dawn, slow push in on the drum, warm, steam rising slowly.",
            "scene": "the roastery at dawn",
            "motion": "slow push in on the drum",
            "mood": "warm",
            "arc": "steam rising gradually",
            "seconds": 1,
            "model": model,
            "reason": "it is the one given",
            "beat": "morning light in the roastery",
        }
        for i in range(1, count + 1)
    ]
    return content({"shots": shots})


@pytest.fixture
async def llm(tmp_path: Path, models_dir: Path) -> AsyncIterator[tuple[Gateway, FakeLlm]]:
    with fake_llm() as (url, fake):
        async for gateway in _gateway(
            tmp_path, models_dir, prompt_llm_url=url, prompt_llm_timeout_seconds=0.5
        ):
            yield gateway, fake


async def test_a_good_llm_shot_list_is_used(llm: tuple[Gateway, FakeLlm]) -> None:
    gw, fake = llm
    fake.reply = _good_draft
    key = gw.new_key()
    project = await _project(gw, key)
    draft = (await _draft(gw, key, project, {"shots": 3, "model": "wan-tiny"})).json()
    assert draft["engine"] == "llm" and draft["warnings"] == []
    assert [s["prompt"][:7] for s in draft["shots"]] == ["Shot 1:", "Shot 2:", "Shot 3:"]
    assert {s["model"] for s in draft["shots"]} == {"wan-tiny"}
    assert draft["shots"][0]["layers"]["motion"] == {"text": "slow push in on the drum", "added": True}
    question = asked(fake.requests[-1][1])
    assert question["brief"] == BRIEF and question["shots"] == 3
    assert [m["id"] for m in question["models"]] == ["wan-tiny"]


def _wrong_model(body: dict[str, Any]) -> Raw:
    shot = {"prompt": "a roastery", "seconds": 2, "model": "sora-9000", "reason": "best"}
    return content({"shots": [shot, shot, shot]})


def _shapes_with_cats(body: dict[str, Any]) -> Raw:
    shot = {"prompt": "a red circle chasing a cat", "seconds": 1, "model": "shapes-hq", "reason": "fast"}
    return content({"shots": [shot, shot, shot]})


LLM_FAILURES = {
    "malformed JSON": (lambda body: completion("shots: one, two"), "malformed JSON"),
    "HTTP 500": (lambda body: Raw(b"{}", status=500), "HTTP 500"),
    "too slow": (lambda body: Raw(b"{}", delay=2.0), "within 0.5 s"),
    "no shot list": (lambda body: content({"shots": "three nice shots"}), "no shot list"),
    "wrong count": (lambda body: content({"shots": [{"prompt": "x", "reason": "y"}]}), "not the 3 asked for"),
    "unserved model": (_wrong_model, "does not serve"),
    "words a shapes model ignores": (_shapes_with_cats, "would ignore"),
    "shot without a prompt": (lambda body: content({"shots": [{"reason": "y"}] * 3}), "not text"),
}


async def test_every_bad_llm_shot_list_falls_back_to_the_rules(llm: tuple[Gateway, FakeLlm]) -> None:
    gw, fake = llm
    key = gw.new_key()
    project = await _project(gw, key)
    fake.reply = lambda body: Raw(b"{}", status=503)
    expected = (await _draft(gw, key, project, {"shots": 3})).json()
    assert expected["engine"] == "rules"
    for name, (reply, reason) in LLM_FAILURES.items():
        fake.reply = reply
        response = await _draft(gw, key, project, {"shots": 3})
        assert response.status_code == 200, (name, response.text)
        draft = response.json()
        assert draft["engine"] == "rules" and draft["shots"] == expected["shots"], name
        fallback = [w for w in draft["warnings"] if w["code"] == "llm_fallback"]
        assert len(fallback) == 1 and reason in fallback[0]["message"], (name, fallback)
