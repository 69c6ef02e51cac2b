"""One Ray Serve replica: the routes of `deepguard serve` over a classifier of its own.

Built by a function so that Ray (and starlette, which comes with it) is imported only when a
deployment is made, and so that `@serve.batch` takes its sizes from the settings.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import time
from collections.abc import Callable
from typing import Any

from api.openapi import HTTP_CODES, document
from api.upload import body_limit, check_declared_size, extract_image
from api.wire import CLASSIFY_PATH, Unauthorized, error_body, judgement_to_json, kind_of
from config import ImageLimits, ModelSettings
from core.backends import load_classifier
from core.decoding import draft_size
from core.errors import DeepGuardError, ModelError
from core.images import check_byte_size, decode_image, refuse_decompression_bombs
from core.preprocess import PixelArray
from core.result import Judgement, Scores, judge_scores

log = logging.getLogger(__name__)

Timed = tuple[Scores, float, float]  # scores, queue ms, model ms


def replica_class(max_batch_size: int, batch_wait_s: float) -> type:
    """The replica class, its batching set to the given size and wait."""
    from ray import serve
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response

    class Replica:
        def __init__(
            self,
            model: ModelSettings,
            limits: ImageLimits,
            token: str | None,
            retry_after_s: int,
        ) -> None:
            refuse_decompression_bombs()
            self._classifier = load_classifier(model)  # the configured backend
            self._draft = draft_size(self._classifier) if limits.fast_decode else None
            self._threshold = model.threshold
            self._limits = limits
            self._expected = f"Bearer {token}".encode() if token else None
            self._retry_after = str(retry_after_s)

        async def __call__(self, request: Request) -> Response:
            path, method = request.url.path, request.method
            routes: dict[str, tuple[str, Callable[[Request], Any]]] = {
                CLASSIFY_PATH: ("POST", self._classify),
                "/healthz": ("GET", self._status),
                "/readyz": ("GET", self._status),
                "/openapi.json": ("GET", self._openapi),
            }
            if path not in routes:
                return _http_error(404)
            allowed, route = routes[path]
            if method != allowed:
                return _http_error(405, {"Allow": allowed})
            response: Response = await route(request)
            return response

        async def _classify(self, request: Request) -> Response:
            try:
                if not self._authorised(request):
                    raise Unauthorized("missing or wrong bearer token")
                judgement = await self._judge(request)
            except DeepGuardError as error:
                kind = kind_of(error)
                headers = {"Retry-After": self._retry_after} if kind.retry else {}
                return JSONResponse(error_body(error), kind.status, headers)
            except Exception:
                log.exception("classify failed")
                return _http_error(500)
            return JSONResponse(judgement_to_json(judgement))

        def _authorised(self, request: Request) -> bool:
            if self._expected is None:
                return True
            given = request.headers.get("authorization", "").encode()
            return hmac.compare_digest(given, self._expected)

        async def _judge(self, request: Request) -> Judgement:
            length = request.headers.get("content-length")
            check_declared_size(int(length) if length and length.isdigit() else None, self._limits)
            body = bytearray()
            async for chunk in request.stream():
                body += chunk
                if len(body) > body_limit(self._limits):
                    check_byte_size(len(body), self._limits)
            content_type = request.headers.get("content-type", "")
            image = extract_image(content_type, bytes(body), self._limits)
            pixels = await asyncio.to_thread(self._prepare, image)
            scores, queue_ms, model_ms = await self._predict((pixels, time.perf_counter()))
            digest = hashlib.sha256(image).hexdigest()
            return judge_scores(scores, self._threshold, digest, queue_ms, model_ms)

        def _prepare(self, image: bytes) -> PixelArray:
            """In a thread; a failing processor is the model's failure, not the user's."""
            decoded = decode_image(image, self._limits, self._draft)
            try:
                return self._classifier.prepare(decoded)
            except Exception as exc:
                log.exception("preparing a %dx%d image for the model failed", *decoded.size)
                raise ModelError() from exc

        # Ray is typed as dynamic (see pyproject), so its decorator is untyped to mypy.
        @serve.batch(max_batch_size=max_batch_size, batch_wait_timeout_s=batch_wait_s)  # type: ignore[untyped-decorator]
        async def _predict(self, items: list[tuple[PixelArray, float]]) -> list[Timed]:
            started = time.perf_counter()
            try:
                scores = await asyncio.to_thread(self._classifier.predict, [p for p, _ in items])
            except Exception as exc:
                log.exception("model failed on a batch of %d", len(items))
                raise ModelError() from exc
            model_ms = (time.perf_counter() - started) * 1000
            return [
                (s, (started - queued) * 1000, model_ms)
                for s, (_, queued) in zip(scores, items, strict=True)
            ]

        async def _status(self, request: Request) -> Response:
            return JSONResponse({"status": "ready" if request.url.path == "/readyz" else "alive"})

        async def _openapi(self, request: Request) -> Response:
            return JSONResponse(document("ray"))

    def _http_error(status: int, headers: dict[str, str] | None = None) -> Response:
        code = HTTP_CODES.get(status, "error")
        return JSONResponse({"error": code, "message": code.replace("_", " ")}, status, headers)

    return Replica
