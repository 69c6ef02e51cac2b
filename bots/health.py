"""A heartbeat file for container health checks: the bots have no port to probe.

`deepguard run` touches the file while its event loop is alive; `deepguard health` (Docker's
HEALTHCHECK) passes while the file is fresh, so a wedged loop is restarted.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

INTERVAL_S = 15.0
MAX_AGE_S = 60.0


async def heartbeat(path: Path, interval_s: float = INTERVAL_S) -> None:
    """Touch `path` every `interval_s` until cancelled, then remove it."""
    try:
        while True:
            await asyncio.to_thread(path.touch)
            await asyncio.sleep(interval_s)
    finally:
        await asyncio.to_thread(path.unlink, missing_ok=True)


def is_alive(path: Path, max_age_s: float = MAX_AGE_S, now: float | None = None) -> bool:
    """True while the heartbeat file was touched within `max_age_s`."""
    try:
        age = (time.time() if now is None else now) - path.stat().st_mtime
    except FileNotFoundError:
        return False
    return age <= max_age_s
