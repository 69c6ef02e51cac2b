"""Every word the bots say about moderation, shared so Discord and Telegram say the same thing.

Platform-free: callers pass names and links already rendered for their platform. A flag is a
hint for a human, so the wording speaks of likelihood and leaves the decision to moderators.
"""

from __future__ import annotations

from bots.mod_settings_replies import (
    ADMIN_COMMAND_DESCRIPTIONS,
    MODLOG_NOT_YOURS,
    MODLOG_UNREACHABLE,
    SETTINGS_GROUPS_ONLY,
    SETTINGS_USAGE,
    bands_refused,
    exemptions_text,
    modlog_hello,
    reply_bands,
    settings_text,
    stats_text,
)
from core.moderation import Action, FlagStatus

__all__ = [
    "ADMINS_ONLY",
    "ADMINS_ONLY_COMMAND",
    "ADMIN_COMMAND_DESCRIPTIONS",
    "ALREADY_REVIEWED",
    "CONFIRM_BUTTON",
    "DISMISS_BUTTON",
    "FORGOTTEN",
    "MARKER_EMOJI",
    "MODLOG_NOT_YOURS",
    "MODLOG_UNREACHABLE",
    "REPORT_BUTTON",
    "REPORT_NOT_YOURS",
    "REPORT_NO_MODLOG",
    "REPORT_THANKS",
    "REVIEW_ADMINS_ONLY",
    "SERVERS_ONLY",
    "SETTINGS_GROUPS_ONLY",
    "SETTINGS_SAVED",
    "SETTINGS_USAGE",
    "UNKNOWN_FLAG",
    "bands_refused",
    "exemptions_text",
    "flag_notice",
    "modlog_hello",
    "percent",
    "permission_missing",
    "reply_bands",
    "report_notice",
    "review_line",
    "settings_text",
    "stats_text",
    "warning_text",
]

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
