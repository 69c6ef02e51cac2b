"""The pure helpers behind `/deepguard settings`: switching actions, editing id sets, showing."""

from __future__ import annotations

from bots.discord.settings import edited, show, with_actions
from bots.i18n import english
from core.moderation.types import Action, ChatPolicy


def test_switching_actions_changes_only_the_named_ones() -> None:
    """Unnamed actions stay as they were; True adds, False removes."""
    policy = ChatPolicy(actions=frozenset({Action.REACT, Action.MODLOG}))
    changed = with_actions(
        policy, {Action.DELETE: True, Action.REACT: False, Action.WARN: None}, None
    )
    assert changed.actions == frozenset({Action.MODLOG, Action.DELETE})
    assert changed.timeout_minutes == policy.timeout_minutes


def test_switching_an_action_on_again_forgets_its_refusals() -> None:
    """After a 403 switched an action off, turning it on clears that; other refusals stay."""
    disabled = frozenset({("1", Action.DELETE), ("2", Action.REACT)})
    policy = ChatPolicy(disabled=disabled)
    changed = with_actions(policy, {Action.DELETE: True}, 30)
    assert changed.disabled == frozenset({("2", Action.REACT)})
    assert changed.timeout_minutes == 30


def test_editing_an_id_set_adds_and_removes() -> None:
    """`add` puts an id in, `remove` takes it out, and removing a missing id is harmless."""
    ids = edited(frozenset(), "add", "5")
    assert ids == frozenset({"5"})
    assert edited(ids, "remove", "5") == frozenset()
    assert edited(ids, "remove", "6") == ids


def test_show_renders_ids_as_mentions() -> None:
    """Channels, roles and the mod-log appear as Discord mentions, with the new-members limit."""
    policy = ChatPolicy(
        modlog="10",
        exempt_channels=frozenset({"11"}),
        exempt_roles=frozenset({"12"}),
        new_members_days=7,
    )
    text = show(english(), policy)
    assert "<#10>" in text
    assert "<#11>" in text
    assert "<@&12>" in text
    assert "less than 7 days" in text
