"""The inference API's refusals and failures on the wire, shared by server and client.

A failure travels as an `ErrorAnswer`, `{"error": code, "message": text}`, with the status from
`ERRORS`, which mirrors `core.errors`' tree. The codes, not the statuses, carry the exact error
class back, so a bot using a remote core replies exactly as with a local one; statuses alone (a
proxy's 502, Ray's own 503) are mapped by `error_for_status`.

A reason with values (`"the file is too large (limit {limit})"`, limit "25 MB") also travels
before its values are filled in, as `template` and `values`, so the bots translate a remote
refusal as they would a local one. The client takes them only when they are plain and agree
with `message` (`_reason`): a template is formatted, and a server's text must never reach
`str.format` with attribute or index access, format specs or conversions; anything else is said
as `message`, in English, as before.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from string import Formatter
from typing import Literal

from pydantic import BaseModel, Field

from core.errors import (
    N_,
    ClipTooLarge,
    ClipTooLong,
    CorruptImage,
    DamagedClip,
    DeepGuardError,
    ExplanationUnavailable,
    ImageTooLarge,
    InvalidImage,
    ModelError,
    NoPicture,
    Overloaded,
    RequestTimeout,
    ShuttingDown,
    UnsupportedClip,
    UnsupportedImage,
)

MAX_MESSAGE_CHARS = 300


class Unavailable(ShuttingDown):
    """The API is up but cannot judge yet (the model is still loading)."""

    default_message = N_("the image service is starting; please try again in a minute")


class Unauthorized(ModelError):
    """The API refused our credentials: an operator's mistake, not the user's."""

    default_message = N_(
        "the image service is not set up correctly; please tell the bot's operator"
    )


class SlowUpload(RequestTimeout):
    """The request body did not arrive whole within the server's read timeout."""

    default_message = N_("the image took too long to arrive; please try again")


@dataclass(frozen=True, slots=True)
class ErrorKind:
    code: str
    status: int
    error: type[DeepGuardError]
    retry: bool = False  # answered with Retry-After: trying again later may work


# Subclasses before their parents: the first match names an error. A clip's refusals have their
# own codes under their parent's status, so a client that knows only the image codes still
# sorts them by status.
ERRORS: tuple[ErrorKind, ...] = (
    ErrorKind("clip_too_large", 413, ClipTooLarge),
    ErrorKind("clip_too_long", 413, ClipTooLong),
    ErrorKind("too_large", 413, ImageTooLarge),
    ErrorKind("unsupported_clip", 415, UnsupportedClip),
    ErrorKind("unsupported", 415, UnsupportedImage),
    ErrorKind("damaged_clip", 400, DamagedClip),
    ErrorKind("corrupt", 400, CorruptImage),
    ErrorKind("no_picture", 400, NoPicture),
    ErrorKind("invalid", 400, InvalidImage),
    ErrorKind("overloaded", 429, Overloaded, retry=True),
    ErrorKind("unavailable", 503, Unavailable, retry=True),
    ErrorKind("shutting_down", 503, ShuttingDown, retry=True),
    ErrorKind("read_timeout", 408, SlowUpload),
    ErrorKind("timeout", 504, RequestTimeout),
    ErrorKind("unauthorized", 401, Unauthorized),
    ErrorKind("unexplainable", 422, ExplanationUnavailable),
    ErrorKind("model_error", 500, ModelError),
    ErrorKind("error", 500, DeepGuardError),
)
_BY_CODE = {kind.code: kind for kind in ERRORS}
# Codes of answers the HTTP layer gives itself, besides those of `ERRORS`.
HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 500: "internal"}


def kind_of(error: DeepGuardError) -> ErrorKind:
    return next(kind for kind in ERRORS if isinstance(error, kind.error))


def error_body(error: DeepGuardError) -> dict[str, object]:
    """The answer's body: the English message, and its template and values for translation."""
    values = {name: str(value) for name, value in error.values.items()}
    answer = ErrorAnswer(
        error=kind_of(error).code, message=error.message, template=error.template, values=values
    )
    return answer.model_dump()


def error_for_answer(status: int, body: object) -> DeepGuardError:
    """The error an answer stands for: by its code when it has one, else by its status."""
    if isinstance(body, Mapping):
        kind = _BY_CODE.get(str(body.get("error")))
        message = body.get("message")
        if kind is not None and kind.error is Unauthorized:
            return Unauthorized()  # the server's text is for operators; ours is for users
        if kind is not None:
            text = message[:MAX_MESSAGE_CHARS] if isinstance(message, str) else None
            if not text:
                return kind.error()
            rebuilt = _rebuilt(kind.error, text, body.get("template"), body.get("values"))
            return rebuilt or kind.error(text)
    return error_for_status(status)


