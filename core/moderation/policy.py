"""The pure part of moderation: what to do with one upload, and the policy's defaults.

Before anything is fetched, `scans` says whether an upload is worth judging at all, `answers`
whether its verdict is posted and `moderates` whether it could be flagged (so it must be scanned
even past its sender's rate). Once the model has spoken, `decide` maps the fake probability to
the answer, the flag and its actions. All are plain functions of the chat's policy and who posted
where, tested exhaustively without a platform, so both adapters behave the same; so is
`parse_fraction`, which reads a threshold the way moderators type it on either platform.
"""

from __future__ import annotations

import re
from dataclasses import replace

from core.moderation.types import Action, ChatPolicy, Decision, Mode, UploadContext


def decide(
    policy: ChatPolicy,
    fake_probability: float,
    context: UploadContext,
    *,
    declared: bool = False,
) -> Decision:
    """Map a chat's policy and one verdict to answer/flag/actions.

    `declared` says the verdict is FAKE because the image declares AI itself (its judgement's
    `verdict_reason` is DECLARED, under this chat's `declared_ai_is_fake`): it counts as
    reaching the threshold whatever the probability.

    A private chat has no moderators: it is always answered and never flagged. An explicit
    request is always answered. Nothing else happens in a chat whose mode is OFF. Exempt
    channels, roles and users (and, with `new_members_days`, established members) are answered
    only in REPLY_ALL and never flagged. Otherwise an upload at or above the threshold is
    flagged, provided an action is left once disabled ones are removed.
    """
    if context.private:
        return Decision(answer=True, flag=False, reason="private")
    answer = answers(policy, context)
    if policy.mode is Mode.OFF:
        return Decision(answer=answer, flag=False, reason="off")
    exemption = _exemption(policy, context)
    if exemption:
        return Decision(answer=answer, flag=False, reason=exemption)
    if not declared and fake_probability < policy.threshold:
        return Decision(answer=answer, flag=False, reason="below-threshold")
    actions = _actions(policy, context.channel, answered=answer)
    if not actions:
        return Decision(answer=answer, flag=False, reason="no-actions")
    reason = "declared" if declared else "flagged"
    return Decision(answer=answer, flag=True, actions=actions, reason=reason)


def answers(policy: ChatPolicy, context: UploadContext) -> bool:
    """Whether the verdict on this upload is posted; it never depends on the probability.

    A private chat and an explicit request are always answered; a group only in REPLY_ALL.
    """
    return context.private or context.requested or policy.mode is Mode.REPLY_ALL


def moderates(policy: ChatPolicy, context: UploadContext) -> bool:
    """Whether moderators count on this upload being scanned: a fake would be flagged.

    That is a group whose mode is not OFF, an author and channel not exempt, and a flag action
    left there. Such an image is never refused for its sender's rate, only delayed (see
    `Throttle.wait`): a flood of fakes must not slip past the guard unscanned.
    """
    if context.private or policy.mode is Mode.OFF or _exemption(policy, context):
        return False
    return bool(_actions(policy, context.channel, answered=answers(policy, context)))


def scans(policy: ChatPolicy, context: UploadContext) -> bool:
    """Whether this upload is judged at all: its verdict is posted or it could be flagged.

    Anything else (a chat whose mode is OFF, an exempt author in a flag-only group) costs no
    download and no model time.
    """
    return answers(policy, context) or moderates(policy, context)


def _exemption(policy: ChatPolicy, context: UploadContext) -> str:
    """Why this upload is not the moderators' concern, or "" when it is."""
    if context.channel in policy.exempt_channels:
        return "exempt-channel"
    if context.user in policy.exempt_users:
        return "exempt-user"
    if context.roles & policy.exempt_roles:
        return "exempt-role"
    if (
        policy.new_members_days is not None
        and context.member_days is not None
        and context.member_days >= policy.new_members_days
    ):
        return "established-member"
    return ""


