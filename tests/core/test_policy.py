"""`decide`, the questions asked before judging (`answers`, `moderates`, `scans`) and the policy
defaults, table by table, with no platform involved."""

from __future__ import annotations

import itertools
import math
from dataclasses import replace

import pytest

from core.moderation.policy import (
    answers,
    decide,
    default_policy,
    moderates,
    parse_fraction,
    scans,
    with_mode,
    with_modlog,
    with_threshold,
    without_action,
)
from core.moderation.types import Action, ChatPolicy, Decision, Mode, UploadContext

A = Action
MODES = tuple(Mode)
THRESHOLD = 0.7
BELOW = math.nextafter(THRESHOLD, 0.0)  # the largest probability that is not flagged
ABOVE = 0.95


def group_policy(mode: Mode, **changes: object) -> ChatPolicy:
    """A configured group: mod-log set, react + mod-log on a flag, unless `changes` say otherwise."""
    values: dict[str, object] = {"mode": mode, "modlog": "modlog", "threshold": THRESHOLD}
    return replace(ChatPolicy(), **(values | changes))  # type: ignore[arg-type]


def upload(
    *,
    private: bool = False,
    requested: bool = False,
    channel: str = "general",
    user: str = "bob",
    roles: frozenset[str] = frozenset(),
    member_days: float | None = None,
) -> UploadContext:
    return UploadContext(
        private=private,
        channel=channel,
        user=user,
        roles=roles,
        member_days=member_days,
        requested=requested,
    )


# An exempt policy and an upload it exempts, by kind of exemption.
EXEMPTIONS: dict[str, tuple[dict[str, object], UploadContext]] = {
    "exempt-channel": ({"exempt_channels": frozenset({"art"})}, upload(channel="art")),
    "exempt-role": ({"exempt_roles": frozenset({"artist"})}, upload(roles=frozenset({"artist"}))),
    "exempt-user": ({"exempt_users": frozenset({"alice"})}, upload(user="alice")),
    "established-member": ({"new_members_days": 7}, upload(member_days=30.0)),
}


class TestPrivateChats:
    @pytest.mark.parametrize(
        ("mode", "requested", "probability", "exemption"),
        list(itertools.product(MODES, (False, True), (0.0, BELOW, THRESHOLD, 1.0), EXEMPTIONS)),
    )
    def test_always_answered_never_flagged(
        self, mode: Mode, requested: bool, probability: float, exemption: str
    ) -> None:
        """A private chat is answered and never flagged, whatever the mode, score or exemption."""
        changes, context = EXEMPTIONS[exemption]
        context = replace(context, private=True, requested=requested)
        decision = decide(group_policy(mode, **changes), probability, context)
        assert decision == Decision(answer=True, flag=False, reason="private")


class TestModeOff:
    @pytest.mark.parametrize(
        ("requested", "probability"), list(itertools.product((False, True), (0.0, 1.0)))
    )
    def test_only_requests_are_answered(self, requested: bool, probability: float) -> None:
        """With the bot off in a group, only an explicit request is answered, and nothing is flagged."""
        decision = decide(group_policy(Mode.OFF), probability, upload(requested=requested))
        assert decision == Decision(answer=requested, flag=False, reason="off")


# mode, requested, exempt, at/above threshold -> answer, flag (configured group, default actions)
GROUP_TABLE = [
    (Mode.REPLY_ALL, False, False, False, True, False),
    (Mode.REPLY_ALL, False, False, True, True, True),
    (Mode.REPLY_ALL, False, True, False, True, False),
    (Mode.REPLY_ALL, False, True, True, True, False),
    (Mode.REPLY_ALL, True, False, False, True, False),
    (Mode.REPLY_ALL, True, False, True, True, True),
    (Mode.REPLY_ALL, True, True, False, True, False),
    (Mode.REPLY_ALL, True, True, True, True, False),
    (Mode.FLAG_ONLY, False, False, False, False, False),
    (Mode.FLAG_ONLY, False, False, True, False, True),
    (Mode.FLAG_ONLY, False, True, False, False, False),
    (Mode.FLAG_ONLY, False, True, True, False, False),
    (Mode.FLAG_ONLY, True, False, False, True, False),
    (Mode.FLAG_ONLY, True, False, True, True, True),
    (Mode.FLAG_ONLY, True, True, False, True, False),
    (Mode.FLAG_ONLY, True, True, True, True, False),
]


