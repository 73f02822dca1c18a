"""The admin pages in a real chromium: users (create, change role, disable, delete), API
tokens (the secret shown once, revoke), the audit log's filters and exports."""

from __future__ import annotations

import pytest
from browser_harness import PASSWORD, sign_in
from playwright.sync_api import expect
from storage_builders import write_session

from fastrec.storage.deletions import read_deletions, verify_deletions

pytestmark = pytest.mark.browser


def test_an_admin_manages_a_user_and_a_token(ui_server, new_page):
    page = new_page()
    sign_in(page, ui_server.url, "admin", "/users")
    page.fill("#create-user input[name=name]", "newbie")
    page.fill("#create-user input[name=password]", PASSWORD)
    page.select_option("#create-user select", "viewer")
    page.click("#create-user button[type=submit]")
    row = page.locator("tr[data-user='newbie']")
    expect(row).to_have_count(1)
    row.locator("select").select_option("auditor")
    expect(page.locator(".toast").last).to_have_text("newbie: role is now auditor")
    assert ui_server.ctx.accounts.get_user("newbie").role.value == "auditor"
    row.locator("button", has_text="Disable").click()
    expect(row.locator(".badge")).to_have_text("disabled")

    # a disabled user cannot sign in
    other = new_page()
    other.goto(f"{ui_server.url}/login")
    other.fill("#username", "newbie")
    other.fill("#password", PASSWORD)
    other.click("form.login button[type=submit]")
    expect(other.locator("#login-error")).to_be_visible()

    # a token's secret is shown once; revoked, it stops working
    page.fill("#token-label", "nightly export")
    page.click("#create-token button[type=submit]")
    secret = page.locator("#token-secret input").input_value()
    assert secret.startswith("frt_")
    assert ui_server.ctx.accounts.user_for_token(secret).name == "admin"
    token_row = page.locator("#tokens tr", has_text="nightly export")
    token_row.locator("button", has_text="Revoke").click()
    expect(token_row.locator(".badge")).to_have_text("revoked")
    assert ui_server.ctx.accounts.user_for_token(secret) is None

    row.locator("button", has_text="Delete").click()
    page.click("dialog button[type=submit]")
    expect(row).to_have_count(0)
    assert ui_server.ctx.accounts.get_user("newbie") is None


def test_the_audit_log_filters_and_exports_what_it_shows(ui_server, new_page):
    failed = new_page()
    failed.goto(f"{ui_server.url}/login")
    failed.fill("#username", "viewer")
    failed.fill("#password", "wrong password")
    failed.click("form.login button[type=submit]")
    expect(failed.locator("#login-error")).to_be_visible()

    page = new_page()
    sign_in(page, ui_server.url, "admin", "/audit")
    page.select_option("select[name=action]", "login")
    page.select_option("select[name=status]", "failure")
    page.fill("input[name=actor]", "viewer")
    page.click("form.filters button[type=submit]")
    rows = page.locator("#audit tbody tr")
    expect(rows.first).to_contain_text("viewer")
    for text in rows.all_inner_texts():
        assert "login" in text and "failure" in text
    csv_href = page.get_attribute("#export-csv", "href")
    assert "action=login" in csv_href and "status=failure" in csv_href and "format=csv" in csv_href
    with page.expect_download() as download:
        page.click("#export-csv")
    body = open(download.value.path(), encoding="utf-8").read()
    lines = body.strip().splitlines()
    assert len(lines) - 1 == rows.count() and all("failure" in line for line in lines[1:])


def test_an_admin_deletes_recordings_after_confirming(ui_server, ui_recordings, new_page):
    for number in (1, 2):
        write_session(ui_recordings, 2, session_id=f"to_delete_{number}", con_codigo=900 + number,
                      server="srv-old", user="ghost")
    ui_server.ctx.catalogue.refresh()
    page = new_page()
    sign_in(page, ui_server.url, "admin", "/recordings/to_delete_1")
    page.click("#delete-button")
    page.click("dialog button[type=button]")  # cancelled: nothing happens
    expect(page.locator("dialog")).to_have_count(0)
    page.click("#delete-button")
    page.fill("#delete-reason", "retention period over")
    page.click("dialog button[type=submit]")
    page.wait_for_url(f"{ui_server.url}/recordings")
    expect(page.locator("tr[data-session-id='to_delete_1']")).to_have_count(0)

    # several at once from the list
    page.goto(f"{ui_server.url}/recordings?user=ghost")
    expect(page.locator("#recordings tbody tr")).to_have_count(1)
    page.check("tr[data-session-id='to_delete_2'] input[type=checkbox]")
    page.click("#delete-selected")
    page.click("dialog button[type=submit]")
    expect(page.locator(".notice.empty")).to_have_text("No recording matches these filters.")

    assert [r.session_id for r in read_deletions(ui_recordings)][-2:] == ["to_delete_1", "to_delete_2"]
    assert read_deletions(ui_recordings)[-2].reason == "retention period over"
    assert verify_deletions(ui_recordings) == []
    entries, _ = ui_server.ctx.audit.query(action="delete", actor="admin")
    assert {e.target for e in entries} >= {"to_delete_1", "to_delete_2"}
