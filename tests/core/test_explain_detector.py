"""`Detector.explain`: decoded as judged, one run on the model thread, refusals, shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
from collections.abc import AsyncIterator

import numpy as np
import pytest
from PIL import Image

from config import ImageLimits, QueueSettings
from core.detector import Detector
from core.ensemble import Member
from core.errors import (
    CorruptImage,
    ExplanationUnavailable,
    ImageTooLarge,
    ModelError,
    RequestTimeout,
    ShuttingDown,
)
from core.explain import Method
from tests.fakes import (
    FakeClassifier,
    FakeExplainer,
    Gate,
    no_unhandled_loop_errors,
    png_bytes,
)

LEGEND = "Where the model saw AI-like (warm) and real-like (cool) evidence."


@pytest.fixture(autouse=True)
async def _no_lost_errors() -> AsyncIterator[None]:
    async with no_unhandled_loop_errors():
        yield


@contextlib.asynccontextmanager
async def running(
    model: FakeClassifier, *, limits: ImageLimits | None = None, **queue: float
) -> AsyncIterator[Detector]:
    options = QueueSettings(**{"max_batch_size": 4, "max_wait_ms": 5, **queue})
    async with Detector(model, queue=options, limits=limits or ImageLimits()) as detector:
        yield detector


def _jpeg(size: tuple[int, int] = (300, 200)) -> bytes:
    rng = np.random.default_rng(2)
    out = io.BytesIO()
    pixels = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(pixels).save(out, "JPEG", quality=90)
    return out.getvalue()


class TestWithTheTinyModel:
    async def test_explains_what_judge_judges(self, detector: Detector) -> None:
        """The same bytes give the same fake probability explained as judged, and a map."""
        data = _jpeg()
        judged = await detector.judge(data)
        explained = await detector.explain(data)
        assert explained.fake_probability == pytest.approx(judged.fake_probability, abs=1e-6)
        assert explained.sha256 == judged.sha256
        assert (explained.patches.rows, explained.patches.cols) == (4, 4)
        assert explained.patches.method is Method.EXACT
        assert explained.png is None

    async def test_with_a_legend_the_picture_comes_too(self, detector: Detector) -> None:
        """A legend asks for the picture: a PNG of the photo (enlarged to 512) and its strip."""
        explained = await detector.explain(_jpeg(), legend=LEGEND)
        assert explained.png is not None
        picture = Image.open(io.BytesIO(explained.png))
        assert picture.format == "PNG"
        assert picture.width == 512
        assert picture.height > round(512 * 200 / 300)

    async def test_json_shape(self, detector: Detector) -> None:
        """as_dict has the CLI's fields, and mean(grid) + bias is the map's gap."""
        explained = await detector.explain(_jpeg())
        shape = explained.as_dict()
        assert list(shape) == ["fake_probability", "rows", "cols", "grid", "bias", "media"]
        assert shape["media"] == "image"
        grid, bias = np.array(shape["grid"]), shape["bias"]
        assert grid.shape == (shape["rows"], shape["cols"])
        assert isinstance(bias, float)
        assert float(grid.mean()) + bias == pytest.approx(explained.patches.gap, abs=1e-12)


class TestRunning:
    async def test_runs_on_the_model_thread(self) -> None:
        """Explaining is serialised with the batches: it runs on the model's one thread."""
        model = FakeExplainer()
        async with running(model) as detector:
            await detector.judge(png_bytes(10))
            explained = await detector.explain(png_bytes(51))
        assert model.explain_threads == model.predict_threads[:1]
        assert model.explain_threads[0].startswith("deepguard-model")
        assert explained.fake_probability == pytest.approx(0.2)
        assert explained.patches.grid.tolist() == [[0.2] * 3] * 2

    async def test_identical_requests_share_one_run(self) -> None:
        """Two "why?" clicks on one image at once: one model run, the same answer twice."""
        model = FakeExplainer(explain_gate=Gate(opened=False))
        async with running(model) as detector:
            first = asyncio.create_task(detector.explain(png_bytes(30)))
            await model.explain_gate.arrived()
            second = asyncio.create_task(detector.explain(png_bytes(30)))
            await asyncio.sleep(0.01)
            model.explain_gate.open()
            answers = await asyncio.gather(first, second)
        assert len(model.explain_threads) == 1
        assert answers[0] is answers[1]

    async def test_a_classifier_that_cannot_explain_says_so(self) -> None:
        """A classifier without `explain` gets the clear refusal, before any decoding."""
        model = FakeClassifier()
        async with running(model) as detector:
            with pytest.raises(
                ExplanationUnavailable, match="not available for this model and backend"
            ):
                await detector.explain(png_bytes(1))
        assert model.prepare_threads == []

    async def test_bad_uploads_are_refused_as_for_judging(self) -> None:
        """Corrupt and oversized bytes get the same typed refusals as `judge`."""
        model = FakeExplainer()
        limits = ImageLimits(max_bytes=2000)
        async with running(model, limits=limits) as detector:
            with pytest.raises(CorruptImage):
                await detector.explain(png_bytes(1)[:40])
            with pytest.raises(ImageTooLarge):
                await detector.explain(b"\x89PNG\r\n\x1a\n" + bytes(3000))
        assert model.explain_threads == []

    async def test_an_unexpected_failure_is_the_models_and_logged_once(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A bug inside explain reaches the caller as ModelError, logged with its traceback."""
        model = FakeExplainer()
        model.explain_error = RuntimeError("boom")
        async with running(model) as detector:
            with caplog.at_level(logging.ERROR), pytest.raises(ModelError):
                await detector.explain(png_bytes(1))
        failures = [r for r in caplog.records if r.name == "core.detector"]
        assert len(failures) == 1
        assert failures[0].exc_info is not None

    async def test_expected_refusals_pass_through(self) -> None:
        """A refusal from the classifier (e.g. ONNX on a ViT) reaches the caller as it is."""
        model = FakeExplainer()
        model.explain_error = ExplanationUnavailable()
        async with running(model) as detector:
            with pytest.raises(ExplanationUnavailable):
                await detector.explain(png_bytes(1))

    async def test_slow_explanations_time_out(self) -> None:
        """Past the request timeout the caller gets RequestTimeout."""
        model = FakeExplainer(explain_gate=Gate(opened=False))
        async with running(model, request_timeout_s=0.05) as detector:
            with pytest.raises(RequestTimeout):
                await detector.explain(png_bytes(1))
            model.explain_gate.open()


class TestShutdown:
    async def test_close_lets_an_explanation_finish_then_refuses(self) -> None:
        """An explanation in the model is answered within the drain bound; new ones refused."""
        model = FakeExplainer(explain_gate=Gate(opened=False))
        detector = Detector(model, queue=QueueSettings(drain_timeout_s=30), limits=ImageLimits())
        async with detector:
            accepted = asyncio.create_task(detector.explain(png_bytes(40)))
            await model.explain_gate.arrived()
            closing = asyncio.create_task(detector.close())
            await asyncio.sleep(0.01)
            with pytest.raises(ShuttingDown):
                await detector.explain(png_bytes(41))
            model.explain_gate.open()
            async with asyncio.timeout(10):
                assert (await accepted).fake_probability == pytest.approx(40 / 255)
                await closing

    async def test_past_the_drain_bound_the_caller_hears_shutting_down(self) -> None:
        """An explanation still running after the drain bound fails with ShuttingDown."""
        model = FakeExplainer(explain_gate=Gate(opened=False))
        detector = Detector(model, queue=QueueSettings(drain_timeout_s=0.05), limits=ImageLimits())
        async with detector:
            stuck = asyncio.create_task(detector.explain(png_bytes(40)))
            await model.explain_gate.arrived()
            async with asyncio.timeout(10):
                await detector.close()
            with pytest.raises(ShuttingDown):
                await stuck
            model.explain_gate.open()


async def test_an_ensemble_explains_with_its_first_model() -> None:
    """Several models: the first one explains, on its own lane's thread; a second is not asked."""
    first, second = FakeExplainer(), FakeExplainer()
    members = [Member("first", first), Member("second", second)]
    queue = QueueSettings(max_batch_size=4, max_wait_ms=5)
    async with Detector(members, queue=queue, limits=ImageLimits()) as detector:
        explained = await detector.explain(png_bytes(204))
    assert explained.fake_probability == pytest.approx(0.8)
    assert first.explain_threads == ["deepguard-model_0"]
    assert second.explain_threads == []
