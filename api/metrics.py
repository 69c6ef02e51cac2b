"""Prometheus metrics of `deepguard serve`, in a registry of its own (no process globals).

Two sources: what the HTTP layer sees (answers by outcome, latency, verdicts, queue and model
time of each judgement) and the detector's own `Counters`, read at scrape time, so batches,
cache hits and shared inferences need no second bookkeeping.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from core.result import Judgement
from core.stats import Counters

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)
CORE_HELP = {
    "requests": "Images the detector was asked to judge.",
    "cache_hits": "Judgements answered from the result cache.",
    "shared": "Requests that joined an identical inference already in flight.",
    "invalid": "Uploads refused as too large, unsupported or corrupt.",
    "refused": "Requests turned away because the queue was full.",
    "timeouts": "Requests not answered within the request timeout.",
    "errors": "Requests the model failed on.",
    "shutting_down": "Requests refused or dropped because the service was stopping.",
    "batches": "Batches run through the model.",
}


class Metrics:
    """Everything `GET /metrics` reports; `watch` connects the detector once it is loaded."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.answers = Counter(
            "deepguard_http_requests",
            "Classify requests answered, by outcome (ok or the error code).",
            ["outcome"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "deepguard_http_request_seconds",
            "Time to answer a classify request, upload included.",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.queue_seconds = Histogram(
            "deepguard_queue_seconds",
            "Time a judged image waited for its batch (cache hits excluded).",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.model_seconds = Histogram(
            "deepguard_model_seconds",
            "Time the model took on the batch of a judged image (cache hits excluded).",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.verdicts = Counter(
            "deepguard_verdicts",
            "Judgements answered, by verdict.",
            ["verdict"],
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "deepguard_http_in_flight",
            "Classify requests being read or judged now.",
            registry=self.registry,
        )

    def watch(self, depth: Callable[[], int], counters: Counters | None) -> None:
        """Report the queue depth from `depth` and, when given, the detector's counters."""
        queue = Gauge(
            "deepguard_queue_depth",
            "Requests queued for the model or in it now.",
            registry=self.registry,
        )
        queue.set_function(depth)
        if counters is not None:
            self.registry.register(_CoreCollector(counters))

    def observe(self, outcome: str, seconds: float) -> None:
        self.answers.labels(outcome).inc()
        self.latency.observe(seconds)

    def judged(self, judgement: Judgement) -> None:
        self.verdicts.labels(judgement.verdict.value).inc()
        if not judgement.cached:
            self.queue_seconds.observe(judgement.queue_ms / 1000)
            self.model_seconds.observe(judgement.model_ms / 1000)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _CoreCollector(Collector):
    """Turns a `Counters` snapshot into metrics at each scrape."""

    def __init__(self, counters: Counters) -> None:
        self._counters = counters

    def collect(self) -> Iterator[Metric]:
        snapshot = self._counters.snapshot()
        for name, value in snapshot.items():
            if isinstance(value, int):
                help_text = CORE_HELP.get(name, f"Detector counter {name}.")
                yield CounterMetricFamily(f"deepguard_core_{name}", help_text, value=value)
        sizes = snapshot.get("batch_sizes")
        if isinstance(sizes, dict):
            yield _batch_histogram(sizes)


def _batch_histogram(sizes: dict[int, int]) -> HistogramMetricFamily:
    buckets = [
        (str(bound), sum(n for size, n in sizes.items() if size <= bound))
        for bound in BATCH_BUCKETS
    ]
    buckets.append(("+Inf", sum(sizes.values())))
    return HistogramMetricFamily(
        "deepguard_batch_size",
        "Images per model batch.",
        buckets=buckets,
        sum_value=sum(size * n for size, n in sizes.items()),
    )
