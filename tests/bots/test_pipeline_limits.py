"""The pipeline's limits on what it judges: how many images of a message, and how old a message.

Tested once with the fake port; the Discord adapter's use of them runs through the real client
in tests/discord/test_inputs.py.
"""

from __future__ import annotations

import pytest

from bots.delivery import SeenMessages
from bots.pipeline import Pipeline
from bots.throttle import Throttle
from config import ReplySettings, ThrottleSettings
from core.moderation.types import Action, ChatPolicy, Mode
from tests.bots.pipeline_fakes import CHAT, FakePort, ScriptedJudge, event, post
from tests.core.memory_store import MemoryStore
from tests.fakes import png_bytes

IMAGES = {name: png_bytes(seed) for seed, name in enumerate("abcdef")}
NOT_AN_IMAGE = b"just some text"
MODERATED = ChatPolicy(mode=Mode.FLAG_ONLY, threshold=0.7, actions=frozenset({Action.REACT}))
UNMODERATED = ChatPolicy(mode=Mode.REPLY_ALL, actions=frozenset())


def pipeline(judge: ScriptedJudge, store: MemoryStore, **limits: int) -> Pipeline:
    settings = ThrottleSettings(burst=20)
    return Pipeline(
        judge,
        store,
        Throttle(settings),
        SeenMessages(),
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
