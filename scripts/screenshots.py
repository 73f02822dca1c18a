"""Screenshots of every page of the web UI at 1366x768, into docs/screenshots/.

Uses the browser tests' real parts (tests/server/browser/browser_harness.py): two
sessions recorded by the recorder into a temporary directory, users made through the
accounts store, the admin server in a thread on a free loopback port, Debian's chromium
through Playwright, and a recorder in another process for the live page.

    .venv/bin/python scripts/screenshots.py                 # all pages
    .venv/bin/python scripts/screenshots.py --out /tmp/shots
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "server" / "browser")]

from browser_harness import (  # noqa: E402 - after the path set-up
    CLOCK,
    IDLE_SECONDS,
    TYPING,
    VIEWPORT,
    child_env,
    create_users,
    launch_chromium,
    record_fixtures,
    recorder_command,
    run_server,
    sign_and_delete_first_part,
    sign_in,
)
from playwright.sync_api import Page, sync_playwright  # noqa: E402

READY = "() => document.getElementById('player')?.dataset.ready === '1'"


def paused_at(page: Page, fraction: float) -> None:
    """Pause the player with its head at ``fraction`` of the bar."""
    page.wait_for_function(READY)
    page.evaluate("() => document.getElementById('video').pause()")
    box = page.locator("#timeline-bar").bounding_box()
    assert box is not None
    page.evaluate("() => { window.__seeked = false; document.getElementById('video')"
                  ".addEventListener('seeked', () => { window.__seeked = true; }, { once: true }); }")
    page.mouse.click(box["x"] + box["width"] * fraction, box["y"] + box["height"] / 2)
    page.wait_for_function("() => window.__seeked")
    page.mouse.move(0, 0)


SIGNING_KEY = "5a" * 32  # a throw-away key: the integrity panel shows checked signatures


def take(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    shots: list[Path] = []
    os.environ.pop("FASTREC_SIGNING_KEY_FILE", None)
    os.environ["FASTREC_SIGNING_KEY"] = SIGNING_KEY  # the recorders sign, the server checks
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp) / "recordings"
        print("recording the sessions ...", file=sys.stderr)
        record_fixtures(directory)
        create_users(directory)
        with run_server(directory, FASTREC_IDLE_SECONDS=IDLE_SECONDS) as server, sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            ctx = server.ctx
            ctx.notes.review(TYPING, "aud", "Checked: routine HR maintenance.")
            ctx.shares.create(CLOCK, "aud", 7 * 86_400)
            ctx.shares.create(TYPING, "admin", 3600)
            revoked, _ = ctx.shares.create(TYPING, "aud", 86_400)
            ctx.shares.revoke(revoked.id, "admin")
            ctx.accounts.create_token("admin", "nightly export")
            url = server.url

            def shot(page: Page, name: str) -> None:
                path = out / f"{name}.png"
                page.screenshot(path=str(path))
                shots.append(path)
                print(path, file=sys.stderr)

            page = browser.new_page(viewport=VIEWPORT)
            page.goto(f"{url}/login")
            page.wait_for_selector("form.login")
            shot(page, "login")
            sign_in(page, url, "admin", "/recordings")
            page.wait_for_selector("#recordings")
            shot(page, "recordings")
            sign_and_delete_first_part(directory, CLOCK)  # a signed deletion record in the integrity panel
            page.goto(f"{url}/recordings/{CLOCK}")
            page.wait_for_selector("#integrity-deletions")
            shot(page, "recording-detail")
            page.goto(f"{url}/search?since=2000-01-01T00:00:00")
            page.wait_for_selector("#search-count")
            shot(page, "search")
            page.goto(f"{url}/replay/{TYPING}")
            paused_at(page, 0.3)
            page.click("#add-bookmark")
            page.fill("#bookmark-note", "opens the payroll export")
            page.click("dialog button[type=submit]")
            page.wait_for_selector(".mark.bookmark")
            paused_at(page, 0.8)
            page.wait_for_selector(".toast", state="detached")
            shot(page, "replay")
            page.click("#share-button")
            page.click("dialog button[type=submit]")
            link = page.locator("#share-url").input_value()
            shot(page, "share-dialog")
            page.keyboard.press("Escape")

            stranger = browser.new_page(viewport=VIEWPORT)
            stranger.goto(link)
            paused_at(stranger, 0.3)
            shot(stranger, "shared")
            stranger.goto(f"{url}/admin/session-recordings/shared/{'x' * 43}")
            shot(stranger, "share-refused")

            page.goto(f"{url}/shares")
            page.wait_for_selector("table.shares")
            shot(page, "shares")
            page.goto(f"{url}/audit")
            page.wait_for_selector("#audit")
            shot(page, "audit")
            page.goto(f"{url}/users")
            page.wait_for_selector("#users table")
            shot(page, "users")

            live = [("rdp_live_1", "srv-finance", "carol", "10.7.7.7", "RDP"),
                    ("rdp_live_2", "srv-finance", "dave", "10.7.7.8", "RDP"),
                    ("ssh_live_3", "db01", "carol", "10.7.7.9", "SSH")]
            recorders = [subprocess.Popen(recorder_command(directory, sid, 60, server=server, user=user, ip=ip,
                                                           connection_type=kind),
                                          env=child_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                         for sid, server, user, ip, kind in live]
            try:
                page.goto(f"{url}/live")
                page.wait_for_function("() => document.querySelectorAll('#live-sessions tbody tr').length === 3",
                                       timeout=30_000)
                page.wait_for_function("() => [...document.querySelectorAll('#live-sessions [data-field=frames]')]"
                                       ".every((cell) => Number(cell.textContent) > 20)", timeout=30_000)
                shot(page, "live")
            finally:
                for recorder in recorders:
                    recorder.send_signal(signal.SIGINT)  # a clean stop: the part is sealed
                for recorder in recorders:
                    recorder.wait(60)

            # the recording policy, after the live recorders (its rules would apply to them)
            internal = (ROOT / "docs" / "policy" / "internal-only.yaml").read_text()
            ctx.policy.save(internal, author="admin", comment="only internal RDP connections")
            ctx.policy.save(internal.replace("connection_type: RDP ", "connection_type: [RDP, VNC]")
                            + "privacy:\n  presets: [passwords, credit_cards, ssn]\n", author="admin",
                            comment="VNC too; mask passwords, cards and SSNs")
            page.goto(f"{url}/policy")
            page.wait_for_selector("#policy-history table")
            shot(page, "policy")
            page.locator("#policy-history tr[data-version='2']").get_by_role("button", name="Changes").click()
            page.wait_for_selector("#policy-diff table.diff")
            page.evaluate("() => { document.getElementById('diff-counts').closest('section').scrollIntoView();"
                          " window.scrollBy(0, -56); }")  # below the sticky top bar
            shot(page, "policy-diff")
            browser.close()
    return shots


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots", help="where the PNGs go")
    args = parser.parse_args()
    take(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
