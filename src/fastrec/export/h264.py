"""H.264 bitstream plumbing for joining streams without re-encoding them.

MP4 stores H.264 as length-prefixed NAL units, with the parameter sets (SPS, PPS) in the
track's ``avcC`` record (the codec's extradata); FFmpeg's libx264 encoder without a global
header emits Annex B (start codes) with the parameter sets in-band.  An export copies
packets of parts whose parameter sets may differ from the output track's (each part is a
separate encode) and mixes in a re-encoded first GOP: :func:`in_band_parameter_sets`
gives a part's SPS/PPS as length-prefixed NAL units to put in front of its first copied
keyframe, so a decoder always has the right ones in hand; :func:`annexb_to_length_prefixed`
turns the encoder's output into the track's format.

Invariant: every function here is a pure function of bytes; malformed input raises
:class:`ValueError` saying what is wrong, never returns a half-converted packet.
"""

from __future__ import annotations

__all__ = ["AvcConfig", "annexb_nal_units", "annexb_to_length_prefixed", "in_band_parameter_sets",
           "parse_avcc"]

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class AvcConfig:
    """What an ``avcC`` record holds that an export needs."""

    length_size: int  # bytes of each NAL unit's length prefix (1, 2 or 4)
    sps: tuple[bytes, ...]
    pps: tuple[bytes, ...]


def parse_avcc(extradata: bytes) -> AvcConfig:
    """Parse an ``avcC`` record (ISO/IEC 14496-15 5.3.3.1)."""
    data = bytes(extradata)
    if len(data) < 7 or data[0] != 1:
        raise ValueError(f"not an avcC record ({len(data)} bytes, version {data[:1].hex() or 'none'})")
    length_size = (data[4] & 0x03) + 1
    if length_size == 3:
        raise ValueError("avcC: a NAL length size of 3 bytes is not allowed")
    position = 5
    sets: list[tuple[bytes, ...]] = []
    for mask in (0x1F, 0xFF):  # SPS count (5 bits), then PPS count (8 bits)
        if position >= len(data):
            raise ValueError("avcC: cut short before its parameter set count")
        count = data[position] & mask
        position += 1
        found = []
        for _ in range(count):
            if position + 2 > len(data):
                raise ValueError("avcC: cut short in a parameter set length")
            size = int.from_bytes(data[position:position + 2], "big")
            position += 2
            if position + size > len(data):
                raise ValueError("avcC: a parameter set runs past the end of the record")
            found.append(data[position:position + size])
            position += size
        sets.append(tuple(found))
    return AvcConfig(length_size, sets[0], sets[1])


def _prefixed(units: list[bytes] | tuple[bytes, ...], length_size: int) -> bytes:
    out = bytearray()
    for unit in units:
        if len(unit) >= 1 << (8 * length_size):
            raise ValueError(f"a NAL unit of {len(unit)} bytes does not fit a {length_size}-byte length")
        out += len(unit).to_bytes(length_size, "big") + unit
    return bytes(out)


def in_band_parameter_sets(config: AvcConfig, length_size: int) -> bytes:
    """``config``'s SPS and PPS as length-prefixed NAL units (``length_size`` bytes each)."""
    return _prefixed([*config.sps, *config.pps], length_size)


def annexb_nal_units(data: bytes) -> list[bytes]:
    """The NAL units of an Annex B byte stream (3- or 4-byte start codes)."""
    units: list[bytes] = []
    start = -1
    i, n = 0, len(data)
    while i + 2 < n:
        if data[i] == 0 and data[i + 1] == 0 and data[i + 2] == 1:
            if start >= 0:
                units.append(data[start:i].rstrip(b"\x00"))  # trailing zeros belong to a 4-byte code
            start = i + 3
            i += 3
            continue
        i += 1
    if start < 0:
        raise ValueError("not an Annex B stream (no start code)")
    units.append(data[start:])
    return [u for u in units if u]


def annexb_to_length_prefixed(data: bytes, length_size: int) -> bytes:
    """An Annex B packet as the MP4 track stores it."""
    return _prefixed(annexb_nal_units(data), length_size)
