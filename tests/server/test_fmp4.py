"""The fragment index on parts the real engine recorded, on parts still growing (a prefix
of a real part), and on files that are not fragmented MP4s.  What a part holds is checked
against ffprobe's reading of the same file."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from media_recording import KEYFRAME_INTERVAL, Recorded, ffprobe_packets, recorded  # noqa: F401

from fastrec.engine.encoder.writer import EncoderSettings, SegmentWriter
from fastrec.engine.protocol import SegmentPolicy
from fastrec.server.media.fmp4 import FragmentIndex, FragmentIndexError, index_fragments


def _boxes(path: Path, offset: int, end: int) -> list[tuple[bytes, int]]:
    """(type, size) of the top-level boxes in bytes offset..end of a file."""
    out = []
    with open(path, "rb") as handle:
        while offset < end:
            handle.seek(offset)
            header = handle.read(8)
            size = int.from_bytes(header[:4], "big")
            out.append((header[4:], size))
            offset += size
    return out


def test_a_recorded_part_is_indexed_as_ffprobe_reads_it(recorded: Recorded):
    for meta in recorded.parts:
        path = recorded.video(meta)
        index = index_fragments(path)
        packets = ffprobe_packets(path)
        assert index.complete and index.end == index.size == path.stat().st_size
        assert index.frames == len(packets) == meta.frames.encoded
        # every sample, at its presentation time (ms), in order
        times = [t for f in index.fragments for t in f.sample_times]
        assert [round(t, 3) for t in times] == [round(p[0], 3) for p in packets]
        # each fragment is one moof + its mdat; together they run from the init segment to the trailer
        assert _boxes(path, 0, index.init_size)[-1][0] == b"moov"
        position = index.init_size
        for fragment in index.fragments:
            assert fragment.offset == position
            assert [kind for kind, _ in _boxes(path, fragment.offset, fragment.offset + fragment.size)] == [b"moof", b"mdat"]
            position += fragment.size
        assert [kind for kind, _ in _boxes(path, position, index.size)] == [b"mfra"]
        # a fragment says it starts with a keyframe exactly when ffprobe's first packet in it is one
        first = 0
        for fragment in index.fragments:
            assert fragment.keyframe == packets[first][2]
            first += len(fragment.sample_times)
        assert index.fragments[0].keyframe and index.fragments[0].start == 0.0
        # keyframes at least every KEYFRAME_INTERVAL of capture time in which frames came
        keys = [f.start for f in index.fragments if f.keyframe]
        assert all(b - a < KEYFRAME_INTERVAL + 0.5 or _no_frame_between(times, a + KEYFRAME_INTERVAL, b)
                   for a, b in zip(keys, keys[1:]))
        assert index.duration == pytest.approx(sum(f.duration for f in index.fragments))


def _no_frame_between(times: list[float], start: float, end: float) -> bool:
    return not any(start <= t < end for t in times)


def _prefix(source: Path, length: int, target: Path) -> Path:
    with open(source, "rb") as handle:
        data = handle.read(length)
    target.write_bytes(data)
    return target


def _largest(recorded: Recorded) -> Path:
    return max((recorded.video(m) for m in recorded.parts), key=lambda p: p.stat().st_size)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.floats(0, 1))
def test_a_growing_file_lists_exactly_its_whole_fragments(recorded: Recorded, tmp_path_factory, cut: float):
    source = _largest(recorded)
    whole = index_fragments(source)
    length = round(cut * whole.size)
    partial = index_fragments(_prefix(source, length, tmp_path_factory.mktemp("cut") / "part.mp4"))
    expected = tuple(f for f in whole.fragments if f.offset + f.size <= length)
    assert partial.fragments == expected  # never a torn one, never an error
    assert partial.complete == (length == whole.size)
    if length < whole.init_size:
        assert partial.init_size == 0 and partial.fragments == ()
    else:
        assert partial.init_size == whole.init_size and partial.timescale == whole.timescale


def test_a_prefix_cut_at_every_box_boundary_and_just_around_it(recorded: Recorded, tmp_path: Path):
    source = _largest(recorded)
    whole = index_fragments(source)
    for fragment in whole.fragments:
        end = fragment.offset + fragment.size
        moof = _boxes(source, fragment.offset, end)[0][1]
        for length in (fragment.offset + 4, fragment.offset + moof, fragment.offset + moof + 8, end - 1, end, end + 3):
            partial = index_fragments(_prefix(source, length, tmp_path / "part.mp4"))
            assert partial.fragments == tuple(f for f in whole.fragments if f.offset + f.size <= length)
            last = partial.fragments[-1] if partial.fragments else None
            assert partial.end == (last.offset + last.size if last else whole.init_size)  # where it goes on


def test_a_file_that_grows_is_read_on_from_where_its_index_ended(recorded: Recorded, tmp_path: Path):
    source = _largest(recorded)
    whole = index_fragments(source)
    data = source.read_bytes()
    growing = tmp_path / "growing.mp4"
    growing.write_bytes(data[: whole.fragments[1].offset + 10])
    assert len(index_fragments(growing).fragments) == 1
    with open(growing, "ab") as handle:  # the recorder appends the rest, as it writes it
        handle.write(data[whole.fragments[1].offset + 10:])
    grown = index_fragments(growing)
    assert grown.fragments == whole.fragments and grown.complete
    assert index_fragments(growing) is grown  # unchanged: from the cache
    # a file rewritten in place (same inode) with another, longer part is read afresh
    smaller = min((recorded.video(m) for m in recorded.parts if len(index_fragments(recorded.video(m)).fragments) > 1),
                  key=lambda p: p.stat().st_size)
    assert smaller.stat().st_size < source.stat().st_size
    growing.write_bytes(smaller.read_bytes()[: index_fragments(smaller).fragments[1].offset])
    assert len(index_fragments(growing).fragments) == 1
    shutil.copyfile(source, growing)
    assert index_fragments(growing).fragments == whole.fragments


def _rchar() -> int:
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    raise AssertionError("no rchar in /proc/self/io")


def test_indexing_reads_the_headers_not_the_video(tmp_path: Path):
    # noise at 640x360 makes fragments of megabytes: the index must not read them
    path = tmp_path / "big.mp4"
    rng = np.random.default_rng(3)
    with SegmentWriter("s", EncoderSettings(640, 360, preset="ultrafast"), SegmentPolicy(), lambda part: path) as writer:
        for i in range(60):
            writer.write(rng.integers(0, 256, (540, 640), dtype=np.uint8), 100.0 + i * 0.1)
    before = _rchar()
    index = index_fragments(path)
    read = _rchar() - before
    assert len(index.fragments) >= 6 and index.size > 3_000_000
    assert read < 0.001 * index.size, (read, index.size)  # 2.8 kB of 12 MB here


def test_what_is_not_a_fragmented_mp4_is_refused_with_the_file_and_the_problem(recorded: Recorded, tmp_path: Path):
    part = recorded.video(recorded.parts[0])
    plain = tmp_path / "plain.mp4"  # what the recorder wrote before issue 9: remuxed, faststart
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(part), "-c", "copy", "-movflags", "+faststart", str(plain)],
                   check=True)
    not_mp4 = tmp_path / "notes.mp4"
    not_mp4.write_bytes(b"these are not the frames you are looking for" * 100)
    damaged = tmp_path / "damaged.mp4"
    data = bytearray(part.read_bytes())
    first = index_fragments(part).fragments[0]
    moof = int.from_bytes(data[first.offset:first.offset + 4], "big")
    data[first.offset + moof + 4:first.offset + moof + 8] = b"junk"  # the first mdat's type
    damaged.write_bytes(bytes(data))
    link = tmp_path / "link.mp4"
    link.symlink_to(part)
    cases = {plain: "not a fragmented MP4", not_mp4: "not an MP4 file", damaged: "damaged",
             tmp_path / "missing.mp4": "cannot be opened", link: "cannot be opened"}
    for path, problem in cases.items():
        with pytest.raises(FragmentIndexError) as caught:
            index_fragments(path)
        assert caught.value.path == path and problem in caught.value.problem
        assert str(path) in str(caught.value)


def test_an_empty_part_just_opened_has_no_fragments_yet(tmp_path: Path):
    empty = tmp_path / "new.mp4"
    empty.write_bytes(b"")
    index = index_fragments(empty)
    assert index == FragmentIndex(empty, 0, os.stat(empty).st_mtime_ns, 0, 0, 0, (), False, 0)
