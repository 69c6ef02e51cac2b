"""Clips on Discord end to end: the real discord.py client against the fake Discord.

Video and GIF attachments, APNG and GIF stickers and Tenor-style `gifv` embeds each get the
clip's reply (one verdict, its frames and its most suspicious moment), as do `/check` and the
message menu; a gifv's MP4 comes from Discord's proxy, never the provider. Declared sizes are
held to their kind's cap before the download. Clips are made in the tests (`tests.sample_clips`).
"""

from __future__ import annotations

import pytest

from bots import moderation_replies, replies
from bots.i18n import english
from config import DiscordSettings, ImageLimits, Settings, VideoSettings
from core.detector import Detector
from core.errors import ClipTooLarge, ImageTooLarge
from core.images import bytes_text
from core.moderation.types import Action, FlagStatus, ModerationStore
from tests.discord import fake_discord as fd
from tests.discord.discord_harness import (
    answered,
    bot_running,
    bot_settings,
    followup_of,
    post,
    reply_to,
    served_bot,
    served_fake,
)
from tests.discord.discord_mod_harness import GUILD, moderating, policy, served_mod_fake, until
from tests.discord.discord_payloads import Json, gifv
from tests.discord.fake_discord import FakeDiscord
from tests.discord.fake_discord_mod import MODLOG_ID, ModFakeDiscord
from tests.discord.fake_dns import FakeResolver
from tests.fakes import png_bytes
from tests.judges import expected
from tests.sample_clips import H264_MP4, animation_bytes, noise_frames, video_bytes

ENGLISH = english()

pytestmark = pytest.mark.slow

CLIP_LINE = "frames, most suspicious at"
PROXY = "images-ext-1.discordapp.net"

fake = pytest.fixture(served_fake)
bot = pytest.fixture(served_bot)
mod_fake = pytest.fixture(served_mod_fake)


def mp4(seed: int) -> bytes:
    """A 12-frame H.264 MP4 of distinct noise pictures: more frames than are sampled."""
    return video_bytes(noise_frames(12, seed=seed), H264_MP4)


def animation(seed: int, fmt: str) -> bytes:
    return animation_bytes(noise_frames(10, seed=seed), fmt)


async def private_answer(fake: FakeDiscord, payload: Json) -> str:
    """The ephemeral answer to an interaction, whether it came at once or after a deferral."""
    callback = await answered(fake, payload)
    if callback["type"] == 5:
        return str((await followup_of(fake, payload))["content"])
    assert callback["data"]["flags"] == 64
    return str(callback["data"]["content"])


async def test_video_and_gif_attachments_get_the_clip_reply(
    fake: FakeDiscord, bot: Settings, detector: Detector
) -> None:
    """An MP4 labelled video/mp4 and a GIF are each answered about the whole clip."""
    clips = {"clip.mp4": (mp4(1), "video/mp4"), "cat.gif": (animation(2, "GIF"), "image/gif")}
    for name, (clip, label) in clips.items():
        message = await post(fake, attachments=[fake.attachment(name, clip, label)])
        [reply] = await reply_to(fake, message)
        assert reply["content"] == await expected(detector, bot, clip)
        assert CLIP_LINE in reply["content"]


async def test_an_unlabelled_attachment_whose_bytes_are_a_video_is_answered(
    fake: FakeDiscord, bot: Settings, detector: Detector
) -> None:
    """A file with no content type and no telling name is checked by its bytes: a video."""
    clip = mp4(3)
    message = await post(fake, attachments=[fake.attachment("upload", clip, None)])
    [reply] = await reply_to(fake, message)
    assert reply["content"] == await expected(detector, bot, clip)


async def test_apng_and_gif_stickers_get_the_clip_reply_and_lottie_is_skipped(
    fake: FakeDiscord, bot: Settings, detector: Detector
) -> None:
    """An APNG sticker (from the CDN) and a GIF sticker (from the media proxy, the only host
    that serves them) are judged as animations; a Lottie sticker is never fetched."""
    apng, gif = animation(4, "PNG"), animation(5, "GIF")
    lottie = fake.sticker(b'{"v": "5.5.2", "layers": []}', 3)
    await post(fake, stickers=[lottie])
    for clip, format_type in ((apng, 2), (gif, 4)):
        message = await post(fake, stickers=[fake.sticker(clip, format_type)])
        [reply] = await reply_to(fake, message)
        assert reply["content"] == await expected(detector, bot, clip)
        assert replies.noun(await detector.judge(clip)) == "animation"
    fetched = [r.path for r in fake.requests if "/stickers/" in r.path]
    assert fetched == [
        f"/cdn/stickers/{_id_of(fake, apng)}.png",
        f"/media/stickers/{_id_of(fake, gif)}.gif",
    ]


def _id_of(fake: FakeDiscord, data: bytes) -> str:
    """The sticker id whose file is `data`, wherever the fake serves it."""
    hosted = {**fake.files, **fake.media}
    [name] = [name for name, held in hosted.items() if held == data]
    return name.rsplit("/", 1)[-1].split(".")[0]


