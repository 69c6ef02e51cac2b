"""The wording of "why?": the button under verdict replies, `/explain`, and their refusals.

The picture's own legend is `bots.replies.EXPLAIN_LEGEND`. A reply is a verdict (and gets the
button) when it ends with the disclaimer, which every reply about a judged image does and no
refusal does (in the reply's language, so `is_verdict` takes its `Words`).
"""

from __future__ import annotations

from typing import Final

from bots.i18n import N_, Words
from bots.replies import DISCLAIMER
from core.errors import DeepGuardError

WHY_BUTTON: Final = N_("Why?")
WHY_DATA: Final = "dg:why"  # the button's id on both platforms: it never expires
EXPLAIN_DESCRIPTION: Final = N_(
    "Show where the model saw AI-like and real-like evidence (only you see the answer)"
)
EXPLAIN_IMAGE: Final = N_("The image to explain")
EXPLAIN_CAPTION: Final = N_("Why: where the model looked.")


class OriginalGone(DeepGuardError):
    """The message a verdict answered was deleted, or its image is gone: nothing to look at."""

    default_message = N_("the original message or its image is gone, so I can't look at it again")


def is_verdict(text: str, words: Words) -> bool:
    """Whether a reply in `words` answers judged images (and so gets a "Why?" button)."""
    return text.endswith(words.gettext(DISCLAIMER))
