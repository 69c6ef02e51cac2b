"""Turn the phases' results into Markdown that can be pasted into docs/benchmarks.md."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bench.child import Child

TARGET_RATIO = 1.2
LEGEND = (
    "images/s and latency: steady state, after the model load and one warm-up image; "
    "latency is per request, from `judge()` (or `Image.open`) to its probability. "
    "Process figures are the whole child process (start-up, imports, load); peak RSS and "
    "CPU come from `wait4`. others' CPU %: share of all cores' time that other processes "
    "took while the phase ran (/proc/stat less the phase's own CPU).",
)


@dataclass(slots=True)
class PhaseRun:
    """One child process: what it printed, plus what the parent saw from outside."""

    name: str
    child: Child
    result: dict[str, Any] = field(default_factory=dict)
    skipped: str = ""

    @property
    def wall_s(self) -> float:
        return self.child.wall_s

    def outside(self) -> dict[str, float]:
        return {
            "wall_s": self.child.wall_s,
            "peak_rss_mb": self.child.peak_rss_mb,
            "cpu_s": self.child.cpu_s,
            "others_share": self.child.others_share,
        }

    @property
    def images_per_s(self) -> float | None:
        if "seconds" not in self.result:
            return None
        return float(self.result["images"] / self.result["seconds"])

    @property
    def end_to_end_per_s(self) -> float | None:
        images = self.result.get("images")
        return images / self.wall_s if images else None

    def latency_ms(self, percentile: float) -> float | None:
        latencies = self.result.get("latencies_ms")
        return float(np.percentile(latencies, percentile)) if latencies else None


def table(runs: list[PhaseRun]) -> list[str]:
    """One row per phase; steady-state figures exclude start-up and model load."""
    lines = [
        "| phase | images | torch threads | model load s | images/s | p50 ms | p95 ms "
        "| process wall s | images/s incl. start-up | peak RSS MB | process CPU s "
        "| others' CPU % |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for run in runs:
        if run.skipped:
            lines.append(f"| {run.name} | skipped: {run.skipped} |||||||||||")
            continue
        r = run.result
        cells = [
            run.name,
            str(r.get("images", "")),
            str(r.get("torch_threads", "")),
            _num(r.get("load_s"), 1),
            _num(run.images_per_s, 2),
            _num(run.latency_ms(50), 0),
            _num(run.latency_ms(95), 0),
            _num(run.wall_s, 1),
            _num(run.end_to_end_per_s, 2),
            _num(run.child.peak_rss_mb, 0),
            _num(run.child.cpu_s, 1),
            _num(100 * run.child.others_share, 0),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def details(runs: list[PhaseRun]) -> list[str]:
    """What each phase actually ran: the card's processor class, the detector's batches."""
    lines = []
    for run in runs:
        r = run.result
        if "processor" in r:
            lines.append(f"- {run.name}: `AutoImageProcessor` gave `{r['processor']}`")
        if "batch_sizes" in r:
            fast = "on" if r["fast_preprocessing"] else "off"
            lines.append(
                f"- {run.name}: resize-first preprocessing {fast}, "
                f"batches by size {r['batch_sizes']} (warm-up included)"
            )
    return lines


def interference(runs: list[PhaseRun], limit: float = 0.10) -> list[str]:
    """Warn when other processes took a real share of the machine during any phase."""
    busy = [
        f"{r.name} {100 * r.child.others_share:.0f} %"
        for r in runs
        if r.child.others_share > limit
    ]
    if not busy:
        return []
    return [
        f"**Warning: the machine was shared** (other processes' CPU: {', '.join(busy)}); "
        "a 2-thread model slows down far more than that share when a core is taken, so "
        "these figures are pessimistic and not comparable between phases."
    ]


def ratios(card: PhaseRun, others: list[PhaseRun]) -> list[str]:
    """Each path against the card, and the largest probability difference from the card's."""
    lines = []
    for run in others:
        if run.skipped or not run.result.get("probabilities"):
            continue
        steady, base = run.images_per_s, card.images_per_s
        if steady is not None and base:
            ratio, basis = steady / base, "steady state"
        else:
            ratio, basis = _ratio(run.end_to_end_per_s, card.end_to_end_per_s), "incl. start-up"
        verdict = "meets" if ratio >= TARGET_RATIO else "misses"
        diff = max_difference(card.result["probabilities"], run.result["probabilities"])
        lines.append(
            f"- {run.name} / card ({basis}): **{ratio:.2f}x** ({verdict} the {TARGET_RATIO}x "
            f"target); max |p_card - p| over {len(run.result['probabilities'])} files: {diff:.2e}"
        )
    return lines


def max_difference(card: Mapping[str, float], other: Mapping[str, float]) -> float:
    missing = set(card) ^ set(other)
    if missing:
        raise ValueError(f"phases judged different files: {sorted(missing)[:3]}")
    return max(abs(card[name] - other[name]) for name in card)


def breakdown(result: Mapping[str, Any]) -> list[str]:
    lines = ["| stage (median per image) | ms |", "|---|---:|"]
    lines += [f"| {name} | {ms:.0f} |" for name, ms in result["stages_ms"].items()]
    lines.append(f"\nmax |card tensor - core tensor|: {result['tensor_max_diff']:.2e}")
    return lines


def _ratio(value: float | None, base: float | None) -> float:
    return value / base if value is not None and base else float("nan")


def _num(value: float | None, digits: int) -> str:
    return "" if value is None else f"{value:.{digits}f}"
