"""The integrity panel of a recording's detail page says whether signatures were checked,
and lists the session's deletion records with their signatures' verdicts (issue 13)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_harness import CLOCK, IDLE_SECONDS, RunningServer, run_server, sign_and_delete_first_part, sign_in
from playwright.sync_api import expect

from fastrec.storage import iter_metadata
from fastrec.storage.deletion_log import DeletedPart, DeletionRecord, append_deletion
from fastrec.storage.metadata import SegmentMetadata
from fastrec.storage.signing import KEY_ENV, KEY_FILE_ENV

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def signed_server(ui_recordings: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A copy of the UI recordings, the clock session signed and its part 1 deleted on
    record, plus a forged (unsigned) deletion record of part 2; the server has the key."""
    directory = tmp_path_factory.mktemp("signed") / "recordings"
    shutil.copytree(ui_recordings, directory)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(KEY_ENV, "5a" * 32)
        patch.delenv(KEY_FILE_ENV, raising=False)
        sign_and_delete_first_part(directory, CLOCK)
        second = next(m for _, m in iter_metadata(directory)
                      if isinstance(m, SegmentMetadata) and m.session_id == CLOCK and m.chain.part == 2)
        append_deletion(directory, DeletionRecord(at=0, session_id=CLOCK, by="mallory", reason="forged",
                                                  parts=[DeletedPart(part=2, file=second.file.name)]), keys=None)
        with run_server(directory, FASTREC_IDLE_SECONDS=IDLE_SECONDS) as server:
            yield server


def test_the_integrity_panel_shows_checked_signatures_and_signed_deletion_records(
        signed_server: RunningServer, new_page) -> None:  # type: ignore[no-untyped-def]
    page = new_page()
    sign_in(page, signed_server.url, "viewer", f"/recordings/{CLOCK}")
    signatures = page.locator("#integrity-signatures")
    expect(signatures).to_have_attribute("data-checked", "true")
    expect(signatures).to_contain_text("Signatures checked")
    deletions = page.locator("#integrity-deletions")
    expect(deletions).to_contain_text("Deletion records (2)")
    verified = deletions.locator("li[data-signature=verified]")
    expect(verified).to_contain_text("Part 1 deleted by retention on")
    expect(verified).to_contain_text("(older than 30 days)")
    expect(verified).to_contain_text("signature verified (key k")
    refused = deletions.locator("li[data-signature=refused]")
    expect(refused).to_contain_text("Part 2 deleted by mallory")
    expect(refused).to_contain_text("signature refused: not signed")
    expect(page.locator("#integrity")).to_contain_text("Part 1: deleted")


def test_without_a_signing_key_the_panel_says_signatures_were_not_checked(
        ui_server, new_page, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv(KEY_ENV, raising=False)  # the servers read it at each check: none for this one
    page = new_page()
    sign_in(page, ui_server.url, "viewer", f"/recordings/{CLOCK}")
    signatures = page.locator("#integrity-signatures")
    expect(signatures).to_have_attribute("data-checked", "false")
    expect(signatures).to_contain_text("Signatures not checked")
    expect(signatures).to_contain_text("no signing key configured")
    expect(page.locator("#integrity-deletions")).to_have_count(0)
