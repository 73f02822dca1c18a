"""Exports of encrypted sessions put no plaintext on disk (issue 13): the admin server
stores them sealed and decrypts them as they are downloaded (HTTP Range too); the MP4
muxer's temporary file is a sealed scratch; a shredded or deleted session takes its
exports with it (deleted through the server, or by another process such as retention).
Every place a file could be - the recordings directory, the server's
export directory, TMPDIR, and every file the process has open (unlinked ones too) - is
scanned for plaintext while each export runs (from its progress callback: the job waits
for the scan) and after."""

from __future__ import annotations

import io
import os
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

import av
import pytest
from cli_jobs import fastrec
from encrypted_recording import (
    FINISH,
    encrypting_manager,
    key_env,
    record,
    session_parts,
)
from polling import wait_for

import fastrec.server.exports as server_exports
from fastrec.crypt.container import MAGIC
from fastrec.crypt.scratch import SealedScratch
from fastrec.engine.protocol import SegmentPolicy
from fastrec.export.run import export_session
from fastrec.server.config import ServerSettings
from fastrec.storage.deletions import delete_session
from fastrec.storage.index import INDEX_FILE, RecordingIndex
from fastrec.storage.videos import use_settings_store

# what plaintext of an export looks like: MP4 boxes, a PDF, the JSON document, event lines
SIGNS = (b"ftyp", b"mdat", b"moov", b"%PDF", b"fastrec.session-export", b'"kind":', b'"kind": ')


def plaintext_in(roots: list[Path]) -> list[str]:
    """Where a plaintext sign is: files under ``roots`` and files this process has open
    under them or unlinked (an anonymous temporary file is seen through /proc)."""
    found: list[str] = []

    def check(name: str, data: bytes) -> None:
        found.extend(f"{name}: {sign!r}" for sign in SIGNS if sign in data)

    for root in roots:
        for path in root.rglob("*"):
            if path.is_file() and not path.is_symlink():
                try:
                    check(str(path), path.read_bytes())
                except FileNotFoundError:  # renamed or deleted meanwhile by a worker
                    continue
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
            if target.endswith(" (deleted)") or any(target.startswith(str(r)) for r in roots):
                with open(f"/proc/self/fd/{fd}", "rb") as handle:
                    check(f"fd {fd} -> {target}", handle.read())
        except OSError:
            continue
    return found


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """TMPDIR (and tempfile's cached choice) set to a directory of the test."""
    folder = tmp_path / "tmpdir"
    folder.mkdir(mode=0o700)
    monkeypatch.setenv("TMPDIR", str(folder))
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def _recorded(tmp_path: Path, key_file: Path, *sessions: str) -> Path:
    out = tmp_path / "rec"
    manager = encrypting_manager(out, key_file, segment_policy=SegmentPolicy(max_seconds=2.0))
    try:
        assert manager.initialize()
        for session_id in sessions:
            record(manager, session_id, parts=2, frames=30)
    finally:
        manager.shutdown()
    return out


def _finished(client, job_id: str) -> dict:  # type: ignore[no-untyped-def]
    def state() -> dict | None:
        body = client.get(f"/api/exports/{job_id}").json()
        return body if body["state"] in ("done", "failed") else None

    return wait_for(state, FINISH, "the export job to finish")


def _decoded_frames(data: bytes) -> int:
    with av.open(io.BytesIO(data), format="mp4") as container:
        return sum(1 for _ in container.decode(video=0))