async def test_a_gifv_embed_is_judged_from_discords_proxy_copy_of_its_video(
    fake: FakeDiscord, settings: Settings, detector: Detector
) -> None:
    """A Tenor link's MP4 is fetched from Discord's images-ext proxy with the production host
    list; neither the provider's own URLs nor the proxy's still are asked for."""
    clip, still = mp4(6), png_bytes(7)
    base = f"http://{PROXY}:{fake.port}/cdn/external"
    fake.file("external/v/https/media.tenor.com/AAAPo/cat.mp4", clip)
    fake.file("external/s/https/media.tenor.com/AAAAe/cat.png", still)
    embed = gifv(
        "https://tenor.com/view/cat-123",
        f"{base}/v/https/media.tenor.com/AAAPo/cat.mp4",
        f"{base}/s/https/media.tenor.com/AAAAe/cat.png",
    )
    configured = bot_settings(settings, fake, link_hosts=DiscordSettings().link_hosts)
    resolver = FakeResolver({PROXY: "127.0.0.1"})
    async with bot_running(fake, configured, detector, resolver=resolver):
        message = await post(fake, embeds=[embed])
        [reply] = await reply_to(fake, message)
    assert reply["content"] == await expected(detector, configured, clip)
    assert CLIP_LINE in reply["content"]
    fetched = [r.path for r in fake.requests if r.path.startswith("/cdn/external/")]
    assert fetched == ["/cdn/external/v/https/media.tenor.com/AAAPo/cat.mp4"]


async def test_a_gifv_embed_without_a_proxied_video_is_judged_by_its_proxied_still(
    fake: FakeDiscord, bot: Settings, detector: Detector
) -> None:
    """With no proxied MP4, Discord's copy of the still stands in; the provider's MP4 is not
    fetched (its host is not Discord's)."""
    still = png_bytes(8)
    embed = gifv("https://tenor.com/view/dog-9", "", fake.file("external/s/dog.png", still))
    del embed["video"]["proxy_url"]
    message = await post(fake, embeds=[embed])
    [reply] = await reply_to(fake, message)
    assert reply["content"] == await expected(detector, bot, still)


async def test_declared_sizes_are_held_to_their_kinds_cap_before_the_download(
    fake: FakeDiscord, settings: Settings, detector: Detector
) -> None:
    """A video over the image cap but under the video cap is judged; a video declared over
    the video cap and an image declared over the image cap are refused without a download."""
    clip = mp4(9)
    caps = {
        "images": ImageLimits(max_bytes=len(clip) - 1),
        "video": VideoSettings(max_bytes=len(clip) + 1),
    }
    configured = bot_settings(settings.model_copy(update=caps), fake)
    judged = fake.attachment("ok.mp4", clip, "video/mp4")
    big_video = {**fake.attachment("big.mp4", mp4(10), "video/mp4"), "size": len(clip) + 2}
    big_image = {**fake.attachment("big.png", png_bytes(11), "image/png"), "size": len(clip)}
    async with bot_running(fake, configured, detector):
        answers = []
        for attachment in (judged, big_video, big_image):
            message = await post(fake, attachments=[attachment])
            answers.append((await reply_to(fake, message))[0]["content"])
    limit = bytes_text(len(clip) + 1)
    assert answers == [
        await expected(detector, configured, clip),
        replies.error_text(ENGLISH, ClipTooLarge(f"the video is too large (limit {limit})")),
        replies.error_text(ENGLISH, ImageTooLarge()),
    ]
    downloaded = [r.path for r in fake.requests if r.path.startswith("/cdn/attachments/")]
    assert [path.rsplit("/", 1)[-1] for path in downloaded] == ["ok.mp4"]


async def test_slash_check_on_a_video_and_the_menu_on_a_gif_answer_about_the_clip(
    fake: FakeDiscord, bot: Settings, detector: Detector
) -> None:
    """`/check` with a video file and the message menu on a message with a GIF answer
    privately about the clip."""
    video, gif = mp4(12), animation(13, "GIF")
    checked = await private_answer(fake, fd.slash_check(fake.attachment("q.mp4", video, None)))
    target = fd.message(attachments=[fake.attachment("m.gif", gif, "image/gif")])
    menu = await private_answer(fake, fd.message_menu(target))
    assert checked == await expected(detector, bot, video)
    assert menu == await expected(detector, bot, gif)
    assert CLIP_LINE in checked
    assert CLIP_LINE in menu


async def test_a_flagged_video_is_one_upload_called_a_video(
    mod_fake: ModFakeDiscord, settings: Settings, detector: Detector, store: ModerationStore
) -> None:
    """The warning and the mod-log post call a flagged clip a video; the flag holds the clip's
    one probability and the message is counted once."""
    await store.save_policy(GUILD, policy(actions=frozenset({Action.WARN, Action.MODLOG})))
    clip = mp4(14)
    async with moderating(mod_fake, settings, detector, store):
        message = await post(mod_fake, attachments=[mod_fake.attachment("v.mp4", clip, None)])
        [warning] = await reply_to(mod_fake, message)
        await mod_fake.wait_for(lambda: mod_fake.bodies(f"/channels/{MODLOG_ID}/messages"))
        flag = await until(lambda: store.get_flag(1))
    judgement = await detector.judge(clip)
    (notice,) = mod_fake.bodies(f"/channels/{MODLOG_ID}/messages")
    assert warning["content"] == moderation_replies.warning_text(
        ENGLISH, judgement.fake_probability, "video"
    )
    assert notice["content"].startswith(f"🚩 Flag #1: a video by <@{fd.HUMAN['id']}>")
    assert flag is not None
    assert flag.status is FlagStatus.OPEN
    assert flag.flag.fake_probability == judgement.fake_probability
    assert flag.flag.sha256 == judgement.sha256
