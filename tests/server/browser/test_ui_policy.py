"""The recording policy page in a real chromium: save with a comment, the diff between two
versions (added lines green, removed red, counted), rollback with a confirmation, an
invalid document refused with its line shown; an auditor reads but cannot change.

The policies saved here exclude only TEST-NET-3 (203.0.113.0/24), which no other browser
test records, and the test ends with the default policy active again."""

from __future__ import annotations

import re

import pytest
from browser_harness import sign_in
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

FIRST = """\
connections:
  default: record
  rules:
    - name: test net
      action: skip
      ip: 203.0.113.0/24
"""
SECOND = """\
connections:
  default: record
  rules:
    - name: test net
      action: skip
      ip: [203.0.113.0/24]
      connection_type: RDP
privacy:
  presets: [credit_cards]
"""
INVALID = """\
connections:
  default: record
  rules:
    - action: skip
      ip: 203.0.113.300/24
"""


def rgb(page, selector: str) -> tuple[int, ...]:
    colour = page.eval_on_selector(selector, "el => getComputedStyle(el).backgroundColor")
    return tuple(int(v) for v in re.findall(r"\d+", colour)[:3])


def save(page, text: str, comment: str) -> None:
    page.fill("#policy-text", text)
    page.fill("#policy-comment", comment)
    page.click("#policy-save")


def test_an_admin_saves_compares_and_rolls_back_the_policy(ui_server, new_page):
    store = ui_server.ctx.policy
    start = store.active_or_default().version
    v1, v2, v3 = start + 1, start + 2, start + 3
    page = new_page()
    sign_in(page, ui_server.url, "admin", "/policy")
    expect(page.locator("#policy-text")).to_have_value(store.active_or_default().text)
    try:
        save(page, FIRST, "skip the test network")
        expect(page.locator(f"#policy-history tr[data-version='{v1}'] .badge")).to_have_text("active")
        expect(page.locator("#policy-active")).to_have_text(f"version {v1} active")
        save(page, SECOND, "RDP only, and card numbers")
        expect(page.locator(f"#policy-history tr[data-version='{v2}'] .badge")).to_have_text("active")
        assert store.active().text == SECOND and store.active().author == "admin"
        assert store.active().comment == "RDP only, and card numbers"

        # the differences: added lines green, removed lines red, both counted
        page.select_option("#diff-from", str(v1))
        page.select_option("#diff-to", str(v2))
        page.click("#diff-show")
        changes = store.diff(v1, v2)
        expect(page.locator("#diff-counts")).to_contain_text(f"+{changes.additions} −{changes.deletions} lines")
        expect(page.locator("#policy-diff tr.add")).to_have_count(changes.additions)
        expect(page.locator("#policy-diff tr.remove")).to_have_count(changes.deletions)
        expect(page.locator("#policy-diff tr.remove td.code")).to_have_text(["      ip: 203.0.113.0/24"])
        green, red = rgb(page, "#policy-diff tr.add"), rgb(page, "#policy-diff tr.remove")
        assert green[1] > green[0] and green[1] > green[2], green
        assert red[0] > red[1] and red[0] > red[2], red

        # rollback asks first; the old document comes back as a new version
        page.locator(f"#policy-history tr[data-version='{v1}']").get_by_role("button", name="Rollback…").click()
        dialog = page.locator("dialog")
        expect(dialog).to_contain_text(f"Roll back to version {v1}?")
        expect(dialog).to_contain_text(f"saved as the new version {v3}")
        dialog.locator("#rollback-comment").fill("cards are masked elsewhere")
        dialog.locator("button[type=submit]").click()
        row = page.locator(f"#policy-history tr[data-version='{v3}']")
        expect(row.locator(".badge", has_text="active")).to_have_count(1)
        expect(row).to_contain_text(f"rollback to {v1}")
        expect(page.locator("#policy-text")).to_have_value(FIRST)
        assert (store.active().version, store.active().text, store.active().rolled_back_from) == (v3, FIRST, v1)

        # an invalid document is refused with its line, which the editor selects
        save(page, INVALID, "a typo")
        error = page.locator("#policy-error")
        expect(error).to_be_visible()
        expect(error).to_have_attribute("data-line", "5")
        expect(error).to_contain_text("Not saved: line 5")
        expect(error).to_contain_text("'203.0.113.300/24' is not an IP address or network")
        selected = page.evaluate("() => { const t = document.getElementById('policy-text');"
                                 " return t.value.slice(t.selectionStart, t.selectionEnd); }")
        assert selected == "      ip: 203.0.113.300/24"
        assert store.active().version == v3  # nothing saved
        page.click("#policy-validate")
        expect(error).to_contain_text("Not valid: line 5")

        saves = ui_server.ctx.audit.query(action="policy.save", actor="admin", limit=10)[0]
        assert [e.status for e in saves[:3]] == ["failure", "success", "success"]
        assert ui_server.ctx.audit.query(action="policy.rollback", actor="admin")[0][0].target == f"policy:v{v3}"
    finally:
        if store.active_or_default().text != store.get(0).text:
            store.rollback(0, author="tests", comment="back to the default policy")


def test_an_auditor_reads_the_policy_but_cannot_change_it(ui_server, new_page):
    page = new_page()
    sign_in(page, ui_server.url, "aud", "/policy")
    expect(page.locator("#policy-text")).to_have_value(ui_server.ctx.policy.active_or_default().text)
    expect(page.locator("#policy-text")).to_have_attribute("readonly", "")
    expect(page.locator("#policy-save")).to_have_count(0)
    expect(page.get_by_role("button", name="Rollback…")).to_have_count(0)
    expect(page.locator("#nav a", has_text="Policy")).to_have_attribute("aria-current", "page")