def _rebuilt(
    error: type[DeepGuardError], message: str, template: object, values: object
) -> DeepGuardError | None:
    """`error` from its template and values, if they are plain and say exactly `message`."""
    if not isinstance(template, str) or not isinstance(values, Mapping):
        return None
    if not all(isinstance(name, str) and isinstance(value, str) for name, value in values.items()):
        return None
    if _placeholders(template) != set(values):
        return None
    rebuilt = error(template, **values)
    return rebuilt if rebuilt.message == message else None


def _placeholders(template: str) -> set[str] | None:
    """The names `template` fills in, or None if one is more than a plain name (`{x.y}`, `{x[0]}`,
    `{0}`, `{}`), has a format spec or a conversion, or the braces do not pair."""
    try:
        fields = list(Formatter().parse(template))
    except ValueError:
        return None
    names = set()
    for _, name, spec, conversion in fields:
        if name is None:
            continue
        if not name.isidentifier() or spec or conversion is not None:
            return None
        names.add(name)
    return names


def error_for_status(status: int) -> DeepGuardError:
    if status in (429, 503):
        return Overloaded()
    if status in (401, 403):
        return Unauthorized()
    by_status = {
        413: ImageTooLarge,
        415: UnsupportedImage,
        400: InvalidImage,
        408: RequestTimeout,
        504: RequestTimeout,
        422: ExplanationUnavailable,
    }
    return by_status.get(status, ModelError)()


class ErrorAnswer(BaseModel):
    """A refusal or failure."""

    error: str = Field(description="Names the error class.")
    message: str = Field(description="Safe to show a user.")
    template: str | None = Field(
        None,
        description="The message before its values are filled in, for clients that translate it.",
    )
    values: dict[str, str] = Field(
        default_factory=dict,
        description="What fills the template's {placeholders}, as the message says it.",
    )


class InvalidAnswer(ErrorAnswer):
    """Corrupt or unreadable image or clip, a video without a picture, or a request that is not
    an upload (no file, bad form)."""

    error: Literal["damaged_clip", "corrupt", "no_picture", "invalid"]


class UnauthorizedAnswer(ErrorAnswer):
    """Missing or wrong bearer token."""

    error: Literal["unauthorized"]


class NotFoundAnswer(ErrorAnswer):
    """No such path."""

    error: Literal["not_found"]


class MethodNotAllowedAnswer(ErrorAnswer):
    """The path exists, with another method (named in Allow)."""

    error: Literal["method_not_allowed"]


class ReadTimeoutAnswer(ErrorAnswer):
    """The body did not arrive whole within the read timeout."""

    error: Literal["read_timeout"]


class TooLargeAnswer(ErrorAnswer):
    """Image over the byte, pixel or side limit; a video over its byte cap or a clip too long."""

    error: Literal["clip_too_large", "clip_too_long", "too_large"]


class UnsupportedAnswer(ErrorAnswer):
    """Not an image format that is decoded, not sent as an upload, or a video codec not decoded."""

    error: Literal["unsupported_clip", "unsupported"]


class OverloadedAnswer(ErrorAnswer):
    """Too many requests waiting; retry after Retry-After."""

    error: Literal["overloaded"]


class FailedAnswer(ErrorAnswer):
    """The model or the server failed."""

    error: Literal["model_error", "error", "internal"]


class UnavailableAnswer(ErrorAnswer):
    """Starting (model loading) or shutting down; retry after Retry-After."""

    error: Literal["unavailable", "shutting_down"]


class UnexplainableAnswer(ErrorAnswer):
    """This model and backend cannot explain any image (the deployment's limit, not a fault)."""

    error: Literal["unexplainable"]


class TimeoutAnswer(ErrorAnswer):
    """Not judged within the request timeout."""

    error: Literal["timeout"]


# The answer of each error status: every code of `ERRORS` and `HTTP_CODES` under its status.
ERROR_ANSWERS: dict[int, type[ErrorAnswer]] = {
    400: InvalidAnswer,
    401: UnauthorizedAnswer,
    404: NotFoundAnswer,
    405: MethodNotAllowedAnswer,
    408: ReadTimeoutAnswer,
    413: TooLargeAnswer,
    415: UnsupportedAnswer,
    429: OverloadedAnswer,
    500: FailedAnswer,
    422: UnexplainableAnswer,
    503: UnavailableAnswer,
    504: TimeoutAnswer,
}
