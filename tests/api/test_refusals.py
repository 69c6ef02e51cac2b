"""A remote refusal is translated as a local one: its template and values cross the wire, and a
client takes them only when they are plain and agree with the English message."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from api.client import RemoteDetector
from api.refusals import error_body, error_for_answer, kind_of
from bots.i18n import Catalogs, Words
from bots.replies import error_line
from config import RemoteSettings
from core.errors import (
    ClipTooLarge,
    ClipTooLong,
    DeepGuardError,
    ImageTooLarge,
    InvalidImage,
)
from tests.api.http_harness import serve_settings, serving
from tests.fakes import FakeClassifier, no_unhandled_loop_errors, png_bytes
from tests.sample_clips import H264_MP4, noise_frames, video_bytes

FAST = RemoteSettings(retries=2, max_retry_wait_s=0.01, timeout_s=10)
CLIP = video_bytes(noise_frames(12, side=32, seed=5), H264_MP4)  # 32x32, under half a second


@pytest.fixture(autouse=True)
async def _no_lost_errors() -> AsyncIterator[None]:
    async with no_unhandled_loop_errors():
        yield


@pytest.fixture(scope="module")
def german() -> Words:
    return Catalogs.load().words("de")


async def _both_ways(settings: dict[str, Any], data: bytes) -> tuple[DeepGuardError, ...]:
    """The refusal of `data` through `deepguard serve` and the remote core, and locally."""
    async with serving(serve_settings(**settings), FakeClassifier()) as running:
        async with RemoteDetector(running.url, FAST) as remote:
            with pytest.raises(DeepGuardError) as remote_error:
                await remote.judge(data)
        with pytest.raises(DeepGuardError) as local_error:
            await running.detector.judge(data)
    return remote_error.value, local_error.value


@pytest.mark.parametrize(
    ("settings", "data", "error"),
    [
        pytest.param({"images": {"max_bytes": 4096}}, bytes(5000), ImageTooLarge, id="bytes"),
        pytest.param(
            {"images": {"max_side": 16}}, png_bytes(size=(40, 30)), ImageTooLarge, id="side"
        ),
        pytest.param(
            {"images": {"max_pixels": 100}}, png_bytes(size=(40, 30)), ImageTooLarge, id="pixels"
        ),
        pytest.param(
            {"video": {"max_bytes": len(CLIP) - 1}}, CLIP, ClipTooLarge, id="video-bytes"
        ),
        pytest.param({"video": {"max_duration_s": 0.1}}, CLIP, ClipTooLong, id="clip-too-long"),
        pytest.param({"images": {"max_side": 16}}, CLIP, ClipTooLarge, id="video-frame"),
    ],
)
async def test_a_remote_refusal_is_translated_as_a_local_one(
    settings: dict[str, Any], data: bytes, error: type[DeepGuardError], german: Words
) -> None:
    """Same class, template and values (as the message says them), so the same German line."""
    remote, local = await _both_ways(settings, data)
    assert type(remote) is type(local) is error
    assert local.values, "a refusal with values is what this test is about"
    assert remote.template == local.template
    assert remote.values == {name: str(value) for name, value in local.values.items()}
    assert remote.message == local.message
    line = error_line(german, remote)
    assert line == error_line(german, local)
    assert german.gettext(local.template) != local.template  # the catalog knows it: translated
    assert local.message not in line


def _answer(error: DeepGuardError, **changes: object) -> dict[str, object]:
    return {**error_body(error), **changes}


LIMIT = ImageTooLarge("the file is too large (limit {limit})", limit="1 KB")


def test_a_consistent_answer_rebuilds_the_template_and_values() -> None:
    back = error_for_answer(413, error_body(LIMIT))
    assert type(back) is ImageTooLarge
    assert (back.template, dict(back.values), back.message) == (
        "the file is too large (limit {limit})",
        {"limit": "1 KB"},
        "the file is too large (limit 1 KB)",
    )


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param(
            {"template": "{limit.__class__}", "message": "<class 'str'>"}, id="attribute"
        ),
        pytest.param(
            {"template": "{limit.__class__.__mro__}", "message": "x"}, id="attribute-chain"
        ),
        pytest.param({"template": "{limit[0]}", "message": "1"}, id="index"),
        pytest.param({"template": "limit {limit:>6}", "message": "limit   1 KB"}, id="spec"),
        pytest.param({"template": "limit {limit!r}", "message": "limit '1 KB'"}, id="conversion"),
        pytest.param({"template": "limit {0}", "values": {"0": "1 KB"}}, id="positional"),
        pytest.param({"template": "limit {}", "values": {}}, id="empty-name"),
        pytest.param({"template": "limit {limit", "message": "limit {limit"}, id="unpaired"),
        pytest.param({"values": {"limit": "1 KB", "extra": "x"}}, id="extra-key"),
        pytest.param({"values": {}}, id="missing-key"),
        pytest.param({"values": {"side": "1 KB"}}, id="other-key"),
        pytest.param({"values": {"limit": "2 KB"}}, id="says-another-message"),
        pytest.param({"values": {"limit": 1024}}, id="value-not-text"),
        pytest.param({"values": ["1 KB"]}, id="values-not-a-map"),
        pytest.param({"template": ["the file"]}, id="template-not-text"),
        pytest.param({"template": None, "values": None}, id="an-older-server"),
    ],
)
def test_an_unsafe_or_inconsistent_answer_says_its_english_message(
    changes: dict[str, object], german: Words
) -> None:
    """The server's text is never formatted beyond plain names, and never trusted over its
    message: anything else is today's English message, as a template with nothing to fill."""
    answer = _answer(LIMIT, **changes)
    back = error_for_answer(413, answer)
    assert type(back) is ImageTooLarge
    assert back.template == back.message == answer["message"]
    assert dict(back.values) == {}
    line = error_line(german, back)
    assert str(answer["message"]) in line
    assert "<class" not in line or "<class" in str(answer["message"])


def test_a_hostile_template_is_never_evaluated(german: Words) -> None:
    """`{x.__class__}` with a message that agrees with evaluating it is still refused."""
    hostile = {
        "error": kind_of(LIMIT).code,
        "message": "<class 'str'>",
        "template": "{x.__class__}",
        "values": {"x": "text"},
    }
    back = error_for_answer(413, hostile)
    assert (back.template, dict(back.values)) == ("<class 'str'>", {})
    assert error_line(german, back) == error_line(german, ImageTooLarge("<class 'str'>"))


def test_a_message_too_long_to_keep_whole_is_not_rebuilt() -> None:
    """The client keeps only the first characters of a message: a template that says more than
    those is not taken."""
    long = InvalidImage("{what} " + "x" * 400, what="odd")
    back = error_for_answer(400, error_body(long))
    assert type(back) is InvalidImage
    assert dict(back.values) == {}
    assert back.message == long.message[: len(back.message)]
    assert len(back.message) < len(long.message)
