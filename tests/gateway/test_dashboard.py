"""The dashboard: sign-in sessions, CSRF, and the creator's whole flow in a real browser (Debian's Chromium
driven by Playwright; no browser is downloaded). Screenshots land in test-artifacts/dashboard/."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ..support import FAKE_CONFIG, Gateway, dashboard_login, live_server, make_settings, require

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "dashboard"
CONFIG = """
[backends.studio]
type = "fake"
step_seconds = 0.08
models = [{ id = "fake-video", price_per_second = 1.0 }, { id = "fake-alt", price_per_second = 2.0 }]
"""


async def test_pages_need_a_session_and_forms_need_csrf(gw: Gateway) -> None:
    page = await gw.client.get("/jobs")
    assert page.status_code == 303 and page.headers["location"] == "/login"
    bad = await gw.client.post("/login", data={"api_key": "fg-nope"})
    gw.client.cookies.clear()
    assert bad.status_code == 303 and bad.headers["location"].startswith("/login")
    key = gw.new_key()
    # Sign-in has its own CSRF token (login CSRF): a form posted from elsewhere is refused.
    forged_login = await gw.client.post("/login", data={"api_key": key})
    assert forged_login.status_code == 303 and forged_login.headers["location"].startswith("/login")
    assert "framegate_session" not in forged_login.cookies
    login_page = await gw.client.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', login_page.text).group(1)  # type: ignore[union-attr]
    assert gw.client.cookies.get("framegate_login") == token
    ok = await gw.client.post("/login", data={"api_key": key, "csrf": token})
    cookie = ok.cookies.get("framegate_session")
    assert ok.status_code == 303 and cookie and key not in cookie
    assert (
        "httponly" in ok.headers["set-cookie"].lower() and "samesite=lax" in ok.headers["set-cookie"].lower()
    )
    gw.client.cookies.set("framegate_session", cookie)
    jobs = await gw.client.get("/jobs")
    assert jobs.status_code == 200 and "Jobs" in jobs.text
    forged = await gw.client.post("/jobs", data={"prompt": "p", "csrf": "guess"})
    assert forged.status_code == 403 and forged.json()["error"]["code"] == "csrf_failed"
    csrf = re.search(r'name="csrf" value="([^"]+)"', jobs.text).group(1)  # type: ignore[union-attr]
    made = await gw.client.post("/jobs", data={"prompt": "a red circle", "model": "fake-video", "csrf": csrf})
    assert made.status_code == 303 and "Queued" in httpx.URL(made.headers["location"]).params["flash"]
    again = await gw.client.get(made.headers["location"])  # the model picked stays picked
    assert "<option selected>fake-video</option>" in again.text, again.text
    assert "<option selected>" not in (await gw.client.get("/jobs?model=<nope>")).text


def signed_in(p: Any, url: str, key: str) -> tuple[Any, Any]:
    """Debian's Chromium (Playwright's ``p``) and a desktop-sized page signed in with ``key``."""
    browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"])
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{url}/login")
    page.fill("input[name=api_key]", key)
    page.get_by_role("button", name="Sign in").click()
    return browser, page


def wait_until(page: Any, expression: str, timeout: int = 30_000) -> None:
    """Poll a JavaScript expression through the DevTools protocol. (Playwright's wait_for_function
    evaluates a string inside the page, which the dashboard's Content-Security-Policy refuses, as it
    should: the dashboard itself never evaluates strings.)"""
    from playwright.sync_api import Error

    deadline = time.monotonic() + timeout / 1000
    while True:
        try:
            if page.evaluate(expression):
                return
        except Error as exc:  # the dashboard reloads itself once every job on a page has settled
            if "context was destroyed" not in str(exc):
                raise
        assert time.monotonic() < deadline, f"timed out waiting for {expression}"
        time.sleep(0.05)


@pytest.fixture
def server(tmp_path: Path, models_dir: Path) -> Iterator[tuple[str, str, object]]:
    settings = make_settings(
        tmp_path, f"sqlite:///{tmp_path / 'db.sqlite'}", models_dir, config=FAKE_CONFIG + CONFIG
    )
    with live_server(settings) as (url, app):
        import billing
        from gateway.engine.keys import create_key

        with app.state.fg.db.write() as conn:
            account = billing.ensure_account(conn, "studio")
            billing.grant(conn, account, billing.millicredits(40))
            key = create_key(conn, account).secret
        yield url, key, app


def test_creator_flow_in_a_real_browser(server: tuple[str, str, object]) -> None:
    require(CHROMIUM.exists(), "Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import expect, sync_playwright

    url, key, app = server
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--autoplay-policy=no-user-gesture-required",
            ],
        )
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        blocked: list[str] = []
        page.on("console", lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None)
        page.goto(f"{url}/jobs")
        expect(page).to_have_url(re.compile(r"/login"))
        page.screenshot(path=SHOTS / "01-sign-in.png")
        page.fill("input[name=api_key]", key)
        page.get_by_role("button", name="Sign in").click()
        expect(page.locator("#balance")).to_have_text("40")
        page.screenshot(path=SHOTS / "02-credits.png")

        page.click("nav >> text=Projects")
        page.fill("input[name=name]", "Launch teaser")
        page.fill("input[name=brief]", "a red square meets a blue circle")
        page.get_by_role("button", name="Create project").click()
        page.get_by_role("link", name=re.compile("Launch teaser")).click()
        page.fill("input[name=prompt]", "a red square moving right, calm, gradually slowing")
        page.fill("input[name=size]", "64x64")
        page.fill("input[name=seconds]", "1")
        page.get_by_role("button", name="Add shot").click()
        expect(page.locator("h2", has_text="Shot 1")).to_be_visible()

        page.check("input[name=models][value=fake-video]")
        page.check("input[name=models][value=fake-alt]")
        page.get_by_role("button", name="Render takes").click()
        # Progress arrives over server-sent events; the page shows the videos once both takes finish.
        progress = page.locator("[data-progress]").first
        expect(progress).to_be_visible()
        page.screenshot(path=SHOTS / "03-rendering.png")
        wait_until(
            page,
            "Array.from(document.querySelectorAll('[data-progress]')).every(f => f.style.width === '100%')",
            timeout=30_000,
        )
        expect(page.locator(".take video")).to_have_count(2, timeout=30_000)
        wait_until(page, "Array.from(document.querySelectorAll('.take video')).every(v => v.readyState >= 1)")
        page.screenshot(path=SHOTS / "04-compare.png")

        page.click("[data-ab-play]")
        wait_until(
            page,
            "Array.from(document.querySelectorAll('.take video')).every(v => !v.paused && v.currentTime > 0)",
        )
        page.click("[data-ab-play]")
        page.eval_on_selector(
            "[data-ab-scrub]", "s => { s.value = 500; s.dispatchEvent(new Event('input')); }"
        )
        times = page.eval_on_selector_all(".take video", "vs => vs.map(v => v.currentTime / v.duration)")
        assert len(times) == 2 and all(abs(t - 0.5) < 0.1 for t in times), times

        page.locator(".take", has_text="fake-alt").locator("text=Pick as winner").click()
        expect(page.locator(".take.winner")).to_contain_text("fake-alt")
        page.get_by_role("button", name="Assemble the cut from the winners").click()
        expect(page.locator("video[data-cut]")).to_be_visible()
        # The cut shows a poster (its first take's thumbnail), not a black box, until it plays.
        expect(page.locator("video[data-cut]")).to_have_attribute("poster", re.compile(r"variant=thumbnail"))
        wait_until(page, "document.querySelector('video[data-cut]').readyState >= 1")
        page.screenshot(path=SHOTS / "05-cut.png", full_page=True)

        costs = page.eval_on_selector_all(
            ".take [data-cost]", "els => els.map(e => parseFloat(e.textContent))"
        )
        page.click("nav >> text=Credits")
        expect(page.locator("#balance")).to_have_text(f"{40 - sum(costs):g}")
        expect(page.locator("#held")).to_have_text("0")
        # Every chart label and value fits inside its chart (nothing clipped at the edge), at a size
        # that can be read.
        assert page.evaluate(CHART_FITS)
        page.screenshot(path=SHOTS / "06-credits-after.png")

        page.click("nav >> text=Jobs")
        page.screenshot(path=SHOTS / "07-jobs.png")
        page.click("nav >> text=Usage")
        page.screenshot(path=SHOTS / "08-usage.png")
        page.click("nav >> text=API keys")
        page.get_by_role("button", name="Create key").click()
        expect(page.locator("[data-new-key]")).to_have_text(re.compile(r"^fg-"))
        page.screenshot(path=SHOTS / "09-keys.png")

        phone = browser.new_page(viewport={"width": 390, "height": 844})
        phone.context.add_cookies(page.context.cookies())
        pages = (("credits", "/"), ("jobs", "/jobs"), ("projects", "/projects"), ("usage", "/usage"))
        for name, path in (*pages, ("keys", "/keys")):
            phone.goto(f"{url}{path}")
            phone.screenshot(path=SHOTS / f"phone-{name}.png", full_page=True)
            width = phone.evaluate("document.documentElement.scrollWidth")
            assert width <= 390, f"{name} scrolls sideways on a phone ({width}px)"
            # Nor does a table inside its card (the usage's credits and a key's Revoke were off to
            # the side, behind a scroll with no hint).
            hidden = phone.evaluate(
                "Array.from(document.querySelectorAll('table'))"
                ".filter((t) => t.scrollWidth > t.clientWidth).map((t) => t.scrollWidth - t.clientWidth)"
            )
            assert hidden == [], f"a table on {name} scrolls inside its card on a phone by {hidden}px"
            assert phone.evaluate(CHART_FITS), f"a chart on {name} is clipped or too small to read"
        # The prompt column gives way on a phone; each job's prompt shows under its model instead.
        phone.goto(f"{url}/jobs")
        expect(phone.locator(".jobs td.prompt").first).to_be_hidden()
        expect(phone.locator(".jobs .prompt-line").first).to_be_visible()
        fits = (
            "(() => { const t = document.querySelector('table.jobs');"
            " return t.scrollWidth <= t.clientWidth; })()"
        )
        assert phone.evaluate(fits), "the jobs table scrolls sideways inside its card on a phone"
        page.goto(f"{url}/jobs")
        expect(page.locator(".jobs td.prompt").first).to_be_visible()
        expect(page.locator(".jobs .prompt-line").first).to_be_hidden()
        browser.close()
    assert blocked == [], f"the Content-Security-Policy blocked the dashboard: {blocked}"
    _ = app


async def test_dashboard_says_when_the_prompt_not_the_seed_is_the_problem(gw: Gateway) -> None:
    key = gw.new_key(credits=20)
    csrf = await dashboard_login(gw.client, key)
    for _ in range(4):
        made = await gw.client.post(
            "/jobs", data={"prompt": "same old prompt", "model": "fake-video", "csrf": csrf}
        )
    shown = await gw.client.get(made.headers["location"])
    assert "rewrite the prompt" in shown.text.lower() and "already been generated 3 times" in shown.text
    assert 'class="flash warning"' in shown.text  # a warning, not an error: the job was queued


# Each chart's labels and values lie inside it and are drawn at least 12 px high (an SVG chart's
# text shrank with the chart on a phone, though its font-size still read 12px).
CHART_FITS = (
    "Array.from(document.querySelectorAll('.chart')).every(chart => {"
    " const box = chart.getBoundingClientRect();"
    " return Array.from(chart.querySelectorAll('.chart-label, .chart-value')).every(t => {"
    " const r = t.getBoundingClientRect();"
    " return r.left >= box.left - 0.5 && r.right <= box.right + 0.5"
    " && r.height >= 12; }); })"
)

LIVE_CONFIG = """
[backends.slow]
type = "fake"
step_seconds = 1.0
models = [{ id = "fake-slow", price_per_second = 1.0 }]

