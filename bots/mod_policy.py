"""Policy checks both platforms' settings commands share (platform-free)."""

from __future__ import annotations

from bots.mod_replies import bands_refused
from core.moderation import ChatPolicy


def crossing(policy: ChatPolicy) -> str | None:
    """The uncertain band may not start above the flag threshold."""
    if policy.uncertain_from > policy.threshold:
        return bands_refused(policy.threshold, policy.uncertain_from)
    return None
