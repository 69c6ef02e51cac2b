"""The Detector: verdicts, cache, single-flight, refusals, timeouts, shutdown and counters."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
from collections.abc import AsyncIterator, Callable

import pytest
from PIL import Image

from config import ImageLimits, QueueSettings
from core.classifier import HFClassifier
from core.detector import Detector
from core.errors import (
    CorruptImage,
    ImageTooLarge,
    ModelError,
    Overloaded,
    RequestTimeout,
    ShuttingDown,
    UnsupportedImage,
)
from core.preprocess import PixelArray
from core.result import Judgement, Verdict
from tests.core.detectors import DetectorFactory
from tests.fakes import FakeClassifier, Gate, no_unhandled_loop_errors, png_bytes


@pytest.fixture(autouse=True)
async def _no_lost_errors() -> AsyncIterator[None]:
    """Every test here also fails on task exceptions that nobody retrieved."""
    async with no_unhandled_loop_errors():
        yield


def spawn(detector: Detector, data: bytes) -> asyncio.Task[Judgement]:
    return asyncio.create_task(detector.judge(data))


async def until(condition: Callable[[], bool]) -> None:
    """Poll for work handed to threads (decoding) to show up on the loop; give up after ~10 s.

    Nothing on the loop signals "a decode thread finished and queued its request", hence a poll.
    """
    for _ in range(10_000):
        if condition():
            return
        await asyncio.sleep(0.001)
    raise AssertionError("condition never held")


async def settle() -> None:
    """Let the loop run what is already due (task starts, queueing, batch assembly)."""
    for _ in range(10):
        await asyncio.sleep(0)


async def answered(*tasks: asyncio.Task[Judgement]) -> list[Judgement]:
    async with asyncio.timeout(10):  # a hang fails the test instead of stalling the suite
        return list(await asyncio.gather(*tasks))


def live_tasks() -> list[str]:
    mine = asyncio.current_task()
    return [t.get_name() for t in asyncio.all_tasks() if t is not mine and not t.done()]


class TestJudgement:
    async def test_verdict_is_fake_at_and_above_the_threshold(
        self, make_detector: DetectorFactory
    ) -> None:
        """A fake probability equal to the threshold is FAKE; just below it is REAL."""
        detector = await make_detector(FakeClassifier(), threshold=128 / 255)
        at, below = await answered(
            spawn(detector, png_bytes(128)), spawn(detector, png_bytes(127))
        )
        assert at.fake_probability == detector.threshold
        assert at.verdict is Verdict.FAKE
        assert below.verdict is Verdict.REAL

    async def test_result_fields(self, make_detector: DetectorFactory) -> None:
        """The frozen result carries the bytes' SHA-256, both probabilities and every class."""
        detector = await make_detector(FakeClassifier())
        data = png_bytes(51)
        judgement = await detector.judge(data)
        assert judgement.sha256 == hashlib.sha256(data).hexdigest()
        assert judgement.fake_probability == pytest.approx(0.2)
        assert judgement.fake_probability + judgement.real_probability == pytest.approx(1.0)
        assert dict(judgement.classes) == pytest.approx({"Real": 0.8, "Fake": 0.2})
        assert judgement.verdict is Verdict.REAL
        assert not judgement.cached
        assert judgement.queue_ms >= 0
        assert judgement.model_ms >= 0
        with pytest.raises(dataclasses.FrozenInstanceError):
            judgement.verdict = Verdict.FAKE  # type: ignore[misc]
        with pytest.raises(TypeError):
            judgement.classes["Fake"] = 1.0  # type: ignore[index]

    async def test_real_tiny_model(self, detector: Detector) -> None:
        """With the real classifier, probabilities sum to one and name the model's classes."""
        data = png_bytes(200, green=30, size=(40, 30))
        judgement = await detector.judge(data)
        assert set(judgement.classes) == {"Real", "Fake"}
        assert sum(judgement.classes.values()) == pytest.approx(1.0, abs=1e-6)
        assert judgement.fake_probability == pytest.approx(judgement.classes["Fake"], abs=1e-6)
        assert judgement.real_probability == pytest.approx(judgement.classes["Real"], abs=1e-6)
        expected = Verdict.FAKE if judgement.fake_probability >= 0.5 else Verdict.REAL
        assert judgement.verdict is expected
        assert judgement.as_dict()["sha256"] == hashlib.sha256(data).hexdigest()

    async def test_real_tiny_model_refuses_bad_uploads_without_a_batch(
        self, detector: Detector
    ) -> None:
        """With the real classifier, a refused upload never becomes a model call."""
        with pytest.raises(UnsupportedImage):
            await detector.judge(b"%PDF-1.4\n%%EOF\n")
        assert detector.counters.batches == 0
        assert detector.counters.invalid == 1


