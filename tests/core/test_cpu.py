"""CPU features read from the kernel decide the int8 range and whether bf16 may run."""

from __future__ import annotations

from pathlib import Path

from core.backends.cpu import CpuFeatures, cpu_features, int8_reduce_range

CPUINFO = """processor\t: 0
vendor_id\t: AuthenticAMD
flags\t\t: fpu sse2 avx2 fma avx512f avx512_vnni avx512_bf16

processor\t: 1
flags\t\t: fpu sse2 avx2 fma avx512f avx512_vnni avx512_bf16
"""


def test_flags_are_read_from_cpuinfo(tmp_path: Path) -> None:
    path = tmp_path / "cpuinfo"
    path.write_text(CPUINFO)
    cpu = cpu_features(path)
    assert cpu.int8_dot
    assert cpu.native_bf16
    assert cpu.describe() == "avx2, avx512f, avx512_vnni, avx512_bf16"


def test_arm_features_line_is_read(tmp_path: Path) -> None:
    """ARM kernels call the line `Features`; none of the x86 flags means neither fast path."""
    path = tmp_path / "cpuinfo"
    path.write_text("processor\t: 0\nFeatures\t: fp asimd bf16 i8mm\n")
    cpu = cpu_features(path)
    assert cpu.flags == frozenset({"fp", "asimd", "bf16", "i8mm"})
    assert not cpu.int8_dot
    assert not cpu.native_bf16


def test_a_missing_or_silent_cpuinfo_assumes_nothing(tmp_path: Path) -> None:
    assert cpu_features(tmp_path / "absent") == CpuFeatures(frozenset())
    silent = tmp_path / "cpuinfo"
    silent.write_text("processor\t: 0\n")
    assert cpu_features(silent).describe().startswith("none of avx2")


def test_int8_range_is_reduced_only_without_int8_dot_products() -> None:
    assert int8_reduce_range(CpuFeatures(frozenset({"avx2"})))
    assert not int8_reduce_range(CpuFeatures(frozenset({"avx2", "avx_vnni"})))
    assert not int8_reduce_range(CpuFeatures(frozenset({"amx_int8"})))