class TestGroups:
    @pytest.mark.parametrize(
        ("mode", "requested", "exempt", "flaggable", "answer", "flag"), GROUP_TABLE
    )
    @pytest.mark.parametrize("exemption", list(EXEMPTIONS))
    def test_answer_and_flag_table(
        self,
        mode: Mode,
        requested: bool,
        exempt: bool,
        flaggable: bool,
        answer: bool,
        flag: bool,
        exemption: str,
    ) -> None:
        """Each mode answers and flags as the table says, for every kind of exemption."""
        changes, exempt_upload = EXEMPTIONS[exemption]
        context = exempt_upload if exempt else upload(member_days=1.0)
        context = replace(context, requested=requested)
        probability = THRESHOLD if flaggable else BELOW
        decision = decide(group_policy(mode, **changes), probability, context)
        assert (decision.answer, decision.flag) == (answer, flag)
        assert decision.actions == (frozenset({A.REACT, A.MODLOG}) if flag else frozenset())

    @pytest.mark.parametrize("mode", [Mode.REPLY_ALL, Mode.FLAG_ONLY])
    @pytest.mark.parametrize("exemption", list(EXEMPTIONS))
    def test_exemption_reason(self, mode: Mode, exemption: str) -> None:
        """An exempt upload's decision names the exemption."""
        changes, context = EXEMPTIONS[exemption]
        assert decide(group_policy(mode, **changes), 1.0, context).reason == exemption

    @pytest.mark.parametrize("mode", [Mode.REPLY_ALL, Mode.FLAG_ONLY])
    def test_reasons(self, mode: Mode) -> None:
        """Below the threshold and flagged uploads say so."""
        policy = group_policy(mode)
        assert decide(policy, BELOW, upload()).reason == "below-threshold"
        assert decide(policy, ABOVE, upload()).reason == "flagged"

    def test_an_exemption_elsewhere_does_not_apply(self) -> None:
        """Exempting another channel, role or user leaves this upload flagged."""
        policy = group_policy(
            Mode.FLAG_ONLY,
            exempt_channels=frozenset({"art"}),
            exempt_roles=frozenset({"artist"}),
            exempt_users=frozenset({"carol"}),
        )
        context = upload(channel="general", user="alice", roles=frozenset({"member"}))
        assert decide(policy, ABOVE, context).flag


class TestNewMembers:
    @pytest.mark.parametrize(
        ("days_limit", "member_days", "scanned"),
        [
            (None, 1000.0, True),  # the rule is off: everyone is scanned
            (None, None, True),
            (7, None, True),  # the platform does not say: scanned, to be safe
            (7, 0.0, True),
            (7, 6.99, True),
            (7, 7.0, False),  # joined exactly N days ago: no longer new
            (7, 400.0, False),
            (0, 0.0, False),  # "new for 0 days": nobody is new
        ],
    )
    def test_only_new_members_are_scanned(
        self, days_limit: int | None, member_days: float | None, scanned: bool
    ) -> None:
        """With `new_members_days`, authors who joined at least that long ago are left alone."""
        policy = group_policy(Mode.FLAG_ONLY, new_members_days=days_limit)
        decision = decide(policy, ABOVE, upload(member_days=member_days))
        assert decision.flag is scanned
        assert decision.reason == ("flagged" if scanned else "established-member")


class TestThreshold:
    @pytest.mark.parametrize(
        ("threshold", "probability", "flag"),
        [
            (0.7, 0.7, True),
            (0.7, BELOW, False),
            (0.7, math.nextafter(0.7, 1.0), True),
            (0.7, 1.0, True),
            (0.7, 0.0, False),
            (0.0, 0.0, True),  # threshold 0 flags everything
            (1.0, 1.0, True),
            (1.0, math.nextafter(1.0, 0.0), False),
        ],
    )
    @pytest.mark.parametrize("mode", [Mode.REPLY_ALL, Mode.FLAG_ONLY])
    def test_flag_at_or_above(
        self, mode: Mode, threshold: float, probability: float, flag: bool
    ) -> None:
        """A probability equal to the threshold is flagged, anything below is not."""
        policy = group_policy(mode, threshold=threshold)
        assert decide(policy, probability, upload()).flag is flag


