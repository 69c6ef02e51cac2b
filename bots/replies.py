"""Every word the bots say about an upload, shared so Discord and Telegram say the same thing.

The model is right about four times in five, so replies speak of likelihood, never proof. An
animation or a video is one upload: one verdict line for the whole clip, with how many frames
were judged and the most suspicious moment.
"""

from __future__ import annotations

from collections.abc import Sequence

from config import ReplySettings
from core.errors import DeepGuardError, Overloaded
from core.result import Declares, Evidence, Judgement, Media, Source, State
from core.sampling import clock_text

DISCLAIMER = "An automated estimate (about 4 in 5 right), not proof."


BUSY = "I'm busy checking other images right now; please try again in a minute."


THROTTLED = "You're sending images faster than I can check them, so I'll skip some for a minute."


HELP = (
    "I estimate whether an image is likely AI-generated or a deepfake.\n"
    "Send or post an image (photo, file or sticker) and I reply with the probability that it is "
    "AI-made, in three bands: likely AI-generated, uncertain, likely real.\n"
    "/check: reply to a message that has an image to check that image.\n"
    "/help: this message.\n\n"
    "Limits: the model is right about 4 times in 5 (78.5% accuracy on its test set), so treat a "
    "result as a hint for a human to weigh, never as proof. Heavily edited, screenshotted or "
    "re-compressed images are harder to judge.\n"
    "Privacy: images are checked on the bot's own server and are never stored or shared.\n"
    "Tip: send the original as a file, not as a photo. Chat apps re-compress photos and drop "
    "their Content Credentials and metadata, which can show that an image was made with AI."
)


def band(fake_probability: float, bands: ReplySettings) -> str:
    """The three-band wording for a fake probability."""
    if fake_probability >= bands.likely_fake_from:
        return "likely AI-generated"
    if fake_probability < bands.likely_real_below:
        return "likely real"
    return "uncertain"


_ICONS = {"likely AI-generated": "🤖", "uncertain": "❔", "likely real": "📷"}


def verdict_line(judgement: Judgement, bands: ReplySettings) -> str:
    """One line: icon, band, and the fake probability in percent; a clip's frames after it."""
    wording = band(judgement.fake_probability, bands)
    percent = round(judgement.fake_probability * 100)
    line = f"{_ICONS[wording]} {wording[0].upper()}{wording[1:]} ({percent}% probability of AI)"
    clip = judgement.clip
    if clip is None:
        return line
    frames = f"{clip.frames_decoded} frame{'' if clip.frames_decoded == 1 else 's'}"
    if clip.frames_decoded == 1:
        return f"{line}, {frames}"
    return f"{line}, {frames}, most suspicious at {clock_text(clip.most_suspicious.time_s)}"


def noun(judgement: Judgement) -> str:
    """What the upload was: image, animation or video."""
    return judgement.media.value


def models_line(judgement: Judgement) -> str | None:
    """How many of several models lean AI-generated (at or above the verdict's threshold),
    e.g. "2 of 3 models lean AI-generated"; None when one model judged the image."""
    if len(judgement.models) < 2:
        return None
    leaning = sum(m.scores.fake_probability >= judgement.threshold for m in judgement.models)
    verb = "leans" if leaning == 1 else "lean"
    return f"{leaning} of {len(judgement.models)} models {verb} AI-generated"


def error_line(error: DeepGuardError) -> str:
    """A polite refusal that names the reason (a clip's refusals say "this file")."""
    return f"⚠️ I couldn't check this {error.subject}: {error.message}."


def verdict_text(judgement: Judgement, bands: ReplySettings) -> str:
    """The reply to a message with one image."""
    return f"{verdict_line(judgement, bands)}\n{DISCLAIMER}"


def error_text(error: DeepGuardError) -> str:
    """The reply when the only image could not be judged."""
    return error_line(error)


Outcome = Judgement | DeepGuardError


def outcomes_text(outcomes: Sequence[Outcome], bands: ReplySettings) -> str:
    """One reply for a message or album with several images, one line each, in order."""
    if len(outcomes) == 1:
        only = outcomes[0]
        return verdict_text(only, bands) if isinstance(only, Judgement) else error_text(only)
    lines = [
        f"{_label(outcome)} {index}: " + _line(outcome, bands)
        for index, outcome in enumerate(outcomes, 1)
    ]
    if any(isinstance(outcome, Judgement) for outcome in outcomes):
        lines.append(DISCLAIMER)
    return "\n".join(lines)


