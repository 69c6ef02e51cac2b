"""Forget what moderation keeps once it is old enough: a purge at start, then every interval."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from core.moderation.types import ModerationStore

log = logging.getLogger(__name__)


async def purge_regularly(
    store: ModerationStore,
    interval_s: float,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> None:
    """Purge now and every `interval_s` until cancelled; a failed purge waits for the next turn."""
    while True:
        try:
            gone = await store.purge(clock())
        except Exception:
            log.exception("purging expired moderation data failed; trying again later")
        else:
            if gone:
                log.info("purged %d expired moderation rows", gone)
        await asyncio.sleep(interval_s)
