"""File names of recordings: safe on every filesystem, unique, as the reference names them.

``session_{con_codigo}_{ServerName}_{YYYYMMDD_HHMMSS}.mp4`` and
``session_{con_codigo}_{ServerName}_{YYYYMMDD_HHMMSS}_metadata.json``, and the part's input
events ``..._events.jsonl`` (:mod:`fastrec.events`); rotated parts 2, 3 ...
append ``_part{N}`` to the base name.  When a name is already taken (two sessions to one
server in the same second) :func:`claim_basename` appends ``-2``, ``-3`` ... so that
nothing is ever overwritten.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from fastrec.checks import check_int

__all__ = [
    "EVENTS_SUFFIX",
    "FALLBACK_COMPONENT",
    "METADATA_SUFFIX",
    "NAME_PREFIX",
    "VIDEO_SUFFIX",
    "basename_of",
    "claim_basename",
    "events_path",
    "is_recording_basename",
    "metadata_path",
    "part_basename",
    "recording_basename",
    "sanitize_component",
    "video_path",
]

NAME_PREFIX = "session_"
VIDEO_SUFFIX = ".mp4"
METADATA_SUFFIX = "_metadata.json"
EVENTS_SUFFIX = "_events.jsonl"
FALLBACK_COMPONENT = "unknown"

# Byte budgets keep the longest name (server name, "-NN" collision suffix, "_partNNNNN",
# "_metadata.json" and an atomic-write temp suffix) under the 255-byte limit of ext4/NTFS.
_CODE_MAX_CHARS = 32
_SERVER_MAX_BYTES = 120
_MAX_CLAIM_ATTEMPTS = 1000

_RESERVED_CHARS = set('<>:"/\\|?*')
_KEPT_PUNCTUATION = set("-_.")
_WINDOWS_DEVICES = (
    {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$", "CLOCK$"}
    | {f"{stem}{n}" for stem in ("COM", "LPT") for n in (*"0123456789", "¹", "²", "³")}
)


def _is_kept(char: str) -> bool:
    if char in _RESERVED_CHARS:
        return False
    if char.isalnum() or char in _KEPT_PUNCTUATION:
        return True
    # combining marks carry letters in many scripts (Devanagari vowel signs, ...)
    return unicodedata.category(char).startswith("M")


def _truncate(text: str, max_chars: int, max_bytes: int | None) -> str:
    text = text[:max_chars]
    if max_bytes is not None:
        while len(text.encode("utf-8")) > max_bytes:
            text = text[:-1]  # cut whole characters, never inside a UTF-8 sequence
    return text


def _tidy(text: str) -> str:
    text = re.sub(r"_{2,}", "_", text)
    text = re.sub(r"\.{2,}", ".", text)  # no ".." anywhere, even where it is harmless
    # leading dots hide files, leading dashes look like options, trailing dots and
    # spaces are silently dropped by Windows
    return text.strip("._- ")


def sanitize_component(text: object, max_length: int = 64, *, max_bytes: int | None = None) -> str:
    """A safe, readable file-name component made from ``text``.

    Letters and digits of any script are kept (``"Servidor São Paulo"`` ->
    ``"Servidor_São_Paulo"``); whitespace, path separators, characters reserved on Windows
    (``<>:"/\\|?*``), control and format characters and other symbols become ``_``; runs
    of ``_`` and ``.`` collapse (no ``..``); leading/trailing ``._-`` are trimmed; Windows
    device names (CON, NUL, COM1 ...) get a trailing ``_``.  At most ``max_length``
    characters and, when given, ``max_bytes`` UTF-8 bytes.  Never empty: ``"unknown"``.
    """
    if max_length < 1:
        raise ValueError(f"max_length={max_length}: must be 1 or greater")
    normalized = unicodedata.normalize("NFC", str(text))
    replaced = "".join(ch if _is_kept(ch) else "_" for ch in normalized)
    cleaned = _tidy(_truncate(_tidy(replaced), max_length, max_bytes))
    if not cleaned:
        return _truncate(FALLBACK_COMPONENT, max_length, max_bytes) or "_"
    stem = cleaned.split(".", 1)[0]
    if unicodedata.normalize("NFKC", stem).upper() in _WINDOWS_DEVICES:
        cleaned = _truncate(cleaned, max_length - 1, None if max_bytes is None else max_bytes - 1)
        stem_end = cleaned.find(".")
        # "CON.txt" is as reserved as "CON": mark the stem, keep the rest
        cleaned = cleaned + "_" if stem_end < 0 else cleaned[:stem_end] + "_" + cleaned[stem_end:]
    return cleaned


def recording_basename(con_codigo: object, server_name: object, start: datetime) -> str:
    """``session_{con_codigo}_{ServerName}_{YYYYMMDD_HHMMSS}`` (a rotated part's name adds
    ``_part{N}``: :func:`part_basename`).

    Both components go through :func:`sanitize_component`; ``start`` is formatted in its
    own clock (the reference uses local time).
    """
    code = sanitize_component(con_codigo, _CODE_MAX_CHARS, max_bytes=_CODE_MAX_CHARS)
    server = sanitize_component(server_name, 64, max_bytes=_SERVER_MAX_BYTES)
    return f"{NAME_PREFIX}{code}_{server}_{start:%Y%m%d_%H%M%S}"


def part_basename(basename: str, part: int) -> str:
    """The one rule for rotated parts: part 1 is ``basename``, part N ``{basename}_part{N}``."""
    check_int("part", part, 1)
    return basename if part == 1 else f"{basename}_part{part}"


def video_path(directory: str | os.PathLike[str], basename: str) -> Path:
    """``directory/{basename}.mp4``."""
    return Path(directory) / f"{basename}{VIDEO_SUFFIX}"


def metadata_path(directory: str | os.PathLike[str], basename: str) -> Path:
    """``directory/{basename}_metadata.json``."""
    return Path(directory) / f"{basename}{METADATA_SUFFIX}"


def events_path(directory: str | os.PathLike[str], basename: str) -> Path:
    """``directory/{basename}_events.jsonl``: a part's input events, beside its video."""
    return Path(directory) / f"{basename}{EVENTS_SUFFIX}"


def basename_of(path: str | os.PathLike[str]) -> str | None:
    """The base name of a recording's video, metadata or events file, or None for other files."""
    name = Path(path).name
    for suffix in (METADATA_SUFFIX, EVENTS_SUFFIX, VIDEO_SUFFIX):  # the longer matches first
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return None


# what recording_basename (+ claim_basename's "-N") produces; "session_" or
# "session_holiday" are somebody else's names
_BASENAME = re.compile(r"session_[^/\\]+_[^/\\]+_\d{8}_\d{6}(?:-\d+)?(?:_part\d+)?")


def is_recording_basename(base: str) -> bool:
    """Whether ``base`` has the shape of a name :func:`recording_basename` (and
    :func:`claim_basename`) produce: ``session_{code}_{server}_{YYYYMMDD_HHMMSS}[-N][_partN]``."""
    return _BASENAME.fullmatch(base) is not None


def claim_basename(directory: str | os.PathLike[str], basename: str,
                   metadata_for: Callable[[str], bytes]) -> str:
    """Reserve ``basename`` in ``directory`` (or ``basename-2``, ``-3`` ...) and return it.

    The claim is the name's metadata file, published with ``metadata_for(name)`` as its
    content by :func:`~fastrec.storage.files.write_new_private` (exclusive: never over an
    existing file or link), so two recorders starting in the same second can never pick
    the same name.  A name whose video already exists is skipped.  The video file itself
    is created later, exclusively, by the encoder.
    """
    from fastrec.storage.files import write_new_private

    folder = Path(directory)
    for attempt in range(1, _MAX_CLAIM_ATTEMPTS + 1):
        candidate = basename if attempt == 1 else f"{basename}-{attempt}"
        if os.path.lexists(video_path(folder, candidate)):
            continue
        try:
            write_new_private(metadata_path(folder, candidate), metadata_for(candidate))
        except FileExistsError:
            continue
        return candidate
    raise FileExistsError(f"{folder / basename}: {_MAX_CLAIM_ATTEMPTS} names in a row are taken")
