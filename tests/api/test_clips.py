"""Clips through `deepguard serve` and the remote core: each kind's byte cap, and a clip's
refusals on the wire (their own codes, under their parent's status, back to their classes)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from api.client import RemoteDetector
from api.refusals import ERRORS, error_body, error_for_answer, error_for_status, kind_of
from api.upload import FORM_SLACK_BYTES
from config import RemoteSettings
from core.classifier import HFClassifier
from core.errors import (
    ClipTooLarge,
    ClipTooLong,
    DamagedClip,
    DeepGuardError,
    InvalidImage,
    NoPicture,
    UnsupportedClip,
)
from core.images import bytes_text
from tests.api.http_harness import Running, serve_settings, serving
from tests.fakes import no_unhandled_loop_errors, png_bytes
from tests.sample_clips import (
    H264_MP4,
    Codec,
    audio_only,
    noise_frames,
    red_frames,
    video_bytes,
)

FAST = RemoteSettings(retries=2, max_retry_wait_s=0.01, timeout_s=10)
CLIP = video_bytes(noise_frames(12, seed=3), H264_MP4)


@pytest.fixture(autouse=True)
async def _no_lost_errors() -> AsyncIterator[None]:
    async with no_unhandled_loop_errors():
        yield


async def classify(
    running: Running, data: bytes, *, form: bool, label: str = "application/octet-stream"
) -> tuple[int, Any]:
    """POST `data` as the raw body (labelled `label`) or as a form's file; the status and the
    JSON answer."""
    if form:
        body = aiohttp.FormData()
        body.add_field("file", data, filename="upload.bin")
        request = running.session.post(f"{running.url}/v1/classify", data=body)
    else:
        request = running.classify(data, headers={"Content-Type": label})
    async with request as response:
        return response.status, await response.json()


class TestByteCaps:
    @pytest.mark.parametrize(
        ("form", "label"),
        [(False, "application/octet-stream"), (False, "video/mp4"), (True, "")],
        ids=["raw", "raw-video-label", "form"],
    )
    async def test_a_video_over_the_image_cap_is_judged(
        self, classifier: HFClassifier, form: bool, label: str
    ) -> None:
        """Uploads are read up to the video cap: a video larger than the image cap is judged,
        sent raw (labelled as anything or as a video) or as a form."""
        settings = serve_settings(
            images={"max_bytes": len(CLIP) - 1}, video={"max_bytes": len(CLIP) + 1}
        )
        async with serving(settings, classifier) as running:
            status, answer = await classify(running, CLIP, form=form, label=label)
            local = await running.detector.judge(CLIP)
        assert status == 200
        assert answer["media"] == "video"
        assert answer["fake_probability"] == local.as_dict()["fake_probability"]
        assert len(answer["frames"]) == answer["frames_decoded"] == 8

    @pytest.mark.parametrize("form", [False, True], ids=["raw", "form"])
    async def test_each_kind_is_held_to_its_own_cap(
        self, classifier: HFClassifier, form: bool
    ) -> None:
        """A video over the video cap is `clip_too_large`, though the image cap is larger; an
        image over the image cap is `too_large`, though the video cap is larger."""
        image = png_bytes(5, size=(64, 64))
        small_video = serve_settings(
            images={"max_bytes": 10 * len(CLIP)}, video={"max_bytes": len(CLIP) - 1}
        )
        small_images = serve_settings(
            images={"max_bytes": len(image) - 1}, video={"max_bytes": 10 * len(image)}
        )
        async with serving(small_video, classifier) as running:
            video_answer = await classify(running, CLIP, form=form)
        async with serving(small_images, classifier) as running:
            image_answer = await classify(running, image, form=form)
        limit = bytes_text(len(CLIP) - 1)
        assert video_answer == (
            413,
            {
                "error": "clip_too_large",
                "message": f"the video is too large (limit {limit})",
                "template": "the video is too large (limit {limit})",
                "values": {"limit": limit},
            },
        )
        assert (image_answer[0], image_answer[1]["error"]) == (413, "too_large")

    async def test_a_body_over_the_largest_cap_is_refused_unread(
        self, classifier: HFClassifier
    ) -> None:
        """A body announced past the larger cap (and a form's slack) is refused from its length."""
        settings = serve_settings(images={"max_bytes": 1000}, video={"max_bytes": 2000})
        async with serving(settings, classifier) as running:
            status, answer = await classify(
                running, bytes(2000 + FORM_SLACK_BYTES + 1), form=False
            )
        assert (status, answer["error"]) == (413, "too_large")
        assert answer["message"] == "the file is too large (limit 1 KB)"


CLIP_REFUSALS = [
    ClipTooLarge("the video is too large (limit 1 KB)"),
    ClipTooLong("the clip is too long (2:00:00; limit 10:00)"),
    UnsupportedClip(),
    DamagedClip(),
    NoPicture(),
]


class TestWire:
    @pytest.mark.parametrize("error", CLIP_REFUSALS, ids=lambda e: type(e).__name__)
    def test_a_clip_refusal_crosses_the_wire_as_itself(self, error: DeepGuardError) -> None:
        """Its own code, its parent's status (so a client knowing only image codes still sorts
        it), and back to the same class and message."""
        kind = kind_of(error)
        parent = type(error).__mro__[1]
        assert kind.error is type(error)
        assert kind.status == kind_of(parent()).status
        back = error_for_answer(kind.status, error_body(error))
        assert type(back) is type(error)
        assert back.message == error.message
        assert isinstance(error_for_status(kind.status), InvalidImage)

    def test_every_error_class_is_named_by_its_own_code(self) -> None:
        """Subclasses come before their parents, so no class hides behind another's code."""
        for kind in ERRORS:
            assert kind_of(kind.error()) is kind


PNG_IN_MOV: Codec = ("png", "mov", "rgb24", {})


class TestRemote:
    async def test_a_clip_is_judged_remotely_as_locally(self, classifier: HFClassifier) -> None:
        """The remote judgement of a video carries its media, frames and moment whole."""
        async with serving(serve_settings(), classifier) as running:
            async with RemoteDetector(running.url, FAST) as remote:
                judged = await remote.judge(CLIP)
            local = await running.detector.judge(CLIP)
        answered, expected = judged.as_dict(), local.as_dict()
        for timing in ("queue_ms", "model_ms", "cached"):
            del answered[timing], expected[timing]
        assert answered == expected
        assert answered["media"] == "video"
        assert judged.clip is not None
        assert len(judged.clip.frames) == 8

    @pytest.mark.parametrize(
        ("data", "error"),
        [
            pytest.param(CLIP, ClipTooLarge, id="clip-too-large"),
            pytest.param(
                video_bytes(red_frames([10, 20]), H264_MP4, rate=1, pts=[0, 30]),
                ClipTooLong,
                id="clip-too-long",
            ),
            pytest.param(video_bytes(red_frames([1, 2]), PNG_IN_MOV), UnsupportedClip, id="codec"),
            pytest.param(audio_only(), NoPicture, id="no-picture"),
            pytest.param(CLIP[:1000], DamagedClip, id="damaged"),
        ],
    )
    async def test_clip_refusals_raise_what_a_local_detector_raises(
        self, classifier: HFClassifier, data: bytes, error: type[DeepGuardError]
    ) -> None:
        """Each clip refusal comes back from the API as the class and message it had locally."""
        cap = len(CLIP) - 1 if error is ClipTooLarge else 50 * 2**20
        settings = serve_settings(video={"max_bytes": cap, "max_duration_s": 10.0})
        async with serving(settings, classifier) as running:
            async with RemoteDetector(running.url, FAST) as remote:
                with pytest.raises(error) as remote_error:
                    await remote.judge(data)
            with pytest.raises(error) as local_error:
                await running.detector.judge(data)
        assert type(remote_error.value) is type(local_error.value) is error
        assert remote_error.value.message == local_error.value.message
