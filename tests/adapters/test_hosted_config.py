"""Hosted backends from config: the README's examples load, mistakes are named, rules and prices hold,
and the key only goes where it belongs."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from adapters import GenerationRequest, MemoryJournal, create_adapter
from adapters.hosted import HostedAdapter
from adapters.hosted_http import ProviderHttp, retry_after_seconds
from billing import PriceRule
from gateway.app import build_backends
from gateway.config import ConfigError, load_config
from local_models import GenerationParams, InvalidInput, VideoRequest, resolve
from tests.support import make_settings

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_hosted_config() -> str:
    section = README.read_text().split("## Hosted providers", 1)[1]
    match = re.search(r"```toml\n(.*?)```", section, re.S)
    assert match is not None
    return match.group(1)


def test_the_readme_config_builds_every_provider(
    tmp_path: Path, models_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for env in ("FAL_KEY", "REPLICATE_API_TOKEN", "GEMINI_API_KEY", "OPENAI_API_KEY"):
        monkeypatch.setenv(env, f"{env.lower()}-value")
    settings = make_settings(tmp_path, "sqlite://", models_dir, config=readme_hosted_config())
    adapters, offers = build_backends(settings, load_config(settings.config))
    assert {n: type(a).__name__ for n, a in adapters.items() if n != "local"} == {
        "fal": "HostedAdapter",
        "replicate": "HostedAdapter",
        "veo": "HostedAdapter",
        "sora": "HostedAdapter",
    }
    prices = {o.spec.id: o.price_rule for o in offers}
    quote = prices["veo-3"].quote_mc
    assert quote(seconds=8, width=1920, height=1080, steps=1) == 480_000  # 60/s at 1080p
    assert quote(seconds=8, width=1280, height=720, steps=1) == 320_000
    assert prices["wan-replicate"].quote_mc(seconds=5, width=832, height=480, steps=1) == 50_000
    for adapter in adapters.values():
        adapter.close()


MODEL = '[[backends.p.models]]\nid = "m"\nsizes = ["128x72"]\nseconds = [1]\nprice = { per_second = 1 }\n'


def test_config_mistakes_are_named(tmp_path: Path, models_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOPE_KEY", raising=False)
    cases = {
        'api_key_env = "NOPE_KEY"\n' + MODEL: "NOPE_KEY",
        MODEL: "no API key",
        'api_key_file = "/nonexistent/key"\n' + MODEL: "api_key_file",
        'api_key = "k"\n' + MODEL.replace("seconds", "second"): "unknown keys: second",
        'api_key = "k"\n' + MODEL.replace("price = { per_second = 1 }", ""): "price must be given",
        'api_key = "k"\n' + MODEL.replace("per_second = 1", "per_minute = 2"): "invalid price",
        'api_key = "k"\n' + MODEL.replace("per_second = 1", "per_second = inf"): "invalid price",
        'api_key = "k"\n' + MODEL.replace("per_second = 1", 'sizes = { "72x128" = 3 }'): "does not render",
        'api_key = "k"\n'
        + MODEL.replace('["128x72"]', '["128x72", "72x128"]').replace(
            "per_second = 1", 'sizes = { "128x72" = 3 }'
        ): "no tier for 72x128",
        'api_key = "k"\n' + MODEL.replace("[1]", "[1.3]"): "whole number of frames",
        'api_key = "k"\n' + MODEL.replace('["128x72"]', "[1280]"): "model 'm'",
        'api_key = "k"\npoll_seconds = 0\n' + MODEL: "poll_seconds",
        'api_key = "k"\nconcurrency = 1000000\n' + MODEL: "concurrency",
        'api_key = "k"\nurl = "ftp://x"\n' + MODEL: "url must be",
        'api_key = "k"\nwebhook_secret = "nope"\n' + MODEL: "webhook_secret",
        'api_key = "k"\n' + MODEL + MODEL: "listed twice",
        'api_key = "k"\nmodels = []\n': "at least one model",
        'api_key = "k"\nmodels = ["m"]\n': "must be a table",
        'api_key = "k"\n' + MODEL.replace("[1]", "[1e-9]"): "whole number of frames",
        'api_key = "k"\n'
        + MODEL.replace("price = { per_second = 1 }", "price = {}"): "price must be a table",
        'api_key = "k"\nurl = "https://u:p@api.example"\n' + MODEL: "without credentials",
        'api_key = "k"\nmax_retry_after_seconds = -1\n' + MODEL: "max_retry_after_seconds",
    }
    for body, expected in cases.items():
        settings = make_settings(
            tmp_path, "sqlite://", models_dir, config=f'[backends.p]\ntype = "fal"\n{body}\n'
        )
        with pytest.raises(ConfigError, match=expected):
            build_backends(settings, load_config(settings.config))


def test_hosted_rules_refuse_what_the_model_cannot_honour() -> None:
    adapter = create_adapter(
        "veo",
        name="veo",
        api_key="k",
        models=[
            {"id": "veo-3", "sizes": ["1280x720"], "seconds": [4, 8], "fps": 24, "price": {"per_second": 1}}
        ],
    )
    [spec] = adapter.models()
    assert resolve(spec, VideoRequest(seconds=8, seed=1)).frames == 192
    for request, code in [
        (VideoRequest(seconds=5), "unsupported_seconds"),
        (VideoRequest(frames=100), "unsupported_frames"),
        (VideoRequest(steps=30), "unsupported_parameter"),
        (VideoRequest(size=(640, 480)), "unsupported_size"),
        (VideoRequest(negative_prompt="blur"), "unsupported_negative_prompt"),
        (VideoRequest(mode="i2v"), "unsupported_mode"),
    ]:
        with pytest.raises(InvalidInput) as refused:
            resolve(spec, request)
        assert refused.value.code == code, request
    adapter.close()


def test_prices_combine_per_second_tiers_and_per_clip() -> None:
    rule = PriceRule(2.0, per_clip=1.5, by_size=(("1920x1080", 5.0),))
    assert rule.quote_mc(seconds=4, width=1280, height=720, steps=1) == 9_500
    assert rule.quote_mc(seconds=4, width=1920, height=1080, steps=1) == 21_500


def test_the_key_goes_only_to_the_providers_origin_and_retry_after_reads_dates() -> None:
    seen: list[tuple[str, str | None]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((str(request.url), request.headers.get("authorization")))
        if request.url.host == "api.example":
            return httpx.Response(302, headers={"location": "https://cdn.example/clip.mp4"})
        return httpx.Response(200, content=b"mp4 bytes")

    http = ProviderHttp(
        "p",
        "https://api.example",
        {"Authorization": "Bearer k"},
        lambda r: ("", False),
        transport=httpx.MockTransport(handler),
    )
    http.download("https://api.example/files/1", Path("/tmp") / "fg-test-download.mp4", threading.Event())
    assert seen == [("https://api.example/files/1", "Bearer k"), ("https://cdn.example/clip.mp4", None)]
    assert retry_after_seconds({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0
    assert retry_after_seconds({"retry-after": "7"}) == 7.0
    assert retry_after_seconds({"retry-after": "garbage"}) is None
    http.close()


def test_a_provider_job_is_resumed_from_the_journal_not_submitted_again(tmp_path: Path) -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(f"{request.method} {request.url.path}")
        return httpx.Response(200, json={"id": "p-1", "status": "in_progress", "progress": 50})

    adapter = create_adapter(
        "openai",
        name="o",
        url="https://videos.example/v1",
        api_key="k",
        models=[{"id": "m", "sizes": ["1280x720"], "seconds": [5], "price": {"per_clip": 1}}],
        transport=httpx.MockTransport(handler),
    )
    assert isinstance(adapter, HostedAdapter)
    params = GenerationParams("t2v", 1280, 720, 120, 24, 1, 0.0, 1)
    journal = MemoryJournal({"backend": "o", "model": "m", "id": "p-1"})
    request = GenerationRequest("job", "m", "p", params, tmp_path, journal=journal)

    class StopAfterOnePoll:
        detached = True  # a shutdown: the provider's job is left running

        def is_set(self) -> bool:
            return bool(calls)

    with pytest.raises(Exception, match="stopped following"):
        adapter.generate(request, lambda f: None, StopAfterOnePoll())
    assert calls == ["GET /v1/videos/p-1"] and journal.saves == 0


def test_a_result_url_into_the_gateways_network_is_refused_and_echoed_keys_are_scrubbed(
    tmp_path: Path, models_dir: Path
) -> None:
    from adapters.errors import PermanentError
    from gateway.backends import _result_url_check

    check = _result_url_check(make_settings(tmp_path, "sqlite://", models_dir))
    assert check("http://127.0.0.1:9/clip.mp4") is None  # the tests allow loopback
    assert "private, loopback or reserved" in (check("http://169.254.169.254/latest/meta-data") or "")
    assert check("file:///etc/passwd") is not None

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/echo":
            return httpx.Response(400, json={"detail": f"bad header {request.headers['authorization']}"})
        return httpx.Response(302, headers={"location": "http://169.254.169.254/latest"})

    http = ProviderHttp(
        "p",
        "http://127.0.0.1:9",
        {"Authorization": "Key sk-live-123"},
        lambda r: (str(r.json()["detail"]), False),
        url_check=check,
        transport=httpx.MockTransport(handler),
    )
    with pytest.raises(PermanentError) as refused:
        http.download("http://127.0.0.1:9/files/1", tmp_path / "x.mp4", threading.Event())
    assert refused.value.code == "provider_result_refused"
    with pytest.raises(PermanentError) as echoed:
        http.call("GET", "/echo")
    assert "sk-live-123" not in echoed.value.message and "[redacted]" in echoed.value.message
    http.close()


def test_a_cancel_stops_an_endless_download(tmp_path: Path) -> None:
    from adapters import Cancelled

    cancel = threading.Event()

    def endless() -> Iterator[bytes]:
        while True:
            cancel.set()  # the caller cancels while the bytes trickle in
            yield b"x" * 1024

    http = ProviderHttp(
        "p",
        "https://api.example",
        {},
        lambda r: ("", False),
        transport=httpx.MockTransport(lambda request: httpx.Response(200, content=endless())),
    )
    with pytest.raises(Cancelled):
        http.download("https://api.example/files/1", tmp_path / "x.mp4", cancel)
    http.close()


def test_compressed_answers_are_bounded_and_malformed_urls_are_named(tmp_path: Path) -> None:
    import gzip

    from adapters.errors import PermanentError

    bomb = gzip.compress(gzip.compress(b"0" * (64 * 1024 * 1024)))  # 64 MiB behind two gzip layers

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["accept-encoding"] == "identity"
        if request.url.path == "/stacked":
            return httpx.Response(200, content=_Stream(bomb), headers={"content-encoding": "gzip, gzip"})
        if request.url.path == "/one":
            body = gzip.compress(b'{"ok": true}')
            return httpx.Response(200, content=_Stream(body), headers={"content-encoding": "gzip"})
        return httpx.Response(200, json={"video": "http://127.0.0.1:99999/clip.mp4"})

    http = ProviderHttp(
        "p", "https://api.example", {}, lambda r: ("", False), transport=httpx.MockTransport(handler)
    )
    assert http.call("GET", "/one").json() == {"ok": True}
    with pytest.raises(ValueError, match="unsupported content-encoding"):
        http.call("GET", "/stacked")
    with pytest.raises(PermanentError) as bad:
        http.download("http://127.0.0.1:99999/clip.mp4", tmp_path / "x.mp4", threading.Event())
    assert bad.value.code == "provider_bad_response"
    http.close()


class _Stream(httpx.SyncByteStream):
    """A body that arrives over the wire (not read into memory when the response is built)."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def __iter__(self) -> Iterator[bytes]:
        yield self.data