class TestDeclared:
    """An image that declares AI (verdict reason DECLARED) counts as reaching the threshold."""

    @pytest.mark.parametrize(
        ("mode", "declared", "probability", "flag", "reason"),
        [
            (Mode.FLAG_ONLY, True, 0.0, True, "declared"),
            (Mode.FLAG_ONLY, True, BELOW, True, "declared"),
            (Mode.FLAG_ONLY, True, ABOVE, True, "declared"),
            (Mode.FLAG_ONLY, False, BELOW, False, "below-threshold"),
            (Mode.FLAG_ONLY, False, ABOVE, True, "flagged"),
            (Mode.REPLY_ALL, True, 0.0, True, "declared"),
            (Mode.REPLY_ALL, False, 0.0, False, "below-threshold"),
            (Mode.OFF, True, 1.0, False, "off"),
        ],
    )
    def test_declared_table(
        self, mode: Mode, declared: bool, probability: float, flag: bool, reason: str
    ) -> None:
        decision = decide(group_policy(mode), probability, upload(), declared=declared)
        assert (decision.flag, decision.reason) == (flag, reason)

    @pytest.mark.parametrize("exemption", EXEMPTIONS)
    def test_exemptions_and_private_chats_still_win(self, exemption: str) -> None:
        changes, context = EXEMPTIONS[exemption]
        policy = group_policy(Mode.FLAG_ONLY, **changes)
        assert not decide(policy, 0.0, context, declared=True).flag
        assert not decide(policy, 1.0, upload(private=True), declared=True).flag

    def test_no_action_left_is_no_flag(self) -> None:
        policy = group_policy(Mode.FLAG_ONLY, actions=frozenset())
        assert decide(policy, 0.0, upload(), declared=True).reason == "no-actions"

    @pytest.mark.parametrize("declared_ai_is_fake", [True, False])
    def test_default_policy_takes_the_operators_choice(self, declared_ai_is_fake: bool) -> None:
        policy = default_policy(False, declared_ai_is_fake=declared_ai_is_fake)
        assert policy.declared_ai_is_fake is declared_ai_is_fake
        assert default_policy(True).declared_ai_is_fake


ALL_ACTIONS = frozenset(Action)


