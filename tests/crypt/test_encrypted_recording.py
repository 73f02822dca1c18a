"""Encrypted recordings made by the real engine (synthetic desktop): nothing readable on
disk, yet replay (the admin server's HLS byte ranges), export and verify work through the
keys; a killed encoder leaves a decryptable prefix; an altered chunk is named; a rotated
key keeps older sessions readable; a shredded session is gone, and the shred is audited."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import signal
import subprocess
from pathlib import Path

import av
import pytest
from cli_jobs import fastrec
from encrypted_recording import (
    CONNECTION,
    FINISH,
    encrypting_manager,
    key_env,
    record,
    session_parts,
)
from polling import wait_until

from fastrec.crypt.container import KeyUnavailable
from fastrec.engine.protocol import SegmentPolicy
from fastrec.server.config import ServerSettings
from fastrec.settings import load_settings
from fastrec.storage import iter_metadata, verify_session
from fastrec.storage.metadata import SegmentMetadata
from fastrec.storage.videos import open_video, use_settings_store


def _decoded_frames(source: object) -> int:
    with av.open(source, format="mp4") as container:  # type: ignore[call-overload]
        return sum(1 for _ in container.decode(video=0))

def test_an_encrypted_session_is_ciphertext_on_disk_and_replays_exports_and_verifies(
        tmp_path: Path, key_file: Path, signed_in):  # type: ignore[no-untyped-def]
    out = tmp_path / "rec"
    manager = encrypting_manager(out, key_file, segment_policy=SegmentPolicy(max_seconds=2.0))
    try:
        assert manager.initialize()
        record(manager, "enc", parts=2, frames=30)
    finally:
        manager.shutdown()
    parts = session_parts(out, "enc")
    assert len(parts) >= 2 and all(m.status == "complete" for m in parts), [(m.status, m.errors) for m in parts]
    for meta in parts:
        stored = (out / meta.file.name).read_bytes()
        assert b"ftyp" not in stored and b"moof" not in stored and b"mdat" not in stored
        probe = subprocess.run(["ffprobe", "-v", "error", str(out / meta.file.name)], capture_output=True)
        assert probe.returncode != 0  # a player sees no video without the keys
    # the CLI's verify: the sealed SHA-256 is of the ciphertext, and every chunk authenticates
    checked = fastrec("verify", "enc", "--output-dir", str(out), cwd=tmp_path, env=key_env(key_file))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    no_key = fastrec("verify", "enc", "--output-dir", str(out), cwd=tmp_path)
    assert no_key.returncode == 0, no_key.stdout + no_key.stderr  # hashes check without any key
    # export through the CLI: a plain MP4 with every frame
    target = tmp_path / "enc.mp4"
    exported = fastrec("export", "enc", "--format", "mp4", "--output-dir", str(out), "--output", str(target),
                       cwd=tmp_path, env=key_env(key_file))
    assert exported.returncode == 0, exported.stderr
    assert _decoded_frames(str(target)) >= sum(m.frames.encoded for m in parts) - len(parts)
    document = fastrec("export", "enc", "--format", "json", "--output-dir", str(out), "--output",
                       str(tmp_path / "enc.json"), cwd=tmp_path, env=key_env(key_file))
    assert document.returncode == 0, document.stderr
    segments = json.loads((tmp_path / "enc.json").read_text())["segments"]
    assert [s["sha256"] for s in segments] == [m.file.sha256 for m in parts]  # the sealed (stored) bytes
    refused = fastrec("export", "enc", "--format", "mp4", "--output-dir", str(out), "--output",
                      str(tmp_path / "nokey.mp4"), cwd=tmp_path)
    assert refused.returncode != 0 and "FASTREC_ENCRYPTION_KEY" in refused.stderr
    # replay: the playlist's byte ranges of each part are decrypted fMP4 that decodes
    client = signed_in(ServerSettings(recordings_dir=out, encryption_key_file=key_file))
    playlist = client.get("/api/recordings/enc/playlist.m3u8")
    assert playlist.status_code == 200, playlist.text
    maps = re.findall(r'#EXT-X-MAP:URI="([^"]+)",BYTERANGE="(\d+)@(\d+)"', playlist.text)
    assert maps, playlist.text
    for uri, length, offset in maps:  # each part's init segment, as hls.js fetches it
        init = client.get(uri, headers={"Range": f"bytes={offset}-{int(offset) + int(length) - 1}"})
        assert init.status_code == 206 and init.content[4:8] == b"ftyp" and len(init.content) == int(length)
    for meta in parts:
        url = f"/api/recordings/enc/parts/{meta.chain.part}/video.mp4"
        whole = client.get(url)
        assert whole.status_code == 200 and whole.content[4:8] == b"ftyp"
        assert _decoded_frames(io.BytesIO(whole.content)) == meta.frames.encoded
        piece = client.get(url, headers={"Range": "bytes=100-199"})
        assert piece.status_code == 206 and piece.content == whole.content[100:200]


def test_a_killed_encoder_leaves_a_decryptable_prefix_sealed_and_verified(tmp_path: Path, key_file: Path):
    out = tmp_path / "rec"
    manager = encrypting_manager(out, key_file)
    try:
        assert manager.initialize()
        assert manager.start_session_recording("killed", CONNECTION)
        assert wait_until(lambda: manager.get_recording_status("killed")["frames"]["encoded"] >= 30, FINISH)
        assert manager.recorder is not None
        os.kill(manager.recorder.status("killed")["encoder_pid"], signal.SIGKILL)  # mid-fragment, no close
        assert wait_until(lambda: session_parts(out, "killed")[0].status != "recording", FINISH)
        manager.stop_session_recording("killed")
        assert manager.wait_for_session("killed", FINISH)
    finally:
        manager.shutdown()
    killed = session_parts(out, "killed")[0]
    assert killed.file.sha256 and killed.frames.encoded > 0, (killed.status, killed.errors)
    use_settings_store(load_settings(output_dir=str(out), encryption_key_file=str(key_file)))
    with open_video(out / killed.file.name) as video:
        assert video.encrypted and not video.handle.finished  # no clean close: no final chunk
        assert _decoded_frames(video.handle) == killed.frames.encoded > 0
    report = verify_session(out, "killed")
    assert report.ok, report.summary


def test_an_altered_chunk_is_named_by_verify_even_with_its_metadata_rewritten(tmp_path: Path, key_file: Path):
    out = tmp_path / "rec"
    manager = encrypting_manager(out, key_file)
    try:
        assert manager.initialize()
        record(manager, "tampered", frames=30)
    finally:
        manager.shutdown()
    (meta,) = session_parts(out, "tampered")
    video = out / meta.file.name
    data = bytearray(video.read_bytes())
    data[len(data) // 2] ^= 0x20
    video.write_bytes(bytes(data))
    done = fastrec("verify", "tampered", "--output-dir", str(out), cwd=tmp_path, env=key_env(key_file))
    assert done.returncode != 0 and meta.file.name in done.stdout and "SHA-256" in done.stdout, done.stdout
    # an attacker who rewrites the metadata to the altered file's hash is still caught
    metadata = next(p for p, m in iter_metadata(out) if isinstance(m, SegmentMetadata))
    raw = json.loads(metadata.read_text())
    raw["file"]["sha256"] = hashlib.sha256(bytes(data)).hexdigest()
    metadata.write_text(json.dumps(raw))
    again = fastrec("verify", "tampered", "--output-dir", str(out), cwd=tmp_path, env=key_env(key_file))
    assert again.returncode != 0 and meta.file.name in again.stdout, again.stdout
    assert re.search(r"chunk \d+ \(byte \d+\) does not authenticate", again.stdout), again.stdout


def test_rotation_keeps_old_sessions_readable_and_shred_makes_one_unrecoverable(
        tmp_path: Path, key_file: Path, signed_in):  # type: ignore[no-untyped-def]
    out = tmp_path / "rec"
    manager = encrypting_manager(out, key_file)
    try:
        assert manager.initialize()
        record(manager, "before")
    finally:
        manager.shutdown()
    rotated = fastrec("keys", "rotate-encryption", "--key-file", str(key_file), cwd=tmp_path)
    assert rotated.returncode == 0, rotated.stderr
    manager = encrypting_manager(out, key_file)
    try:
        assert manager.initialize()
        record(manager, "after")
    finally:
        manager.shutdown()
    kek_ids = [line.split()[0] for line in key_file.read_text().splitlines() if not line.startswith("#")]
    assert len(kek_ids) == 2
    use_settings_store(load_settings(output_dir=str(out), encryption_key_file=str(key_file)))
    for session_id, kek_id in (("before", kek_ids[0]), ("after", kek_ids[1])):
        (meta,) = session_parts(out, session_id)
        with open_video(out / meta.file.name) as video:
            assert video.handle.header.kek_id == kek_id  # each session under the key active then
            assert _decoded_frames(video.handle) == meta.frames.encoded
    # the admin server runs (and has read the session's key) while the shred happens
    client = signed_in(ServerSettings(recordings_dir=out, encryption_key_file=key_file))
    assert client.get("/api/recordings/before/parts/1/video.mp4").status_code == 200
    # shred: refused without confirmation off a terminal, then done with --yes
    assert fastrec("shred", "before", "--output-dir", str(out), cwd=tmp_path, env=key_env(key_file)).returncode == 2
    shred = fastrec("shred", "before", "--yes", "--output-dir", str(out), cwd=tmp_path, env=key_env(key_file))
    assert shred.returncode == 0 and "key destroyed" in shred.stdout, shred.stderr
    (gone,) = session_parts(out, "before")
    use_settings_store(load_settings(output_dir=str(out), encryption_key_file=str(key_file)))  # no cached key
    with pytest.raises(KeyUnavailable, match="crypto-shredded"):
        open_video(out / gone.file.name)
    again = fastrec("shred", "before", "--yes", "--output-dir", str(out), cwd=tmp_path, env=key_env(key_file))
    assert again.returncode == 2 and "shredded already" in again.stderr
    # the admin server: the shredded session no longer replays, the other does; the audit log says who
    assert client.get("/api/recordings/before/parts/1/video.mp4").status_code >= 400
    assert client.get("/api/recordings/after/parts/1/video.mp4").status_code == 200
    entries = client.get("/api/audit", params={"action": "shred"}).json()["entries"]
    assert [(e["target"], e["status"]) for e in entries] == [("session:before", "failure"),
                                                             ("session:before", "success")]
    assert entries[1]["actor"].startswith("cli:")
    # the chain of the shredded session still verifies: its files are there, only unreadable
    assert verify_session(out, "before").ok


RECORD_AND_WAIT = """
import sys, time
from fastrec.manager import RecordingManager
from fastrec.settings import load_settings
manager = RecordingManager(load_settings(enabled=True, output_dir=sys.argv[1], encoder_workers=1, fps=10,
                                         keyframe_interval_seconds=1.0, encryption_key_file=sys.argv[2]),
                           mode="synthetic", source_options={"width": 320, "height": 240, "fps": 10,
                                                             "scenario": "video"}, cleanup_schedule=False)