def _actions(policy: ChatPolicy, channel: str, *, answered: bool) -> frozenset[Action]:
    """The flag's actions this channel still allows."""
    actions = set(policy.actions)
    if answered:
        actions.discard(Action.WARN)  # the verdict reply already is the warning
    if policy.modlog is None or (policy.modlog, Action.MODLOG) in policy.disabled:
        actions.discard(Action.MODLOG)
    return frozenset(a for a in actions if (channel, a) not in policy.disabled)


def default_policy(
    private: bool,
    *,
    threshold: float = 0.7,
    uncertain_from: float = 0.3,
    declared_ai_is_fake: bool = True,
) -> ChatPolicy:
    """The policy of a chat nobody has configured: answer every image, never delete.

    A group keeps answering every image until a mod-log is set (see `with_modlog`); its flag
    actions are a marker reaction and the mod-log post. The bands are the operator's (their
    reply settings), so a new chat words verdicts the way the bot does everywhere else; so is
    `declared_ai_is_fake`, whether an image declaring AI is FAKE whatever the model says.
    """
    # The same for a private chat today: `decide` never flags there, whatever the policy says.
    return ChatPolicy(
        mode=Mode.REPLY_ALL,
        threshold=threshold,
        uncertain_from=uncertain_from,
        actions=frozenset({Action.REACT, Action.MODLOG}),
        declared_ai_is_fake=declared_ai_is_fake,
    )


def with_modlog(policy: ChatPolicy, modlog: str | None) -> ChatPolicy:
    """Set (or clear, with None) the mod-log; an unchosen mode follows it.

    Once moderators have somewhere to review flags, a group whose mode nobody chose turns
    flag-only; clearing the mod-log turns it back to answering every image.
    """
    if policy.explicit_mode:
        return replace(policy, modlog=modlog)
    mode = Mode.REPLY_ALL if modlog is None else Mode.FLAG_ONLY
    return replace(policy, modlog=modlog, mode=mode)


def with_mode(policy: ChatPolicy, mode: Mode) -> ChatPolicy:
    """A moderator's choice of mode, which a later mod-log change leaves alone."""
    return replace(policy, mode=mode, explicit_mode=True)


def with_threshold(policy: ChatPolicy, threshold: float) -> ChatPolicy:
    """Flag from `threshold`; an uncertain band above it comes down with it (bands never cross)."""
    return replace(
        policy, threshold=threshold, uncertain_from=min(policy.uncertain_from, threshold)
    )


def usable_modlog(policy: ChatPolicy) -> str | None:
    """The mod-log, unless there is none or posting there was refused."""
    if policy.modlog is None or (policy.modlog, Action.MODLOG) in policy.disabled:
        return None
    return policy.modlog


def without_action(policy: ChatPolicy, channel: str, action: Action) -> ChatPolicy:
    """Switch one action off in one channel (the platform refused it, e.g. HTTP 403)."""
    return replace(policy, disabled=policy.disabled | {(channel, action)})


# A plain decimal number (a comma may be the decimal mark), maybe with a % sign after or before.
_SHARE = re.compile(r"(%?)\s*(\d+(?:[.,]\d*)?|[.,]\d+)\s*(%?)", re.ASCII)


def parse_fraction(text: str) -> float | None:
    """A share from 0 to 1 as a moderator types it; None for anything else.

    A % sign always means percent (`1%`, `1 %`, `80%`, and `%80` as Turkish writes it); a bare
    number above 1 is a percent (`80`), at or below 1 a fraction (`0.8`, and `1` is all).
    Signs, exponents and anything past 100 % are refused.
    """
    match = _SHARE.fullmatch(text.strip())
    if match is None:
        return None
    if match[1] and match[3]:
        return None
    number, percent = float(match[2].replace(",", ".")), bool(match[1] or match[3])
    share = number / 100 if percent or number > 1 else number
    return share if 0 <= share <= 1 else None