class TestActions:
    @pytest.mark.parametrize(
        ("mode", "requested", "listed", "modlog", "expected"),
        [
            # The verdict reply is the warning whenever the upload is answered.
            (Mode.REPLY_ALL, False, ALL_ACTIONS, "m", ALL_ACTIONS - {A.WARN}),
            (Mode.FLAG_ONLY, True, ALL_ACTIONS, "m", ALL_ACTIONS - {A.WARN}),
            (Mode.FLAG_ONLY, False, ALL_ACTIONS, "m", ALL_ACTIONS),
            # No mod-log, no mod-log post.
            (Mode.FLAG_ONLY, False, ALL_ACTIONS, None, ALL_ACTIONS - {A.MODLOG}),
            (Mode.REPLY_ALL, False, ALL_ACTIONS, None, ALL_ACTIONS - {A.MODLOG, A.WARN}),
            # Delete and time-out happen only when listed.
            (Mode.FLAG_ONLY, False, {A.REACT}, "m", {A.REACT}),
            (Mode.FLAG_ONLY, False, {A.WARN}, "m", {A.WARN}),
            (Mode.FLAG_ONLY, False, {A.DELETE}, "m", {A.DELETE}),
            (Mode.FLAG_ONLY, False, {A.TIMEOUT, A.MODLOG}, "m", {A.TIMEOUT, A.MODLOG}),
            (Mode.FLAG_ONLY, False, {A.MODLOG}, "m", {A.MODLOG}),
        ],
    )
    def test_actions_taken(
        self,
        mode: Mode,
        requested: bool,
        listed: frozenset[Action],
        modlog: str | None,
        expected: frozenset[Action],
    ) -> None:
        """A flag takes the listed actions, less WARN when answered and MODLOG without a mod-log."""
        policy = group_policy(mode, actions=frozenset(listed), modlog=modlog)
        decision = decide(policy, ABOVE, upload(requested=requested))
        assert decision.flag
        assert decision.actions == expected

    @pytest.mark.parametrize(
        ("mode", "listed", "modlog"),
        [
            (Mode.REPLY_ALL, {A.WARN}, "m"),  # the answer is all there is to do
            (Mode.FLAG_ONLY, {A.MODLOG}, None),
            (Mode.FLAG_ONLY, set(), "m"),
            (Mode.REPLY_ALL, set(), "m"),
        ],
    )
    def test_nothing_left_to_do_is_no_flag(
        self, mode: Mode, listed: set[Action], modlog: str | None
    ) -> None:
        """Without an action left, nothing is flagged (no flag nobody will ever see)."""
        policy = group_policy(mode, actions=frozenset(listed), modlog=modlog)
        decision = decide(policy, ABOVE, upload())
        assert decision == Decision(answer=mode is Mode.REPLY_ALL, flag=False, reason="no-actions")

    def test_disabled_in_this_channel_only(self) -> None:
        """An action switched off for one channel still happens in the others."""
        policy = group_policy(Mode.FLAG_ONLY, actions=frozenset({A.REACT, A.DELETE, A.MODLOG}))
        policy = without_action(policy, "general", A.DELETE)
        assert decide(policy, ABOVE, upload(channel="general")).actions == {A.REACT, A.MODLOG}
        assert decide(policy, ABOVE, upload(channel="other")).actions == {
            A.REACT,
            A.DELETE,
            A.MODLOG,
        }

    def test_disabled_mod_log_channel(self) -> None:
        """A mod-log the bot may not post in is skipped everywhere."""
        policy = without_action(group_policy(Mode.FLAG_ONLY), "modlog", A.MODLOG)
        assert decide(policy, ABOVE, upload(channel="general")).actions == {A.REACT}

    def test_every_action_disabled(self) -> None:
        """When every listed action is switched off in the channel, nothing is flagged there."""
        policy = group_policy(Mode.FLAG_ONLY)
        policy = without_action(without_action(policy, "general", A.REACT), "general", A.MODLOG)
        decision = decide(policy, ABOVE, upload(channel="general"))
        assert (decision.flag, decision.reason) == (False, "no-actions")
        assert decide(policy, ABOVE, upload(channel="other")).flag


