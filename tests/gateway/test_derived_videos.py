"""The rest of the SDK's ``videos`` surface: remix, extend, edit, characters; and URL references."""

from __future__ import annotations

import subprocess
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import imageio_ffmpeg
import pytest

from local_models.video import read_frames

from ..receiver import Receiver, receiver
from ..support import live_server, make_settings, png_bytes, require_module

openai = require_module("openai")
warnings.filterwarnings("ignore", category=DeprecationWarning)

T2V_ONLY = """
builtin_models = false
[backends.fake]
type = "fake"
models = [
  { id = "fake-video", price_per_second = 1.0 },
  { id = "fake-t2v", price_per_second = 0.5, modes = ["t2v"] },
]
"""


@pytest.fixture
def server(tmp_path: Path, models_dir: Path) -> Iterator[tuple[str, str, Any]]:
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'fg.db'}", models_dir)
    with live_server(settings) as (url, app):
        import billing
        from gateway.engine.keys import create_key

        with app.state.fg.db.write() as conn:
            account = billing.ensure_account(conn, "derived")
            billing.grant(conn, account, billing.millicredits(100))
            key = create_key(conn, account).secret
        yield url, key, app


def _sdk(server: tuple[str, str, Any]) -> Any:
    return openai.OpenAI(base_url=f"{server[0]}/v1", api_key=server[1])


def _http(server: tuple[str, str, Any]) -> httpx.Client:
    return httpx.Client(base_url=server[0], headers={"authorization": f"Bearer {server[1]}"}, timeout=60)


def test_remix_keeps_the_source_settings_and_names_it(server: tuple[str, str, Any]) -> None:
    client = _sdk(server)
    source = client.videos.create_and_poll(
        model="fake-video", prompt="a red square", seconds="2", extra_body={"seed": 7}
    )
    remix = client.videos.remix(source.id, prompt="a blue square")
    assert remix.remixed_from_video_id == source.id
    done = client.videos.poll(remix.id)
    assert done.status == "completed" and done.model == source.model
    assert (done.size, done.seconds, done.seed) == (source.size, source.seconds, 7)  # type: ignore[attr-defined]
    with pytest.raises(openai.NotFoundError):
        client.videos.remix("video_" + "0" * 28, prompt="x")


def test_a_remix_prompt_change_compares_with_its_source(server: tuple[str, str, Any]) -> None:
    """Not with whatever the account made last on the model: the remix changes its source's prompt."""
    client, http = _sdk(server), _http(server)
    source = client.videos.create_and_poll(model="fake-video", prompt="a yellow square moving left")
    client.videos.create_and_poll(model="fake-video", prompt="a white circle moving up")  # made since
    remix = http.post(f"/v1/videos/{source.id}/remix", json={"prompt": "a yellow square moving left, gloomy"})
    assert remix.status_code == 200
    assert remix.json()["prompt_change"] == {"previous_video_id": source.id, "changed_layers": ["mood"]}


def test_remix_of_an_unfinished_video_is_refused_and_free(server: tuple[str, str, Any]) -> None:
    _url, _key, app = server
    app.state.fg.adapters["fake"].behaviour.hang = True
    with _http(server) as http:
        running = http.post("/v1/videos", json={"model": "fake-video", "prompt": "slow"}).json()
        before = http.get("/v1/account").json()
        answer = http.post(f"/v1/videos/{running['id']}/remix", json={"prompt": "again"})
        assert answer.status_code == 409 and answer.json()["error"]["code"] == "video_not_ready"
        assert http.get("/v1/account").json() == before
        http.post(f"/v1/videos/{running['id']}/cancel")


def test_extend_joins_the_new_segment_after_the_source(server: tuple[str, str, Any], tmp_path: Path) -> None:
    client = _sdk(server)
    source = client.videos.create_and_poll(model="fake-video", prompt="a red square", seconds="1")
    with _http(server) as http:
        created = http.post(
            "/v1/videos/extensions",
            json={"video": {"id": source.id}, "prompt": "it keeps moving", "seconds": "2"},
        )
        assert created.status_code == 200, created.text
        assert created.json()["derived_from"] == {"video_id": source.id, "kind": "extension"}
    done = client.videos.poll(created.json()["id"])
    assert done.status == "completed" and done.seconds == "3"
    out = tmp_path / "joined.mp4"
    client.videos.download_content(done.id).write_to_file(out)
    frames, _ = read_frames(out)
    assert len(frames) == 24  # 8 source frames then 16 new ones, at 8 fps
    assert (done.frames, done.duration) == (24, 3.0)  # type: ignore[attr-defined]

    # An uploaded clip works the same, through the SDK's own method.
    upload = client.videos.extend(video=out.open("rb"), prompt="and further", seconds="4")
    assert upload.derived_from == {"video_id": None, "kind": "extension"}  # type: ignore[attr-defined]
    # An uploaded clip is no video here: nothing to name as the previous one.
    assert getattr(upload, "prompt_change", None) is None
    assert client.videos.poll(upload.id).status == "completed"

    # An edit of an uploaded clip keeps its length.
    with _http(server) as http:
        edited = http.post(
            "/v1/videos/edits", files={"video": ("j.mp4", out.read_bytes())}, data={"prompt": "p"}
        )
        assert edited.status_code == 200 and edited.json()["seconds"] == "3", edited.text


