"""The web UI in a real chromium: signing in, the recordings list and a recording's
detail, marking a recording as reviewed."""

from __future__ import annotations

import pytest
from browser_harness import CLOCK, PASSWORD, TYPING, sign_in
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_sign_in_shows_a_wrong_password_and_returns_to_the_page_asked_for(ui_server, new_page):
    page = new_page()
    # signed out, a page of the UI sends the browser to the login page with the way back
    page.goto(f"{ui_server.url}/recordings?q=clock")
    page.wait_for_url(f"{ui_server.url}/login?next=%2Frecordings%3Fq%3Dclock")
    page.fill("#username", "aud")
    page.fill("#password", "not the password")
    page.click("form.login button[type=submit]")
    expect(page.locator("#login-error")).to_have_text("Wrong username or password.")
    expect(page).to_have_url(f"{ui_server.url}/login?next=%2Frecordings%3Fq%3Dclock")
    page.fill("#password", PASSWORD)
    page.click("form.login button[type=submit]")
    page.wait_for_url(f"{ui_server.url}/recordings?q=clock")
    # the filter of the address is applied, the user and a sign-out are shown
    expect(page.locator("#recordings tbody tr")).to_have_count(1)
    expect(page.locator("#who")).to_contain_text("aud")
    page.click("#who .signout")
    page.wait_for_url(f"{ui_server.url}/login")
    page.goto(f"{ui_server.url}/live")
    page.wait_for_url(f"{ui_server.url}/login?next=%2Flive")


def test_recordings_list_filters_and_opens_a_detail(ui_server, new_page):
    page = new_page()
    sign_in(page, ui_server.url, "viewer", "/recordings")
    rows = page.locator("#recordings tbody tr")
    # (other tests may add recordings: the live page's, the ones deleted)
    expect(page.locator(f"tr[data-session-id='{CLOCK}']")).to_have_count(1)
    # untrusted metadata is text, never markup
    expect(page.locator(f"tr[data-session-id='{TYPING}']")).to_contain_text("srv-hr <b>bold</b>")
    expect(page.locator(f"tr[data-session-id='{TYPING}'] b")).to_have_count(0)
    page.fill("input[name=user]", "alice")
    page.click(".rec-filters button[type=submit]")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-session-id", CLOCK)
    expect(page).to_have_url(f"{ui_server.url}/recordings?user=alice")
    page.fill("input[name=user]", "nobody-at-all")
    page.click(".rec-filters button[type=submit]")
    expect(page.locator(".notice.empty")).to_have_text("No recording matches these filters.")
    page.go_back()
    expect(rows).to_have_count(1)

    rows.first.locator("a").first.click()
    page.wait_for_url(f"{ui_server.url}/recordings/{CLOCK}")
    expect(page.locator("#integrity")).to_have_attribute("data-ok", "true")
    expect(page.locator("#integrity")).to_contain_text("Chain verified")
    expect(page.locator("#segments tbody tr")).to_have_count(4)
    expect(page.locator("dl.meta")).to_contain_text("srv-finance")
    # a viewer may watch but not review, share or delete
    expect(page.locator("#open-replay")).to_be_visible()
    expect(page.locator("#mark-reviewed")).to_have_count(0)
    expect(page.locator("#share-button")).to_have_count(0)
    expect(page.locator("#delete-button")).to_have_count(0)


def test_an_auditor_marks_a_recording_as_reviewed(ui_server, new_page):
    page = new_page()
    sign_in(page, ui_server.url, "aud", f"/recordings/{TYPING}")
    page.fill("#review-note", "checked the HR session, nothing unusual")
    page.click("#mark-reviewed")
    expect(page.locator("#reviews")).to_contain_text("aud reviewed it")
    expect(page.locator("#reviews blockquote")).to_have_text("checked the HR session, nothing unusual")
    # the list shows who reviewed it, for the next auditor too
    other = new_page()
    sign_in(other, ui_server.url, "viewer", "/recordings")
    expect(other.locator(f"tr[data-session-id='{TYPING}'] .reviewed")).to_have_text("✓ reviewed by aud")