class TestDefaults:
    @pytest.mark.parametrize("private", [False, True])
    def test_new_chat_answers_every_image(self, private: bool) -> None:
        """A chat nobody configured answers every image and never deletes or times out."""
        policy = default_policy(private)
        assert policy.mode is Mode.REPLY_ALL
        assert policy.modlog is None
        assert not policy.explicit_mode
        assert A.DELETE not in policy.actions
        assert A.TIMEOUT not in policy.actions

    def test_new_group_reacts_to_a_suspicious_image(self) -> None:
        """Before a mod-log is set, a group gets the answer and a marker on suspicious images."""
        policy = default_policy(private=False)
        assert decide(policy, ABOVE, upload()) == Decision(
            answer=True, flag=True, actions=frozenset({A.REACT}), reason="flagged"
        )
        assert decide(policy, BELOW, upload()) == Decision(
            answer=True, flag=False, reason="below-threshold"
        )

    def test_setting_a_mod_log_turns_a_group_flag_only(self) -> None:
        """Once a mod-log is set, a group is silent below the threshold and reacts + logs above."""
        policy = with_modlog(default_policy(private=False), "modlog")
        assert policy.mode is Mode.FLAG_ONLY
        assert policy.modlog == "modlog"
        assert decide(policy, BELOW, upload()) == Decision(
            answer=False, flag=False, reason="below-threshold"
        )
        assert decide(policy, ABOVE, upload()).actions == {A.REACT, A.MODLOG}

    def test_clearing_the_mod_log_goes_back_to_reply_all(self) -> None:
        """Clearing the mod-log of a group whose mode nobody chose answers every image again."""
        policy = with_modlog(with_modlog(default_policy(private=False), "modlog"), None)
        assert (policy.mode, policy.modlog) == (Mode.REPLY_ALL, None)

    @pytest.mark.parametrize("mode", MODES)
    @pytest.mark.parametrize("modlog", ["modlog", None])
    def test_a_chosen_mode_survives_mod_log_changes(self, mode: Mode, modlog: str | None) -> None:
        """A mode a moderator chose is kept whether the mod-log is set or cleared."""
        policy = with_modlog(with_mode(default_policy(private=False), mode), modlog)
        assert (policy.mode, policy.modlog, policy.explicit_mode) == (mode, modlog, True)

    def test_without_action_accumulates(self) -> None:
        """Switching actions off adds to the ones already off."""
        policy = without_action(default_policy(private=False), "a", A.REACT)
        policy = without_action(policy, "b", A.DELETE)
        assert policy.disabled == {("a", A.REACT), ("b", A.DELETE)}

    @pytest.mark.parametrize(
        ("threshold", "bands"), [(0.8, (0.8, 0.3)), (0.3, (0.3, 0.3)), (0.1, (0.1, 0.1))]
    )
    def test_a_threshold_brings_the_uncertain_band_down_with_it(
        self, threshold: float, bands: tuple[float, float]
    ) -> None:
        """A threshold below the uncertain band lowers the band too: the bands never cross."""
        policy = with_threshold(default_policy(private=False), threshold)
        assert (policy.threshold, policy.uncertain_from) == bands

    def test_a_new_chat_takes_the_bands_it_is_given(self) -> None:
        """`default_policy` uses the operator's bands; otherwise 70 % and 30 %."""
        given = default_policy(private=False, threshold=0.9, uncertain_from=0.2)
        assert (given.threshold, given.uncertain_from) == (0.9, 0.2)
        plain = default_policy(private=True)
        assert (plain.threshold, plain.uncertain_from) == (0.7, 0.3)


class TestModerates:
    @pytest.mark.parametrize(
        ("policy", "context", "expected"),
        [
            (group_policy(Mode.FLAG_ONLY), upload(), True),
            (group_policy(Mode.REPLY_ALL), upload(), True),
            (default_policy(private=False), upload(), True),  # a marker reaction is left
            (group_policy(Mode.REPLY_ALL, actions=frozenset({A.WARN})), upload(), False),
            (group_policy(Mode.OFF), upload(), False),
            (group_policy(Mode.FLAG_ONLY), upload(private=True), False),
            (
                group_policy(Mode.FLAG_ONLY, **EXEMPTIONS["exempt-user"][0]),
                upload(user="alice"),
                False,
            ),
            (
                without_action(group_policy(Mode.FLAG_ONLY, modlog=None), "general", A.REACT),
                upload(),
                False,
            ),
        ],
    )
    def test_only_uploads_that_could_be_flagged(
        self, policy: ChatPolicy, context: UploadContext, expected: bool
    ) -> None:
        """An upload is moderated when a certain fake would be flagged there, and only then."""
        assert moderates(policy, context) is expected


# mode, private, requested, exempt, an action left -> answers, moderates, scans
QUESTIONS_TABLE = [
    (Mode.REPLY_ALL, False, False, False, True, True, True, True),
    (Mode.REPLY_ALL, False, False, False, False, True, False, True),
    (Mode.REPLY_ALL, False, False, True, True, True, False, True),
    (Mode.REPLY_ALL, False, True, False, True, True, True, True),
    (Mode.FLAG_ONLY, False, False, False, True, False, True, True),
    (Mode.FLAG_ONLY, False, False, False, False, False, False, False),
    (Mode.FLAG_ONLY, False, False, True, True, False, False, False),
    (Mode.FLAG_ONLY, False, True, True, True, True, False, True),
    (Mode.FLAG_ONLY, False, True, False, False, True, False, True),
    (Mode.OFF, False, False, False, True, False, False, False),
    (Mode.OFF, False, True, False, True, True, False, True),
    (Mode.OFF, True, False, False, True, True, False, True),
    (Mode.FLAG_ONLY, True, False, False, True, True, False, True),
    (Mode.FLAG_ONLY, True, False, True, False, True, False, True),
]


