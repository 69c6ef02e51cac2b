"""A `Judge` that sends images to a remote inference API (`deepguard serve` or `serve --ray`).

Bots set `DEEPGUARD_CORE_URL` and get this instead of a local `Detector`; adapters cannot
tell the two apart: answers come back as the same frozen `Judgement` and failures as the same
`DeepGuardError` subclasses. A busy (429) or unavailable (503) API and a refused connection are
retried with growing, jittered waits (honouring `Retry-After`, each wait capped); judging is a
pure function of the bytes, so a retry can never do harm. One pooled session serves every call.

`explain` asks `POST {url}/v1/explain` for the JSON map (`Accept: application/json`); when a
legend is asked for, the picture is painted here from that map and the bytes the caller already
holds (`core.heatmap`), in the bot's own words: one model run, and the server's legend (the API's
PNG answer) never stands in for the bot's. The map is laid over the whole picture, as the
SigLIP models (which resize, never crop) are shown it; for a clip, over the frame the answer
names, decoded here as the server decoded it (`core.decoding.clip_frame`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import random
from dataclasses import replace
from types import TracebackType
from typing import Self

import aiohttp

from api.refusals import Unauthorized, error_for_answer
from api.wire import (
    CLASSIFY_PATH,
    EXPLAIN_PATH,
    METHOD_HEADER,
    ExplanationAnswer,
    judgement_from_json,
)
from config import ImageLimits, RemoteSettings, VideoSettings
from core.decoding import clip_frame
from core.errors import N_, DeepGuardError, ModelError, RequestTimeout, ShuttingDown
from core.explain import Explanation, Method
from core.heatmap import explanation_png
from core.images import decode_image
from core.result import Judgement

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 503})
FIRST_WAIT_S = 0.1


class Unreachable(ShuttingDown):
    """Every attempt to connect failed: the API is down or restarting."""

    default_message = N_("the image service cannot be reached; please try again in a minute")


class RemoteDetector:
    """Judges images through `POST {url}/v1/classify`; use as an async context manager."""

    def __init__(
        self,
        url: str,
        settings: RemoteSettings,
        *,
        token: str | None = None,
        limits: ImageLimits | None = None,
        video: VideoSettings | None = None,
    ) -> None:
        self._endpoint = url.rstrip("/") + CLASSIFY_PATH
        self._explain_endpoint = url.rstrip("/") + EXPLAIN_PATH
        self._settings = settings
        self._limits = limits or ImageLimits()  # for decoding an image to paint its map on
        self._video = video or VideoSettings()  # and a clip's frame
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

    async def explain(self, data: bytes, *, legend: str | None = None) -> Explanation:
        """Explain one image remotely; with `legend`, paint its picture here (see the module)."""
        digest = hashlib.sha256(data).hexdigest()
        self._in_flight += 1
        try:
            status, headers, body = await self._call(self._explain_endpoint, data)
        finally:
            self._in_flight -= 1
        if status != 200:
            raise self._error(status, body)
        try:
            method = Method(headers.get(METHOD_HEADER.lower(), Method.EXACT.value))
            explanation = ExplanationAnswer.model_validate_json(body).explanation(digest, method)
        except ValueError as exc:
            log.error(
                "%s sent an answer that is not an explanation: %s", self._explain_endpoint, exc
            )
            raise ModelError() from exc
        if legend is None:
            return explanation
        png = await asyncio.to_thread(self._paint, data, explanation, legend)
        return replace(explanation, png=png)

    def _paint(self, data: bytes, explanation: Explanation, legend: str) -> bytes:
        if explanation.frame is None:
            picture = decode_image(data, self._limits)
        else:
            picture = clip_frame(data, explanation.frame.index, self._limits, self._video).image
        return explanation_png(picture, explanation.patches, legend)

    async def _judge(self, data: bytes) -> Judgement:
        status, _, body = await self._call(self._endpoint, data)
        if status != 200:
            raise self._error(status, body)
        return self._parse(body)

    async def _call(self, endpoint: str, data: bytes) -> tuple[int, dict[str, str], bytes]:
        """POST `data`, retrying what may be retried; the last answer, whatever its status.

        Header names come back lower-cased."""
        attempts = self._settings.retries + 1
        for attempt in range(attempts):
            last = attempt == attempts - 1
            try:
                status, headers, body = await self._post(endpoint, data)
            except aiohttp.ClientConnectionError as exc:
                if last:
                    log.warning("%s unreachable after %d attempts: %s", endpoint, attempts, exc)
                    raise Unreachable() from exc
                await asyncio.sleep(self._wait(attempt, None))
                continue
            if status in RETRY_STATUSES and not last:
                await asyncio.sleep(self._wait(attempt, headers.get("retry-after")))
                continue
            return status, headers, body
        raise AssertionError("the retry loop always returns or raises; this is a bug")

    async def _post(self, endpoint: str, data: bytes) -> tuple[int, dict[str, str], bytes]:
        if self._session is None:
            raise RuntimeError("RemoteDetector used outside `async with`; this is a bug")
        try:
            async with self._session.post(endpoint, data=data, headers=self._headers) as response:
                headers = {name.lower(): value for name, value in response.headers.items()}
                return response.status, headers, await response.read()
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
