"""``POST /v1/prompts/optimize``: a prompt rewritten into scene, motion, mood and temporal arc for a model,
by the built-in rules or by an LLM on loopback (which falls back to the rules whenever its answer is no
good), and the analyzer's suggestions naming the prompt's own subject."""

from __future__ import annotations

import gzip
import json
import re
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.engine.prompting import LlmConfig, LlmEngine, ModelTarget, RulesEngine
from local_models.shapes.vocab import ignored_terms

from ..fake_llm import FakeLlm, Raw, asked, completion, content, fake_llm
from ..support import Gateway, auth, make_settings, running_gateway

CAT = "a cat on a sofa"
ARTICLE_EXAMPLE = (
    "dense pine forest, morning mist at ground level, shafts of light through the canopy; "
    "slow dolly forward along the forest floor, camera at knee height; quiet, slightly eerie, "
    "no wind; the mist thickens gradually toward the end of the clip"
)
PROMPTS = [
    CAT,
    "forest",
    "a woman reading a book in a cafe",
    "Cinematic sunset, mountains, 4k, epic",
    "a dog runs across a beach, the waves roll in, gradually the sun sets",
    "two kids flying a red kite above a windy hill; handheld",
    ARTICLE_EXAMPLE,
]
_GRAMMAR = {"a", "an", "the", "and", "on", "in", "of", "at", "to", "with", "is", "are", "it", "its", "no"}


def content_words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9][a-z0-9'-]*", text.lower()) if w not in _GRAMMAR}


def words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9][a-z0-9'-]*", text.lower()))


async def _gateway(tmp_path: Path, models_dir: Path, **settings: Any) -> AsyncIterator[Gateway]:
    url = f"sqlite:///{tmp_path / 'framegate.db'}"
    async with running_gateway(make_settings(tmp_path, url, models_dir, workers=0, **settings)) as gateway:
        yield gateway


@pytest.fixture
async def rules_gw(tmp_path: Path, models_dir: Path) -> AsyncIterator[Gateway]:
    async for gateway in _gateway(tmp_path, models_dir):
        yield gateway


async def _optimize(gw: Gateway, key: str, **body: Any) -> httpx.Response:
    return await gw.client.post("/v1/prompts/optimize", json=body, headers=auth(key))


@pytest.mark.parametrize("model", [None, "wan-tiny", "fake-video"])
async def test_every_word_is_kept_and_only_missing_layers_are_added(
    rules_gw: Gateway, model: str | None
) -> None:
    key = rules_gw.new_key()
    for prompt in PROMPTS:
        response = await _optimize(rules_gw, key, prompt=prompt, model=model)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["object"] == "prompt.optimization" and body["engine"] == "rules"
        assert body["model"] == model and body["style"] == "prose"
        assert content_words(prompt) <= words(body["prompt"]), (prompt, body["prompt"])
        assert body["dropped"] == [] and set(body["kept"]) <= words(body["prompt"])
        assert set(body["layers"]) == {"scene", "motion", "mood", "arc"}
        assert body["added"] == [layer["text"] for layer in body["layers"].values() if layer["added"]]
        check = await rules_gw.client.post(
            "/v1/prompts/analyze", json={"prompt": body["prompt"]}, headers=auth(key)
        )
        missing = {w["code"] for w in check.json()["warnings"]}
        assert not missing & {"missing_motion", "missing_mood", "missing_temporal_arc"}, body["prompt"]


async def test_additions_are_about_the_prompts_own_subject(rules_gw: Gateway) -> None:
    key = rules_gw.new_key()
    body = (await _optimize(rules_gw, key, prompt=CAT)).json()
    layers = body["layers"]
    assert layers["scene"] == {"text": CAT, "added": False}
    assert layers["motion"] == {"text": "slow push in on the cat on the sofa", "added": True}
    assert layers["mood"]["added"] and "the cat on the sofa" in layers["mood"]["text"]
    assert layers["arc"]["added"] and "cat" in layers["arc"]["text"]
    assert "forest" not in body["prompt"]
    assert body["prompt"].startswith("A cat on a sofa. Slow push in on the cat on the sofa.")
    person = (await _optimize(rules_gw, key, prompt="a woman reading a book in a cafe")).json()
    assert person["layers"]["motion"]["text"] == "smooth tracking shot following the woman in the cafe"
    complete = (await _optimize(rules_gw, key, prompt=ARTICLE_EXAMPLE)).json()
    assert complete["added"] == [] and not any(layer["added"] for layer in complete["layers"].values())


async def test_shapes_models_get_only_their_vocabulary(rules_gw: Gateway) -> None:
    key = rules_gw.new_key()
    prompt = (
        "a big red ball moving slowly right on a dark blue background, cinematic and dreamy, a cat watches"
    )
    body = (await _optimize(rules_gw, key, prompt=prompt, model="shapes-hq")).json()
    assert body["style"] == "vocabulary" and body["engine"] == "rules"
    assert body["prompt"] == "a big red ball moving right slowly on a dark blue background"
    assert ignored_terms(body["prompt"]) == []
    assert {"cat", "cinematic", "dreamy", "watches"} <= set(body["dropped"])
    assert {"big", "red", "ball", "slowly", "right", "dark", "blue"} <= set(body["kept"])
    ignored = next(w for w in body["warnings"] if w["code"] == "ignored_terms")
    assert "cat" in ignored["terms"]
    assert body["layers"]["mood"] == {"text": "", "added": False}
    bare = (await _optimize(rules_gw, key, prompt="a small yellow triangle", model="shapes-fast")).json()
    assert bare["prompt"] == "a small yellow triangle moving right"
    assert bare["layers"]["motion"] == {"text": "moving right", "added": True}


async def test_the_analyzer_suggests_for_the_prompts_subject(rules_gw: Gateway) -> None:
    key = rules_gw.new_key()
    body = (await rules_gw.client.post("/v1/prompts/analyze", json={"prompt": CAT}, headers=auth(key))).json()
    suggestions = {w["code"]: w["suggestion"] for w in body["warnings"]}
    assert "slow push in on the cat on the sofa" in suggestions["missing_motion"]
    assert "the cat on the sofa" in suggestions["missing_mood"]
    assert "cat" in suggestions["missing_temporal_arc"]
    assert not any("forest" in s or "mist" in s for s in suggestions.values())
    forest = await rules_gw.client.post("/v1/prompts/analyze", json={"prompt": "forest"}, headers=auth(key))
    motion = next(w for w in forest.json()["warnings"] if w["code"] == "missing_motion")
    assert "through the forest" in motion["suggestion"]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"prompt": "x" * 4001}, 400, "prompt_too_long"),
        ({"prompt": 42}, 400, "invalid_parameter"),
        ({"prompt": ["a cat"]}, 400, "invalid_parameter"),
        ({"prompt": None}, 400, "invalid_parameter"),
        ({"prompt": "   "}, 400, "missing_prompt"),
        ({"prompt": ""}, 400, "missing_prompt"),
        ({}, 400, "missing_parameter"),
        ({"prompt": CAT, "model": "no-such-model"}, 400, "model_not_found"),
        ({"prompt": CAT, "model": 7}, 400, "invalid_parameter"),
        ({"prompt": CAT, "temperature": 1}, 400, "unknown_parameter"),
        ({"prompt": "a cat\u0000"}, 400, "invalid_parameter"),
    ],
)
async def test_hostile_inputs_are_refused(
    rules_gw: Gateway, body: dict[str, Any], status: int, code: str
) -> None:
    response = await _optimize(rules_gw, rules_gw.new_key(), **body)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code


