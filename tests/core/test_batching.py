"""MicroBatcher on its own, around a plain blocking function: every behaviour pinned."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence

import pytest

from core.batching import Batched, MicroBatcher
from core.errors import ModelError, Overloaded, RequestTimeout, ShuttingDown
from core.stats import Counters
from tests.fakes import Gate, no_unhandled_loop_errors

LONG_S = 30.0  # a timeout that never fires in a passing test


@pytest.fixture(autouse=True)
async def _no_lost_errors() -> AsyncIterator[None]:
    """Every test here also fails on task exceptions that nobody retrieved."""
    async with no_unhandled_loop_errors():
        yield


class TimesTen:
    """The batch function under the batcher: records batches, can be gated or made to fail."""

    def __init__(self, gate: Gate | None = None) -> None:
        self.gate = gate or Gate()
        self.batches: list[list[int]] = []
        self.errors: list[Exception] = []

    def __call__(self, items: Sequence[int]) -> list[int]:
        self.batches.append(list(items))
        self.gate.pass_through()
        if self.errors:
            raise self.errors.pop(0)
        return [item * 10 for item in items]


BatcherFactory = Callable[..., MicroBatcher[int, int]]


@pytest.fixture
async def make_batcher() -> AsyncIterator[BatcherFactory]:
    """Build started batchers; each is closed (and its model gate opened) after the test."""
    made: list[tuple[MicroBatcher[int, int], TimesTen]] = []

    def make(
        model: TimesTen, counters: Counters | None = None, **options: float
    ) -> MicroBatcher[int, int]:
        config: dict[str, float] = {"max_batch_size": 4, "max_wait_s": 0.005, "max_pending": 64}
        config.update(options)
        batcher: MicroBatcher[int, int] = MicroBatcher(
            model,
            max_batch_size=int(config["max_batch_size"]),
            max_wait_s=config["max_wait_s"],
            max_pending=int(config["max_pending"]),
            counters=counters,
        )
        batcher.start()
        made.append((batcher, model))
        return batcher

    yield make
    for batcher, model in made:
        model.gate.open()
        await batcher.close(drain_timeout_s=5)


async def submit_all(
    batcher: MicroBatcher[int, int], items: Sequence[int], timeout_s: float = LONG_S
) -> list[Batched[int]]:
    async with asyncio.timeout(10):  # a hang fails the test instead of stalling the suite
        return await asyncio.gather(*(batcher.submit(item, timeout_s) for item in items))


def spawn(
    batcher: MicroBatcher[int, int], item: int, timeout_s: float = LONG_S
) -> asyncio.Task[Batched[int]]:
    return asyncio.create_task(batcher.submit(item, timeout_s))


async def hold(
    make_batcher: BatcherFactory, first: int = 0, **options: float
) -> tuple[TimesTen, MicroBatcher[int, int], asyncio.Task[Batched[int]]]:
    """A batcher whose gated model is busy with the batch [first] until `model.gate.open()`."""
    model = TimesTen(Gate(opened=False))
    batcher = make_batcher(model, **options)
    busy = spawn(batcher, first)
    await model.gate.arrived()
    return model, batcher, busy


async def settle() -> None:
    """Let the loop run callbacks that are already due (queueing, batch assembly)."""
    for _ in range(5):
        await asyncio.sleep(0)


class TestBatchSizes:
    async def test_full_batches_flush_without_waiting(self, make_batcher: BatcherFactory) -> None:
        """A full batch goes to the model at once even when max_wait is far away."""
        model = TimesTen()
        batcher = make_batcher(model, max_batch_size=3, max_wait_s=60.0)
        results = await submit_all(batcher, range(6))
        assert model.batches == [[0, 1, 2], [3, 4, 5]]
        assert [r.batch_size for r in results] == [3] * 6

    async def test_partial_batch_flushes_after_max_wait(
        self, make_batcher: BatcherFactory
    ) -> None:
        """Requests arriving within max_wait share a batch that is sent without filling up."""
        model = TimesTen()
        batcher = make_batcher(model, max_batch_size=10, max_wait_s=0.2)
        first = spawn(batcher, 1)
        await settle()  # the loop has taken request 1 and is waiting for company
        second = spawn(batcher, 2)
        async with asyncio.timeout(10):
            results = [await first, await second]
        assert model.batches == [[1, 2]]
        assert [r.value for r in results] == [10, 20]

    async def test_results_go_back_to_their_callers(self, make_batcher: BatcherFactory) -> None:
        """Each caller gets the output for its own item, across several batches."""
        model = TimesTen()
        batcher = make_batcher(model, max_batch_size=4)
        results = await submit_all(batcher, range(10))
        assert [r.value for r in results] == [i * 10 for i in range(10)]
        assert [len(b) for b in model.batches] == [4, 4, 2]
        assert [r.batch_size for r in results] == [4] * 8 + [2] * 2

    async def test_batches_are_counted(self, make_batcher: BatcherFactory) -> None:
        """The batcher records the number and sizes of the batches it ran."""
        counters = Counters()
        model = TimesTen()
        batcher = make_batcher(model, counters, max_batch_size=4)
        await submit_all(batcher, range(10))
        assert counters.batches == 3
        assert dict(counters.batch_sizes) == {4: 2, 2: 1}


class TestFailures:
    async def test_model_error_reaches_every_caller_then_loop_goes_on(
        self, make_batcher: BatcherFactory
    ) -> None:
        """One failing call fails each request of its batch with ModelError; the next batch runs."""
        model = TimesTen()
        model.errors.append(RuntimeError("internal detail: tensor shape mismatch"))
        batcher = make_batcher(model, max_batch_size=3, max_wait_s=60.0)
        outcomes = await asyncio.gather(
            *(batcher.submit(i, LONG_S) for i in range(3)), return_exceptions=True
        )
        assert all(isinstance(o, ModelError) for o in outcomes)
        assert all("internal detail" not in str(o) for o in outcomes)
        results = await submit_all(batcher, [7, 8, 9])
        assert [r.value for r in results] == [70, 80, 90]

    async def test_wrong_result_count_is_a_model_error(self, make_batcher: BatcherFactory) -> None:
        """A batch function that returns too few results fails its batch instead of misrouting."""

        class Short(TimesTen):
            def __call__(self, items: Sequence[int]) -> list[int]:
                return super().__call__(items)[:-1]

        batcher = make_batcher(Short(), max_batch_size=2, max_wait_s=60.0)
        outcomes = await asyncio.gather(
            *(batcher.submit(i, LONG_S) for i in range(2)), return_exceptions=True
        )
        assert [type(o) for o in outcomes] == [ModelError, ModelError]

    async def test_cancelled_callers_are_skipped(self, make_batcher: BatcherFactory) -> None:
        """A caller that gave up while queued is never passed to the model."""
        model, batcher, busy = await hold(make_batcher, max_batch_size=4)
        waiting = [spawn(batcher, i) for i in (1, 2, 3)]
        await settle()
        waiting[1].cancel()
        await settle()
        model.gate.open()
        async with asyncio.timeout(10):
            answered = [await busy, await waiting[0], await waiting[2]]
        assert [r.value for r in answered] == [0, 10, 30]
        assert waiting[1].cancelled()
        assert model.batches == [[0], [1, 3]]

    async def test_request_past_deadline_is_not_run(self, make_batcher: BatcherFactory) -> None:
        """A request whose deadline passed while queued gets RequestTimeout and skips the model."""
        model, batcher, busy = await hold(make_batcher, max_batch_size=4)
        late = spawn(batcher, 1, timeout_s=0.01)
        patient = spawn(batcher, 2)
        await asyncio.sleep(0.05)  # past the late request's deadline, not the patient one's
        model.gate.open()
        async with asyncio.timeout(10):
            with pytest.raises(RequestTimeout):
                await late
            assert (await patient).value == 20
            assert (await busy).value == 0
        assert model.batches == [[0], [2]]

    async def test_caller_waits_no_longer_than_its_deadline(
        self, make_batcher: BatcherFactory
    ) -> None:
        """A caller gets RequestTimeout at its deadline even while the model is still busy."""
        model, batcher, busy = await hold(make_batcher, max_batch_size=4)
        async with asyncio.timeout(10):
            with pytest.raises(RequestTimeout, match="took too long"):
                await batcher.submit(1, timeout_s=0.01)
        assert not busy.done()  # the model really was still holding batch [0]
        model.gate.open()
        assert (await busy).value == 0
        assert model.batches == [[0]]

    async def test_full_queue_refuses_at_once(self, make_batcher: BatcherFactory) -> None:
        """With max_pending requests queued, the next submit raises Overloaded without waiting."""
        model, batcher, busy = await hold(make_batcher, max_batch_size=4, max_pending=2)
        queued = [spawn(batcher, 1), spawn(batcher, 2)]
        await settle()
        assert batcher.depth == 3
        with pytest.raises(Overloaded, match="try again"):
            await batcher.submit(3, LONG_S)
        model.gate.open()
        async with asyncio.timeout(10):
            assert [(await t).value for t in [busy, *queued]] == [0, 10, 20]
        assert batcher.depth == 0


class TestShutdown:
    async def test_close_drains_queued_work(self, make_batcher: BatcherFactory) -> None:
        """Closing refuses new requests but answers those already queued."""
        model, batcher, busy = await hold(make_batcher, max_batch_size=2)
        queued = [spawn(batcher, i) for i in (1, 2, 3)]
        await settle()
        closing = asyncio.create_task(batcher.close(drain_timeout_s=LONG_S))
        await settle()
        with pytest.raises(ShuttingDown):
            await batcher.submit(4, LONG_S)
        model.gate.open()
        async with asyncio.timeout(10):
            await closing
        assert [t.result().value for t in [busy, *queued]] == [0, 10, 20, 30]
        assert model.batches == [[0], [1, 2], [3]]

    async def test_close_fails_leftovers_after_the_bound(
        self, make_batcher: BatcherFactory
    ) -> None:
        """Work not done within the drain bound fails with ShuttingDown; no task is left behind."""
        model, batcher, busy = await hold(make_batcher, max_batch_size=1)
        queued = [spawn(batcher, i) for i in (1, 2)]
        await settle()
        async with asyncio.timeout(10):
            await batcher.close(drain_timeout_s=0.05)
            outcomes = await asyncio.gather(busy, *queued, return_exceptions=True)
        model.gate.open()
        assert [type(o) for o in outcomes] == [ShuttingDown] * 3
        assert model.batches == [[0]]
        assert batcher.depth == 0
        leftovers = [t for t in asyncio.all_tasks() if t.get_name() == "deepguard-batcher"]
        assert all(t.done() for t in leftovers)

    async def test_close_mid_assembly_answers_the_batch_being_built(
        self, make_batcher: BatcherFactory
    ) -> None:
        """A request taken off the queue while a batch was filling is not lost at close."""
        model = TimesTen()
        batcher = make_batcher(model, max_batch_size=10, max_wait_s=60.0)
        alone = spawn(batcher, 5)
        await settle()  # taken off the queue; the batch waits up to a minute for company
        async with asyncio.timeout(10):
            await batcher.close(drain_timeout_s=0.05)
            with pytest.raises(ShuttingDown):
                await alone
        assert model.batches == []

    async def test_submit_before_start_is_refused(self) -> None:
        """A batcher that is not running refuses work instead of queueing it forever."""
        batcher: MicroBatcher[int, int] = MicroBatcher(
            TimesTen(), max_batch_size=1, max_wait_s=0, max_pending=1
        )
        with pytest.raises(ShuttingDown):
            await batcher.submit(1, LONG_S)


class TestTimings:
    async def test_queue_and_model_time_are_measured_apart(
        self, make_batcher: BatcherFactory
    ) -> None:
        """Time held in the model counts as model_ms for its batch and queue_ms for those behind."""
        held_s = 0.2
        model, batcher, first = await hold(make_batcher, 1, max_batch_size=1)
        second = spawn(batcher, 2)
        await asyncio.sleep(held_s)
        model.gate.open()
        async with asyncio.timeout(10):
            a, b = await first, await second
        floor_ms = held_s * 1000 - 1  # the loop may wake a timer up to its clock resolution early
        assert a.model_ms >= floor_ms  # the gate was shut during the whole of held_s
        assert b.queue_ms >= floor_ms  # request 2 queued behind it all that time
        assert a.queue_ms < a.model_ms
        assert b.model_ms < b.queue_ms