manager.initialize()
manager.start_session_recording("sigkill", {"name": "Faulty"})
while manager.get_recording_status("sigkill")["frames"]["encoded"] < 30:
    time.sleep(0.05)
print("RECORDING", manager.recorder.status("sigkill")["encoder_pid"], flush=True)
time.sleep(600)
"""


def test_a_sigkilled_recorder_leaves_a_prefix_that_recovery_decrypts_and_seals(tmp_path: Path, key_file: Path):
    import sys

    import psutil

    out = tmp_path / "rec"
    proc = subprocess.Popen([sys.executable, "-c", RECORD_AND_WAIT, str(out), str(key_file)],
                            stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert proc.stdout is not None
        line = next(line for line in proc.stdout if line.startswith("RECORDING"))
        encoder = int(line.split()[1])
        os.kill(encoder, signal.SIGKILL)  # the encoder first: it dies mid-part, with no close
        os.killpg(proc.pid, signal.SIGKILL)  # then the host, before it can seal anything
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert wait_until(lambda: not psutil.pid_exists(encoder) or psutil.Process(encoder).status() == "zombie", FINISH)
    (left,) = session_parts(out, "sigkill")
    assert left.status == "recording"
    manager = encrypting_manager(out, key_file)  # its start recovers the killed recorder's part
    try:
        assert manager.initialize()
    finally:
        manager.shutdown()
    (sealed,) = session_parts(out, "sigkill")
    assert sealed.status == "interrupted" and sealed.file.sha256 and sealed.frames.encoded > 0, sealed.errors
    use_settings_store(load_settings(output_dir=str(out), encryption_key_file=str(key_file)))
    with open_video(out / sealed.file.name) as video:
        assert not video.handle.finished and _decoded_frames(video.handle) == sealed.frames.encoded
    assert verify_session(out, "sigkill").ok
