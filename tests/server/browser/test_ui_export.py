"""The Export panel of a recording's detail page in a real chromium: an auditor exports a
range of the multi-part "clock" recording as MP4, watches the progress and downloads a file
that plays; a viewer sees no panel."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from browser_harness import CLOCK, sign_in
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_an_auditor_exports_a_range_as_mp4_and_downloads_it(ui_server, new_page, tmp_path: Path):
    page = new_page()
    sign_in(page, ui_server.url, "aud", f"/recordings/{CLOCK}")
    page.fill("#export-from", "1")
    page.fill("#export-to", "4")
    page.click("#export-mp4")
    link = page.locator("#export-download")
    expect(link).to_be_visible(timeout=60_000)
    expect(page.locator("#export-progress")).to_have_attribute("value", "100")
    expect(link).to_contain_text(".mp4")
    with page.expect_download() as info:
        link.click()
    download = info.value
    assert download.suggested_filename.startswith(CLOCK) and download.suggested_filename.endswith(".mp4")
    target = tmp_path / download.suggested_filename
    download.save_as(target)
    played = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0",
                             str(target)], capture_output=True, text=True, check=True)
    assert float(played.stdout) == pytest.approx(3.0, abs=0.1)


def test_a_bad_range_is_shown_and_a_viewer_has_no_export(ui_server, new_page):
    page = new_page()
    sign_in(page, ui_server.url, "aud", f"/recordings/{CLOCK}")
    page.fill("#export-from", "teatime")
    page.click("#export-pdf")
    expect(page.locator("#export-status .notice.error")).to_contain_text("from='teatime'")
    viewer = new_page()
    sign_in(viewer, ui_server.url, "viewer", f"/recordings/{CLOCK}")
    expect(viewer.locator("#integrity")).to_be_visible()
    expect(viewer.locator("#export-panel")).to_have_count(0)
