"""Run one phase in a child process, measured from outside: its peak RSS and CPU from the
kernel (`os.wait4`), and how busy the rest of the machine was meanwhile (`/proc/stat`).

Measuring from outside gives a phase that is not ours to change (`deepguard check`) the same
figures as the phases that report their own. The machine is shared, so each phase records
the CPU time other processes took while it ran; a figure taken beside a busy neighbour reads
differently from one taken alone.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_USER_HZ = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, slots=True)
class Child:
    code: int
    out: str
    err: str
    wall_s: float
    peak_rss_mb: float
    cpu_s: float  # the child's own user + system time
    others_share: float  # of all cores' time during the run, taken by other processes


def run_child(argv: list[str], cwd: Path, env: dict[str, str]) -> Child:
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        busy_before = machine_busy_s()
        started = time.perf_counter()
        process = subprocess.Popen(
            argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err
        )
        try:
            _, status, usage = os.wait4(process.pid, 0)
        except BaseException:
            process.kill()
            process.wait()
            raise
        wall = time.perf_counter() - started
        busy = machine_busy_s() - busy_before
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        cpu = usage.ru_utime + usage.ru_stime
        cores = os.cpu_count() or 1
        return Child(
            code=process.returncode,
            out=out.read().decode(errors="replace"),
            err=err.read().decode(errors="replace"),
            wall_s=wall,
            peak_rss_mb=usage.ru_maxrss / 1024,  # Linux reports kilobytes
            cpu_s=cpu,
            others_share=max(0.0, busy - cpu) / (wall * cores),
        )


def machine_busy_s() -> float:
    """Non-idle CPU seconds of all cores since boot (user, nice, system, irq, softirq, steal)."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()
    except (OSError, IndexError):
        return 0.0
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[1:9])
    return (user + nice + system + irq + softirq + steal) / _USER_HZ


def child_env() -> dict[str, str]:
    """Defaults for every DeepGuard setting, quiet transformers, the repository importable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEEPGUARD_")}
    env["TRANSFORMERS_VERBOSITY"] = "error"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env