class TestCache:
    async def test_repeated_image_is_answered_without_the_model(
        self, make_detector: DetectorFactory
    ) -> None:
        """The same bytes a second time come from the cache, marked cached, with no model time."""
        model = FakeClassifier()
        detector = await make_detector(model)
        first = await detector.judge(png_bytes(90))
        again = await detector.judge(png_bytes(90))
        assert model.images_seen == 1
        assert again.cached
        assert (again.queue_ms, again.model_ms) == (0.0, 0.0)
        assert again.fake_probability == first.fake_probability
        assert again.sha256 == first.sha256
        assert detector.counters.cache_hits == 1

    async def test_least_recently_used_is_evicted(self, make_detector: DetectorFactory) -> None:
        """With room for two, the image not asked for longest is the one forgotten."""
        model = FakeClassifier()
        detector = await make_detector(model, cache_size=2)
        a, b, c = (png_bytes(10, green=g) for g in (1, 2, 3))
        for data in (a, b, a, c):  # `a` was used after `b`, so `b` goes when `c` arrives
            await detector.judge(data)
        assert model.images_seen == 3
        assert (await detector.judge(a)).cached
        assert (await detector.judge(c)).cached
        assert not (await detector.judge(b)).cached
        assert model.images_seen == 4

    async def test_cache_can_be_turned_off(self, make_detector: DetectorFactory) -> None:
        """With cache_size 0 every request goes to the model."""
        model = FakeClassifier()
        detector = await make_detector(model, cache_size=0)
        for _ in range(2):
            assert not (await detector.judge(png_bytes(10))).cached
        assert model.images_seen == 2

    async def test_cached_answers_follow_the_current_threshold(
        self, make_detector: DetectorFactory
    ) -> None:
        """The cache keeps scores, so a changed threshold applies to a repeated image too."""
        detector = await make_detector(FakeClassifier(), threshold=0.9)
        assert (await detector.judge(png_bytes(204))).verdict is Verdict.REAL  # 0.8
        detector.threshold = 0.5
        judgement = await detector.judge(png_bytes(204))
        assert judgement.cached
        assert judgement.verdict is Verdict.FAKE
        assert judgement.threshold == 0.5


class TestSingleFlight:
    async def test_identical_concurrent_requests_share_one_inference(
        self, make_detector: DetectorFactory
    ) -> None:
        """Three callers with the same bytes in flight together cause one model input."""
        model = FakeClassifier(gate=Gate(opened=False))
        detector = await make_detector(model)
        data = png_bytes(77)
        tasks = [spawn(detector, data) for _ in range(3)]
        await model.gate.arrived()
        await settle()
        model.gate.open()
        results = await answered(*tasks)
        assert model.batches == [[77]]
        assert len({r.fake_probability for r in results}) == 1
        assert detector.counters.shared == 2

    async def test_one_caller_cancelling_leaves_the_others_served(
        self, make_detector: DetectorFactory
    ) -> None:
        """A caller that gives up does not cancel the inference others still wait for."""
        model = FakeClassifier(gate=Gate(opened=False))
        detector = await make_detector(model)
        data = png_bytes(33)
        tasks = [spawn(detector, data) for _ in range(3)]
        await model.gate.arrived()
        tasks[0].cancel()
        await settle()
        model.gate.open()
        results = await answered(tasks[1], tasks[2])
        assert tasks[0].cancelled()
        assert [r.fake_probability for r in results] == [33 / 255] * 2
        assert model.batches == [[33]]

    async def test_request_after_everyone_left_starts_afresh(
        self, make_detector: DetectorFactory
    ) -> None:
        """Once every caller left, the same image asked again gets a new inference, not a
        cancellation meant for the callers that left."""
        model = FakeClassifier(gate=Gate(opened=False))
        detector = await make_detector(model)
        data = png_bytes(66)
        first = spawn(detector, data)
        await model.gate.arrived()
        first.cancel()
        model.gate.open()
        with pytest.raises(asyncio.CancelledError):
            await first
        # Called straight away, before the loop has tidied up the abandoned inference.
        async with asyncio.timeout(10):
            judgement = await detector.judge(data)
        assert judgement.fake_probability == 66 / 255
        assert detector.counters.shared == 0


