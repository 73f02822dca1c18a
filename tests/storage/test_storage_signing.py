"""The signed integrity chain: HMAC-SHA256 signatures over every metadata file and deletion
record, with the key ring made by ``python -m fastrec keys``; tombstones written by retention
and admin deletions, which ``verify`` reports as deletions instead of missing parts."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from storage_builders import NOW, set_mtime, write_session

from fastrec.storage import RotationManager, chain_hash, read_metadata, verify_session
from fastrec.storage.deletion_log import DELETIONS_FILE, read_deletions, verify_deletions
from fastrec.storage.deletions import delete_session
from fastrec.storage.integrity import NO_KEY
from fastrec.storage.metadata import write_metadata
from fastrec.storage.signing import KEY_ENV, KEY_FILE_ENV, SigningKeyError, key_id, keyring_from_env

SESSION = "rdp_123_1729950022"
SRC = Path(__file__).resolve().parents[2] / "src"


def _fastrec(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "PYTHONPATH": str(SRC), **(env or {})}
    return subprocess.run([sys.executable, "-m", "fastrec", *args], capture_output=True, text=True, env=environ,
                          timeout=120, check=False)


@pytest.fixture
def key_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A key ring made by ``python -m fastrec keys init``, outside the recordings, in use."""
    path = tmp_path / "keys" / "signing.json"
    path.parent.mkdir(mode=0o700)
    made = _fastrec("keys", "init", "--file", str(path))
    assert made.returncode == 0, made.stderr
    monkeypatch.setenv(KEY_FILE_ENV, str(path))
    monkeypatch.delenv(KEY_ENV, raising=False)
    return path


def _forge(meta_file: Path, **changes: object) -> None:
    """What an attacker with write access to the recordings does: edit the JSON in place
    (every other byte, the old signature included, unchanged)."""
    data = json.loads(meta_file.read_text())
    for dotted, value in changes.items():
        node = data
        *path, last = dotted.split("__")
        for key in path:
            node = node[key]
        node[last] = value
    meta_file.write_text(json.dumps(data, indent=2))


def _rewrite_whole_session(parts: list[tuple[Path, Path, object]], *, keep_signatures: bool) -> None:
    """Replace part 2's video and rewrite every metadata file consistently: sizes, hashes,
    chain links and chain hashes all agree again (the limit of the unsigned chain)."""
    video2 = parts[1][0]
    video2.write_bytes(b"something else entirely")
    previous_hash, previous_sha, previous_file = None, None, None
    for video, meta_file, _ in parts:
        data = json.loads(meta_file.read_text())
        sha = hashlib.sha256(video.read_bytes()).hexdigest()
        data["file"].update(sha256=sha, size_bytes=video.stat().st_size)
        data["chain"].update(previous_sha256=previous_sha, previous_file=previous_file,
                             chain_hash=chain_hash(previous_hash, sha))
        if not keep_signatures:
            data.pop("signature", None)
        previous_hash, previous_sha, previous_file = data["chain"]["chain_hash"], sha, video.name
        meta_file.write_text(json.dumps(data, indent=2))


def test_keys_init_makes_a_private_ring_and_never_overwrites_it(key_file: Path):
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    ring = keyring_from_env()
    assert ring is not None and list(ring.keys) == [ring.active]
    secret = ring.keys[ring.active].hex()
    again = _fastrec("keys", "init", "--file", str(key_file))
    assert again.returncode == 1 and "already exists" in again.stderr
    shown = _fastrec("keys", "show")  # FASTREC_SIGNING_KEY_FILE names the file
    assert shown.returncode == 0 and f"{ring.active}  (signs)" in shown.stdout
    assert secret not in shown.stdout + shown.stderr  # ids only, never key bytes
    missing = _fastrec("keys", "show", env={KEY_FILE_ENV: ""})
    assert missing.returncode == 2 and KEY_FILE_ENV in missing.stderr


def test_a_signed_session_verifies_and_the_report_says_signatures_were_checked(recordings: Path, key_file: Path):
    parts = write_session(recordings, 3)
    ring = keyring_from_env()
    assert ring is not None
    for _, meta_file, _ in parts:  # link_next's rewrite is signed too
        assert read_metadata(meta_file).signature.key_id == ring.active
    report = verify_session(recordings, SESSION)
    assert report.ok and report.signatures_checked, report.summary
    assert report.summary.splitlines()[-1] == f"  signatures checked (1 key(s) from {KEY_FILE_ENV}={key_file})"


