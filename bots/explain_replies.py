"""The wording of "why?": the button under verdict replies, `/explain`, and their refusals.

The picture's own legend is `bots.replies.EXPLAIN_LEGEND`. A reply is a verdict (and gets the
button) when it ends with the disclaimer, which every reply about a judged image does and no
refusal does (in the reply's language, so `is_verdict` takes its `Words`).
"""

from __future__ import annotations

from typing import Final

from bots.i18n import N_, SOURCE, Words
from bots.moderation_replies import BUTTON_EXPIRED
from bots.replies import DISCLAIMER, EXPLAIN_LEGEND
from core.errors import DeepGuardError
from core.explain import Explanation
from core.sampling import clock_text

WHY_BUTTON: Final = N_("Why?")
WHY_DATA: Final = "dg:why"  # the button's id on both platforms: it never expires
# A private answer refers to nothing: its button's id names the checked message, as
# `dg:why:<channel>:<message>` on Discord.
WHY_PREFIX: Final = f"{WHY_DATA}:"
EXPLAIN_DESCRIPTION: Final = N_(
    "Show where the model saw AI-like and real-like evidence (only you see the answer)"
)
EXPLAIN_IMAGE: Final = N_("The image to explain")
EXPLAIN_CAPTION: Final = N_("Why: where the model looked.")
FRAME_SHOWN: Final = N_("The frame at {time}, the clip's most suspicious moment.")


class OriginalGone(DeepGuardError):
    """The message a verdict answered was deleted, or its image is gone: nothing to look at."""

    default_message = N_("the original message or its image is gone, so I can't look at it again")


class ButtonExpired(DeepGuardError):
    """A "Why?" button whose id names no message the presser may have explained (a forgery)."""

    default_message = BUTTON_EXPIRED


def is_verdict(text: str, words: Words) -> bool:
    """Whether a reply in `words` answers judged images (and so gets a "Why?" button)."""
    return text.endswith(words.gettext(DISCLAIMER))


def explain_caption(words: Words, explanation: Explanation) -> str:
    """The caption under the picture: a clip's says which moment of it is shown; in a language
    other than English it adds the legend, which the picture itself draws in English."""
    caption = words.gettext(EXPLAIN_CAPTION)
    if explanation.frame is not None:
        moment = clock_text(explanation.frame.time_s)
        caption = f"{caption} {words.gettext(FRAME_SHOWN, time=moment)}"
    if words.code != SOURCE:
        caption = f"{caption}\n{words.gettext(EXPLAIN_LEGEND)}"
    return caption
