"""The wording of "why?": the button under verdict replies, `/explain`, and their refusals.

The picture's own legend is `bots.replies.EXPLAIN_LEGEND`. A reply is a verdict (and gets the
button) when it ends with the disclaimer, which every reply about a judged image does and no
refusal does.
"""

from __future__ import annotations

from typing import Final

from bots.replies import DISCLAIMER
from core.errors import DeepGuardError
from core.explain import Explanation
from core.sampling import clock_text

WHY_BUTTON: Final = "Why?"
WHY_DATA: Final = "dg:why"  # the button's id on both platforms: it never expires
EXPLAIN_DESCRIPTION: Final = (
    "Show where the model saw AI-like and real-like evidence (only you see the answer)"
)
EXPLAIN_IMAGE: Final = "The image to explain"
EXPLAIN_CAPTION: Final = "Why: where the model looked."


class OriginalGone(DeepGuardError):
    """The message a verdict answered was deleted, or its image is gone: nothing to look at."""

    default_message = "the original message or its image is gone, so I can't look at it again"


def is_verdict(text: str) -> bool:
    """Whether a reply answers judged images (and so gets a "Why?" button)."""
    return text.endswith(DISCLAIMER)


def explain_caption(explanation: Explanation) -> str:
    """The caption under the picture; a clip's says which moment of it is shown."""
    if explanation.frame is None:
        return EXPLAIN_CAPTION
    moment = clock_text(explanation.frame.time_s)
    return f"{EXPLAIN_CAPTION} The frame at {moment}, the clip's most suspicious moment."
