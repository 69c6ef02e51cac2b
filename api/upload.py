"""The upload in a classify request: the raw body, or the file of a multipart form, as it streams.

Nothing is read whole before it is checked: the byte cap of the upload's kind holds while
reading (a video's cap for a video, the image cap for an image or an animation, told from the
first bytes by `core.kinds.check_upload_size`), and a form goes
through python-multipart's streaming parser (the one FastAPI uses) chunk by chunk, so a large
form made of empty parts costs a little time per chunk, between which other requests are
served. Reading stops once the form's file part is whole; the rest of the body is dropped.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterable
from dataclasses import dataclass
from typing import Any

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from config import ImageLimits, VideoSettings
from core.errors import N_, ImageTooLarge, InvalidImage, UnsupportedImage
from core.images import bytes_text
from core.kinds import HEAD_BYTES, check_upload_size

log = logging.getLogger(__name__)

# Room for a form's boundaries and part headers around an upload of the largest allowed size.
FORM_SLACK_BYTES = 64 * 1024
RAW_TYPES = (b"application/octet-stream", b"")
FILE_FIELDS = (b"file", b"image")
# RFC 2046 5.1.1: a boundary is 1 to 70 of these characters and does not end with a space.
BOUNDARY_CHARS = frozenset(
    b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'()+_,-./:=? "
)
MAX_BOUNDARY = 70


@dataclass(frozen=True, slots=True)
class UploadCaps:
    """The byte caps of an upload: images' (animations too) and videos'."""

    images: ImageLimits
    video: VideoSettings

    @property
    def largest(self) -> int:
        return max(self.images.max_bytes, self.video.max_bytes)

    def check(self, data: bytes | bytearray) -> None:
        """Refuse `data` (read so far) once it is over its own kind's cap."""
        check_upload_size(len(data), bytes(data[:HEAD_BYTES]), self.images, self.video)

    def check_body(self, size: int) -> None:
        """Refuse a body over the largest cap and the form's slack, whatever it holds."""
        if size > self.largest + FORM_SLACK_BYTES:
            raise ImageTooLarge(
                N_("the file is too large (limit {limit})"), limit=bytes_text(self.largest)
            )


def check_declared_size(content_length: str | None, caps: UploadCaps) -> None:
    """Refuse a body announced as too large for any upload before reading a byte of it."""
    declared = int(content_length) if content_length and content_length.isdigit() else 0
    caps.check_body(declared)


async def read_image(content_type: str, body: AsyncIterable[bytes], caps: UploadCaps) -> bytes:
    """The uploaded bytes of a request, by its Content-Type; the core sniffs the real format."""
    media_type, params = parse_options_header(content_type)
    if media_type == b"multipart/form-data":
        return await _form_file(_boundary(params), body, caps)
    if media_type.startswith((b"image/", b"video/")) or media_type in RAW_TYPES:
        return await _raw(body, caps)
    raise UnsupportedImage("send the image as the request body or as a multipart/form-data file")


async def _raw(body: AsyncIterable[bytes], caps: UploadCaps) -> bytes:
    image = bytearray()
    async for chunk in body:
        image += chunk
        caps.check(image)
    return bytes(image)


def _boundary(params: dict[bytes, bytes]) -> bytes:
    boundary = params.get(b"boundary", b"")
    if not boundary:
        raise InvalidImage("the multipart form has no boundary")
    if (
        len(boundary) > MAX_BOUNDARY
        or not BOUNDARY_CHARS.issuperset(boundary)
        or boundary.endswith(b" ")
    ):
        raise InvalidImage("the multipart form's boundary is malformed")
    return boundary


async def _form_file(boundary: bytes, body: AsyncIterable[bytes], caps: UploadCaps) -> bytes:
    form = _FormFile(boundary, caps)
    received = 0
    async for chunk in body:
        received += len(chunk)
        caps.check_body(received)
        if form.feed(chunk):
            return form.image()
    return form.image()


class _ParserLog(logging.Logger):
    """python-multipart warns of each malformed form before raising; our 400 says it already."""

    def warning(self, msg: object, *args: object, **kwargs: Any) -> None:
        self.debug(msg, *args, **kwargs)


_PARSER_LOG = _ParserLog(f"{__name__}.multipart")
_PARSER_LOG.parent = log  # handled and filtered like any logger below ours


class _FormFile:
    """Picks the first part with a file name (or named `file` or `image`) out of a form."""

    def __init__(self, boundary: bytes, caps: UploadCaps) -> None:
        self._caps = caps
        self._parser = MultipartParser(
            boundary,
            {
                "on_part_begin": self._on_part_begin,
                "on_header_field": self._on_header_field,
                "on_header_value": self._on_header_value,
                "on_header_end": self._on_header_end,
                "on_headers_finished": self._on_headers_finished,
                "on_part_data": self._on_part_data,
                "on_part_end": self._on_part_end,
            },
        )
        self._parser.logger = _PARSER_LOG
        self._field = bytearray()
        self._value = bytearray()
        self._disposition = b""
        self._in_file = False
        self._found = False
        self._whole = False
        self._file = bytearray()

    def feed(self, chunk: bytes) -> bool:
        """Parse one more chunk; True once the file part is whole."""
        try:
            self._parser.write(chunk)
        except FormParserError as exc:
            raise InvalidImage("the multipart form is malformed") from exc
        return self._whole

    def image(self) -> bytes:
        if not self._found:
            raise InvalidImage("the form has no file field")
        if not self._whole:
            raise InvalidImage("the form ended inside its file")
        return bytes(self._file)

    def _on_part_begin(self) -> None:
        self._disposition = b""

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _on_header_end(self) -> None:
        if self._field.lower() == b"content-disposition":
            self._disposition = bytes(self._value)
        self._field.clear()
        self._value.clear()

    def _on_headers_finished(self) -> None:
        if self._found:
            return
        _, params = parse_options_header(self._disposition)
        self._in_file = b"filename" in params or params.get(b"name") in FILE_FIELDS
        self._found = self._in_file

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._in_file:
            self._file += data[start:end]
            self._caps.check(self._file)

    def _on_part_end(self) -> None:
        if self._in_file:
            self._in_file = False
            self._whole = True
