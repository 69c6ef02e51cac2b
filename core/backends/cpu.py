"""What this CPU can do fast: int8 dot products (VNNI, AMX) and native bf16 (AVX-512-BF16, AMX).

The choices that depend on it: the int8 export's quantization range (7-bit weights only where
the CPU lacks VNNI, whose 16-bit multiply-add would otherwise saturate) and whether the
`torch-bf16` backend may run (without native bf16 it is emulated, ~10x slower than float32).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

CPUINFO = Path("/proc/cpuinfo")
INT8_DOT_FLAGS = frozenset({"avx512_vnni", "avx_vnni", "amx_int8"})
BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})
# Named in the start-up log, so an operator sees why a choice was made.
REPORTED_FLAGS = ("avx2", "avx512f", *sorted(INT8_DOT_FLAGS), *sorted(BF16_FLAGS), "amx_tile")


@dataclass(frozen=True, slots=True)
class CpuFeatures:
    """The instruction-set flags the kernel reports for this CPU."""

    flags: frozenset[str]

    @property
    def int8_dot(self) -> bool:
        """Native int8 dot products, so full-range int8 weights do not saturate."""
        return bool(self.flags & INT8_DOT_FLAGS)

    @property
    def native_bf16(self) -> bool:
        return bool(self.flags & BF16_FLAGS)

    def describe(self) -> str:
        found = [flag for flag in REPORTED_FLAGS if flag in self.flags]
        return ", ".join(found) or "none of " + ", ".join(REPORTED_FLAGS)


def cpu_features(cpuinfo: Path = CPUINFO) -> CpuFeatures:
    """This CPU's flags (Linux); none where the kernel does not say, so nothing is assumed."""
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return CpuFeatures(frozenset())
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return CpuFeatures(frozenset(value.split()))
    return CpuFeatures(frozenset())


def int8_reduce_range(cpu: CpuFeatures) -> bool:
    """7-bit weights where the CPU lacks int8 dot products; full range where it has them.

    Measured on the base model: with VNNI, full range moves probabilities by a median 0.003
    against float32, 7 bits by 0.012 for the same speed; without VNNI, full range saturates and
    moves them by ~0.03 where 7 bits stay near 0.005 (docs/benchmarks.md).
    """
    return not cpu.int8_dot
