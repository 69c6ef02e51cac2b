"""IPTC digital source types: what each one declares, as C2PA actions and XMP both use them."""

from __future__ import annotations

from collections.abc import Iterable

from core.result import Declares

# https://cv.iptc.org/newscodes/digitalsourcetype/ (the URL's last segment, older spellings too)
_DECLARES = {
    "trainedAlgorithmicMedia": Declares.AI_GENERATED,
    "compositeWithTrainedAlgorithmicMedia": Declares.AI_EDITED,
    "digitalCapture": Declares.CAPTURED,
    "computationalCapture": Declares.CAPTURED,
    "negativeFilm": Declares.CAPTURED,
    "positiveFilm": Declares.CAPTURED,
    "print": Declares.CAPTURED,
    "compositeCapture": Declares.CAPTURED,
    "humanEdits": Declares.EDITED,
    "minorHumanEdits": Declares.EDITED,
    "algorithmicallyEnhanced": Declares.EDITED,
    "composite": Declares.EDITED,
}

# Strongest first: an AI edit of a photo is an AI edit, an edited photo is no longer as shot.
_STRENGTH = (
    Declares.AI_GENERATED,
    Declares.AI_EDITED,
    Declares.EDITED,
    Declares.CAPTURED,
    Declares.UNKNOWN,
)


def source_type_name(value: str) -> str:
    """`http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture` -> `digitalCapture`."""
    return value.strip().rstrip("/").rsplit("/", 1)[-1]


def declares(value: str) -> Declares:
    """What one digital source type (a URL or its bare name) declares."""
    return _DECLARES.get(source_type_name(value), Declares.UNKNOWN)


def strongest(found: Iterable[Declares]) -> Declares:
    """The declaration that counts when an image makes several."""
    present = set(found)
    return next((kind for kind in _STRENGTH if kind in present), Declares.UNKNOWN)
