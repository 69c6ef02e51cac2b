"""Every word the bots say about an image, shared so Discord and Telegram say the same thing.

The model is right about four times in five, so replies speak of likelihood, never proof.
"""

from __future__ import annotations

from collections.abc import Sequence

from config import ReplySettings
from core.errors import DeepGuardError
from core.moderation.types import Action, ChatPolicy, ChatStats, FlagStatus
from core.result import Judgement

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
    "Privacy: images are checked on the bot's own server and are never stored or shared."
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
    """One line: icon, band, and the fake probability in percent."""
    wording = band(judgement.fake_probability, bands)
    percent = round(judgement.fake_probability * 100)
    return f"{_ICONS[wording]} {wording[0].upper()}{wording[1:]} ({percent}% probability of AI)"


def models_line(judgement: Judgement) -> str | None:
    """How many of several models lean AI-generated (at or above the verdict's threshold),
    e.g. "2 of 3 models lean AI-generated"; None when one model judged the image."""
    if len(judgement.models) < 2:
        return None
    leaning = sum(m.scores.fake_probability >= judgement.threshold for m in judgement.models)
    verb = "leans" if leaning == 1 else "lean"
    return f"{leaning} of {len(judgement.models)} models {verb} AI-generated"


def error_line(error: DeepGuardError) -> str:
    """A polite refusal that names the reason."""
    return f"⚠️ I couldn't check this image: {error.message}."


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
        f"Image {index}: " + _line(outcome, bands) for index, outcome in enumerate(outcomes, 1)
    ]
    if any(isinstance(outcome, Judgement) for outcome in outcomes):
        lines.append(DISCLAIMER)
    return "\n".join(lines)


def _line(outcome: Outcome, bands: ReplySettings) -> str:
    if isinstance(outcome, Judgement):
        return verdict_line(outcome, bands)
    return error_line(outcome)


# Reasons (worded to follow "I couldn't check this image: ") for images behind links.
LINK_REFUSED_REASON = "I only fetch images that Discord itself hosts or previewed"


LINK_UNAVAILABLE_REASON = (
    "the link has expired or the image could not be downloaded; please post the image again"
)


NO_IMAGE_FOUND = "I couldn't find an image in that message."


UNEXPECTED = "Something went wrong on my side; please try again later."


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


MARKER_EMOJI = "🤔"  # allowed as a Telegram reaction, and a plain emoji on Discord


CONFIRM_BUTTON = "Confirm (delete)"


DISMISS_BUTTON = "Dismiss"


REPORT_BUTTON = "Report a mistake"


ADMINS_ONLY = "Only the chat's administrators can change DeepGuard's settings."


ADMINS_ONLY_COMMAND = "Only the chat's administrators can use this command."


REVIEW_ADMINS_ONLY = "Only administrators of the flagged chat can review this flag."


ALREADY_REVIEWED = "This flag was already reviewed."


UNKNOWN_FLAG = "I no longer know this flag (its data was deleted)."


FORGOTTEN = "I deleted everything I stored about this chat: settings, flags and counts."


REPORT_THANKS = "Thanks, the moderators were told."


REPORT_NOT_YOURS = "Only the person who posted the image can report a mistake."


SETTINGS_SAVED = "Saved."


def percent(fake_probability: float) -> str:
    return f"{round(fake_probability * 100)}% probability of AI"


def warning_text(fake_probability: float) -> str:
    """The reply under a flagged upload when the chat does not answer every image."""
    return (
        f"⚠️ This image looks AI-generated ({percent(fake_probability)}). "
        "It's an automated estimate, not proof; the moderators can have a look."
    )


def flag_notice(flag_id: int, who: str, where: str, fake_probability: float, link: str) -> str:
    """The mod-log post for a flag; `link` may be empty where the platform has none."""
    lines = [
        f"🚩 Flag #{flag_id}: an image by {who} in {where} looks AI-generated "
        f"({percent(fake_probability)}).",
        link,
        "An automated estimate (about 4 in 5 right): please check before confirming.",
    ]
    return "\n".join(line for line in lines if line)


def review_line(status: FlagStatus, reviewer: str, *, deleted: bool | None = None) -> str:
    """Appended to the mod-log post once a moderator reviewed the flag."""
    if status is FlagStatus.DISMISSED:
        return f"✖️ Dismissed by {reviewer} as a false positive."
    if deleted is None:
        return f"✅ Confirmed by {reviewer}."
    if deleted:
        return f"✅ Confirmed by {reviewer}; the message was deleted."
    return f"✅ Confirmed by {reviewer}; I could not delete the message (gone, or no right to)."


def report_notice(flag_id: int, who: str) -> str:
    """The mod-log post when a poster says a flag is wrong."""
    return f"🙋 {who} reports flag #{flag_id} as a mistake."


