"""Reviewing takes as the seed advises, in a real browser: half-speed playback, frame stepping, and each
flag marked on the take's timeline and shown over the picture at the frames where it occurs."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from ..support import live_server, make_settings, require
from .test_dashboard import CHROMIUM, SHOTS, signed_in, wait_until

CONFIG = """
[backends.blank]
type = "fake"
blank_tail = 0.5
models = [{ id = "fake-blank", price_per_second = 1.0 }]
"""


def _take_with_a_blank_half(url: str, key: str) -> tuple[str, str]:
    """A project whose one shot has one take whose second half is black; (project id, video id)."""
    headers = {"Authorization": f"Bearer {key}"}
    project = httpx.post(f"{url}/v1/projects", json={"name": "review"}, headers=headers).json()["id"]
    shot = httpx.post(
        f"{url}/v1/projects/{project}/shots",
        json={"prompt": "a square slides right", "seconds": 2},
        headers=headers,
    ).json()["id"]
    takes = httpx.post(f"{url}/v1/shots/{shot}/takes", json={"models": ["fake-blank"]}, headers=headers)
    assert takes.status_code == 200, takes.text
    video = takes.json()["data"][0]["video"]["id"]
    for _ in range(600):
        body = httpx.get(f"{url}/v1/videos/{video}", headers=headers).json()
        if body["status"] == "completed" and body["qc"] is not None:
            break
        time.sleep(0.05)
    flags = {f["code"]: f for f in body["qc"]["flags"]}
    assert flags["blank_frames"]["frames"] == [8, 15], flags  # 16 frames, the last 8 black
    return project, video


def test_half_speed_frame_stepping_and_flags_at_their_frames(tmp_path: Path, models_dir: Path) -> None:
    require(CHROMIUM.exists(), "Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import expect, sync_playwright

    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite'}", models_dir, config=CONFIG)
    with live_server(settings) as (url, app), sync_playwright() as p:
        import billing
        from gateway.engine.keys import create_key

        with app.state.fg.db.write() as conn:
            account = billing.ensure_account(conn, "review")
            billing.grant(conn, account, billing.millicredits(10))
            key = create_key(conn, account).secret
        project, video = _take_with_a_blank_half(url, key)
        browser, page = signed_in(p, url, key)
        page.goto(f"{url}/projects/{project}")
        take = page.locator(f'figure[data-job="{video}"]')
        mark = take.locator('.flag-track [data-mark="blank_frames"]')
        expect(mark).to_have_attribute("title", "blank frames: frames 9-16")
        expect(take.locator("[data-billing]")).to_have_text("(refunded 2)")  # blank after its re-render too
        assert mark.get_attribute("style") == "left: 50.0%; width: 50.0%"
        wait_until(page, "document.querySelector('[data-ab] video').readyState >= 1")
        speed = page.locator("[data-ab-speed]")
        speed.click()
        expect(speed).to_have_attribute("aria-pressed", "true")
        assert page.evaluate("document.querySelector('[data-ab] video').playbackRate") == 0.5
        badge = take.locator("[data-flag-now]")
        expect(badge).to_be_hidden()  # frame 1 is clean
        page.get_by_role("button", name="next frame").click()
        expect(page.locator("[data-ab-frame]")).to_have_text("frame 2")
        page.get_by_role("button", name="previous frame").click()
        expect(page.locator("[data-ab-frame]")).to_have_text("frame 1")
        page.locator("[data-ab-scrub]").fill("800")  # 80% in: inside the black half
        page.get_by_role("button", name="next frame").click()
        expect(badge).to_be_visible()
        expect(badge).to_have_text("blank frames")
        page.screenshot(path=SHOTS / "13-review-flag-at-frame.png")
        # The jobs list names the take's flags too, with what each means on hover.
        page.goto(f"{url}/jobs")
        flag = page.locator(f'tr[data-job="{video}"] [data-qc-flag]')
        expect(flag).to_have_text("blank frames")
        expect(flag).to_have_attribute("title", "8 of 16 frames are blank or nearly black")
        browser.close()
