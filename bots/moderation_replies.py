"""Every word the bots say about moderation, shared so Discord and Telegram say the same thing.

Platform-free: callers pass names and links already rendered for their platform. A flag is a
hint for a human, so the wording speaks of likelihood and leaves the decision to moderators.
Every message is marked for the catalogs (`N_`) and every function takes the `Words` of the
language it speaks first; what an upload was (`what`: "image", "animation" or "video", from
`bots.replies.noun`) picks a whole sentence, never a word put into one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bots.i18n import LANGUAGES, N_, Words
from config import ReplySettings
from core.moderation.types import Action, ChatPolicy, ChatStats, FlagStatus, Mode

DISCLAIMER = N_("An automated estimate (about 4 in 5 right), not proof.")


MARKER_EMOJI = "🤔"  # allowed as a Telegram reaction, and a plain emoji on Discord


CONFIRM_BUTTON = N_("Confirm (delete)")


DISMISS_BUTTON = N_("Dismiss")


# The reason a Discord time-out gives in the server's audit log.
TIMEOUT_REASON = N_("DeepGuard: posted an upload flagged as likely AI-generated")


REPORT_BUTTON = N_("Report a mistake")


ADMINS_ONLY = N_("Only the chat's administrators can change DeepGuard's settings.")


ADMINS_ONLY_COMMAND = N_("Only the chat's administrators can use this command.")


REVIEW_ADMINS_ONLY = N_("Only administrators of the flagged chat can review this flag.")


ALREADY_REVIEWED = N_("This flag was already reviewed.")


UNKNOWN_FLAG = N_("I no longer know this flag (its data was deleted).")


BUTTON_EXPIRED = N_("This button has expired.")


FORGOTTEN = N_("I deleted everything I stored about this chat: settings, flags and counts.")


REPORT_THANKS = N_("Thanks, the moderators were told.")


REPORT_NOT_YOURS = N_("Only the person who posted the image can report a mistake.")


SETTINGS_SAVED = N_("Saved.")


# The settings' values as the panels and buttons show them; what is typed after /settings
# (mode reply-all, ...) stays English.
MODE_NAMES: Mapping[Mode, str] = {
    # TRANSLATORS: a mode of the settings panel (answer every image); typed it stays English.
    Mode.REPLY_ALL: N_("reply-all"),
    # TRANSLATORS: a mode of the settings panel (silent unless flagged).
    Mode.FLAG_ONLY: N_("flag-only"),
    # TRANSLATORS: a mode of the settings panel (images ignored).
    Mode.OFF: N_("off"),
}
ACTION_NAMES: Mapping[Action, str] = {
    # TRANSLATORS: an action on a flag, on the settings panel's buttons (mark the message).
    Action.REACT: N_("react"),
    Action.WARN: N_("warn"),
    Action.MODLOG: N_("modlog"),
    Action.DELETE: N_("delete"),
    Action.TIMEOUT: N_("timeout"),
}


def percent(words: Words, fake_probability: float) -> str:
    """ "74% probability of AI", written the language's way."""
    return words.gettext(
        N_("{percent} probability of AI"), percent=words.percent(fake_probability)
    )


_WARNINGS = {
    "image": N_(
        "⚠️ This image looks AI-generated ({percent} probability of AI). "
        "It's an automated estimate, not proof; the moderators can have a look."
    ),
    "animation": N_(
        "⚠️ This animation looks AI-generated ({percent} probability of AI). "
        "It's an automated estimate, not proof; the moderators can have a look."
    ),
    "video": N_(
        "⚠️ This video looks AI-generated ({percent} probability of AI). "
        "It's an automated estimate, not proof; the moderators can have a look."
    ),
}
_DECLARED_WARNINGS = {
    "image": N_(
        "⚠️ This image declares itself AI-generated ({declared}; model: {percent} probability "
        "of AI). The moderators can have a look."
    ),
    "animation": N_(
        "⚠️ This animation declares itself AI-generated ({declared}; model: {percent} "
        "probability of AI). The moderators can have a look."
    ),
    "video": N_(
        "⚠️ This video declares itself AI-generated ({declared}; model: {percent} probability "
        "of AI). The moderators can have a look."
    ),
}


def warning_text(
    words: Words, fake_probability: float, what: str = "image", *, declared: str | None = None
) -> str:
    """The reply under a flagged upload when the chat does not answer every image.

    `what` is `noun(judgement)`: a flagged clip is one upload, called a video or animation.
    `declared` is the upload's own declaration of AI (see `NewFlag.declared`), when it decided.
    """
    percent = words.percent(fake_probability)
    if declared is not None:
        template = _DECLARED_WARNINGS.get(what, _DECLARED_WARNINGS["image"])
        return words.gettext(template, declared=declared, percent=percent)
    return words.gettext(_WARNINGS.get(what, _WARNINGS["image"]), percent=percent)


