"""`POST /v1/explain` on a clip: its most suspicious frame, named in the JSON and in a header."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator

import numpy as np
import pytest
from PIL import Image

from api.client import RemoteDetector
from api.wire import FRAME_TIME_HEADER
from config import RemoteSettings
from core.classifier import HFClassifier
from core.result import Media
from tests.api.http_harness import serve_settings, serving
from tests.fakes import no_unhandled_loop_errors
from tests.sample_clips import LOSSLESS_MKV, animation_bytes, noise_frames, video_bytes

FAST = RemoteSettings(retries=1, max_retry_wait_s=0.01, timeout_s=20)
JSON = {"Accept": "application/json"}
VIDEO = video_bytes(noise_frames(12, side=48, seed=5), LOSSLESS_MKV, rate=6)


@pytest.fixture(autouse=True)
async def _no_lost_errors() -> AsyncIterator[None]:
    async with no_unhandled_loop_errors():
        yield


async def test_json_names_the_most_suspicious_frame(classifier: HFClassifier) -> None:
    """A video's JSON is the still image's plus "media" and the frame classify names worst."""
    async with serving(serve_settings(video={"frames": 6}), classifier) as running:
        url = f"{running.url}/v1/explain"
        async with running.session.post(url, data=VIDEO, headers=JSON) as response:
            status, body = response.status, await response.json()
        async with running.classify(VIDEO) as response:
            judged = await response.json()
    assert status == 200
    worst = max(judged["frames"], key=lambda f: (f["fake_probability"], -f["time_s"]))
    assert body["media"] == "video"
    assert body["frame"] == {"index": worst["index"], "time_s": worst["time_s"]}
    assert body["fake_probability"] == pytest.approx(worst["fake_probability"], abs=1e-5)
    grid = np.asarray(body["grid"])
    assert grid.shape == (body["rows"], body["cols"])


async def test_the_png_carries_the_frames_time(classifier: HFClassifier) -> None:
    """The picture answer is a PNG of the frame; its time is in X-DeepGuard-Frame-Time."""
    async with serving(serve_settings(video={"frames": 6}), classifier) as running:
        local = await running.detector.explain(VIDEO)
        url = f"{running.url}/v1/explain"
        async with running.session.post(url, data=VIDEO) as response:
            status, kind, body = response.status, response.content_type, await response.read()
            header = response.headers.get(FRAME_TIME_HEADER)
    assert (status, kind) == (200, "image/png")
    assert local.frame is not None
    assert header is not None
    assert float(header) == pytest.approx(local.frame.time_s, abs=1e-3)
    with Image.open(io.BytesIO(body)) as picture:
        assert picture.format == "PNG"


async def test_a_still_image_has_no_frame_header(classifier: HFClassifier) -> None:
    """Only a clip's answer names a frame."""
    still = io.BytesIO()
    Image.fromarray(noise_frames(1, side=40)[0]).save(still, "PNG")
    async with serving(serve_settings(), classifier) as running:
        url = f"{running.url}/v1/explain"
        async with running.session.post(url, data=still.getvalue()) as response:
            status, headers = response.status, response.headers
    assert status == 200
    assert FRAME_TIME_HEADER not in headers


async def test_the_remote_core_explains_a_clip_and_paints_its_frame(
    classifier: HFClassifier,
) -> None:
    """RemoteDetector rebuilds the frame shown, and paints over that frame it decodes itself."""
    gif = animation_bytes(noise_frames(6, side=40, seed=9), "GIF", durations_ms=200)
    async with serving(serve_settings(video={"frames": 6}), classifier) as running:
        local = await running.detector.explain(gif)
        async with RemoteDetector(running.url, FAST) as remote:
            painted = await remote.explain(gif, legend="the bot's own words")
    assert painted.media is Media.ANIMATION
    assert local.frame is not None
    assert painted.frame is not None
    assert painted.frame.index == local.frame.index
    assert painted.frame.time_s == pytest.approx(local.frame.time_s, abs=1e-3)
    assert np.allclose(painted.patches.grid, local.patches.grid)
    assert painted.png is not None
    with Image.open(io.BytesIO(painted.png)) as picture:
        assert picture.format == "PNG"