def test_without_a_key_verify_says_signatures_were_not_checked(recordings: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv(KEY_FILE_ENV, raising=False)
    monkeypatch.delenv(KEY_ENV, raising=False)
    write_session(recordings, 2)
    report = verify_session(recordings, SESSION)
    assert report.ok and not report.signatures_checked
    assert f"signatures not checked: {NO_KEY}" in report.summary
    cli = _fastrec("verify", SESSION, "--output-dir", str(recordings), "--json")
    assert cli.returncode == 0
    assert json.loads(cli.stdout)["signatures_checked"] is False


@pytest.mark.parametrize("keep_signatures", [True, False], ids=["old-signatures-kept", "signatures-stripped"])
def test_a_session_rewritten_consistently_is_detected_only_with_the_key(recordings: Path, key_file: Path,
                                                                       keep_signatures: bool):
    parts = write_session(recordings, 3)
    _rewrite_whole_session(parts, keep_signatures=keep_signatures)
    # the hash chain alone is satisfied: this is what signatures are for
    assert verify_session(recordings, SESSION, keys=None).ok
    report = verify_session(recordings, SESSION)
    assert not report.ok
    expected = "modified" if keep_signatures else "unsigned"
    # part 1's content is what was signed; every later part's changed
    first = "ok" if keep_signatures else "unsigned"
    assert [c.status for c in report.segments] == [first, expected, expected], report.summary
    reason = "does not match the content" if keep_signatures else "not signed"
    assert all(any(reason in p for p in c.problems) for c in report.segments[1:])
    cli = _fastrec("verify", SESSION, "--output-dir", str(recordings))
    assert cli.returncode == 1 and f"part 2 ({parts[1][0].name}): {expected}" in cli.stdout


def test_one_changed_field_breaks_the_signature(recordings: Path, key_file: Path):
    parts = write_session(recordings, 2)
    _forge(parts[0][1], connection_info__user="nobody")  # who connected: no hash covers it
    report = verify_session(recordings, SESSION)
    assert [c.status for c in report.segments] == ["modified", "ok"]
    assert "signature" in report.segments[0].problems[0]


def test_rotated_keys_verify_old_and_new_recordings(recordings: Path, key_file: Path):
    write_session(recordings, 2)
    old = keyring_from_env()
    rotated = _fastrec("keys", "rotate", "--file", str(key_file))
    assert rotated.returncode == 0, rotated.stderr
    ring = keyring_from_env()
    assert ring is not None and old is not None and ring.active != old.active and set(ring.keys) > set(old.keys)
    write_session(recordings, 2, session_id="later", start=NOW + timedelta(days=1))
    later = [read_metadata(p) for p in recordings.glob("*20251027*_metadata.json")]
    assert len(later) == 2 and all(m.signature.key_id == ring.active for m in later)
    assert verify_session(recordings, SESSION).ok and verify_session(recordings, "later").ok
    # a verifier that lost the old key cannot vouch for what it signed
    newest = type(ring)({ring.active: ring.keys[ring.active]}, ring.active, "test")
    report = verify_session(recordings, SESSION, keys=newest)
    assert [c.status for c in report.segments] == ["unsigned", "unsigned"]
    assert f"key {old.active!r}, which is not in the key ring" in report.segments[0].problems[0]


def test_a_key_from_the_environment_signs_too(recordings: Path, monkeypatch: pytest.MonkeyPatch):
    key = bytes(range(32))
    monkeypatch.delenv(KEY_FILE_ENV, raising=False)
    monkeypatch.setenv(KEY_ENV, key.hex())
    parts = write_session(recordings, 2)
    assert read_metadata(parts[0][1]).signature.key_id == key_id(key)
    assert verify_session(recordings, SESSION).signatures_checked


@pytest.mark.parametrize(("env", "message"), [
    ({KEY_ENV: "zz"}, f"{KEY_ENV} (value hidden): not hexadecimal; allowed: 64 or more hex digits"),
    ({KEY_ENV: "ab" * 16}, f"{KEY_ENV} (value hidden): 16 bytes; allowed: at least 32 bytes"),
    ({KEY_ENV: "ab" * 32, KEY_FILE_ENV: "/x"}, "both FASTREC_SIGNING_KEY_FILE and FASTREC_SIGNING_KEY are set"),
    ({KEY_FILE_ENV: "/nonexistent/ring.json"}, "FASTREC_SIGNING_KEY_FILE=/nonexistent/ring.json: cannot be read"),
])
def test_unusable_key_settings_name_the_variable_and_what_is_allowed(env: dict[str, str], message: str):
    with pytest.raises(SigningKeyError) as caught:
        keyring_from_env(env)
    assert message in str(caught.value)
    assert "ab" * 16 not in str(caught.value)  # never the key itself


def test_a_ring_others_can_read_is_refused(key_file: Path):
    key_file.chmod(0o644)
    with pytest.raises(SigningKeyError, match=r"mode 0644 lets others read the keys; allowed: 0600"):
        keyring_from_env()


def _old_session(recordings: Path) -> list[tuple[Path, Path, object]]:
    """Three parts, 30 minutes each, whose files were last touched when part 1 started."""
    parts = write_session(recordings, 3)
    for video, meta_file, _ in parts:
        set_mtime(video, NOW.timestamp())
        set_mtime(meta_file, NOW.timestamp())
    return parts


def _retention(recordings: Path, minutes_after_start: float) -> RotationManager:
    """Retention with a 1-day age limit, run a day and ``minutes_after_start`` after the session began."""
    now = NOW.timestamp() + 86400 + minutes_after_start * 60
    return RotationManager(recordings, 100.0, 1.0, clock=lambda: now, recording_grace_seconds=0)


def test_parts_deleted_by_retention_are_reported_as_deleted(recordings: Path, key_file: Path):
    parts = _old_session(recordings)
    result = _retention(recordings, 75).perform_cleanup()  # parts 1 and 2 ended before the cut-off
    assert result["deleted_segments"] == 2, result
    assert not parts[0][0].exists() and not parts[1][0].exists() and parts[2][0].exists()
    records = read_deletions(recordings)
    assert [(r.by, [p.part for p in r.parts]) for r in records] == [("retention", [1]), ("retention", [2])]
    assert all(r.signature is not None for r in records) and verify_deletions(recordings) == []

    report = verify_session(recordings, SESSION)
    assert report.ok, report.summary
    assert [(c.part, c.status) for c in report.segments] == [(1, "deleted"), (2, "deleted"), (3, "ok")]
    day = (NOW + timedelta(days=1)).strftime("%Y-%m-%d")
    assert report.segments[0].notes[0].startswith(f"deleted by retention on {day}")
    assert "(older than 1 days)" in report.segments[0].notes[0]
    cli = _fastrec("verify", SESSION, "--output-dir", str(recordings))
    assert cli.returncode == 0 and f"part 1 ({parts[0][0].name}): deleted [deleted by retention on {day}" in cli.stdout


def test_a_part_deleted_by_hand_is_still_missing(recordings: Path, key_file: Path):
    parts = _old_session(recordings)
    _retention(recordings, 45).perform_cleanup()  # part 1, on record
    parts[1][0].unlink()  # part 2, by hand: no record
    parts[1][1].unlink()
    report = verify_session(recordings, SESSION)
    assert [(c.part, c.status) for c in report.segments] == [(1, "deleted"), (2, "missing"), (3, "ok")]
    assert not report.ok


def test_a_forged_tombstone_is_refused(recordings: Path, key_file: Path):
    parts = _old_session(recordings)
    meta = read_metadata(parts[1][1])
    parts[1][0].unlink()
    parts[1][1].unlink()
    forged = {"at": NOW.timestamp(), "session_id": SESSION, "by": "retention", "reason": "older than 1 days",
              "parts": [{"part": 2, "file": meta.file.name, "sha256": meta.file.sha256,
                         "chain_hash": meta.chain.chain_hash, "size_bytes": meta.file.size_bytes}],
              "previous": None, "signature": None}
    (recordings / DELETIONS_FILE).write_text(json.dumps(forged) + "\n")
    report = verify_session(recordings, SESSION)
    assert [(c.part, c.status) for c in report.segments] == [(1, "ok"), (2, "missing"), (3, "ok")]
    assert any("a deletion record by 'retention' names it but is refused: not signed" in p
               for p in report.segments[1].problems)
    # without a key it could not be told apart: the report says the signatures were not checked
    unchecked = verify_session(recordings, SESSION, keys=None)
    assert unchecked.segments[1].status == "deleted" and not unchecked.signatures_checked


def test_the_next_part_must_follow_the_deleted_one(recordings: Path, key_file: Path):
    parts = _old_session(recordings)
    _retention(recordings, 45).perform_cleanup()
    meta = read_metadata(parts[1][1])
    meta.chain.previous_sha256 = "0" * 64  # re-signed (the attacker has the key): the tombstone still disagrees
    write_metadata(parts[1][1], meta)
    report = verify_session(recordings, SESSION)
    assert report.segments[1].status == "reordered"
    assert "previous part is not the part 1 deleted on record" in report.segments[1].problems[0]


def test_a_session_deleted_by_an_admin_is_reported_deleted(recordings: Path, key_file: Path):
    write_session(recordings, 2)
    record = delete_session(recordings, SESSION, by="alice", reason="GDPR request")
    assert record is not None and record.signature is not None
    report = verify_session(recordings, SESSION)
    assert report.ok and [c.status for c in report.segments] == ["deleted", "deleted"]
    assert report.segments[0].notes[0].startswith("deleted by alice on ")
    assert report.segments[0].notes[0].endswith("(GDPR request)")


def test_who_deleted_and_why_are_printed_escaped(recordings: Path, key_file: Path):
    write_session(recordings, 1)
    delete_session(recordings, SESSION, by="eve\x1b]0;owned\x07", reason="\x1b[31mred")
    cli = _fastrec("verify", SESSION, "--output-dir", str(recordings))
    assert cli.returncode == 0, cli.stdout + cli.stderr
    assert "deleted by eve\\x1b]0;owned\\x07 on " in cli.stdout and "(\\x1b[31mred)" in cli.stdout
    assert "\x1b" not in cli.stdout
