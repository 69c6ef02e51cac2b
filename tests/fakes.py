"""Fakes with behaviour for the core's seams, shared by every test that needs a model.

`FakeClassifier` implements `core.classifier.Classifier` without torch: it reads a scripted
fake probability from each image (by default the red value of its top-left pixel / 255, so a
test picks a score by picking a colour), records every batch and the threads it ran on, can be
told to raise, and can be held shut with a `Gate` (in `predict` or in `prepare`) so a test
decides when a batch or a decode finishes.

Typical use::

    model = FakeClassifier(gate=Gate(opened=False))
    task = asyncio.create_task(detector.judge(png_bytes(red=200)))
    await model.gate.arrived()   # the batch is now inside predict, in the model thread
    ...                          # queue more work, cancel callers, close the detector
    model.gate.open()            # let it finish
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import io
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import numpy as np
from PIL import Image

from core.explain import Method, PatchMap
from core.preprocess import PixelArray
from core.result import Scores

# A worker thread never waits longer than this for a gate, so a broken test cannot hang the
# interpreter's exit (executor threads are joined there).
GATE_LIMIT_S = 10.0


class Gate:
    """A door worker threads wait at until the test opens it; it counts who arrived."""

    def __init__(self, *, opened: bool = True) -> None:
        self._open = threading.Event()
        self._arrivals = threading.Semaphore(0)
        if opened:
            self._open.set()

    def open(self) -> None:
        self._open.set()

    def shut(self) -> None:
        self._open.clear()

    def pass_through(self) -> None:
        """Called from a worker thread: announce arrival, then wait for the gate to open."""
        self._arrivals.release()
        if not self._open.wait(GATE_LIMIT_S):
            raise RuntimeError("test gate was never opened")

    async def arrived(self, timeout_s: float = 5.0) -> None:
        """Wait (off the loop) until one more worker reached the gate; fail the test if none."""
        reached = await asyncio.to_thread(self._arrivals.acquire, True, timeout_s)
        if not reached:
            raise AssertionError(f"no worker reached the gate within {timeout_s} s")


def red_probability(red: int) -> float:
    """The default script: a top-left red value of 0..255 is a fake probability of red/255."""
    return red / 255


class FakeClassifier:
    """A scripted `Classifier`: scores come from pixel colours, batches are recorded.

    Its classes are named like the tiny test model's: `{"Real": 1 - p, "Fake": p}`.
    """

    def __init__(
        self,
        script: Callable[[int], float] = red_probability,
        *,
        gate: Gate | None = None,
        prepare_gate: Gate | None = None,
    ) -> None:
        self.script = script
        self.gate = gate or Gate()  # held inside `predict`, in the model thread
        self.prepare_gate = prepare_gate or Gate()  # held inside `prepare`, in a decode thread
        self.batches: list[list[int]] = []  # the red values of each batch, in call order
        self.prepare_threads: list[str] = []
        self.predict_threads: list[str] = []
        self._errors: list[Exception] = []

    @property
    def batch_sizes(self) -> list[int]:
        return [len(batch) for batch in self.batches]

    @property
    def images_seen(self) -> int:
        return sum(self.batch_sizes)

    def fail_next(self, error: Exception, times: int = 1) -> None:
        """Make the next `times` calls to `predict` raise `error`.

        A call already waiting at the gate is not affected; the error is raised after the gate.
        """
        self._errors.extend([error] * times)

    def prepare(self, image: Image.Image) -> PixelArray:
        """Keep only the top-left pixel: enough to script a score, cheap to batch."""
        self.prepare_threads.append(threading.current_thread().name)
        self.prepare_gate.pass_through()
        pixel = image.convert("RGB").getpixel((0, 0))
        assert isinstance(pixel, tuple)
        return np.asarray(pixel, dtype=np.float32).reshape(3, 1, 1)

    def predict(self, batch: Sequence[PixelArray]) -> list[Scores]:
        self.predict_threads.append(threading.current_thread().name)
        reds = [int(pixels[0, 0, 0]) for pixels in batch]
        self.batches.append(reds)
        error = self._errors.pop(0) if self._errors else None  # decided on entry
        self.gate.pass_through()
        if error is not None:
            raise error
        return [self._scores(red) for red in reds]

    def _scores(self, red: int) -> Scores:
        fake = self.script(red)
        return Scores(fake_probability=fake, classes={"Real": 1.0 - fake, "Fake": fake})


class FakeExplainer(FakeClassifier):
    """A `FakeClassifier` that also explains: a 2x3 map whose cells are the red value / 255."""

    def __init__(self, *, explain_gate: Gate | None = None) -> None:
        super().__init__()
        self.explain_gate = explain_gate or Gate()
        self.explain_threads: list[str] = []
        self.explain_error: Exception | None = None

    def explain(self, prepared: PixelArray, size: tuple[int, int]) -> tuple[Scores, PatchMap]:
        self.explain_threads.append(threading.current_thread().name)
        self.explain_gate.pass_through()
        if self.explain_error is not None:
            raise self.explain_error
        red = int(prepared[0, 0, 0])
        return self._scores(red), PatchMap(np.full((2, 3), red / 255), 0.5, Method.EXACT)


def png_bytes(
    red: int = 0, *, green: int = 0, size: tuple[int, int] = (8, 8), mode: str = "RGB"
) -> bytes:
    """A small PNG whose top-left red value scripts a `FakeClassifier` score.

    `green` changes the bytes (and so the SHA-256) without changing the score.
    """
    image = Image.new("RGB", size, (red, green, 0))
    out = io.BytesIO()
    image.convert(mode).save(out, "PNG")
    return out.getvalue()


@contextlib.asynccontextmanager
async def no_unhandled_loop_errors() -> AsyncIterator[None]:
    """Fail if the loop reports an error no one handled, e.g. a task exception never retrieved.

    Those go to the loop's exception handler (a log line), which `filterwarnings = error` does
    not see; use it in an autouse fixture around tests that start tasks.
    """
    loop = asyncio.get_running_loop()
    reported: list[dict[str, Any]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: reported.append(context))
    try:
        yield
        # A failed task kept alive by a traceback cycle reports only when freed. Young
        # generations only: a full collection costs ~0.1 s per test with torch loaded.
        gc.collect(1)
    finally:
        loop.set_exception_handler(previous)
    assert not reported, [context.get("message") for context in reported]