class TestRefusals:
    async def test_bad_uploads_never_reach_a_batch(self, make_detector: DetectorFactory) -> None:
        """Uploads that cannot be decoded are refused before queueing; good ones batch alone."""
        model = FakeClassifier()
        detector = await make_detector(model, max_wait_ms=50)
        truncated = png_bytes(1, size=(64, 64))[:-30]
        outcomes = await asyncio.gather(
            detector.judge(png_bytes(120)),
            detector.judge(b"<svg xmlns='http://www.w3.org/2000/svg'/>"),
            detector.judge(truncated),
            detector.judge(b""),
            return_exceptions=True,
        )
        assert isinstance(outcomes[0], Judgement)
        assert [type(o) for o in outcomes[1:]] == [UnsupportedImage, CorruptImage, CorruptImage]
        assert model.batches == [[120]]
        assert detector.counters.invalid == 3

    async def test_byte_cap_is_checked_first(self, make_detector: DetectorFactory) -> None:
        """An upload over the byte cap is refused without decoding it."""
        model = FakeClassifier()
        detector = await make_detector(model, limits=ImageLimits(max_bytes=50))
        with pytest.raises(ImageTooLarge, match="too large"):
            await detector.judge(png_bytes(5))
        assert model.prepare_threads == []

    async def test_full_queue_is_refused_at_once(self, make_detector: DetectorFactory) -> None:
        """With the model busy and the queue full, the next image is refused with Overloaded."""
        model = FakeClassifier(gate=Gate(opened=False))
        detector = await make_detector(model, max_batch_size=1, max_pending=1)
        busy = spawn(detector, png_bytes(1))
        await model.gate.arrived()
        queued = spawn(detector, png_bytes(2))
        await until(lambda: detector.depth == 2)
        with pytest.raises(Overloaded):
            await detector.judge(png_bytes(3))
        model.gate.open()
        assert [j.fake_probability for j in await answered(busy, queued)] == [1 / 255, 2 / 255]
        assert detector.counters.refused == 1

    async def test_request_timeout(self, make_detector: DetectorFactory) -> None:
        """A request not answered within request_timeout_s fails with RequestTimeout."""
        model = FakeClassifier(gate=Gate(opened=False))
        detector = await make_detector(model, request_timeout_s=0.05)
        async with asyncio.timeout(10):
            with pytest.raises(RequestTimeout):
                await detector.judge(png_bytes(9))
        assert detector.counters.timeouts == 1
        model.gate.open()
        assert (await detector.judge(png_bytes(10))).fake_probability == 10 / 255

    async def test_model_error_fails_the_batch_and_service_goes_on(
        self, make_detector: DetectorFactory
    ) -> None:
        """A model exception reaches every caller of the batch as ModelError; later ones work."""
        model = FakeClassifier(gate=Gate(opened=False))
        model.fail_next(RuntimeError("CUDA out of memory at 0xdeadbeef"))
        detector = await make_detector(model, max_batch_size=3, max_wait_ms=5000)
        tasks = [spawn(detector, png_bytes(i)) for i in (1, 2, 3)]
        await model.gate.arrived()
        model.gate.open()
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
        assert [type(o) for o in outcomes] == [ModelError] * 3
        assert "0xdeadbeef" not in str(outcomes[0])
        later = await answered(*(spawn(detector, png_bytes(i)) for i in (4, 5, 6)))
        assert [j.fake_probability for j in later] == [4 / 255, 5 / 255, 6 / 255]
        assert detector.counters.errors == 3

    async def test_failing_preprocessing_is_a_model_error(
        self, make_detector: DetectorFactory
    ) -> None:
        """A processor that raises is the model's failure (ModelError), not the user's upload."""

        class BrokenProcessor(FakeClassifier):
            def prepare(self, image: Image.Image) -> PixelArray:
                raise ValueError("processor bug")

        model = BrokenProcessor()
        detector = await make_detector(model)
        with pytest.raises(ModelError):
            await detector.judge(png_bytes(1))
        assert model.batches == []
        assert detector.counters.errors == 1


class TestOffTheLoop:
    async def test_decoding_and_model_run_in_their_threads(
        self, make_detector: DetectorFactory
    ) -> None:
        """Preparing images happens in decode threads and predicting in the model thread."""
        model = FakeClassifier()
        detector = await make_detector(model)
        await answered(*(spawn(detector, png_bytes(i)) for i in range(3)))
        assert model.prepare_threads
        assert all(name.startswith("deepguard-decode") for name in model.prepare_threads)
        assert all(name.startswith("deepguard-model") for name in model.predict_threads)

    async def test_loop_answers_others_while_an_image_decodes(
        self, make_detector: DetectorFactory
    ) -> None:
        """While one upload is stuck decoding, a cached image is still answered."""
        model = FakeClassifier()
        detector = await make_detector(model)
        await detector.judge(png_bytes(5))
        model.prepare_gate.shut()
        stuck = spawn(detector, png_bytes(6))
        await model.prepare_gate.arrived()
        assert (await detector.judge(png_bytes(5))).cached
        model.prepare_gate.open()
        assert (await answered(stuck))[0].fake_probability == 6 / 255