def test_edit_and_characters(server: tuple[str, str, Any], tmp_path: Path) -> None:
    client = _sdk(server)
    source = client.videos.create_and_poll(model="fake-video", prompt="a green square")
    with _http(server) as http:
        edit = http.post("/v1/videos/edits", json={"video": {"id": source.id}, "prompt": "a purple square"})
        assert edit.status_code == 200, edit.text
        assert edit.json()["mode"] == "i2v" and edit.json()["derived_from"]["kind"] == "edit"
        assert client.videos.poll(edit.json()["id"]).status == "completed"
        clip = tmp_path / "c.mp4"
        client.videos.download_content(source.id).write_to_file(clip)
        character = client.videos.create_character(name="Hero", video=clip.open("rb"))
        assert character.id.startswith("char_") and character.name == "Hero"
        assert client.videos.get_character(character.id).name == "Hero"
        made = http.post(
            "/v1/videos",
            json={"model": "fake-video", "prompt": "the hero runs", "characters": [character.id]},
        )
        assert made.status_code == 200 and made.json()["mode"] == "i2v"
        through_sdk = client.videos.create(
            model="fake-video", prompt="the hero jumps", extra_body={"characters": [character.id]}
        )
        assert through_sdk.mode == "i2v"  # type: ignore[attr-defined]
        other = http.post("/v1/videos", json={"prompt": "x", "characters": ["char_" + "0" * 24]})
        assert other.status_code == 404 and other.json()["error"]["code"] == "character_not_found"
        bad = http.post("/v1/videos/edits", files={"video": ("x.mp4", b"not a video")}, data={"prompt": "p"})
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_video"
        long = tmp_path / "long.mp4"  # a minute at 60 fps: past the 2,000-frame cap, refused unread
        subprocess.run(
            [
                imageio_ffmpeg.get_ffmpeg_exe(),
                "-loglevel",
                "error",
                "-f",
                "lavfi",
                "-i",
                "color=s=16x16:r=60:d=60",
                "-c:v",
                "libx264",
                "-preset",
                "ultrafast",
                "-crf",
                "51",
                str(long),
            ],
            check=True,
        )
        for route in ("/v1/videos/extensions", "/v1/videos/edits", "/v1/videos/characters"):
            fields = {"prompt": "p"} if route != "/v1/videos/characters" else {"name": "n"}
            answer = http.post(route, files={"video": ("l.mp4", long.read_bytes())}, data=fields)
            assert answer.status_code == 400 and answer.json()["error"]["code"] == "video_too_long", (
                answer.text
            )
            assert answer.json()["error"]["param"] == "video"


def test_edit_refused_when_no_model_takes_an_image(tmp_path: Path, models_dir: Path) -> None:
    settings = make_settings(
        tmp_path,
        f"sqlite:///{tmp_path / 'fg.db'}",
        models_dir,
        config=T2V_ONLY.replace('  { id = "fake-video", price_per_second = 1.0 },\n', ""),
    )
    with live_server(settings) as (url, app):
        import billing
        from gateway.engine.keys import create_key

        with app.state.fg.db.write() as conn:
            account = billing.ensure_account(conn, "t2v")
            billing.grant(conn, account, billing.millicredits(10))
            key = create_key(conn, account).secret
        with _http((url, key, app)) as http:
            source = http.post(
                "/v1/videos?", json={"model": "fake-t2v", "prompt": "a square"}, headers={"prefer": "wait=30"}
            )
            assert source.json()["status"] == "completed", source.text
            answer = http.post(
                "/v1/videos/extensions", json={"video": {"id": source.json()["id"]}, "prompt": "on"}
            )
            assert answer.status_code == 400 and answer.json()["error"]["code"] == "unsupported_mode", (
                answer.text
            )


