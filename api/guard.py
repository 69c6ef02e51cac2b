"""The API's one middleware: check the bearer token, answer every failure as JSON, count it.

Every error leaves as `{"error": code, "message": text}` with the status of `api.wire.ERRORS`
(aiohttp's own 404/405 included), so clients and the remote core can rely on the shape.
"""

from __future__ import annotations

import hmac
import logging
import time

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from api.metrics import Metrics
from api.openapi import HTTP_CODES
from api.wire import CLASSIFY_PATH, Unauthorized, error_body, kind_of
from config import ServeSettings
from core.errors import DeepGuardError

log = logging.getLogger(__name__)

PROTECTED = frozenset({CLASSIFY_PATH, "/metrics"})


def guard(settings: ServeSettings, metrics: Metrics) -> Middleware:
    """The middleware for these settings: a token (when set) and a Retry-After value."""
    token = settings.token.get_secret_value() if settings.token else ""
    expected = f"Bearer {token}".encode() if token else None
    retry_after = str(settings.retry_after_s)

    def authorised(request: web.Request) -> bool:
        if expected is None:
            return True
        given = request.headers.get("Authorization", "").encode()
        return hmac.compare_digest(given, expected)  # constant time: no hint from timing

    def error_response(error: DeepGuardError) -> web.Response:
        kind = kind_of(error)
        headers = {"Retry-After": retry_after} if kind.retry else {}
        if isinstance(error, Unauthorized):
            headers["WWW-Authenticate"] = "Bearer"
        return web.json_response(error_body(error), status=kind.status, headers=headers)

    @web.middleware
    async def answer_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        outcome = "ok"
        try:
            if request.path in PROTECTED and not authorised(request):
                raise Unauthorized("missing or wrong bearer token")
            response = await handler(request)
        except DeepGuardError as error:
            outcome, response = kind_of(error).code, error_response(error)
        except web.HTTPException as exc:
            outcome = HTTP_CODES.get(exc.status, "error")
            allow = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else {}
            body = {"error": outcome, "message": exc.reason}
            response = web.json_response(body, status=exc.status, headers=allow)
        except Exception:
            log.exception("%s %s failed", request.method, request.path)
            outcome = "internal"
            body = {"error": outcome, "message": "internal error"}
            response = web.json_response(body, status=500)
        if request.path == CLASSIFY_PATH:
            metrics.observe(outcome, time.perf_counter() - started)
        return response

    return answer_errors
