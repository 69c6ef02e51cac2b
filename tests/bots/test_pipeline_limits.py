"""The pipeline's limits on what it judges: how many images of a message, and how old a message.

Tested once with the fake port; the Discord adapter's use of them runs through the real client
in tests/discord/test_inputs.py.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bots.delivery import SeenMessages
from bots.i18n import Catalogs
from bots.pipeline import Pipeline
from bots.port import Event
from bots.throttle import Throttle
from config import ReplySettings, ThrottleSettings
from core.moderation.types import Action, ChatPolicy, Mode
from tests.bots.pipeline_fakes import (
    CHAT,
    FakePort,
    Message,
    ScriptedJudge,
    context,
    event,
    post,
)
from tests.core.memory_store import MemoryStore
from tests.fakes import png_bytes

IMAGES = {name: png_bytes(seed) for seed, name in enumerate("abcdef")}
NOT_AN_IMAGE = b"just some text"
MODERATED = ChatPolicy(mode=Mode.FLAG_ONLY, threshold=0.7, actions=frozenset({Action.REACT}))
UNMODERATED = ChatPolicy(mode=Mode.REPLY_ALL, actions=frozenset())


def pipeline(judge: ScriptedJudge, store: MemoryStore, **limits: Any) -> Pipeline:
    settings = ThrottleSettings(burst=20)
    return Pipeline(
        judge,
        store,
        Throttle(settings),
        SeenMessages(),
        Catalogs.load(),
        bands=ReplySettings(),
        burst=settings.burst,
        **limits,
    )


class TestImageCap:
    async def test_where_a_flag_could_follow_every_image_is_judged(self) -> None:
        """A cap of 2 does not hide the sixth image, a fake, in a moderated chat."""
        judge, store = ScriptedJudge({IMAGES["f"]: 0.95}), MemoryStore()
        await store.save_policy(CHAT, MODERATED)
        port = FakePort(dict(IMAGES))
        await pipeline(judge, store, max_images=2).run(event(post("m1", *"abcdef")), port)
        assert len(judge.judged) == 6
        assert ("react", "m1") in port.calls

    async def test_elsewhere_the_cap_counts_images_only(self) -> None:
        """Two files that are no images take no place: the first two images are judged, no more."""
        judge, store = ScriptedJudge(), MemoryStore()
        await store.save_policy(CHAT, UNMODERATED)
        port = FakePort({**IMAGES, "x": NOT_AN_IMAGE, "y": NOT_AN_IMAGE})
        message = post("m1", "x", "y", "a", "b", "c", sniff=True)
        await pipeline(judge, store, max_images=2).run(event(message), port)
        assert judge.judged == [IMAGES["a"], IMAGES["b"]]
        assert ("fetch", "c") not in port.calls
        [reply] = [call for call in port.calls if call[0] == "reply"]
        assert reply[1].count("probability of AI") == 2

    @pytest.mark.parametrize("policy", [MODERATED, UNMODERATED])
    async def test_without_a_cap_every_image_is_judged(self, policy: ChatPolicy) -> None:
        """An adapter that sets no cap (Telegram) has every image judged, as before."""
        judge, store = ScriptedJudge(), MemoryStore()
        await store.save_policy(CHAT, policy)
        await pipeline(judge, store).run(event(post("m1", *"abcdef")), FakePort(dict(IMAGES)))
        assert len(judge.judged) == 6


RETENTION = timedelta(days=30)


def sent(days_ago: float, *refs: str, requested: bool = False) -> Event[Message, str]:
    """A message with images, posted `days_ago` days ago by the platform's clock."""
    who = context(requested=requested)
    message = replace(post("m1", *refs, who=who), sent=datetime.now(UTC) - timedelta(days_ago))
    return event(message, who=who)


class TestAge:
    async def test_a_message_older_than_the_retention_is_not_scanned_again(self) -> None:
        """Edited or pinned after its record may have been purged, it costs nothing at all."""
        judge, store = ScriptedJudge({IMAGES["a"]: 0.95}), MemoryStore()
        await store.save_policy(CHAT, MODERATED)
        port = FakePort(dict(IMAGES))
        await pipeline(judge, store, retention=RETENTION).run(sent(31, "a"), port)
        assert port.calls == []
        assert judge.judged == []
        assert store.claimed == set()

    async def test_asked_about_it_is_answered_but_not_flagged(self) -> None:
        """A request about an old message gets its answer; the message gets no flag."""
        judge, store = ScriptedJudge({IMAGES["a"]: 0.95}), MemoryStore()
        await store.save_policy(CHAT, MODERATED)
        port = FakePort(dict(IMAGES))
        old = sent(31, "a", requested=True)
        await pipeline(judge, store, retention=RETENTION).run(old, port)
        assert port.names() == ["fetch", "reply"]
        assert store.flags == {}

    @pytest.mark.parametrize("days", [0, 29])
    async def test_a_message_within_the_retention_is_flagged(self, days: float) -> None:
        """Up to the retention's end a message is scanned and flagged as ever."""
        judge, store = ScriptedJudge({IMAGES["a"]: 0.95}), MemoryStore()
        await store.save_policy(CHAT, MODERATED)
        port = FakePort(dict(IMAGES))
        await pipeline(judge, store, retention=RETENTION).run(sent(days, "a"), port)
        assert port.names() == ["fetch", "react"]
