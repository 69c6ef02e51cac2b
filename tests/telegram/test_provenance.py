"""Telegram and an image's own declarations, end to end: real PTB client, fake Bot API.

A document is read as sent, so its Content Credentials survive; a photo is what Telegram
re-encoded, so they are gone. The tiny random model decides nothing here: the chats flag only at
100 % and the verdict that matters is the image's declaration.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bots import replies
from bots.moderation_replies import MARKER_EMOJI
from config import ImageLimits, ProvenanceSettings, QueueSettings, Settings
from core.classifier import HFClassifier
from core.detector import Detector
from core.moderation.store import SqlStore
from core.moderation.types import Action, ChatKey, ChatPolicy, Mode
from tests.provenance_images import AI, issue, make_authority, manifest, picture, reencode, sign
from tests.telegram.fake_telegram_mod import GROUP, MEMBER, MODLOG, ModFake, isolated_mod_fake
from tests.telegram.telegram_harness import bot_settings, running_bot

pytestmark = pytest.mark.slow

KEY = ChatKey("telegram", str(GROUP))
SIGNED_LINE = "Content Credentials: made with an AI generator (signed by OpenAI)"
DECLARED = replies.DECLARED.partition("{")[0]

fake = pytest.fixture(isolated_mod_fake)


@pytest.fixture(scope="module")
def signed() -> tuple[bytes, bytes]:
    """An image signed by "OpenAI" declaring AI, and its certificate authority's PEM."""
    authority = make_authority()
    image = sign(picture(red=25, size=(96, 96)), issue(authority, "OpenAI"), manifest(AI))
    return image, authority.pem


@pytest.fixture
async def trusting(
    classifier: HFClassifier, signed: tuple[bytes, bytes], tmp_path: Path
) -> AsyncIterator[Detector]:
    """The tiny model, trusting the test authority as a C2PA signer."""
    anchors = tmp_path / "anchors.pem"
    anchors.write_bytes(signed[1])
    provenance = ProvenanceSettings(trust_anchors=anchors)
    queue = QueueSettings(max_batch_size=4, max_wait_ms=5)
    async with Detector(
        classifier, queue=queue, limits=ImageLimits(), provenance=provenance
    ) as running:
        yield running


def group(mode: Mode, *, declared_ai_is_fake: bool = True) -> ChatPolicy:
    """A group that flags only at 100 % (the model alone never does here)."""
    return ChatPolicy(
        mode=mode,
        threshold=1.0,
        uncertain_from=0.0,
        actions=frozenset({Action.REACT, Action.MODLOG}),
        modlog=str(MODLOG),
        explicit_mode=True,
        declared_ai_is_fake=declared_ai_is_fake,
    )


async def test_a_document_keeps_its_credentials_a_photo_does_not(
    fake: ModFake, settings: Settings, trusting: Detector, signed: tuple[bytes, bytes]
) -> None:
    """The file sent as a document: declared AI, with the line; re-encoded as a photo: neither.

    The document also carries a thumbnail without credentials: the document itself is judged.
    """
    image = signed[0]
    document = fake.document(image, "generated.jpg", "image/jpeg")
    document["document"]["thumbnail"] = {
        **fake.add_file(reencode(image)),
        "width": 90,
        "height": 90,
    }
    photo = fake.photo(reencode(image))
    async with running_bot(fake, bot_settings(settings, fake), trusting):
        fake.push(document)
        [first] = await fake.wait_for("sendMessage")
        fake.push(photo)
        await fake.wait_for("sendMessage", 2)
    by_message = {reply["reply_parameters"]["message_id"]: reply["text"] for reply in fake.sent()}
    as_document = by_message[document["message_id"]].splitlines()
    assert as_document[0].startswith(DECLARED)
    assert as_document[1] == SIGNED_LINE
    as_photo = by_message[photo["message_id"]]
    assert "Content Credentials" not in as_photo
    assert DECLARED not in as_photo
    assert first["text"] == by_message[document["message_id"]]


async def test_a_flag_only_group_flags_a_declared_document(
    fake: ModFake,
    settings: Settings,
    trusting: Detector,
    signed: tuple[bytes, bytes],
    store: SqlStore,
) -> None:
    """Whatever the model says, a declaration of AI flags: marker, and a mod-log post naming it."""
    await store.save_policy(KEY, group(Mode.FLAG_ONLY))
    document = fake.document(
        signed[0], "generated.jpg", "image/jpeg", chat_id=GROUP, user_id=MEMBER
    )
    async with running_bot(fake, bot_settings(settings, fake), trusting, store=store):
        fake.push(document)
        [post] = await fake.wait_posted(MODLOG)
        [reaction] = await fake.wait_for("setMessageReaction")
    assert reaction["reaction"] == [{"type": "emoji", "emoji": MARKER_EMOJI}]
    assert "declares itself AI-generated" in post["text"]
    assert SIGNED_LINE in post["text"].splitlines()
    assert fake.posted_to(GROUP) == []  # flag-only: no verdict reply


async def test_declared_off_lets_the_model_alone_decide_and_still_shows_the_line(
    fake: ModFake,
    settings: Settings,
    trusting: Detector,
    signed: tuple[bytes, bytes],
    store: SqlStore,
) -> None:
    """`declared_ai_is_fake` off: the band wording, no flag, the declaration still shown."""
    await store.save_policy(KEY, group(Mode.REPLY_ALL, declared_ai_is_fake=False))
    document = fake.document(
        signed[0], "generated.jpg", "image/jpeg", chat_id=GROUP, user_id=MEMBER
    )
    async with running_bot(fake, bot_settings(settings, fake), trusting, store=store):
        fake.push(document)
        [reply] = await fake.wait_posted(GROUP)
    lines = reply["text"].splitlines()
    assert lines[0].startswith("❔ Uncertain (")
    assert lines[1] == SIGNED_LINE
    assert fake.sent("setMessageReaction") == []
    assert fake.posted_to(MODLOG) == []