async def test_bodies_that_are_not_json_objects_are_refused(rules_gw: Gateway) -> None:
    key = rules_gw.new_key()
    headers = {**auth(key), "content-type": "application/json"}
    for raw in (b"not json", b'["a cat"]', b'"a cat"'):
        response = await rules_gw.client.post("/v1/prompts/optimize", content=raw, headers=headers)
        assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_json"
    anonymous = await rules_gw.client.post("/v1/prompts/optimize", json={"prompt": CAT})
    assert anonymous.status_code == 401


# -- the LLM engine, against a real HTTP server on loopback -----------------------------------------------


def _good_rewrite(body: dict[str, Any]) -> Raw:
    prompt = asked(body)["prompt"]
    return content(
        {
            "scene": prompt,
            "motion": "the camera drifts in slowly, tracking at eye level",
            "mood": "hushed, tender, amber lamplight",
            "arc": "the lamplight dims gradually until only the eyes catch the light",
            "prompt": f"{prompt}, lit by amber lamplight. The camera drifts in slowly, tracking at eye "
            "level. Hushed and tender. The lamplight dims gradually until only the eyes catch the light.",
        }
    )


@pytest.fixture
async def llm(tmp_path: Path, models_dir: Path) -> AsyncIterator[tuple[Gateway, FakeLlm]]:
    with fake_llm() as (url, fake):
        settings = {
            "prompt_llm_url": url,
            "prompt_llm_model": "tiny-writer",
            "prompt_llm_api_key": "sk-local",
            "prompt_llm_timeout_seconds": 0.5,
        }
        async for gateway in _gateway(tmp_path, models_dir, **settings):
            yield gateway, fake


async def test_a_good_llm_answer_is_used(llm: tuple[Gateway, FakeLlm]) -> None:
    gw, fake = llm
    fake.reply = _good_rewrite
    body = (await _optimize(gw, gw.new_key(), prompt=CAT, model="wan-tiny")).json()
    assert body["engine"] == "llm" and body["warnings"] == []
    assert body["prompt"].startswith("a cat on a sofa, lit by amber lamplight.")
    assert body["layers"]["scene"] == {"text": CAT, "added": False}
    assert body["layers"]["motion"]["added"] and body["layers"]["arc"]["added"]
    assert body["added"] == [body["layers"][n]["text"] for n in ("motion", "mood", "arc")]
    headers, sent = fake.requests[-1]
    assert headers["authorization"] == "Bearer sk-local"
    assert sent["model"] == "tiny-writer" and sent["response_format"] == {"type": "json_object"}
    question = asked(sent)
    assert question["keep_these_words"] == ["cat", "sofa"] and question["model"]["family"] == "wan"
    assert set(question["missing_layers"]) == {"motion", "mood", "arc"}


