"""Expected failures, each with a short message that is safe to show a chat user.

The tree:

    DeepGuardError
    ├── InvalidImage            the upload cannot be judged
    │   ├── ImageTooLarge       over the byte, pixel or side limit
    │   ├── UnsupportedImage    not one of the decoded formats (JPEG, PNG, WebP, GIF, ...)
    │   └── CorruptImage        truncated or undecodable bytes
    ├── Overloaded              the queue is full; try again shortly
    ├── RequestTimeout          no answer within the request timeout
    ├── ShuttingDown            the service is stopping
    ├── ModelError              the model failed or cannot be used
    ├── StoreUnavailable        the moderation database cannot be reached (an outage)
    └── ExplanationUnavailable  this model and backend cannot say where it saw evidence

Adapters catch `DeepGuardError` around a call into the core and reply with its wording;
anything else is a bug and is logged once with its traceback.
"""

from __future__ import annotations


class DeepGuardError(Exception):
    """Base of every expected failure; `str(exc)` is the user-safe reason."""

    default_message = "the image could not be checked"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.default_message)

    @property
    def message(self) -> str:
        return str(self)


class InvalidImage(DeepGuardError):
    default_message = "that file could not be read as an image"


class ImageTooLarge(InvalidImage):
    default_message = "the image is too large"


class UnsupportedImage(InvalidImage):
    default_message = "that image format is not supported (use JPEG, PNG, WebP or GIF)"


class CorruptImage(InvalidImage):
    default_message = "the image is damaged or incomplete"


class Overloaded(DeepGuardError):
    default_message = "too many images are waiting; please try again shortly"


class RequestTimeout(DeepGuardError):
    default_message = "the check took too long; please try again shortly"


class ShuttingDown(DeepGuardError):
    default_message = "the service is restarting; please try again in a minute"


class ModelError(DeepGuardError):
    default_message = "the model failed on this image"


class StoreUnavailable(DeepGuardError):
    default_message = "my database cannot be reached right now"


class ExplanationUnavailable(DeepGuardError):
    default_message = "explanations are not available for this model and backend"
