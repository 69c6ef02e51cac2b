"""The two EXIF fields generators write: `Software`, and `UserComment` (A1111's parameters).

A few lines of TIFF reading rather than a general EXIF library: two tags are needed, every
offset is checked against the block, and nothing can loop or grow past the block's size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from core.provenance.containers import TEXT_CAP

_SOFTWARE: Final = 0x0131
_EXIF_IFD: Final = 0x8769
_USER_COMMENT: Final = 0x9286
_MAX_ENTRIES: Final = 512
# Bytes per value, by TIFF type (13 is an IFD pointer).
_SIZES: Final = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}


@dataclass(frozen=True, slots=True)
class ExifText:
    software: str | None = None
    user_comment: str | None = None


def read_exif(block: bytes) -> ExifText:
    """The fields in an EXIF block (with or without its `Exif\\0\\0` prefix); absent if damaged."""
    tiff = block[6:] if block.startswith(b"Exif\x00\x00") else block
    order: Literal["little", "big"]
    if tiff[:4] == b"II*\x00":
        order = "little"
    elif tiff[:4] == b"MM\x00*":
        order = "big"
    else:
        return ExifText()
    reader = _Tiff(tiff, order)
    first = reader.entries(reader.number(4, 4))
    software = first.get(_SOFTWARE, b"").split(b"\x00", 1)[0].decode("utf-8", "replace")
    comment = ""
    pointer = first.get(_EXIF_IFD)
    if pointer is not None and len(pointer) == 4:
        raw = reader.entries(int.from_bytes(pointer, order)).get(_USER_COMMENT)
        comment = user_comment(raw) if raw is not None else ""
    return ExifText(software=software.strip() or None, user_comment=comment or None)


def user_comment(raw: bytes) -> str:
    """Decode by the 8-byte character code that starts a UserComment."""
    code, text = raw[:8], raw[8:]
    if code == b"UNICODE\x00":
        # Writers disagree on the byte order (piexif: big-endian); keep the readable reading.
        readings = [text.decode(codec, "replace") for codec in ("utf-16-be", "utf-16-le")]
        decoded = max(readings, key=lambda s: sum(" " <= ch <= "~" for ch in s))
    elif code == b"JIS\x00\x00\x00\x00\x00":
        decoded = text.decode("shift_jis", "replace")
    else:
        decoded = text.decode("utf-8", "replace")
    return decoded.replace("\x00", "").strip()


class _Tiff:
    def __init__(self, data: bytes, order: Literal["little", "big"]) -> None:
        self._data = data
        self._order = order

    def number(self, offset: int, size: int) -> int:
        if offset < 0 or offset + size > len(self._data):
            return -1
        return int.from_bytes(self._data[offset : offset + size], self._order)

    def entries(self, offset: int) -> dict[int, bytes]:
        """One IFD's tags and their raw values (each capped at `TEXT_CAP` bytes)."""
        count = self.number(offset, 2)
        if count < 0:
            return {}
        values: dict[int, bytes] = {}
        for index in range(min(count, _MAX_ENTRIES)):
            entry = offset + 2 + 12 * index
            tag, kind, many = (
                self.number(entry, 2),
                self.number(entry + 2, 2),
                self.number(entry + 4, 4),
            )
            if tag < 0 or many < 0:
                break
            if kind not in _SIZES:
                continue
            size = min(_SIZES[kind] * many, TEXT_CAP)
            where = entry + 8 if size <= 4 else self.number(entry + 8, 4)
            if where >= 0 and where + size <= len(self._data):
                values[tag] = self._data[where : where + size]
        return values