async def test_a_fenced_answer_without_a_prompt_field_is_composed(llm: tuple[Gateway, FakeLlm]) -> None:
    gw, fake = llm
    layers = {"scene": CAT, "motion": "slow push in", "mood": "calm", "arc": "gradually darker"}
    fake.reply = lambda body: completion("```json\n" + json.dumps(layers) + "\n```")
    body = (await _optimize(gw, gw.new_key(), prompt=CAT)).json()
    assert body["engine"] == "llm"
    assert body["prompt"] == "A cat on a sofa. Slow push in. Calm. Gradually darker."


FAILURES = {
    "malformed JSON": (lambda body: completion('{"scene": "a cat", '), "malformed JSON"),
    "not an object": (lambda body: completion("[1, 2, 3]"), "not an object"),
    "not a completion": (lambda body: Raw(b'{"hello": "world"}'), "not a chat completion"),
    "HTTP 500": (lambda body: Raw(b'{"error": "boom"}', status=500), "HTTP 500"),
    "too slow": (lambda body: Raw(b"{}", delay=2.0), "within 0.5 s"),
    "drops the user's words": (
        lambda body: content({"scene": "a dog", "prompt": "A dog in a park. Slow pan. Calm."}),
        "dropped the prompt's own words ('cat', 'sofa')",
    ),
    "wrong types": (lambda body: content({"scene": CAT, "prompt": 42}), "not text"),
    "far too long": (lambda body: completion("x" * 300_000), "more than"),
    "a lone surrogate": (
        lambda body: completion('{"scene": "a cat on a sofa \\ud800"}'),
        "not valid Unicode",
    ),
    # 3 KB that would inflate to 2 GiB: refused by its header, never decoded
    "compressed": (
        lambda body: Raw(gzip.compress(b"0" * 1_000_000), headers={"content-encoding": "gzip"}),
        "compressed",
    ),
}


async def test_every_bad_llm_answer_falls_back_to_the_rules(llm: tuple[Gateway, FakeLlm]) -> None:
    gw, fake = llm
    key = gw.new_key()
    expected = (await RulesEngine().optimize(CAT, None)).as_dict()
    for name, (reply, reason) in FAILURES.items():
        fake.reply = reply
        started = time.monotonic()
        response = await _optimize(gw, key, prompt=CAT)
        assert response.status_code == 200, (name, response.text)
        body = response.json()
        assert body["engine"] == "rules", name
        assert body["prompt"] == expected["prompt"] and body["layers"] == expected["layers"], name
        fallback = [w for w in body["warnings"] if w["code"] == "llm_fallback"]
        assert len(fallback) == 1 and reason in fallback[0]["message"], (name, fallback)
        assert time.monotonic() - started < 1.9, name  # the slow answer is not waited for


async def test_an_unreachable_llm_falls_back(tmp_path: Path, models_dir: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    async for gw in _gateway(tmp_path, models_dir, prompt_llm_url=f"http://127.0.0.1:{port}/v1"):
        body = (await _optimize(gw, gw.new_key(), prompt=CAT)).json()
        assert body["engine"] == "rules"
        assert [w["code"] for w in body["warnings"]] == ["llm_fallback"]
        assert "could not be reached" in body["warnings"][0]["message"]


async def test_closed_vocabulary_models_never_ask_the_llm(llm: tuple[Gateway, FakeLlm]) -> None:
    gw, fake = llm
    fake.reply = _good_rewrite
    body = (await _optimize(gw, gw.new_key(), prompt="a red circle moving left", model="shapes-hq")).json()
    assert body["engine"] == "rules" and body["prompt"] == "a red circle moving left"
    assert fake.requests == []


def test_a_bad_llm_url_is_refused_at_start(tmp_path: Path, models_dir: Path) -> None:
    with pytest.raises(ValueError, match="http"):
        make_settings(tmp_path, "sqlite://", models_dir, prompt_llm_url="file:///etc/passwd")


async def test_the_engine_takes_any_transport() -> None:
    """The LLM engine on an in-memory transport: the extension point without a server."""
    target = ModelTarget("wan-x", "wan", "prose", frozenset({"t2v"}), 0.8, 20.0, 5.0, 0.3, 5.0)
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        message = json.dumps({"prompt": "A cat on a sofa, slow push in, warm light, gradually dimming."})
        return httpx.Response(200, json={"choices": [{"message": {"content": message}}]})

    engine = LlmEngine(
        LlmConfig("http://llm.invalid/v1/chat/completions"),
        RulesEngine(),
        transport=httpx.MockTransport(handler),
    )
    result = await engine.optimize(CAT, target)
    assert result.engine == "llm" and result.prompt.startswith("A cat on a sofa")
    assert str(seen[0].url) == "http://llm.invalid/v1/chat/completions"
    assert "authorization" not in seen[0].headers