@pytest.fixture
def images() -> Iterator[Receiver]:
    with receiver() as rec:
        rec.files["/cat.png"] = (200, {"content-type": "image/png"}, png_bytes(64, 64))
        rec.files["/moved.png"] = (302, {"location": "/cat.png"}, b"")
        rec.files["/text"] = (200, {"content-type": "text/plain"}, b"hello")
        rec.files["/big.png"] = (200, {"content-type": "image/png"}, b"\0" * (2 * 1024 * 1024))
        yield rec


def test_input_reference_urls_are_fetched_under_the_address_rules(
    server: tuple[str, str, Any], images: Receiver
) -> None:
    _url, _key, app = server
    with _http(server) as http:
        ok = http.post(
            "/v1/videos",
            headers={"prefer": "wait=30"},
            json={
                "model": "fake-video",
                "prompt": "p",
                "input_reference": {"image_url": f"{images.url}/cat.png"},
            },
        )
        assert ok.status_code == 200 and ok.json()["mode"] == "i2v", ok.text
        assert ok.json()["status"] == "completed"
        before = http.get("/v1/account").json()
        app.state.fg.settings.max_body_bytes = 1024 * 1024
        for path, code in [
            ("/moved.png", "url_redirected"),
            ("/missing.png", "url_fetch_failed"),
            ("/text", "invalid_image"),
            ("/big.png", "url_too_large"),
        ]:
            answer = http.post(
                "/v1/videos", json={"prompt": "p", "input_reference": {"image_url": f"{images.url}{path}"}}
            )
            assert answer.status_code == 400 and answer.json()["error"]["code"] == code, (path, answer.text)
        for target, code in [
            ("http://10.1.2.3/x.png", "forbidden_address"),
            ("http://169.254.169.254/latest", "forbidden_address"),
            ("ftp://example.com/x.png", "unsupported_image_url"),
        ]:
            answer = http.post("/v1/videos", json={"prompt": "p", "input_reference": {"image_url": target}})
            assert answer.status_code == 400 and answer.json()["error"]["code"] == code, (target, answer.text)
        images.hang_seconds = 3
        app.state.fg.settings.image_url_timeout_seconds = 0.5
        slow = http.post(
            "/v1/videos", json={"prompt": "p", "input_reference": {"image_url": f"{images.url}/cat.png"}}
        )
        assert slow.status_code == 400 and slow.json()["error"]["code"] == "url_timeout"
        assert http.get("/v1/account").json() == before  # nothing charged for any of them


def test_a_retried_edit_of_an_upload_replays_and_another_clip_under_its_key_conflicts(
    server: tuple[str, str, Any], tmp_path: Path
) -> None:
    """``Idempotency-Key`` on an edit (or extension) of an uploaded clip: the request's meaning
    includes the clip (by its frame's hash), so the same clip replays and another one is a 409."""
    client = _sdk(server)
    clips = []
    for prompt in ("a red square", "a blue square"):  # the fake model colours by prompt: other frames
        done = client.videos.create_and_poll(model="fake-video", prompt=prompt, seconds="1")
        clip = tmp_path / f"{done.id}.mp4"
        client.videos.download_content(done.id).write_to_file(clip)
        clips.append(clip.read_bytes())
    once = {"Idempotency-Key": "edit-once"}
    with _http(server) as http:
        for route in ("/v1/videos/edits", "/v1/videos/extensions"):
            key = {"Idempotency-Key": f"{route}-once"}
            first = http.post(route, files={"video": ("a.mp4", clips[0])}, data={"prompt": "p"}, headers=key)
            again = http.post(route, files={"video": ("a.mp4", clips[0])}, data={"prompt": "p"}, headers=key)
            assert first.status_code == again.status_code == 200, (first.text, again.text)
            assert again.json()["id"] == first.json()["id"]
            assert (
                again.headers["idempotent-replayed"] == "true" and "idempotent-replayed" not in first.headers
            )
            other = http.post(route, files={"video": ("b.mp4", clips[1])}, data={"prompt": "p"}, headers=key)
            assert other.status_code == 409, other.text
            assert other.json()["error"]["code"] == "idempotency_key_reused"
        hooked = http.post(
            "/v1/videos/edits",
            files={"video": ("a.mp4", clips[0])},
            data={"prompt": "p", "webhook_url": "http://127.0.0.1:9/hook"},
            headers=once,
        )
        plain = http.post(
            "/v1/videos/edits", files={"video": ("a.mp4", clips[0])}, data={"prompt": "p"}, headers=once
        )
        assert hooked.status_code == 200 and plain.status_code == 409, (hooked.text, plain.text)