class TestQuestionsBeforeJudging:
    @pytest.mark.parametrize(
        ("mode", "private", "requested", "exempt", "acts", "answered", "moderated", "scanned"),
        QUESTIONS_TABLE,
    )
    def test_answers_moderates_scans_table(
        self,
        mode: Mode,
        private: bool,
        requested: bool,
        exempt: bool,
        acts: bool,
        answered: bool,
        moderated: bool,
        scanned: bool,
    ) -> None:
        """Each question has the table's answer, for an exempt user and with no flag action."""
        actions = frozenset({A.REACT, A.MODLOG}) if acts else frozenset()
        policy = group_policy(mode, exempt_users=frozenset({"alice"}), actions=actions)
        context = upload(private=private, requested=requested, user="alice" if exempt else "bob")
        assert answers(policy, context) is answered
        assert moderates(policy, context) is moderated
        assert scans(policy, context) is scanned

    @pytest.mark.parametrize("exemption", [None, *EXEMPTIONS])
    @pytest.mark.parametrize("mode", MODES)
    @pytest.mark.parametrize("private", [False, True])
    @pytest.mark.parametrize("requested", [False, True])
    @pytest.mark.parametrize(
        "actions",
        [frozenset({A.REACT, A.MODLOG}), frozenset({A.WARN}), frozenset({A.MODLOG}), frozenset()],
    )
    @pytest.mark.parametrize("modlog", ["modlog", None])
    def test_the_questions_agree_with_decide(
        self,
        exemption: str | None,
        mode: Mode,
        private: bool,
        requested: bool,
        actions: frozenset[Action],
        modlog: str | None,
    ) -> None:
        """Asked before judging, each question says what `decide` will say at any probability."""
        changes, context = EXEMPTIONS[exemption] if exemption else ({}, upload())
        policy = group_policy(mode, actions=actions, modlog=modlog, **changes)
        context = replace(context, private=private, requested=requested)
        decisions = [decide(policy, p, context) for p in (0.0, BELOW, THRESHOLD, 1.0)]
        assert {d.answer for d in decisions} == {answers(policy, context)}
        assert decisions[-1].flag is moderates(policy, context)
        assert any(d.answer or d.flag for d in decisions) is scans(policy, context)

    def test_a_refused_action_elsewhere_leaves_the_upload_moderated(self) -> None:
        """Actions switched off in another channel do not stop a flag here."""
        policy = without_action(group_policy(Mode.FLAG_ONLY, modlog=None), "other", A.REACT)
        assert moderates(policy, upload(channel="general"))
        assert not moderates(policy, upload(channel="other"))
        assert not scans(policy, upload(channel="other"))


class TestParseFraction:
    @pytest.mark.parametrize(
        ("typed", "share"),
        [
            ("1%", 0.01),
            ("1 %", 0.01),
            ("80%", 0.8),
            (" 80 % ", 0.8),
            ("0%", 0.0),
            ("100%", 1.0),
            ("0.5%", 0.005),
            ("12,5%", 0.125),
            ("%80", 0.8),
            ("% 80", 0.8),
            ("%12,5", 0.125),
            ("80", 0.8),
            ("100", 1.0),
            ("1.5", 0.015),
            ("1", 1.0),
            ("0.8", 0.8),
            (".8", 0.8),
            ("0,8", 0.8),
            ("0", 0.0),
        ],
    )
    def test_percent_or_fraction(self, typed: str, share: float) -> None:
        """A % sign (before the number too, as Turkish writes it) always means percent; a bare
        number above 1 is a percent, at or below a fraction."""
        assert parse_fraction(typed) == pytest.approx(share)

    @pytest.mark.parametrize(
        "typed",
        [
            "",
            "%",
            "lots",
            "-5",
            "-5%",
            "101",
            "101%",
            "1e-1",
            "nan",
            "inf",
            "80%%",
            "%80%",
            "0x10",
            "1_000",
            "8 0",
            "80‰",
            "٨٠",  # Arabic-Indic digits, which float() would accept
        ],
    )
    def test_anything_else_is_refused(self, typed: str) -> None:
        """Anything that is not a plain number, maybe with a % sign, between 0 and 100 %."""
        assert parse_fraction(typed) is None