[backends.stuck]
type = "fake"
hang = true
models = [{ id = "fake-stuck", price_per_second = 1.0 }]
"""


def test_jobs_page_updates_finished_rows_in_place(tmp_path: Path, models_dir: Path) -> None:
    """A row that finishes while the page is open loses its Cancel button and shows its clip, without a
    reload; a cancel says what happens; the favicon is served."""
    require(CHROMIUM.exists(), "Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import expect, sync_playwright

    settings = make_settings(
        tmp_path,
        f"sqlite:///{tmp_path / 'db.sqlite'}",
        models_dir,
        config=FAKE_CONFIG + LIVE_CONFIG,
        workers=2,
    )
    with live_server(settings) as (url, app), sync_playwright() as p:
        import billing
        from gateway.engine.keys import create_key

        with app.state.fg.db.write() as conn:
            account = billing.ensure_account(conn, "live")
            billing.grant(conn, account, billing.millicredits(40))
            key = create_key(conn, account).secret
        favicon = httpx.get(f"{url}/favicon.ico")
        assert favicon.status_code == 200 and favicon.headers["content-type"].startswith("image/svg+xml")
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        missing: list[str] = []
        page.on("response", lambda r: missing.append(r.url) if r.status == 404 else None)
        page.goto(f"{url}/login")
        page.fill("input[name=api_key]", key)
        page.get_by_role("button", name="Sign in").click()
        headers = {"Authorization": f"Bearer {key}"}
        stuck = httpx.post(f"{url}/v1/videos", json={"prompt": "p", "model": "fake-stuck"}, headers=headers)
        slow = httpx.post(f"{url}/v1/videos", json={"prompt": "p", "model": "fake-slow"}, headers=headers)
        stuck_id, slow_id = stuck.json()["id"], slow.json()["id"]
        page.goto(f"{url}/jobs")
        slow_row, stuck_row = (
            page.locator(f'tr[data-job="{slow_id}"]'),
            page.locator(f'tr[data-job="{stuck_id}"]'),
        )
        expect(slow_row.locator("[data-cancel]")).to_have_count(1)
        page.evaluate("window.framegateNotReloaded = true")
        wait_until(page, f"document.querySelector('tr[data-job=\"{slow_id}\"]').dataset.done === 'completed'")
        expect(slow_row.locator("[data-cancel]")).to_have_count(0)
        expect(slow_row.locator("video")).to_have_count(1)
        expect(slow_row.get_by_role("link", name="open clip")).to_have_attribute("href", f"/media/{slow_id}")
        assert page.evaluate("window.framegateNotReloaded === true")  # updated in place, not reloaded
        expect(stuck_row.locator("[data-cancel]")).to_have_count(1)
        page.screenshot(path=SHOTS / "10-jobs-live.png")
        # On a phone a running row keeps its Cancel button on screen, and the table fits its card.
        phone = browser.new_page(viewport={"width": 390, "height": 844})
        phone.context.add_cookies(page.context.cookies())
        phone.goto(f"{url}/jobs")
        cancel = phone.locator(f'tr[data-job="{stuck_id}"]').get_by_role("button", name="Cancel")
        box = cancel.bounding_box()
        assert box is not None and box["x"] + box["width"] <= 390, box
        overflow = (
            "(() => { const t = document.querySelector('table.jobs');"
            " return t.scrollWidth - t.clientWidth; })()"
        )
        assert phone.evaluate(overflow) <= 0
        phone.screenshot(path=SHOTS / "phone-jobs-running.png")
        phone.close()
        stuck_row.get_by_role("button", name="Cancel").click()
        expect(page.locator(".flash[role=status]")).to_contain_text(re.compile(f"Cancel\\w* {stuck_id}"))
        # The message leaves the address once shown: a reload does not say it again.
        expect(page).not_to_have_url(re.compile("flash"))
        # The cancelled job ends around the time the page after the cancel opens its stream: its row
        # still gets its final state (it used to stay "in_progress" until a manual reload).
        expect(stuck_row.locator("[data-status]")).to_have_text("failed", timeout=15_000)
        page.reload()
        expect(page.locator(".flash")).to_have_count(0)
        browser.close()
    assert not any(u.endswith("/favicon.ico") for u in missing), missing


def test_a_generate_warning_and_its_prompt_outlast_the_jobs_end(tmp_path: Path, models_dir: Path) -> None:
    """The regeneration warning stays on screen when the page reloads itself as the job ends (it used
    to vanish about two seconds after it appeared), and the prompt stays in its box to be changed."""
    require(CHROMIUM.exists(), "Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import expect, sync_playwright

    config = FAKE_CONFIG + LIVE_CONFIG
    database = f"sqlite:///{tmp_path / 'db.sqlite'}"
    settings = make_settings(tmp_path, database, models_dir, config=config, workers=4)
    with live_server(settings) as (url, app), sync_playwright() as p:
        import billing
        from gateway.engine.keys import create_key

        with app.state.fg.db.write() as conn:
            account = billing.ensure_account(conn, "warned")
            billing.grant(conn, account, billing.millicredits(40))
            key = create_key(conn, account).secret
        body = {"prompt": "a red circle moving right", "model": "fake-slow"}
        for _ in range(3):
            made = httpx.post(f"{url}/v1/videos", json=body, headers={"Authorization": f"Bearer {key}"})
            assert made.status_code == 200
        browser, page = signed_in(p, url, key)
        page.goto(f"{url}/jobs")
        page.fill("input[name=prompt]", body["prompt"])
        page.select_option("select[name=model]", "fake-slow")
        page.get_by_role("button", name="Generate").click()
        warning = page.locator(".flash.warning")
        expect(warning).to_contain_text("already been generated 3 times")
        expect(page.locator(".flash.error")).to_have_count(0)
        expect(page.locator("input[name=prompt]")).to_have_value(body["prompt"])
        page.evaluate("window.framegateBeforeReload = true")
        wait_until(page, "window.framegateBeforeReload === undefined", timeout=60_000)  # jobs ended: reloaded
        expect(warning).to_contain_text("already been generated 3 times")
        expect(page.locator("input[name=prompt]")).to_have_value(body["prompt"])
        page.reload()  # the user's own reload does not repeat it
        expect(page.locator(".flash")).to_have_count(0)
        browser.close()
