"""A `Judge` that sends images to a remote inference API (`deepguard serve` or `serve --ray`).

Bots set `DEEPGUARD_CORE_URL` and get this instead of a local `Detector`; adapters cannot
tell the two apart: answers come back as the same frozen `Judgement` and failures as the same
`DeepGuardError` subclasses. A busy (429) or unavailable (503) API and a refused connection are
retried with growing, jittered waits (honouring `Retry-After`, each wait capped); judging is a
pure function of the bytes, so a retry can never do harm. One pooled session serves every call.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import random
from types import TracebackType
from typing import Self

import aiohttp

from api.wire import CLASSIFY_PATH, Unauthorized, error_for_answer, judgement_from_json
from config import RemoteSettings
from core.errors import DeepGuardError, ModelError, RequestTimeout, ShuttingDown
from core.result import Judgement

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 503})
FIRST_WAIT_S = 0.1


class Unreachable(ShuttingDown):
    """Every attempt to connect failed: the API is down or restarting."""

    default_message = "the image service cannot be reached; please try again in a minute"


class RemoteDetector:
    """Judges images through `POST {url}/v1/classify`; use as an async context manager."""

    def __init__(self, url: str, settings: RemoteSettings, *, token: str | None = None) -> None:
        self._endpoint = url.rstrip("/") + CLASSIFY_PATH
        self._settings = settings
        self._headers = {"Content-Type": "application/octet-stream", "Accept": "application/json"}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        self._session: aiohttp.ClientSession | None = None
        self._in_flight = 0

    async def __aenter__(self) -> Self:
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self._settings.connections),
            timeout=aiohttp.ClientTimeout(
                total=self._settings.timeout_s, connect=self._settings.connect_timeout_s
            ),
            raise_for_status=False,
        )
        log.info("judging images remotely at %s", self._endpoint)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def depth(self) -> int:
        """Requests this process is waiting on: the remote queue is not ours to see."""
        return self._in_flight

    async def judge(self, data: bytes) -> Judgement:
        """Judge one image remotely; raises the `DeepGuardError` a local Detector would."""
        self._in_flight += 1
        try:
            judgement = await self._judge(data)
        finally:
            self._in_flight -= 1
        if judgement.sha256 != hashlib.sha256(data).hexdigest():
            log.error("%s answered for other bytes than were sent", self._endpoint)
            raise ModelError()
        return judgement

    async def _judge(self, data: bytes) -> Judgement:
        attempts = self._settings.retries + 1
        for attempt in range(attempts):
            last = attempt == attempts - 1
            try:
                status, retry_after, body = await self._post(data)
            except aiohttp.ClientConnectionError as exc:
                if last:
                    log.warning(
                        "%s unreachable after %d attempts: %s", self._endpoint, attempts, exc
                    )
                    raise Unreachable() from exc
                await asyncio.sleep(self._wait(attempt, None))
                continue
            if status == 200:
                return self._parse(body)
            if status in RETRY_STATUSES and not last:
                await asyncio.sleep(self._wait(attempt, retry_after))
                continue
            raise self._error(status, body)
        raise AssertionError("the retry loop always returns or raises; this is a bug")

    async def _post(self, data: bytes) -> tuple[int, str | None, bytes]:
        if self._session is None:
            raise RuntimeError("RemoteDetector used outside `async with`; this is a bug")
        try:
            async with self._session.post(
                self._endpoint, data=data, headers=self._headers
            ) as response:
                return response.status, response.headers.get("Retry-After"), await response.read()
        except TimeoutError:
            raise RequestTimeout() from None

    def _wait(self, attempt: int, retry_after: str | None) -> float:
        """Exponential back-off with jitter, or the server's Retry-After; never over the cap."""
        wait = FIRST_WAIT_S * 2.0**attempt * random.uniform(0.5, 1.0)
        if retry_after is not None:
            # An HTTP date is rare and ignored: the cap below bounds the wait anyway.
            with contextlib.suppress(ValueError):
                wait = max(wait, float(retry_after))
        return min(wait, self._settings.max_retry_wait_s)

    def _parse(self, body: bytes) -> Judgement:
        try:
            return judgement_from_json(body)
        except ValueError as exc:
            log.error("%s sent an answer that is not a judgement: %s", self._endpoint, exc)
            raise ModelError() from exc

    def _error(self, status: int, body: bytes) -> DeepGuardError:
        try:
            parsed: object = json.loads(body)
        except ValueError:
            parsed = None
        error = error_for_answer(status, parsed)
        if isinstance(error, Unauthorized):
            log.error("%s refused DEEPGUARD_CORE_TOKEN (HTTP %d)", self._endpoint, status)
        elif isinstance(error, ModelError):
            log.error("%s failed: HTTP %d %r", self._endpoint, status, body[:200])
        return error
