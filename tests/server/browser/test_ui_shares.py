"""Share links in a real chromium: created in the share dialog, opened in a fresh browser
context without login (the video plays); expired and revoked links get the refusal page,
never the video."""

from __future__ import annotations

import httpx
import pytest
from browser_harness import CLOCK, TYPING, sign_in
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

PLAYING = "() => { const v = document.getElementById('video'); return v && !v.paused && v.currentTime > 1; }"


def test_a_share_link_opens_the_replay_without_login(ui_server, new_page):
    page = new_page()
    sign_in(page, ui_server.url, "aud", f"/replay/{CLOCK}")
    page.wait_for_function("() => document.getElementById('player')?.dataset.ready === '1'")
    page.click("#share-button")
    page.select_option("#share-expires", "1h")
    page.click("dialog button[type=submit]")
    url_field = page.locator("#share-url")
    expect(url_field).to_be_visible()
    link = url_field.input_value()
    assert link.startswith(f"{ui_server.url}/admin/session-recordings/shared/")

    stranger = new_page()  # another browser context: no cookie, no session
    stranger.goto(link)
    stranger.wait_for_function(PLAYING)
    expect(stranger.locator("#nav")).to_have_count(0)
    expect(stranger.locator(".replay-head")).to_contain_text("srv-finance")
    expect(stranger.locator("#add-bookmark")).to_have_count(0)
    assert stranger.context.cookies() == []

    # the auditor sees the link among the recording's share links
    page.goto(f"{ui_server.url}/recordings/{CLOCK}")
    expect(page.locator("#session-shares tbody tr")).to_have_count(1)
    expect(page.locator("#session-shares tbody tr .badge")).to_have_text("valid")


def _refused(page, link: str, title: str) -> None:
    response = page.goto(link)
    assert response is not None and response.status == 410
    expect(page.locator("h1")).to_have_text(title)
    expect(page.locator("video")).to_have_count(0)
    assert page.context.cookies() == []


def test_expired_and_revoked_links_are_refused(ui_server, new_page):
    # expired: made through the store with an expiry in the past
    _, expired_token = ui_server.ctx.shares.create(TYPING, "aud", ttl_seconds=-60)
    _refused(new_page(), f"{ui_server.url}/admin/session-recordings/shared/{expired_token}",
             "This link has expired")

    # revoked: made and revoked through the API, as a script would
    _, secret = ui_server.ctx.accounts.create_token("aud", "share script")
    headers = {"Authorization": f"Bearer {secret}"}
    with httpx.Client(base_url=ui_server.url, headers=headers) as api:
        created = api.post(f"/admin/session-recordings/share/{TYPING}", json={"expiresIn": "24h"}).json()
        page = new_page()
        page.goto(created["url"])
        page.wait_for_function("() => document.getElementById('player')?.dataset.ready === '1'")
        assert api.delete(f"/api/shares/{created['id']}").json()["state"] == "revoked"
    _refused(new_page(), created["url"], "This link was revoked")
    # the page already open stops playing what it can no longer fetch: the next request is refused
    page.reload()
    expect(page.locator("h1")).to_have_text("This link was revoked")


def test_the_shares_page_lists_and_revokes(ui_server, new_page):
    link, _ = ui_server.ctx.shares.create(CLOCK, "aud", ttl_seconds=3600)
    page = new_page()
    sign_in(page, ui_server.url, "aud", "/shares")
    row = page.locator(f"tr[data-link-id='{link.id}']")
    expect(row.locator(".badge")).to_have_text("valid")
    row.locator("button", has_text="Revoke").click()
    expect(row.locator(".badge")).to_have_text("revoked")
    (revoked,) = [x for x in ui_server.ctx.shares.list(CLOCK) if x.id == link.id]
    assert revoked.revoked_by == "aud"
