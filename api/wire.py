"""The HTTP contract of the inference API, shared by `serve`, `serve --ray` and the remote core.

A judgement travels as `Judgement.as_dict()`, its provenance included; a failure travels as
`{"error": code, "message": text}` with the status from `ERRORS`. The codes, not the statuses,
carry the exact error class back, so a bot using a remote core replies exactly as with a local
one; statuses alone (a proxy's 502, Ray's own 503) are mapped by `error_for_status`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.errors import (
    CorruptImage,
    DeepGuardError,
    ImageTooLarge,
    InvalidImage,
    ModelError,
    Overloaded,
    RequestTimeout,
    ShuttingDown,
    UnsupportedImage,
)
from core.result import (
    Declares,
    Evidence,
    Judgement,
    Scores,
    Source,
    State,
    Verdict,
    VerdictReason,
)

CLASSIFY_PATH = "/v1/classify"
MAX_MESSAGE_CHARS = 300


class Unavailable(ShuttingDown):
    """The API is up but cannot judge yet (the model is still loading)."""

    default_message = "the image service is starting; please try again in a minute"


class Unauthorized(ModelError):
    """The API refused our credentials: an operator's mistake, not the user's."""

    default_message = "the image service is not set up correctly; please tell the bot's operator"


@dataclass(frozen=True, slots=True)
class ErrorKind:
    code: str
    status: int
    error: type[DeepGuardError]
    retry: bool = False  # answered with Retry-After: trying again later may work


# Subclasses before their parents: the first match names an error.
ERRORS: tuple[ErrorKind, ...] = (
    ErrorKind("too_large", 413, ImageTooLarge),
    ErrorKind("unsupported", 415, UnsupportedImage),
    ErrorKind("corrupt", 400, CorruptImage),
    ErrorKind("invalid", 400, InvalidImage),
    ErrorKind("overloaded", 429, Overloaded, retry=True),
    ErrorKind("unavailable", 503, Unavailable, retry=True),
    ErrorKind("shutting_down", 503, ShuttingDown, retry=True),
    ErrorKind("timeout", 504, RequestTimeout),
    ErrorKind("unauthorized", 401, Unauthorized),
    ErrorKind("model_error", 500, ModelError),
    ErrorKind("error", 500, DeepGuardError),
)
_BY_CODE = {kind.code: kind for kind in ERRORS}


def kind_of(error: DeepGuardError) -> ErrorKind:
    return next(kind for kind in ERRORS if isinstance(error, kind.error))


def error_body(error: DeepGuardError) -> dict[str, str]:
    return {"error": kind_of(error).code, "message": error.message}


def error_for_answer(status: int, body: object) -> DeepGuardError:
    """The error an answer stands for: by its code when it has one, else by its status."""
    if isinstance(body, Mapping):
        kind = _BY_CODE.get(str(body.get("error")))
        message = body.get("message")
        if kind is not None and kind.error is Unauthorized:
            return Unauthorized()  # the server's text is for operators; ours is for users
        if kind is not None:
            text = message[:MAX_MESSAGE_CHARS] if isinstance(message, str) else None
            return kind.error(text or None)
    return error_for_status(status)


def error_for_status(status: int) -> DeepGuardError:
    if status in (429, 503):
        return Overloaded()
    if status in (401, 403):
        return Unauthorized()
    by_status = {413: ImageTooLarge, 415: UnsupportedImage, 400: InvalidImage, 504: RequestTimeout}
    return by_status.get(status, ModelError)()


def judgement_to_json(judgement: Judgement) -> dict[str, object]:
    """`deepguard check --json`'s fields: enough for a client to rebuild the judgement whole."""
    return judgement.as_dict()


def judgement_from_json(body: object) -> Judgement:
    """Rebuild a `Judgement`; raises `ValueError` (or `KeyError`/`TypeError`) if malformed."""
    if not isinstance(body, Mapping):
        raise ValueError("the answer is not a JSON object")
    classes = body["classes"]
    if not isinstance(classes, Mapping):
        raise ValueError("classes is not an object")
    return Judgement(
        scores=Scores(
            fake_probability=_probability(body["fake_probability"]),
            classes={str(name): _probability(p) for name, p in classes.items()},
        ),
        verdict=Verdict(body["verdict"]),
        threshold=_probability(body["threshold"]),
        sha256=_text(body["sha256"]),
        queue_ms=_number(body.get("queue_ms", 0.0)),
        model_ms=_number(body.get("model_ms", 0.0)),
        cached=_flag(body.get("cached", False)),
        provenance=tuple(_evidence(item) for item in body.get("provenance", ())),
        verdict_reason=VerdictReason(body.get("verdict_reason", VerdictReason.MODEL)),
    )


def _evidence(item: Any) -> Evidence:
    if not isinstance(item, Mapping):
        raise ValueError("a provenance item is not an object")
    state = item.get("state")
    return Evidence(
        source=Source(item["source"]),
        declares=Declares(item["declares"]),
        generator=_optional_text(item.get("generator")),
        signer=_optional_text(item.get("signer")),
        state=None if state is None else State(state),
        detail=_text(item.get("detail", "")),
    )


def _optional_text(value: object) -> str | None:
    return None if value is None else _text(value)


def _number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{value!r} is not a number")
    return float(value)


def _probability(value: object) -> float:
    number = _number(value)
    if not 0.0 <= number <= 1.0:
        raise ValueError(f"{number} is not a probability")
    return number


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a string")
    return value


def _flag(value: object) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{value!r} is not true or false")
    return value
