"""Every word the bots say about moderation, shared so Discord and Telegram say the same thing.

Platform-free: callers pass names and links already rendered for their platform. A flag is a
hint for a human, so the wording speaks of likelihood and leaves the decision to moderators.
"""

from __future__ import annotations

from collections.abc import Sequence

from config import ReplySettings
from core.moderation.types import Action, ChatPolicy, ChatStats, FlagStatus

DISCLAIMER = "An automated estimate (about 4 in 5 right), not proof."


MARKER_EMOJI = "🤔"  # allowed as a Telegram reaction, and a plain emoji on Discord


CONFIRM_BUTTON = "Confirm (delete)"


DISMISS_BUTTON = "Dismiss"


REPORT_BUTTON = "Report a mistake"


ADMINS_ONLY = "Only the chat's administrators can change DeepGuard's settings."


ADMINS_ONLY_COMMAND = "Only the chat's administrators can use this command."


REVIEW_ADMINS_ONLY = "Only administrators of the flagged chat can review this flag."


ALREADY_REVIEWED = "This flag was already reviewed."


UNKNOWN_FLAG = "I no longer know this flag (its data was deleted)."


BUTTON_EXPIRED = "This button has expired."


FORGOTTEN = "I deleted everything I stored about this chat: settings, flags and counts."


REPORT_THANKS = "Thanks, the moderators were told."


REPORT_NOT_YOURS = "Only the person who posted the image can report a mistake."


SETTINGS_SAVED = "Saved."


def percent(fake_probability: float) -> str:
    return f"{round(fake_probability * 100)}% probability of AI"


def warning_text(
    fake_probability: float, what: str = "image", *, declared: str | None = None
) -> str:
    """The reply under a flagged upload when the chat does not answer every image.

    `what` is `noun(judgement)`: a flagged clip is one upload, called a video or animation.
    `declared` is the upload's own declaration of AI (see `NewFlag.declared`), when it decided.
    """
    if declared is not None:
        return (
            f"⚠️ This {what} declares itself AI-generated ({declared}; model: "
            f"{percent(fake_probability)}). The moderators can have a look."
        )
    return (
        f"⚠️ This {what} looks AI-generated ({percent(fake_probability)}). "
        "It's an automated estimate, not proof; the moderators can have a look."
    )


def flag_notice(
    flag_id: int,
    who: str,
    where: str,
    fake_probability: float,
    link: str,
    what: str = "image",
    *,
    declared: str | None = None,
) -> str:
    """The mod-log post for a flag; `link` may be empty where the platform has none.

    `declared` is the upload's own declaration of AI when that, not the model, flagged it.
    """
    article = "an" if what[0] in "aeiou" else "a"
    if declared is not None:
        lines = [
            f"🚩 Flag #{flag_id}: {article} {what} by {who} in {where} declares itself "
            f"AI-generated (model: {percent(fake_probability)}).",
            declared,
            link,
            "Flagged for its own Content Credentials or metadata: please check before confirming.",
        ]
    else:
        lines = [
            f"🚩 Flag #{flag_id}: {article} {what} by {who} in {where} looks AI-generated "
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


REPORT_ALREADY = "You already reported this flag; your report is recorded."


REPORT_MODLOG_FAILED = (
    "Recorded, thanks; but I couldn't post it in the moderators' channel, so please tell a "
    "moderator yourself."
)


def report_without_modlog(place: str) -> str:
    """A poster's report where no moderator can be told: it still counts in the stats."""
    return (
        f"Recorded, thanks; this {place} has no moderators' channel set up, so no moderator was "
        "told. Please tell one yourself."
    )


def report_after_review(status: FlagStatus) -> str:
    """A poster's report on a flag a moderator already decided."""
    if status is FlagStatus.CONFIRMED:
        return "A moderator already reviewed this flag and confirmed it."
    return "A moderator already reviewed this flag and dismissed it as a mistake."


_DECLARED = {
    True: "on (an image whose own Content Credentials or metadata declare AI counts as such)",
    False: "off (the model alone decides; an image's declarations are only shown)",
}


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
        f"• declared AI is fake: {_DECLARED[policy.declared_ai_is_fake]}",
    ]
    if policy.pending_modlog is not None:
        lines.append(f"• mod-log asked: {policy.pending_modlog} (waiting for confirmation there)")
    if disabled:
        lines.append(f"• switched off after a refusal: {disabled}")
    return "\n".join(lines)


def stats_text(week: ChatStats, month: ChatStats) -> str:
    """Images scanned, flagged, confirmed, dismissed and reported over 7 and 30 days."""

    def line(days: int, stats: ChatStats) -> str:
        return (
            f"Last {days} days: {stats.scanned} images scanned, {stats.flagged} flagged, "
            f"{stats.confirmed} confirmed, {stats.dismissed} dismissed, "
            f"{stats.reported} reported as a mistake by their poster."
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
    "/settings modlog <chat id> (where flags are posted, once an admin there confirms; "
    "`off` to stop)\n"
    "/settings exempt <user id> and /settings unexempt <user id> (or in reply to their message)\n"
    "/settings mode reply-all|flag-only|off\n"
    "/settings declared on|off (whether an image whose Content Credentials or metadata declare "
    "AI counts as AI-generated, or the model alone decides)\n"
    "/settings show"
)


def percent_refused(name: str) -> str:
    """A threshold or band that is not a share: how to write one."""
    return (
        f"Not saved: give the {name} as a percentage or a fraction, "
        "for example 80% or 0.8 (a number above 1 is read as a percentage)."
    )


SETTINGS_GROUPS_ONLY = "Settings are for groups: in a private chat I always answer every image."


MODLOG_UNREACHABLE = (
    "I couldn't post in that chat. Add me to it (and let me write there), then try again."
)


MODLOG_ASKED = (
    "I asked in that chat: once one of its administrators presses Confirm there, flags will "
    "be posted in it. Until then nothing is posted there."
)


MODLOG_CONFIRM_BUTTON = "Confirm"


MODLOG_CONFIRM_ADMINS_ONLY = "Only an administrator of this chat can confirm."


def modlog_request(where: str) -> str:
    """Posted in a chat asked to become the mod-log of `where`; nothing else until confirmed."""
    return (
        f"The administrators of {where} would like DeepGuard to post its flags here: who posted "
        "a suspicious image, where, and a link to it. An administrator of this chat can confirm."
    )


def modlog_set(where: str) -> str:
    """Told to the group once the mod-log chat `where` confirmed."""
    return f"Flags will now be posted in {where}."


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
