"""The encrypted file format and the key hierarchy on real files: what a reader gets back,
what it refuses (an altered, moved or cut chunk), and which keys open which recordings."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from fastrec.crypt.container import ChunkError, ChunkWriter, DecryptingReader
from fastrec.crypt.context import SegmentEncryption, new_segment, unwrap_data_key
from fastrec.crypt.keys import KeyError_, KeyRing, LocalKek, add_key_to_file, load_key_ring
from fastrec.crypt.keystore import SessionKeyStore, Shredded
from fastrec.storage.files import create_private

SESSION_KEY = SegmentEncryption("s1", "k1", bytes(range(32)))


def _write(path: Path, pieces: list[bytes], final: bool = True) -> None:
    header, data_key = new_segment(SESSION_KEY, 1)
    fd = create_private(path)
    try:
        writer = ChunkWriter(fd, header, data_key, str(path))
        for piece in pieces:
            writer.write(piece)
            writer.seal()
        if final:
            writer.seal(final=True)
    finally:
        os.close(fd)


def _reader(path: Path) -> DecryptingReader:
    return DecryptingReader(open(path, "rb"), path.stat().st_size,
                            lambda header: unwrap_data_key(header, SESSION_KEY.session_key))


PIECES = [b"ftyp" + b"a" * 100, b"moof" + b"b" * 5000, b"moof" + b"c" * 3000]


def test_a_reader_gets_back_every_byte_at_any_offset_and_none_is_stored_in_clear(tmp_path: Path):
    path = tmp_path / "v.mp4"
    _write(path, PIECES)
    stored = path.read_bytes()
    assert b"ftyp" not in stored and b"moof" not in stored and b"bbbb" not in stored
    plain = b"".join(PIECES)
    with _reader(path) as reader:
        assert reader.size == len(plain) and reader.finished
        assert reader.read() == plain
        for offset, length in ((0, 10), (100, 8), (5100, 200), (len(plain) - 5, 50)):
            reader.seek(offset)
            assert reader.read(length) == plain[offset:offset + length]


def test_a_file_cut_anywhere_decrypts_up_to_its_last_whole_chunk(tmp_path: Path):
    path = tmp_path / "v.mp4"
    _write(path, PIECES, final=False)  # a killed writer: no final chunk
    whole = path.read_bytes()
    for cut in (len(whole) - 1, len(whole) - 3000, len(whole) - 3020):
        path.write_bytes(whole[:cut])
        with _reader(path) as reader:
            assert reader.read() == b"".join(PIECES[:2])  # the torn last chunk is left out
            assert not reader.finished


def test_an_altered_or_moved_chunk_is_refused_naming_it(tmp_path: Path):
    path = tmp_path / "v.mp4"
    _write(path, PIECES)
    with _reader(path) as reader:
        second = reader.chunks[1]
        third = reader.chunks[2]
    original = path.read_bytes()
    flipped = bytearray(original)
    flipped[second.offset + 40] ^= 1
    path.write_bytes(bytes(flipped))
    with _reader(path) as reader:
        assert reader.read(50) == PIECES[0][:50]  # the chunks before it still read
        reader.seek(second.plain_offset)
        with pytest.raises(ChunkError, match=f"chunk 1 \\(byte {second.offset}\\) does not authenticate"):
            reader.read(10)
        assert [p.split(" (")[0] for p in reader.check_all()] == ["chunk 1"]
    # two chunks swapped: each fails at the other's place (its index is authenticated)
    a = original[second.offset:second.offset + second.stored]
    b = original[third.offset:third.offset + third.stored]
    path.write_bytes(original[:second.offset] + b + a + original[third.offset + third.stored:])
    with _reader(path) as reader:
        assert len(list(reader.check_all())) == 2


def test_a_key_file_others_can_read_is_refused_and_rotation_keeps_old_keys(tmp_path: Path):
    key_file = tmp_path / "kek"
    first = add_key_to_file(key_file, create=True)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    store = SessionKeyStore(tmp_path / "keys", load_key_ring(key_file, None))
    old = store.for_writing("old")
    second = add_key_to_file(key_file, create=False)
    ring = load_key_ring(key_file, None)
    assert ring is not None and ring.active.key_id == second != first
    store = SessionKeyStore(tmp_path / "keys", ring)
    assert store.get("old").secret == old.secret and store.get("old").kek_id == first
    assert store.for_writing("new").kek_id == second
    # the old key removed from the ring: the old session no longer opens, the new one does
    only_new = KeyRing((ring.get(second),), "test")
    assert SessionKeyStore(tmp_path / "keys", only_new).get("new").secret == store.get("new").secret
    with pytest.raises(KeyError_, match=f"key id '{first}' is not in"):
        SessionKeyStore(tmp_path / "keys", only_new).get("old")
    os.chmod(key_file, 0o644)
    with pytest.raises(KeyError_, match="mode 0644; allowed: readable by its owner only"):
        load_key_ring(key_file, None)


def test_a_shredded_session_key_is_gone_for_good(tmp_path: Path):
    ring = load_key_ring(None, "A" * 43 + "=")
    assert ring is not None
    store = SessionKeyStore(tmp_path / "keys", ring)
    key = store.for_writing("s")
    record = store.record_path("s")
    tomb = store.shred("s", by="cli:tester")
    assert not record.exists() and tomb.by == "cli:tester"
    assert key.secret.hex() not in store.tombstone_path("s").read_text()
    fresh = SessionKeyStore(tmp_path / "keys", ring)  # another process: no cache
    with pytest.raises(Shredded, match="crypto-shredded at .* by cli:tester"):
        fresh.get("s")
    with pytest.raises(Shredded):
        fresh.for_writing("s")  # never a new key under a shredded session's id
    with pytest.raises(Shredded, match="shredded already"):
        fresh.shred("s", by="again")


def test_the_kek_context_binds_a_wrapped_key_to_its_session():
    kek = LocalKek("k", os.urandom(32))
    wrapped = kek.wrap(b"x" * 32, b"session a")
    assert kek.unwrap(wrapped, b"session a") == b"x" * 32
    with pytest.raises(KeyError_, match="does not unwrap"):
        kek.unwrap(wrapped, b"session b")
    assert "secret=" not in repr(kek)  # key bytes never reach a log line through a repr


def test_an_encrypted_events_file_reads_back_every_whole_line_even_unclosed(tmp_path: Path):
    from datetime import UTC, datetime

    from fastrec.crypt.context import Encryption, use_encryption
    from fastrec.events.file import EventsWriter, read_events
    from fastrec.events.model import Click, EventsHeader, KeyActivity, MouseButton

    start = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    ring = load_key_ring(None, "B" * 43 + "=")
    assert ring is not None
    encryption = Encryption(ring, SessionKeyStore(tmp_path / "keys", ring))
    path = tmp_path / "session_1_events.jsonl"
    writer = EventsWriter(path, EventsHeader(session_id="s1", part=1, session_start=start),
                          encryption=encryption.for_session("s1"))
    writer.write(Click(at=start, t=1.0, button=MouseButton.LEFT, x=10.0, y=20.0))
    writer.write(KeyActivity(at=start, t=2.0, count=5))
    writer.sync()  # not closed: what a killed recorder leaves
    stored = path.read_bytes()
    assert b"click" not in stored and b"key_activity" not in stored and b"s1" in stored  # the header names its session
    with pytest.raises(OSError, match="encrypted; set FASTREC_ENCRYPTION_KEY_FILE"):
        read_events(path)
    use_encryption(tmp_path, encryption)
    try:
        path.write_bytes(stored + stored[-30:])  # a torn chunk at the end, as a kill mid-write leaves
        found = read_events(path)
        assert found.header is not None and [e.kind for e in found.events] == ["click", "key_activity"]
    finally:
        use_encryption(tmp_path, None)
        writer.close()