def cut_short(hidden: int) -> str:
    """The last line of a reply too long for the platform: how many images it leaves out."""
    return f"…and {hidden} more, left out to fit in one message."


def answer_text(outcomes: Sequence[Outcome], bands: ReplySettings) -> str | None:
    """The reply about an upload's images; None when none of them had anything to say.

    When a full queue is all that stopped them, the reply is the busy notice alone.
    """
    if not outcomes:
        return None
    judged = any(isinstance(outcome, Judgement) for outcome in outcomes)
    if not judged and any(isinstance(outcome, Overloaded) for outcome in outcomes):
        return BUSY
    return outcomes_text(outcomes, bands)


def _label(outcome: Outcome) -> str:
    if isinstance(outcome, Judgement) and outcome.media is not Media.IMAGE:
        return noun(outcome).capitalize()
    return "Image"


def _line(outcome: Outcome, bands: ReplySettings) -> str:
    if isinstance(outcome, Judgement):
        return verdict_line(outcome, bands)
    return error_line(outcome)


_C2PA_SAYS = {
    Declares.AI_GENERATED: "made with an AI generator",
    Declares.AI_EDITED: "edited with AI",
    Declares.CAPTURED: "taken with a camera",
    Declares.EDITED: "edited",
}
_XMP_SAYS = {
    Declares.AI_GENERATED: "marked as made with AI",
    Declares.AI_EDITED: "marked as edited with AI",
    Declares.CAPTURED: "marked as a camera photo",
    Declares.EDITED: "marked as edited",
}


def provenance_line(judgement: Judgement) -> str | None:
    """One line under the verdict on what the image declares itself; None when it says nothing.

    The evidence behind a declared verdict comes first, then Content Credentials, then the rest.
    """
    if not judgement.provenance:
        return None
    chosen = next(
        (e for e in judgement.provenance if e.declares_ai),
        next(
            (e for e in judgement.provenance if e.source is Source.C2PA), judgement.provenance[0]
        ),
    )
    return evidence_text(chosen)


def evidence_text(evidence: Evidence) -> str:
    """One declaration in words: "Content Credentials: made with an AI generator (signed by X)"."""
    if evidence.source is Source.C2PA:
        if evidence.state is State.INVALID:
            return "Content Credentials present but tampered with"
        if evidence.state is None:
            return "Content Credentials present but could not be checked"
        signer = ""
        if evidence.signer:
            unknown = ", not a recognised signer" if evidence.state is State.VALID else ""
            signer = f" (signed by {evidence.signer}{unknown})"
        says = _C2PA_SAYS.get(evidence.declares)
        return (
            f"Content Credentials: {says}{signer}"
            if says
            else f"Content Credentials present{signer}"
        )
    if evidence.source is Source.XMP and evidence.declares in _XMP_SAYS:
        by = f" ({evidence.generator})" if evidence.generator else ""
        return f"Metadata: {_XMP_SAYS[evidence.declares]}{by}"
    return f"Metadata: {evidence.detail}"


# Reasons (worded to follow "I couldn't check this image: ") for images behind links.
LINK_REFUSED_REASON = "I only fetch images that Discord itself hosts or previewed"


LINK_UNAVAILABLE_REASON = (
    "the link has expired or the image could not be downloaded; please post the image again"
)


NO_IMAGE_FOUND = "I couldn't find an image in that message."


# Under the picture that answers "why?" (`core.heatmap`): it shows where the model looked, and
# must never read as where the image "is fake".
EXPLAIN_LEGEND = (
    "Where the model saw AI-like (warm) and real-like (cool) evidence. "
    "It shows where the model looked, not which parts are fake."
)


UNEXPECTED = "Something went wrong on my side; please try again later."


STORE_UNAVAILABLE = "I can't reach my database right now; please try again in a few minutes."


# Telegram: /check sent without replying to a message, the command menu, a failed download.
CHECK_NEEDS_IMAGE = (
    "Reply /check to a message that has an image (a photo, an image file or a sticker) "
    "and I'll check that image."
)


DOWNLOAD_FAILED_REASON = "the file could not be downloaded; please send it again"


COMMAND_DESCRIPTIONS = {
    "check": "Check the image in the message you reply to",
    "help": "What I do, my limits and privacy",
}