_FLAGS = {
    "image": N_(
        "🚩 Flag #{flag}: an image by {who} in {where} looks AI-generated "
        "({percent} probability of AI)."
    ),
    "animation": N_(
        "🚩 Flag #{flag}: an animation by {who} in {where} looks AI-generated "
        "({percent} probability of AI)."
    ),
    "video": N_(
        "🚩 Flag #{flag}: a video by {who} in {where} looks AI-generated "
        "({percent} probability of AI)."
    ),
}
_DECLARED_FLAGS = {
    "image": N_(
        "🚩 Flag #{flag}: an image by {who} in {where} declares itself AI-generated "
        "(model: {percent} probability of AI)."
    ),
    "animation": N_(
        "🚩 Flag #{flag}: an animation by {who} in {where} declares itself AI-generated "
        "(model: {percent} probability of AI)."
    ),
    "video": N_(
        "🚩 Flag #{flag}: a video by {who} in {where} declares itself AI-generated "
        "(model: {percent} probability of AI)."
    ),
}


def flag_notice(
    words: Words,
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
    values = {
        "flag": flag_id,
        "who": who,
        "where": where,
        "percent": words.percent(fake_probability),
    }
    if declared is not None:
        lines = [
            words.gettext(_DECLARED_FLAGS.get(what, _DECLARED_FLAGS["image"]), **values),
            declared,
            link,
            words.gettext(
                N_(
                    "Flagged for its own Content Credentials or metadata: please check before "
                    "confirming."
                )
            ),
        ]
    else:
        lines = [
            words.gettext(_FLAGS.get(what, _FLAGS["image"]), **values),
            link,
            words.gettext(
                N_("An automated estimate (about 4 in 5 right): please check before confirming.")
            ),
        ]
    return "\n".join(line for line in lines if line)


def review_line(
    words: Words, status: FlagStatus, reviewer: str, *, deleted: bool | None = None
) -> str:
    """Appended to the mod-log post once a moderator reviewed the flag."""
    if status is FlagStatus.DISMISSED:
        return words.gettext(N_("✖️ Dismissed by {who} as a false positive."), who=reviewer)
    if deleted is None:
        return words.gettext(N_("✅ Confirmed by {who}."), who=reviewer)
    if deleted:
        return words.gettext(N_("✅ Confirmed by {who}; the message was deleted."), who=reviewer)
    return words.gettext(
        N_("✅ Confirmed by {who}; I could not delete the message (gone, or no right to)."),
        who=reviewer,
    )


def report_notice(words: Words, flag_id: int, who: str) -> str:
    """The mod-log post when a poster says a flag is wrong."""
    return words.gettext(N_("🙋 {who} reports flag #{flag} as a mistake."), who=who, flag=flag_id)


# Told once when the platform refused an action, whole per action.
_REFUSED = {
    Action.REACT: N_(
        "⚠️ I wasn't allowed to react to the message in {where}, so I switched that action off "
        "there. Give me the right to add reactions there, then turn it on again in the "
        "settings."
    ),
    Action.WARN: N_(
        "⚠️ I wasn't allowed to reply with a warning in {where}, so I switched that action off "
        "there. Give me the right to send messages there, then turn it on again in the "
        "settings."
    ),
    Action.MODLOG: N_(
        "⚠️ I wasn't allowed to post to the mod-log in {where}, so I switched that action off "
        "there. Give me the right to send messages in the mod-log, then turn it on again in "
        "the settings."
    ),
    Action.DELETE: N_(
        "⚠️ I wasn't allowed to delete the message in {where}, so I switched that action off "
        "there. Make me an administrator who can delete messages there, then turn it on "
        "again in the settings."
    ),
    Action.TIMEOUT: N_(
        "⚠️ I wasn't allowed to time the author out in {where}, so I switched that action off "
        "there. Give me the right to time members out, then turn it on again in the "
        "settings."
    ),
}


def permission_missing(words: Words, action: Action, where: str) -> str:
    """Told once when the platform refused an action; the action is off from then on."""
    return words.gettext(_REFUSED[action], where=where)


SERVERS_ONLY = N_("This command works in servers and groups only, not in private chats.")


REPORT_ALREADY = N_("You already reported this flag; your report is recorded.")


REPORT_MODLOG_FAILED = N_(
    "Recorded, thanks; but I couldn't post it in the moderators' channel, so please tell a "
    "moderator yourself."
)


_WITHOUT_MODLOG = {
    "group": N_(
        "Recorded, thanks; this group has no moderators' channel set up, so no moderator was "
        "told. Please tell one yourself."
    ),
    "server": N_(
        "Recorded, thanks; this server has no moderators' channel set up, so no moderator was "
        "told. Please tell one yourself."
    ),
}


def report_without_modlog(words: Words, place: str) -> str:
    """A poster's report where no moderator can be told (`place`: "group" or "server"): it
    still counts in the stats."""
    return words.gettext(_WITHOUT_MODLOG.get(place, _WITHOUT_MODLOG["group"]))


def report_after_review(words: Words, status: FlagStatus) -> str:
    """A poster's report on a flag a moderator already decided."""
    if status is FlagStatus.CONFIRMED:
        return words.gettext(N_("A moderator already reviewed this flag and confirmed it."))
    return words.gettext(
        N_("A moderator already reviewed this flag and dismissed it as a mistake.")
    )


_DECLARED = {
    True: N_("on (an image whose own Content Credentials or metadata declare AI counts as such)"),
    False: N_("off (the model alone decides; an image's declarations are only shown)"),
}


def settings_text(words: Words, policy: ChatPolicy, modlog_name: str | None = None) -> str:
    """What a chat's policy is, for /settings show."""
    actions = ", ".join(
        words.gettext(ACTION_NAMES[a]) for a in sorted(policy.actions, key=lambda a: a.value)
    )
    disabled = ", ".join(
        words.gettext(ACTION_NAMES[a])
        for a in sorted({a for _, a in policy.disabled}, key=lambda a: a.value)
    )
    modlog = modlog_name or policy.modlog or words.gettext(N_("not set"))
    lines = [
        words.gettext(N_("DeepGuard settings:")),
        words.gettext(N_("• mode: {mode}"), mode=words.gettext(MODE_NAMES[policy.mode])),
        words.gettext(
            N_("• flag at or above: {percent} probability of AI"),
            percent=words.percent(policy.threshold),
        ),
        words.gettext(
            N_("• uncertain from: {percent} (below it: likely real)"),
            percent=words.percent(policy.uncertain_from),
        ),
        words.gettext(
            N_("• on a flag: {actions}"), actions=actions or words.gettext(N_("no action"))
        ),
        words.gettext(N_("• mod-log: {modlog}"), modlog=modlog),
        words.gettext(N_("• exempt users: {count}"), count=len(policy.exempt_users)),
        words.gettext(
            N_("• declared AI counts as AI-generated: {choice}"),
            choice=words.gettext(_DECLARED[policy.declared_ai_is_fake]),
        ),
    ]
    if policy.language is not None:
        lines.append(
            words.gettext(N_("• language: {language}"), language=language_name(policy.language))
        )
    if policy.pending_modlog is not None:
        lines.append(
            words.gettext(
                N_("• mod-log asked: {chat} (waiting for confirmation there)"),
                chat=policy.pending_modlog,
            )
        )
    if disabled:
        lines.append(
            words.gettext(N_("• switched off after a refusal: {actions}"), actions=disabled)
        )
    return "\n".join(lines)


def stats_text(words: Words, week: ChatStats, month: ChatStats) -> str:
    """Images scanned, flagged, confirmed, dismissed and reported over 7 and 30 days."""

    def line(days: int, stats: ChatStats) -> str:
        return words.ngettext(
            "Last {days} days: {count} image scanned, {flagged} flagged, {confirmed} confirmed, "
            "{dismissed} dismissed, {reported} reported as a mistake by their poster.",
            "Last {days} days: {count} images scanned, {flagged} flagged, {confirmed} confirmed, "
            "{dismissed} dismissed, {reported} reported as a mistake by their poster.",
            stats.scanned,
            days=days,
            flagged=stats.flagged,
            confirmed=stats.confirmed,
            dismissed=stats.dismissed,
            reported=stats.reported,
        )

    return f"{line(7, week)}\n{line(30, month)}"


def exemptions_text(
    words: Words, channels: Sequence[str], roles: Sequence[str], days: int | None
) -> str:
    """Discord-only settings, as extra lines under `settings_text` (ids rendered as mentions)."""
    none = words.gettext(N_("none"))
    if days:
        scanned = words.ngettext(
            "• scanned: members who joined less than {count} day ago",
            "• scanned: members who joined less than {count} days ago",
            days,
        )
    else:
        scanned = words.gettext(N_("• scanned: every member"))
    return "\n".join(
        [
            words.gettext(
                N_("• exempt channels: {channels}"), channels=", ".join(channels) or none
            ),
            words.gettext(N_("• exempt roles: {roles}"), roles=", ".join(roles) or none),
            scanned,
        ]
    )


# Settings and the mod-log chat, as typed commands (Telegram says `/settings`).
SETTINGS_USAGE = N_(
    "Use the buttons to choose the mode and what happens on a flag, or type:\n"
    "/settings threshold 0.8 (flag at or above 80% probability of AI)\n"
    "/settings uncertain 0.3 (below 30% the reply says likely real)\n"
    "/settings modlog <chat id> (where flags are posted, once an admin there confirms; "
    "`off` to stop)\n"
    "/settings exempt <user id> and /settings unexempt <user id> (or in reply to their message)\n"
    "/settings mode reply-all|flag-only|off\n"
    "/settings declared on|off (whether an image whose Content Credentials or metadata declare "
    "AI counts as AI-generated, or the model alone decides)\n"
    "/settings language <code> (the language I speak in this group)\n"
    "/settings show"
)


_PERCENT_REFUSED = {
    "threshold": N_(
        "Not saved: give the threshold as a percentage or a fraction, for example 80% or 0.8 "
        "(a number above 1 is read as a percentage)."
    ),
    "uncertain": N_(
        "Not saved: give the uncertain band as a percentage or a fraction, for example 30% or "
        "0.3 (a number above 1 is read as a percentage)."
    ),
}


def percent_refused(words: Words, name: str) -> str:
    """A threshold or band (`name`: "threshold" or "uncertain") that is not a share: how to
    write one."""
    return words.gettext(_PERCENT_REFUSED.get(name, _PERCENT_REFUSED["threshold"]))


SETTINGS_GROUPS_ONLY = N_(
    "Settings are for groups: in a private chat I always answer every image."
)


MODLOG_UNREACHABLE = N_(
    "I couldn't post in that chat. Add me to it (and let me write there), then try again."
)


MODLOG_ASKED = N_(
    "I asked in that chat: once one of its administrators presses Confirm there, flags will "
    "be posted in it. Until then nothing is posted there."
)


MODLOG_CONFIRM_BUTTON = N_("Confirm")


MODLOG_CONFIRM_ADMINS_ONLY = N_("Only an administrator of this chat can confirm.")


def modlog_request(words: Words, where: str) -> str:
    """Posted in a chat asked to become the mod-log of `where`; nothing else until confirmed."""
    return words.gettext(
        N_(
            "The administrators of {where} would like DeepGuard to post its flags here: who "
            "posted a suspicious image, where, and a link to it. An administrator of this chat "
            "can confirm."
        ),
        where=where,
    )


def modlog_set(words: Words, where: str) -> str:
    """Told to the group once the mod-log chat `where` confirmed."""
    return words.gettext(N_("Flags will now be posted in {where}."), where=where)


# Telegram's command menu for chat administrators (on top of /check and /help).
ADMIN_COMMAND_DESCRIPTIONS = {
    "settings": N_("Moderation: mode, threshold, actions, mod-log chat, language"),
    "stats": N_("Images scanned and flagged in the last 7 and 30 days"),
    "forget": N_("Delete everything DeepGuard stored about this chat"),
}


def language_name(code: str) -> str:
    """A catalog's language in its own words ("Français"); an unknown code as it is."""
    return LANGUAGES.get(code, code)


def language_set(words: Words, code: str) -> str:
    """Told, in the chosen language, once a chat's language is saved."""
    return words.gettext(
        N_("Saved: from now on I speak {language} here."), language=language_name(code)
    )


def language_choices(words: Words, typed: str | None = None) -> str:
    """The languages to choose from, as codes with their names; `typed` is a code no catalog
    fits, when one was given."""
    choices = "\n".join(f"• {code.replace('_', '-')}: {name}" for code, name in LANGUAGES.items())
    if typed:
        return words.gettext(
            N_(
                "I don't speak “{code}” yet. Choose one of these languages by its code:\n{choices}"
            ),
            code=typed,
            choices=choices,
        )
    return words.gettext(
        N_("Choose the language I speak here by its code:\n{choices}"), choices=choices
    )


def reply_bands(policy: ChatPolicy) -> ReplySettings:
    """A group's own reply bands, so its wording agrees with what gets flagged there.

    Likely AI-generated from the flag threshold, likely real below the uncertain band.
    """
    return ReplySettings(
        likely_fake_from=policy.threshold,
        likely_real_below=min(policy.uncertain_from, policy.threshold),  # saved before checks
    )


def bands_refused(words: Words, threshold: float, uncertain_from: float) -> str:
    """Why a threshold or uncertain band was not saved: they would cross."""
    return words.gettext(
        N_(
            "Not saved: the uncertain band must start at or below the flag threshold "
            "(uncertain from {uncertain}, flag at {threshold}). Raise the threshold first, or "
            "choose a lower value."
        ),
        uncertain=words.percent(uncertain_from),
        threshold=words.percent(threshold),
    )


def crossing(words: Words, policy: ChatPolicy) -> str | None:
    """The uncertain band may not start above the flag threshold."""
    if policy.uncertain_from > policy.threshold:
        return bands_refused(words, policy.threshold, policy.uncertain_from)
    return None
