"""The moderation wording about a chat's settings: its policy, counts, bands and mod-log.

Part of `bots.mod_replies`, which re-exports every name here; the same rules apply.
"""

from __future__ import annotations

from collections.abc import Sequence

from config import ReplySettings
from core.moderation import ChatPolicy, ChatStats


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
