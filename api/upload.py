"""The image in a classify request: the raw body, or the one file of a multipart form.

Shared by the aiohttp API and the Ray deployment, so both accept exactly the same requests.
The body is read whole (capped), then the file is cut out of a form with `bytes.find`: the
stdlib's email parser takes most of a second on a 20 MB upload, this takes microseconds.
"""

from __future__ import annotations

from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import HTTP

from aiohttp import StreamReader

from config import ImageLimits
from core.errors import InvalidImage, UnsupportedImage
from core.images import check_byte_size

# Room for a form's boundaries and part headers around an image of the largest allowed size.
FORM_SLACK_BYTES = 64 * 1024
RAW_TYPES = ("application/octet-stream", "")
FILE_FIELDS = ("file", "image")
CHUNK_BYTES = 256 * 1024


def body_limit(limits: ImageLimits) -> int:
    return limits.max_bytes + FORM_SLACK_BYTES


def check_declared_size(content_length: int | None, limits: ImageLimits) -> None:
    """Refuse a body announced as too large before reading a byte of it."""
    if content_length is not None and content_length > body_limit(limits):
        check_byte_size(content_length, limits)


async def read_capped(stream: StreamReader, limits: ImageLimits) -> bytes:
    """Read a body that may not have announced its length, stopping once it is too large."""
    body = bytearray()
    async for chunk in stream.iter_chunked(CHUNK_BYTES):
        body += chunk
        if len(body) > body_limit(limits):
            check_byte_size(len(body), limits)
    return bytes(body)


def extract_image(content_type: str, body: bytes, limits: ImageLimits) -> bytes:
    """The image bytes of a request, by its Content-Type; the core sniffs the real format."""
    message = Message()
    message["Content-Type"] = content_type or "application/octet-stream"
    media_type = message.get_content_type() if content_type else ""
    if media_type == "multipart/form-data":
        boundary = message.get_param("boundary")
        if not isinstance(boundary, str) or not boundary:
            raise InvalidImage("the multipart form has no boundary")
        image = form_file(body, boundary.encode("latin-1"))
    elif media_type.startswith("image/") or media_type in RAW_TYPES:
        image = body
    else:
        raise UnsupportedImage(
            "send the image as the request body or as a multipart/form-data file"
        )
    check_byte_size(len(image), limits)
    return image


def form_file(body: bytes, boundary: bytes) -> bytes:
    """The first part with a file name (or named `file` or `image`) of a multipart form."""
    delimiter = b"--" + boundary
    start = body.find(delimiter)
    while start != -1:
        after = start + len(delimiter)
        if body.startswith(b"--", after):
            break  # the closing delimiter
        line_end = body.find(b"\r\n", after)
        head_end = body.find(b"\r\n\r\n", line_end) if line_end != -1 else -1
        end = body.find(b"\r\n" + delimiter, head_end + 4) if head_end != -1 else -1
        if end == -1:
            break
        headers = BytesHeaderParser(policy=HTTP).parsebytes(body[line_end + 2 : head_end])
        if _is_file(headers):
            return body[head_end + 4 : end]
        start = end + 2
    raise InvalidImage("the form has no file field")


def _is_file(headers: Message) -> bool:
    name = headers.get_param("name", header="content-disposition")
    filename = headers.get_param("filename", header="content-disposition")
    return filename is not None or name in FILE_FIELDS
