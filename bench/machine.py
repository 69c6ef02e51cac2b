"""The machine a run was measured on: figures mean little without it."""

from __future__ import annotations

import os
import platform
from pathlib import Path

_THREAD_ENV = ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "MKL_NUM_THREADS")
_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "amx_tile")


def describe() -> list[str]:
    """CPU, cores and library versions: figures mean little without them."""
    info = _cpuinfo()
    flags = set(info.get("flags", "").split())
    cores = len(os.sched_getaffinity(0))
    return [
        f"- CPU: {info.get('model name', platform.processor() or 'unknown')}"
        f" ({cores} usable cores; {', '.join(f for f in _FLAGS if f in flags) or 'no'}"
        " of avx2/fma/avx512/vnni/amx)",
        f"- memory: {_mem_total_gb():.1f} GB; Python {platform.python_version()}"
        f" on {platform.system()} {platform.release()}",
        "- " + ", ".join(f"{name} {version}" for name, version in _versions().items()),
        "- threading environment: "
        + (", ".join(f"{k}={os.environ[k]}" for k in _THREAD_ENV if k in os.environ) or "unset"),
    ]


def _cpuinfo() -> dict[str, str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return {}
    info: dict[str, str] = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        info.setdefault(key.strip(), value.strip())
    return info


def _mem_total_gb() -> float:
    try:
        first = Path("/proc/meminfo").read_text().splitlines()[0]
    except (OSError, IndexError):
        return float("nan")
    return int(first.split()[1]) / 2**20


def _versions() -> dict[str, str]:
    import numpy
    import PIL
    import torch
    import transformers

    return {
        "torch": f"{torch.__version__} (cpu capability {torch.backends.cpu.get_cpu_capability()})",
        "transformers": transformers.__version__,
        "Pillow": PIL.__version__,
        "numpy": numpy.__version__,
    }
