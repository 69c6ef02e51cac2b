"""Load `deepguard serve` (or `serve --ray`) on loopback; report requests/s and p50/p95/p99.

.venv/bin/python -m bench.load_serve --url http://127.0.0.1:8000 [--requests N] [--concurrency C]
.venv/bin/python -m bench.load_serve --start serve --model DIR        # starts `deepguard serve`
.venv/bin/python -m bench.load_serve --start ray --replicas 2 --model DIR

Each request sends a different random-noise JPEG (no cache hits). Busy answers (429, 503) are
counted apart from errors; latencies are of answered requests. The run is bounded by
`--requests` and `--max-seconds`, and only loopback addresses are loaded.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import ipaddress
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from urllib.parse import urlsplit

import aiohttp
import numpy as np
from PIL import Image


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bench.load_serve", description=__doc__)
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="a running API")
    parser.add_argument("--start", choices=["serve", "ray"], help="start one here first")
    parser.add_argument("--model", help="model for --start (hub id or directory)")
    parser.add_argument("--replicas", type=int, default=1, help="Ray replicas for --start ray")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--max-seconds", type=float, default=120.0, help="stop sending after")
    parser.add_argument("--size", type=int, default=384, help="image side in pixels")
    parser.add_argument("--token", default=os.environ.get("DEEPGUARD_CORE_TOKEN"))
    parser.add_argument("--json", action="store_true", help="print one JSON line")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    host = urlsplit(args.url).hostname or ""
    if not args.start and not _loopback(host):
        print("bench.load_serve only loads loopback addresses", file=sys.stderr)
        return 2
    images = [_noise_jpeg(seed, args.size) for seed in range(args.requests)]
    with _started(args) as url:
        result = asyncio.run(_load(url, images, args))
    result.update(start=args.start or "external", replicas=args.replicas if args.start else None)
    print(json.dumps(result) if args.json else _table(result))
    return 0


def _loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _noise_jpeg(seed: int, size: int) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "JPEG", quality=90)
    return out.getvalue()


@contextlib.contextmanager
def _started(args: argparse.Namespace) -> Iterator[str]:
    """Start `deepguard serve [--ray]` on a free loopback port, or use --url as it is."""
    if not args.start:
        yield args.url
        return
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = dict(os.environ)  # the caller's DEEPGUARD_* settings apply, but host and port are ours
    env.update(DEEPGUARD_SERVE__HOST="127.0.0.1", DEEPGUARD_SERVE__PORT=str(port))
    if args.model:
        env["DEEPGUARD_MODEL__NAME"] = args.model
    command = [sys.executable, "-m", "bots.cli", "serve"]
    if args.start == "ray":
        cpus = (os.cpu_count() or 1) / args.replicas  # the cores, shared out between replicas
        env.update(
            DEEPGUARD_SERVE__RAY_MIN_REPLICAS=str(args.replicas),
            DEEPGUARD_SERVE__RAY_MAX_REPLICAS=str(args.replicas),
            DEEPGUARD_SERVE__RAY_CPUS_PER_REPLICA=str(cpus),
            DEEPGUARD_MODEL__THREADS=str(max(1, int(cpus))),
        )
        command.append("--ray")
    process = subprocess.Popen(command, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        asyncio.run(_until_ready(url, process))
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def _until_ready(url: str, process: subprocess.Popen[bytes]) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(1800):
            if process.poll() is not None:
                raise SystemExit(f"the server exited with {process.returncode}")
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(f"{url}/readyz") as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.1)
    raise SystemExit("the server did not become ready in 180 s")


async def _load(url: str, images: list[bytes], args: argparse.Namespace) -> dict[str, object]:
    headers = {"Content-Type": "application/octet-stream"}
    if args.token:
        headers["Authorization"] = f"Bearer {args.token}"
    outcomes: Counter[str] = Counter()
    latencies: list[float] = []
    queue = list(reversed(images))
    deadline = time.perf_counter() + args.max_seconds
    connector = aiohttp.TCPConnector(limit=args.concurrency)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:

        async def worker() -> None:
            while queue and time.perf_counter() < deadline:
                image = queue.pop()
                sent = time.perf_counter()
                try:
                    async with session.post(f"{url}/v1/classify", data=image) as response:
                        await response.read()
                        status = response.status
                except aiohttp.ClientError:
                    status = 0
                if status == 200:
                    latencies.append(time.perf_counter() - sent)
                outcomes[_outcome(status)] += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(args.concurrency)))
        elapsed = time.perf_counter() - started
    return _summary(outcomes, latencies, elapsed, args.concurrency)


def _outcome(status: int) -> str:
    if status == 200:
        return "ok"
    return "busy" if status in (429, 503) else f"error_{status or 'connection'}"


def _summary(
    outcomes: Counter[str], latencies: list[float], elapsed: float, concurrency: int
) -> dict[str, object]:
    ms = np.array(latencies) * 1000 if latencies else np.array([np.nan])
    p50, p95, p99 = (round(float(np.percentile(ms, q)), 1) for q in (50, 95, 99))
    return {
        "requests": sum(outcomes.values()),
        "outcomes": dict(outcomes),
        "concurrency": concurrency,
        "seconds": round(elapsed, 2),
        "requests_per_s": round(outcomes["ok"] / elapsed, 2) if elapsed else 0.0,
        "p50_ms": p50,
        "p95_ms": p95,
        "p99_ms": p99,
    }


def _table(result: dict[str, object]) -> str:
    return "\n".join(f"{name:>15}: {value}" for name, value in result.items())


if __name__ == "__main__":
    sys.exit(main())
