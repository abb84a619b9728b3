"""Pay for usable takes, in a real browser: a take that stays blank after its free re-render shows as
refunded with its reason on the jobs page, the balance is untouched, and the credits page turns the
setting off and on (the same rule as ``PATCH /v1/account``)."""

from __future__ import annotations

from pathlib import Path

import httpx

from ..support import live_server, make_settings, require
from .test_dashboard import CHROMIUM, SHOTS, wait_until

CONFIG = """
[backends.blank]
type = "fake"
blank_tail = 0.5
models = [{ id = "fake-blank", price_per_second = 1.0 }]
"""


def test_a_refunded_take_and_the_setting_in_the_browser(tmp_path: Path, models_dir: Path) -> None:
    require(CHROMIUM.exists(), "Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import expect, sync_playwright

    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite'}", models_dir, config=CONFIG)
    with live_server(settings) as (url, app), sync_playwright() as p:
        import billing
        from gateway.engine.keys import create_key

        with app.state.fg.db.write() as conn:
            account = billing.ensure_account(conn, "refunds")
            billing.grant(conn, account, billing.millicredits(10))
            key = create_key(conn, account).secret
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{url}/login")
        page.fill("input[name=api_key]", key)
        page.get_by_role("button", name="Sign in").click()
        setting = page.locator("#qc-settlement")
        expect(setting).to_contain_text("On.")
        headers = {"Authorization": f"Bearer {key}"}
        body = {"prompt": "a square slides right", "model": "fake-blank", "seconds": "2"}
        video_id = httpx.post(f"{url}/v1/videos", json=body, headers=headers).json()["id"]
        page.goto(f"{url}/jobs")
        row_done = f"document.querySelector('tr[data-job=\"{video_id}\"]')?.dataset.done"
        wait_until(page, f"{row_done} === 'completed'")
        page.goto(f"{url}/jobs")  # the settled row, as the page renders it
        row = page.locator(f'tr[data-job="{video_id}"]')
        expect(row.locator("[data-billing]")).to_contain_text("refunded 2")
        expect(row.locator("[data-billing]")).to_contain_text("blank frames")
        assert "re-render" in (row.locator("[data-billing]").get_attribute("title") or "")
        page.screenshot(path=SHOTS / "11-jobs-refunded.png")
        page.goto(f"{url}/")
        expect(page.locator("#balance")).to_have_text("10")
        setting.get_by_role("button", name="Turn off").click()
        expect(page.locator(".flash[role=status]")).to_contain_text("Every take is now charged")
        expect(setting).to_contain_text("Off.")
        page.screenshot(path=SHOTS / "12-credits-qc-setting.png")
        account_json = httpx.get(f"{url}/v1/account", headers=headers).json()
        assert account_json["qc_settlement"] == "off"
        setting.get_by_role("button", name="Turn on").click()
        expect(setting).to_contain_text("On.")
        browser.close()