def test_server_exports_of_an_encrypted_session_are_sealed_at_rest_and_served_decrypted(
        tmp_path: Path, key_file: Path, private_tmp: Path, signed_in,  # type: ignore[no-untyped-def]
        monkeypatch: pytest.MonkeyPatch):
    out = _recorded(tmp_path, key_file, "enc", "doomed", "retired")
    frames = sum(m.frames.encoded for m in session_parts(out, "enc"))
    client = signed_in(ServerSettings(recordings_dir=out, encryption_key_file=key_file))
    exports = client.app.state.ctx.exports
    assert Path(exports.directory).parent == private_tmp
    roots = [out, private_tmp]
    scans: list[tuple[str, list[str]]] = []
    real = server_exports.export_session

    def observed(*args: object, progress: Callable[[float, str], None], **kwargs: object) -> object:
        def watch(fraction: float, message: str) -> None:  # the job waits while the disk is scanned
            progress(fraction, message)
            scans.append((f"{kwargs.get('output')} {fraction:.2f} {message}", plaintext_in(roots)))
        return real(*args, progress=watch, **kwargs)

    monkeypatch.setattr(server_exports, "export_session", observed)
    downloads: dict[str, bytes] = {}
    job_ids: list[str] = []
    for fmt in ("mp4", "pdf", "json"):
        job = client.post("/api/recordings/enc/exports", json={"format": fmt}).json()
        job_ids.append(job["id"])
        done = _finished(client, job["id"])
        assert done["state"] == "done", done
        stored = exports.file(exports.get(job["id"]))
        assert stored.read_bytes().startswith(MAGIC)  # the project's container, not the format
        whole = client.get(done["download"])
        assert whole.status_code == 200, whole.text
        assert whole.headers["content-disposition"].startswith("attachment;")
        assert len(whole.content) == done["size_bytes"]
        piece = client.get(done["download"], headers={"Range": "bytes=100-199"})
        assert piece.status_code == 206 and piece.content == whole.content[100:200]
        assert piece.headers["content-range"] == f"bytes 100-199/{len(whole.content)}"
        downloads[fmt] = whole.content
    assert len(scans) > 20 and any("mp4" in where for where, _ in scans)
    assert [(where, found) for where, found in scans if found] == []
    assert plaintext_in(roots) == []
    # what was downloaded opens: the MP4 plays every frame (moov first), the PDF has text, the JSON parses
    video = downloads["mp4"]
    assert video[4:8] == b"ftyp" and video.index(b"moov") < video.index(b"mdat")
    assert _decoded_frames(video) >= frames - 2
    pdf = tmp_path / "download.pdf"
    pdf.write_bytes(downloads["pdf"])
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "Session enc" in text
    assert b'"session_id": "enc"' in downloads["json"]
    # a session deleted through the server takes its exports with it
    doomed = client.post("/api/recordings/doomed/exports", json={"format": "json"}).json()
    assert _finished(client, doomed["id"])["state"] == "done"
    doomed_file = exports.file(exports.get(doomed["id"]))
    assert client.request("DELETE", "/api/recordings/doomed").json()["deleted"] == ["doomed"]
    assert not doomed_file.exists() and client.get(f"/api/exports/{doomed['id']}").status_code == 404
    # one deleted by another process (retention, another server): its exports go at the next request
    retired = client.post("/api/recordings/retired/exports", json={"format": "pdf"}).json()
    assert _finished(client, retired["id"])["state"] == "done"
    retired_file = exports.file(exports.get(retired["id"]))
    parts = session_parts(out, "retired")
    assert delete_session(out, "retired", by="retention", reason="older than 30 days") is not None
    with RecordingIndex(out / INDEX_FILE, out) as index:
        for meta in parts:
            index.remove(out / meta.file.name)
    assert client.get(f"/api/exports/{retired['id']}").status_code == 404 and not retired_file.exists()
    # shredding the session (the CLI, another process): its exports are unreadable at once, then swept away
    files = [exports.file(exports.get(job_id)) for job_id in job_ids]
    assert all(f.exists() for f in files)
    shred = fastrec("shred", "enc", "--yes", "--output-dir", str(out), cwd=tmp_path, env=key_env(key_file))
    assert shred.returncode == 0, shred.stderr
    gone = client.get(f"/api/exports/{job['id']}/file")
    assert gone.status_code == 404, gone.text
    assert not any(f.exists() for f in files) and exports.sessions() == set()


def test_the_cli_writes_the_plaintext_asked_for_and_no_plaintext_temporary(
        tmp_path: Path, key_file: Path, private_tmp: Path):
    out = _recorded(tmp_path, key_file, "cli")
    target_dir = tmp_path / "wanted"
    target_dir.mkdir()
    # in process, to watch the disk while the MP4 is muxed: only the output itself may be plaintext
    from fastrec.settings import load_settings

    use_settings_store(load_settings(output_dir=str(out), encryption_key_file=str(key_file)))
    scans: list[list[str]] = []
    outcome = export_session(out, "cli", "mp4", output=target_dir / "cli.mp4",
                             progress=lambda fraction, message: scans.append(plaintext_in([out, private_tmp,
                                                                                           target_dir])))
    assert scans and all(found == [] for found in scans[:-1]), scans  # the last: after the output is written
    assert not outcome.sealed and outcome.path.read_bytes()[4:8] == b"ftyp"
    assert sorted(p.name for p in target_dir.iterdir()) == ["cli.mp4"]
    # and the command itself, with TMPDIR in the test's directory
    done = fastrec("export", "cli", "--format", "pdf", "--output-dir", str(out), "--output",
                   str(target_dir / "cli.pdf"), cwd=tmp_path, env={**key_env(key_file), "TMPDIR": str(private_tmp)})
    assert done.returncode == 0, done.stderr
    assert (target_dir / "cli.pdf").read_bytes().startswith(b"%PDF")
    assert plaintext_in([out, private_tmp]) == []


def test_a_sealed_scratch_reads_back_what_was_written_anywhere_and_stores_only_ciphertext(private_tmp: Path):
    reference = bytearray()
    with SealedScratch() as scratch:
        handle = scratch.handle()
        pattern = b"mdat-plaintext-" * 20_000  # 300 kB: spans blocks, more than the cache holds
        for offset in (0, 1_000_000, 65_530, 299_990):  # a hole, then writes across block edges
            handle.seek(offset)
            handle.write(pattern)
            end = offset + len(pattern)
            reference.extend(bytes(max(0, end - len(reference))))
            reference[offset:end] = pattern
        other = scratch.handle()  # a second handle: its own position
        assert other.read() == bytes(reference) and scratch.size == len(reference)
        other.seek(65_000)
        assert other.read(10_000) == bytes(reference[65_000:75_000])
        raw = os.pread(scratch._file.fileno(), 1 << 24, 0)
        assert b"mdat" not in raw and len(raw) >= len(reference)
    assert list(private_tmp.iterdir()) == []  # anonymous: nothing to find or leave behind
