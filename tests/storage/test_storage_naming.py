"""File names: sanitisation, the reference's layout, rotated parts, collisions."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from fastrec.storage import (
    claim_basename,
    metadata_path,
    part_basename,
    recording_basename,
    sanitize_component,
    video_path,
)
from fastrec.storage.naming import basename_of

START = datetime(2025, 10, 26, 14, 30, 22, 123456)


@pytest.mark.parametrize(("text", "expected"), [
    ("Servidor São Paulo", "Servidor_São_Paulo"),
    ("ServerName", "ServerName"),
    ("Production Server", "Production_Server"),
    ("Ünïcödé Ωμέγα 東京", "Ünïcödé_Ωμέγα_東京"),
    ("../../etc/passwd", "etc_passwd"),
    ("..\\..\\Windows\\System32", "Windows_System32"),
    ("..", "unknown"),
    ("a..b", "a.b"),
    ('a<b>c:d"e/f\\g|h?i*j', "a_b_c_d_e_f_g_h_i_j"),
    ("tab\there\nnew\x00nul\x7f", "tab_here_new_nul"),
    ("bidi\u202eevil", "bidi_evil"),  # format characters can disguise an extension
    ("  .hidden  ", "hidden"),
    ("-rf", "rf"),
    ("trailing. ", "trailing"),
    ("srv #1 (prod) & co", "srv_1_prod_co"),
    ("CON", "CON_"),
    ("nul", "nul_"),
    ("Com1", "Com1_"),
    ("LPT9.log", "LPT9_.log"),
    ("COM¹", "COM¹_"),
    ("CONSOLE", "CONSOLE"),
    ("", "unknown"),
    ("   ", "unknown"),
    ("////", "unknown"),
    (123, "123"),
])
def test_sanitize_component(text: object, expected: str) -> None:
    assert sanitize_component(text) == expected


def test_sanitize_component_bounds_length() -> None:
    assert sanitize_component("x" * 500) == "x" * 64
    assert sanitize_component("abcdef", max_length=3) == "abc"
    # cut at whole characters, also when a byte budget is given
    assert sanitize_component("ããããã", max_bytes=5) == "ãã"
    assert sanitize_component("a" * 10 + "   b", max_length=11) == "a" * 10  # no trailing "_"
    with pytest.raises(ValueError, match="max_length=0: must be 1 or greater"):
        sanitize_component("x", max_length=0)


def test_sanitized_component_is_a_single_safe_name() -> None:
    for text in ["../a", "a/../../b", "C:\\x", "~/x", "\x00", "....", ". .", "a/.."]:
        name = sanitize_component(text)
        assert name and "/" not in name and "\\" not in name and ".." not in name
        assert Path(name).name == name and name not in (".", "..")


def test_recording_basename_as_the_reference() -> None:
    assert recording_basename(123, "ServerName", START) == "session_123_ServerName_20251026_143022"
    assert recording_basename(123, "Servidor São Paulo", START) == "session_123_Servidor_São_Paulo_20251026_143022"
    base = recording_basename(123, "ServerName", START)
    assert part_basename(base, 1) == base
    assert part_basename(base, 2) == "session_123_ServerName_20251026_143022_part2"
    assert recording_basename("../x", "", START) == "session_x_unknown_20251026_143022"
    with pytest.raises(ValueError, match="part must be >= 1, got 0"):
        part_basename(base, 0)


def test_longest_names_fit_in_255_bytes() -> None:
    base = part_basename(recording_basename("9" * 100, "𝔘" * 200, START), 99999)  # 4-byte letters
    longest = f".{base}-999_metadata.json.abcdefgh.tmp"
    assert len(longest.encode("utf-8")) <= 255


def test_paths(tmp_path: Path) -> None:
    base = "session_123_ServerName_20251026_143022"
    assert video_path(tmp_path, base) == tmp_path / f"{base}.mp4"
    assert metadata_path(tmp_path, base) == tmp_path / f"{base}_metadata.json"
    assert basename_of(video_path(tmp_path, base)) == base
    assert basename_of(metadata_path(tmp_path, base)) == base
    assert basename_of(tmp_path / "cleanup_stats.json") is None


def _claim(directory: Path, base: str) -> str:
    return claim_basename(directory, base, lambda name: f'{{"claimed": "{name}"}}'.encode())


def test_collisions_never_overwrite(tmp_path: Path) -> None:
    base = recording_basename(123, "ServerName", START)
    first = _claim(tmp_path, base)
    video_path(tmp_path, first).write_bytes(b"first recording")
    second = _claim(tmp_path, base)
    third = _claim(tmp_path, base)
    assert (first, second, third) == (base, f"{base}-2", f"{base}-3")
    assert video_path(tmp_path, first).read_bytes() == b"first recording"
    # the claim is the metadata file, private; the video is the encoder's to create
    assert metadata_path(tmp_path, second).read_text() == f'{{"claimed": "{second}"}}'
    assert metadata_path(tmp_path, second).stat().st_mode & 0o777 == 0o600
    assert not video_path(tmp_path, second).exists()


def test_a_link_at_the_claimed_name_is_skipped_not_followed(tmp_path: Path) -> None:
    base = recording_basename(123, "ServerName", START)
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    metadata_path(tmp_path, base).symlink_to(victim)
    video_path(tmp_path, f"{base}-2").symlink_to(tmp_path / "nowhere")
    assert _claim(tmp_path, base) == f"{base}-3"
    assert victim.read_text() == "keep me"


def test_collision_with_orphan_metadata(tmp_path: Path) -> None:
    # the video is gone but its metadata is evidence: the name is not reused
    base = recording_basename(123, "ServerName", START)
    metadata_path(tmp_path, base).write_text("{}")
    assert _claim(tmp_path, base) == f"{base}-2"
    assert metadata_path(tmp_path, base).read_text() == "{}"
