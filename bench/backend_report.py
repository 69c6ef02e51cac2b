"""Markdown tables and the throughput plot for `bench.bench_backends`."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np

from bench import near_dup

# (phase, minimum ratio to the card's loop, maximum median |p - p_card|) from issue 6.
TARGETS = (("torch exact", 1.2, None), ("onnx exact", 1.6, None), ("onnx-int8 fast", 3.0, 0.01))


def queued(one: dict[str, Any], in_flight: int) -> dict[str, Any]:
    """The card's loop with `in_flight` requests sent at once: each waits for those before it."""
    latencies = one["latencies_ms"]
    waits: list[float] = []
    for start in range(0, len(latencies), in_flight):
        waits += itertools.accumulate(latencies[start : start + in_flight])
    return {**one, "latencies_ms": waits}


def _rate(run: dict[str, Any]) -> float:
    return float(run["images"] / run["seconds"])


def _deviation(card: dict[str, Any], run: dict[str, Any]) -> tuple[float, float]:
    base, other = card["probabilities"], run["probabilities"]
    diffs = np.abs([other[name] - base[name] for name in base])
    return float(np.median(diffs)), float(diffs.max())


def report(
    results: dict[str, Any], variants: dict[str, Any], duplicates: dict[str, Any]
) -> list[str]:
    card = results["card"]
    lines = [
        f"ONNX export from scratch (fp32 export + int8 quantization + load): "
        f"{results['export']['load_s']:.1f} s, once; later starts load from the cache.",
        "",
        "| phase | load s | c1 img/s | c1 p50 ms | c1 p95 ms | c16 img/s | c16 p50 ms "
        "| c16 p95 ms | x card c1 | x card c16 | median \\|Δp\\| | max \\|Δp\\| | peak RSS MB "
        "| others' CPU % |",
        "|---|" + "---:|" * 13,
    ]
    for label, result in results.items():
        if label == "export":
            continue
        one, many = result["runs"]["1"], result["runs"]["16"]
        median, worst = _deviation(card["runs"]["1"], one)
        cells = [
            label,
            f"{result['load_s']:.1f}",
            *_latency_cells(one),
            *_latency_cells(many),
            f"{_rate(one) / _rate(card['runs']['1']):.2f}",
            f"{_rate(many) / _rate(card['runs']['16']):.2f}",
            f"{median:.1e}",
            f"{worst:.1e}",
            f"{result['peak_rss_mb']:.0f}",
            f"{100 * result['others_share']:.0f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "c1 / c16: 1 or 16 requests in flight (the card's loop serves one at a time, so at 16 "
        "its latency is the wait in line). x card: images/s over the card's at the same "
        "concurrency. |Δp|: fake probability against the card's, per file. Load: from the "
        "local directory (ONNX: from the export cache). Peak RSS: whole child process.",
        "",
        *_targets(results),
    ]
    if variants:
        lines += ["", "Thread variants:", "", *_variants(results, variants)]
    lines += [
        "",
        "Near-duplicate hash (pHash of the model input):",
        "",
        *near_dup.table(duplicates),
    ]
    return lines


def _latency_cells(run: dict[str, Any]) -> list[str]:
    latencies = run["latencies_ms"]
    return [
        f"{_rate(run):.2f}",
        f"{np.percentile(latencies, 50):.0f}",
        f"{np.percentile(latencies, 95):.0f}",
    ]


def _targets(results: dict[str, Any]) -> list[str]:
    card = results["card"]["runs"]
    lines = []
    for label, ratio, deviation in TARGETS:
        runs = results[label]["runs"]
        got = {c: _rate(runs[c]) / _rate(card[c]) for c in ("1", "16")}
        median, _ = _deviation(card["1"], runs["1"])
        met = all(value >= ratio for value in got.values())
        if deviation is not None:
            met = met and median <= deviation
        detail = f"; median |Δp| {median:.4f} (target <= {deviation})" if deviation else ""
        lines.append(
            f"- {label}: **{got['1']:.2f}x** at 1 in flight, **{got['16']:.2f}x** at 16 "
            f"(target >= {ratio}x{detail}): {'met' if met else 'NOT met'}"
        )
    return lines


def _variants(results: dict[str, Any], variants: dict[str, Any]) -> list[str]:
    lines = [
        "| variant | c1 img/s | c1 p50 ms | c1 p95 ms | c16 img/s | c16 p50 ms | c16 p95 ms "
        "| default c1 / c16 img/s | others' CPU % |",
        "|---|" + "---:|" * 8,
    ]
    for label, result in variants.items():
        default = results["onnx-int8 fast" if label.startswith("onnx-int8") else "torch exact"]
        rates = "/".join(f"{_rate(default['runs'][c]):.2f}" for c in ("1", "16"))
        cells = [
            label,
            *_latency_cells(result["runs"]["1"]),
            *_latency_cells(result["runs"]["16"]),
            rates,
            f"{100 * result['others_share']:.0f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def plot(results: dict[str, Any], path: Path) -> None:
    """Images/s at 1 and 16 in flight, one line per phase; a small PNG for the docs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6.4, 4.0), dpi=80)
    colours: dict[str, str] = {}
    for label, result in results.items():
        if label == "export":
            continue
        rates = [_rate(result["runs"][str(c)]) for c in (1, 16)]
        backend = label.split()[0]
        colour = colours.setdefault(backend, f"C{len(colours)}")  # exact and fast alike
        axes.plot(
            [1, 16],
            rates,
            "--" if label.endswith("fast") else "-",
            color=colour,
            marker="o",
            label=label,
            lw=2.5 if label == "card" else 1.2,
        )
    axes.set_xscale("log", base=2)
    axes.set_xticks([1, 16], ["1", "16"])
    axes.set_xlabel("requests in flight")
    axes.set_ylabel("images/s")
    axes.set_title("DeepGuard backends vs the model card's loop (2 cores)")
    axes.grid(alpha=0.3)
    axes.legend(fontsize=7, ncol=2)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)