_ACTION_WORDS = {
    Action.REACT: "mark the message",
    Action.WARN: "reply with a warning",
    Action.MODLOG: "post to the mod-log",
    Action.DELETE: "delete the message",
    Action.TIMEOUT: "time the author out",
}


def permission_missing(action: Action, where: str) -> str:
    """Told once when the platform refused an action; the action is off from then on."""
    return (
        f"⚠️ I wasn't allowed to {_ACTION_WORDS[action]} in {where}, so I switched that "
        "action off there. Give me the right (for deleting: make me an administrator who can "
        "delete messages), then turn it on again in the settings."
    )


SERVERS_ONLY = "This command works in servers and groups only, not in private chats."


REPORT_NO_MODLOG = "Thanks. There is no mod-log here, so please tell a moderator yourself."


def settings_text(policy: ChatPolicy, modlog_name: str | None = None) -> str:
    """What a chat's policy is, for /settings show."""
    actions = ", ".join(sorted(a.value for a in policy.actions)) or "none"
    disabled = ", ".join(sorted({a.value for _, a in policy.disabled}))
    lines = [
        "DeepGuard settings:",
        f"• mode: {policy.mode.value}",
        f"• flag at or above: {round(policy.threshold * 100)}% probability of AI",
        f"• uncertain from: {round(policy.uncertain_from * 100)}% (below it: likely real)",
        f"• on a flag: {actions}",
        f"• mod-log: {modlog_name or policy.modlog or 'not set'}",
        f"• exempt users: {len(policy.exempt_users)}",
    ]
    if disabled:
        lines.append(f"• switched off after a refusal: {disabled}")
    return "\n".join(lines)


def stats_text(week: ChatStats, month: ChatStats) -> str:
    """Images scanned, flagged, confirmed and dismissed over 7 and 30 days."""

    def line(days: int, stats: ChatStats) -> str:
        return (
            f"Last {days} days: {stats.scanned} images scanned, {stats.flagged} flagged, "
            f"{stats.confirmed} confirmed, {stats.dismissed} dismissed."
        )

    return f"{line(7, week)}\n{line(30, month)}"


def exemptions_text(channels: Sequence[str], roles: Sequence[str], days: int | None) -> str:
    """Discord-only settings, as extra lines under `settings_text` (ids rendered as mentions)."""
    scanned = f"members who joined less than {days} days ago" if days else "every member"
    return "\n".join(
        [
            f"• exempt channels: {', '.join(channels) or 'none'}",
            f"• exempt roles: {', '.join(roles) or 'none'}",
            f"• scanned: {scanned}",
        ]
    )


# Settings and the mod-log chat, as typed commands (Telegram says `/settings`).
SETTINGS_USAGE = (
    "Use the buttons to choose the mode and what happens on a flag, or type:\n"
    "/settings threshold 0.8 (flag at or above 80% probability of AI)\n"
    "/settings uncertain 0.3 (below 30% the reply says likely real)\n"
    "/settings modlog <chat id> (where flags are posted; `off` to stop)\n"
    "/settings exempt <user id> and /settings unexempt <user id> (or in reply to their message)\n"
    "/settings mode reply-all|flag-only|off\n"
    "/settings show"
)


SETTINGS_GROUPS_ONLY = "Settings are for groups: in a private chat I always answer every image."


MODLOG_NOT_YOURS = "You can only choose a mod-log chat you are a member of."


MODLOG_UNREACHABLE = (
    "I couldn't post in that chat. Add me to it (and let me write there), then try again."
)


def modlog_hello(where: str) -> str:
    """Posted in a chat when it becomes the mod-log of `where`."""
    return f"This chat is now DeepGuard's mod-log for {where}: flags will be posted here."


# Telegram's command menu for chat administrators (on top of /check and /help).
ADMIN_COMMAND_DESCRIPTIONS = {
    "settings": "Moderation: mode, threshold, actions, mod-log chat",
    "stats": "Images scanned and flagged in the last 7 and 30 days",
    "forget": "Delete everything DeepGuard stored about this chat",
}


def reply_bands(policy: ChatPolicy) -> ReplySettings:
    """A group's own reply bands, so its wording agrees with what gets flagged there.

    Likely AI-generated from the flag threshold, likely real below the uncertain band.
    """
    return ReplySettings(
        likely_fake_from=policy.threshold,
        likely_real_below=min(policy.uncertain_from, policy.threshold),  # saved before checks
    )


def bands_refused(threshold: float, uncertain_from: float) -> str:
    """Why a threshold or uncertain band was not saved: they would cross."""
    return (
        f"Not saved: the uncertain band must start at or below the flag threshold "
        f"(uncertain from {round(uncertain_from * 100)}%, flag at "
        f"{round(threshold * 100)}%). Raise the threshold first, or choose a lower value."
    )


def crossing(policy: ChatPolicy) -> str | None:
    """The uncertain band may not start above the flag threshold."""
    if policy.uncertain_from > policy.threshold:
        return bands_refused(policy.threshold, policy.uncertain_from)
    return None