class TestShutdown:
    async def test_closing_refuses_new_requests_and_drains_queued_ones(
        self, make_detector: DetectorFactory
    ) -> None:
        """During close new images get ShuttingDown while accepted ones are still answered."""
        model = FakeClassifier(gate=Gate(opened=False))
        detector = await make_detector(model, max_batch_size=1, drain_timeout_s=30)
        accepted = [spawn(detector, png_bytes(i)) for i in (1, 2, 3)]
        await model.gate.arrived()
        await settle()
        closing = asyncio.create_task(detector.close())
        await settle()
        with pytest.raises(ShuttingDown, match="restarting"):
            await detector.judge(png_bytes(4))
        model.gate.open()
        results = await answered(*accepted)
        async with asyncio.timeout(10):
            await closing
        assert [r.fake_probability for r in results] == [1 / 255, 2 / 255, 3 / 255]
        assert detector.counters.shutting_down == 1
        with pytest.raises(ShuttingDown):
            await detector.judge(png_bytes(1))

    async def test_close_fails_leftovers_after_the_drain_bound(
        self, make_detector: DetectorFactory
    ) -> None:
        """Past the drain bound, requests in the model, queued or decoding get ShuttingDown."""
        model = FakeClassifier(gate=Gate(opened=False))
        detector = await make_detector(model, max_batch_size=1, drain_timeout_s=0.05)
        in_model = spawn(detector, png_bytes(1))
        await model.gate.arrived()
        queued = spawn(detector, png_bytes(2))
        await until(lambda: detector.depth == 2)
        model.prepare_gate.shut()
        decoding = spawn(detector, png_bytes(3))
        await model.prepare_gate.arrived()
        async with asyncio.timeout(10):
            await detector.close()
        outcomes = await asyncio.gather(in_model, queued, decoding, return_exceptions=True)
        model.gate.open()
        model.prepare_gate.open()
        assert [type(o) for o in outcomes] == [ShuttingDown] * 3
        assert detector.counters.shutting_down == 3
        assert live_tasks() == []

    async def test_unstarted_detector_refuses(self) -> None:
        """A Detector used outside `async with` refuses instead of queueing forever."""
        detector = Detector(FakeClassifier(), queue=QueueSettings(), limits=ImageLimits())
        with pytest.raises(ShuttingDown):
            await detector.judge(png_bytes(1))
        await detector.close()

    async def test_context_manager_starts_and_stops(self, classifier: HFClassifier) -> None:
        """`async with Detector(...)` serves inside the block and refuses after it."""
        async with Detector(classifier, queue=QueueSettings(), limits=ImageLimits()) as detector:
            assert (await detector.judge(png_bytes(8))).sha256
        with pytest.raises(ShuttingDown):
            await detector.judge(png_bytes(8))
        assert live_tasks() == []


class TestCounters:
    async def test_every_outcome_is_counted_once_per_caller(
        self, make_detector: DetectorFactory
    ) -> None:
        """Requests, batches, sizes, hits, sharing and each kind of failure add up."""
        model = FakeClassifier(gate=Gate(opened=False))
        detector = await make_detector(model, max_batch_size=2, max_pending=2, max_wait_ms=5000)
        first = [spawn(detector, png_bytes(1)), spawn(detector, png_bytes(2))]  # one batch of 2
        twin = spawn(detector, png_bytes(1))  # shares request 1's inference
        await model.gate.arrived()
        queued = [spawn(detector, png_bytes(3)), spawn(detector, png_bytes(5))]
        await until(lambda: detector.depth == 4)
        with pytest.raises(Overloaded):
            await detector.judge(png_bytes(4))
        with pytest.raises(CorruptImage):
            await detector.judge(b"\x89PNG\r\n\x1a\n")
        model.fail_next(RuntimeError("boom"))  # the queued batch, not the one at the gate
        model.gate.open()
        await answered(*first, twin)
        outcomes = await asyncio.gather(*queued, return_exceptions=True)
        assert [type(o) for o in outcomes] == [ModelError, ModelError]
        assert (await detector.judge(png_bytes(2))).cached
        assert detector.counters.snapshot() == {
            "requests": 8,
            "cache_hits": 1,
            "shared": 1,
            "invalid": 1,
            "refused": 1,
            "timeouts": 0,
            "errors": 2,
            "shutting_down": 0,
            "batches": 2,
            "batch_sizes": {2: 2},
        }
