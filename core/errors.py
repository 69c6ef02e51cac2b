"""Expected failures, each with a short message that is safe to show a chat user.

The tree:

    DeepGuardError
    ├── InvalidImage            the upload cannot be judged
    │   ├── ImageTooLarge       over the byte, pixel or side limit
    │   │   ├── ClipTooLarge    a video over its byte cap, or frames over the pixel or side cap
    │   │   └── ClipTooLong     an animation or video over the duration cap
    │   ├── UnsupportedImage    not one of the decoded formats (JPEG, PNG, WebP, GIF, MP4, ...)
    │   │   └── UnsupportedClip a video whose codec is not one of the decoded ones
    │   ├── CorruptImage        truncated or undecodable bytes
    │   │   └── DamagedClip     an animation or video without one decodable frame
    │   └── NoPicture           a video container without a video stream (sound only)
    ├── Overloaded              the queue is full; try again shortly
    ├── RequestTimeout          no answer within the request timeout
    ├── ShuttingDown            the service is stopping
    ├── ModelError              the model failed or cannot be used
    ├── StoreUnavailable        the moderation database cannot be reached (an outage)
    └── ExplanationUnavailable  this model and backend cannot say where it saw evidence

Adapters catch `DeepGuardError` around a call into the core and reply with its wording;
anything else is a bug and is logged once with its traceback.

A reason is a message template with named values (`ImageTooLarge("the file is too large (limit
{limit})", limit="25 MB")`): `message` is it in English (the CLI and the HTTP API say that), and
the bots translate `template` through their catalogs and fill in `values`. Templates are marked
with `N_` so `python -m bots.i18n` finds them; the core itself never translates. A
`ModelError` raised while loading a model is for the operator, before any chat, and stays English.

A clip's refusals subclass the image ones, so code that knows only images (the HTTP API's status
codes) still sorts them; `subject` names what was refused (an image, or a file when it is a
clip), for replies.
"""

from __future__ import annotations

from collections.abc import Mapping


def N_(message: str) -> str:
    """Mark `message` for the bots' catalogs where it is written; it is translated where it is
    said (`bots.i18n.Words.gettext`)."""
    return message


class DeepGuardError(Exception):
    """Base of every expected failure; `str(exc)` is the user-safe reason, in English."""

    default_message = N_("the image could not be checked")
    subject = "image"

    def __init__(self, template: str | None = None, /, **values: object) -> None:
        self.template = template or self.default_message
        self.values: Mapping[str, object] = values
        super().__init__(self.template.format(**values) if values else self.template)

    @property
    def message(self) -> str:
        return str(self)


class InvalidImage(DeepGuardError):
    default_message = N_("that file could not be read as an image")


class ImageTooLarge(InvalidImage):
    default_message = N_("the image is too large")


class ClipTooLarge(ImageTooLarge):
    default_message = N_("the video is too large")
    subject = "file"


class ClipTooLong(ImageTooLarge):
    default_message = N_("the clip is too long")
    subject = "file"


class UnsupportedImage(InvalidImage):
    default_message = N_(
        "that format is not supported (use JPEG, PNG, WebP, GIF, MP4, MOV or WebM)"
    )


class UnsupportedClip(UnsupportedImage):
    default_message = N_("that video's codec is not supported (use H.264, HEVC, VP8, VP9 or AV1)")
    subject = "file"


class CorruptImage(InvalidImage):
    default_message = N_("the image is damaged or incomplete")


class DamagedClip(CorruptImage):
    default_message = N_("the clip is damaged: not one frame could be decoded")
    subject = "file"


class NoPicture(InvalidImage):
    default_message = N_("there is no picture in this file")
    subject = "file"


class Overloaded(DeepGuardError):
    default_message = N_("too many images are waiting; please try again shortly")


class RequestTimeout(DeepGuardError):
    default_message = N_("the check took too long; please try again shortly")


class ShuttingDown(DeepGuardError):
    default_message = N_("the service is restarting; please try again in a minute")


class ModelError(DeepGuardError):
    default_message = N_("the model failed on this image")


class StoreUnavailable(DeepGuardError):
    default_message = N_("my database cannot be reached right now")


class ExplanationUnavailable(DeepGuardError):
    default_message = N_("explanations are not available for this model and backend")
