"""The inference API as one ASGI app: classify an image, probes, metrics, a generated OpenAPI.

uvicorn serves it for `deepguard serve` (`api.server`), and every Ray Serve replica serves it
for `serve --ray` (`api.ray`): one inference path. It answers before the model is loaded, so
probes answer meanwhile (`/readyz` 503); `attach` hands in the judge once it is ready. Load is
refused at the door: past `max_in_flight` requests, or with the detector's queue full, a request
gets 429 before its body is read, so memory stays bounded (about `max_in_flight` images) and a
refusal costs no model time; a body not received whole within `read_timeout_s` gets 408, so
stalled uploads cannot keep the places. Every error leaves as an `api.refusals.ErrorAnswer` with
the status of `api.refusals.ERRORS`, and every classify answer is counted by outcome in `/metrics`.

`POST /v1/explain` takes an upload exactly as classify does (same auth, byte cap, read timeout,
in-flight places and errors; `ExplanationUnavailable` is 422 "unexplainable": not 501, since it
is an expected, documented answer that retrying never changes, which clients, proxies and
alerts would take for a server fault) and answers
the picture (`image/png`, with the app's legend) or, with `Accept: application/json`, the JSON of
`deepguard explain --json` without "file" (an API has no file name). A clip is explained by its
most suspicious frame: the JSON names it (`frame`), the PNG carries its time in seconds in
`X-DeepGuard-Frame-Time`. Explaining is not counted as judging in `/metrics`.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from importlib.metadata import PackageNotFoundError, version
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request, Security
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.metrics import CONTENT_TYPE, Metrics
from api.refusals import (
    ERROR_ANSWERS,
    ERRORS,
    HTTP_CODES,
    SlowUpload,
    Unauthorized,
    Unavailable,
    error_body,
    kind_of,
)
from api.upload import UploadCaps, check_declared_size, read_image
from api.wire import (
    CLASSIFY_PATH,
    EXPLAIN_PATH,
    FRAME_TIME_HEADER,
    METHOD_HEADER,
    PNG,
    Alive,
    ExplanationAnswer,
    JudgementAnswer,
    Readiness,
    ReadyStatus,
)
from config import Settings
from core.detector import Judge
from core.errors import DeepGuardError, Overloaded, ShuttingDown
from core.explain import Explanation
from core.heatmap import LEGEND
from core.result import Judgement
from core.stats import Counters

log = logging.getLogger(__name__)

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]

OUTCOME = "deepguard.outcome"  # the scope state key an error handler names the outcome under
RETRY_STATUSES = frozenset(kind.status for kind in ERRORS if kind.retry)
BEARER = HTTPBearer(auto_error=False, scheme_name="bearer")
# An empty body or file is never an image (400 corrupt), so the document does not call it valid.
_IMAGE = {"type": "string", "format": "binary", "minLength": 1}
_BINARY = {"schema": _IMAGE}
UPLOAD: dict[str, Any] = {
    "required": True,
    "content": {
        "application/octet-stream": _BINARY,
        "image/*": _BINARY,
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file"],
                "properties": {"file": {**_IMAGE, "description": "The image."}},
            }
        },
    },
}


PROMETHEUS_TEXT = {
    "description": "Prometheus text format.",
    "content": {"text/plain": {"schema": {"type": "string"}}},
}


class InferenceAPI:
    """The state behind one app: settings, metrics, the judge once attached, requests in flight."""

    def __init__(self, settings: Settings, metrics: Metrics, *, legend: str = LEGEND) -> None:
        self.settings = settings
        self.legend = legend  # under the pictures of explanations
        self.metrics = metrics
        self._serve = settings.serve
        self._caps = UploadCaps(settings.images, settings.video)
        # The queue's places plus the batch in the model: past that, the core refuses too.
        self._capacity = settings.queue.max_pending + settings.queue.max_batch_size
        self._judge: Judge | None = None
        self._closing = False
        self.in_flight = 0

    def attach(self, judge: Judge, counters: Counters | None = None) -> None:
        """Start judging with `judge`; `counters` (a Detector's) feed `/metrics`."""
        self.metrics.watch(lambda: judge.depth, counters)
        self._judge = judge

    def close(self) -> None:
        """Refuse new classify requests (503) and fail `/readyz`; those in flight go on."""
        self._closing = True

    async def classify(self, request: Request) -> Judgement:
        """Admit, read and judge one upload; raises the `DeepGuardError` to answer with."""
        judge = self._admit()
        self.in_flight += 1
        self.metrics.in_flight.inc()
        try:
            judgement = await judge.judge(await self._read(request))
        finally:
            self.in_flight -= 1
            self.metrics.in_flight.dec()
        self.metrics.judged(judgement)
        return judgement

    async def explain(self, request: Request, *, picture: bool) -> Explanation:
        """Admit, read and explain one upload, as `classify` does; with its PNG if `picture`."""
        judge = self._admit()
        self.in_flight += 1
        self.metrics.in_flight.inc()
        try:
            image = await self._read(request)
            return await judge.explain(image, legend=self.legend if picture else None)
        finally:
            self.in_flight -= 1
            self.metrics.in_flight.dec()

    async def _read(self, request: Request) -> bytes:
        check_declared_size(request.headers.get("content-length"), self._caps)
        content_type = request.headers.get("content-type", "")
        try:
            async with asyncio.timeout(self._serve.read_timeout_s):
                return await read_image(content_type, request.stream(), self._caps)
        except TimeoutError:
            raise SlowUpload() from None

    def _admit(self) -> Judge:
        """Refuse at once what cannot be served; the body is not read then."""
        if self._closing:
            raise ShuttingDown()
        if self._judge is None:
            raise Unavailable()
        if self.in_flight >= self._serve.max_in_flight or self._judge.depth >= self._capacity:
            raise Overloaded()
        return self._judge

    def readiness(self) -> Readiness:
        depth = self._judge.depth if self._judge else 0
        return Readiness(status=self._status(), depth=depth)

    def _status(self) -> ReadyStatus:
        if self._closing:
            return "stopping"
        if self._judge is None:
            return "loading"
        full = self._judge.depth >= self._serve.ready_queue_fill * self._capacity
        if full or self.in_flight >= self._serve.max_in_flight:
            return "saturated"
        return "ready"


def create_app(api: InferenceAPI, *, lifespan: Lifespan | None = None) -> FastAPI:
    """The app over `api`; `lifespan` (Ray's replicas) opens and closes what it judges with."""
    options = api.settings.serve
    app = FastAPI(
        title="DeepGuard inference API",
        version=_version(),
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    token = options.token.get_secret_value() if options.token else ""
    guarded = [Depends(_bearer(token))] if token else []
    auth_errors = (401,) if token else ()

    @app.post(
        CLASSIFY_PATH,
        summary="Judge one image: how likely it is AI-generated.",
        description="Send the image as the body, or as the `file` part of a form.",
        dependencies=guarded,
        responses=_errors(400, *auth_errors, 408, 413, 415, 429, 500, 503, 504),
        openapi_extra={"requestBody": UPLOAD},
    )
    async def classify(request: Request) -> JudgementAnswer:
        return JudgementAnswer.of(await api.classify(request))

    @app.post(
        EXPLAIN_PATH,
        summary="Where the model saw AI-like and real-like evidence in one image or clip.",
        description=(
            "Send the image as for classify. The answer is a PNG: the image with the map laid "
            "over it (warm: AI-like, cool: real-like) and a legend. With `Accept: "
            "application/json` it is the map itself: `mean(grid) + bias` is the model's "
            "fake-minus-real logit gap, each cell one patch's share (the fields of `deepguard "
            "explain --json`, without `file`). An animation or a video is explained by its "
            "most suspicious sampled frame: the JSON names it in `frame`, the PNG answer gives "
            "its time in seconds in the `X-DeepGuard-Frame-Time` header. 422 `unexplainable` "
            "when this model and backend cannot explain."
        ),
        dependencies=guarded,
        response_class=Response,
        responses={
            200: {
                "description": "The picture, or with Accept: application/json the map.",
                "headers": {
                    FRAME_TIME_HEADER: {
                        "description": "Animations and videos: the explained frame's time, "
                        "in seconds from the clip's first frame.",
                        "schema": {"type": "number", "minimum": 0},
                    }
                },
                "content": {
                    PNG: {"schema": {"type": "string", "format": "binary"}},
                    "application/json": {
                        "schema": {"$ref": "#/components/schemas/ExplanationAnswer"}
                    },
                },
                "model": ExplanationAnswer,
            },
            **_errors(400, *auth_errors, 408, 413, 415, 422, 429, 500, 503, 504),
        },
        openapi_extra={"requestBody": UPLOAD},
    )
    async def explain(request: Request) -> Response:
        as_json = _wants_json(request.headers.get("accept", ""))
        explanation = await api.explain(request, picture=not as_json)
        headers = {METHOD_HEADER: explanation.patches.method.value}
        if explanation.frame is not None:
            headers[FRAME_TIME_HEADER] = f"{explanation.frame.time_s:.3f}"
        if as_json or explanation.png is None:
            answer = ExplanationAnswer.of(explanation).model_dump(mode="json")
            return JSONResponse(answer, headers=headers)
        return Response(explanation.png, media_type=PNG, headers=headers)

    @app.get("/healthz", summary="Alive.")
    async def healthz() -> Alive:
        return Alive(status="alive")

    @app.get(
        "/readyz",
        summary="Model loaded and queue not saturated.",
        response_model=Readiness,
        responses={503: {"model": Readiness, "description": "Not ready."}},
    )
    async def readyz() -> Response:
        readiness = api.readiness()
        status = 200 if readiness.status == "ready" else 503
        return JSONResponse(readiness.model_dump(), status_code=status)

    @app.get(
        "/metrics",
        summary="Prometheus metrics.",
        response_class=Response,  # no JSON: the documented 200 is text, its errors are JSON
        dependencies=guarded,
        responses={200: PROMETHEUS_TEXT, **_errors(*auth_errors)},
    )
    async def metrics() -> Response:
        return Response(api.metrics.render(), media_type=CONTENT_TYPE)

    retry_after = str(options.retry_after_s)

    async def on_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, DeepGuardError)
        kind = kind_of(error)
        _name_outcome(request, kind.code)
        headers = {"Retry-After": retry_after} if kind.retry else {}
        if isinstance(error, Unauthorized):
            headers["WWW-Authenticate"] = "Bearer"
        if isinstance(error, SlowUpload):
            headers["Connection"] = "close"  # the rest of the body may never come
        return JSONResponse(error_body(error), status_code=kind.status, headers=headers)

    async def on_http_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, HTTPException)
        code = HTTP_CODES.get(error.status_code, "error")
        _name_outcome(request, code)
        allow = {name: value for name, value in (error.headers or {}).items() if name == "Allow"}
        body = {"error": code, "message": code.replace("_", " ")}
        return JSONResponse(body, status_code=error.status_code, headers=allow)

    app.add_exception_handler(DeepGuardError, on_error)
    app.add_exception_handler(HTTPException, on_http_error)
    app.add_middleware(_Observe, metrics=api.metrics)
    return app


def _wants_json(accept: str) -> bool:
    """JSON only when asked for by name: the picture is the default answer."""
    kinds = {part.split(";")[0].strip().lower() for part in accept.split(",")}
    return "application/json" in kinds and PNG not in kinds


def _name_outcome(request: Request, code: str) -> None:
    request.scope.setdefault("state", {})[OUTCOME] = code


def _bearer(token: str) -> Callable[..., None]:
    expected = f"Bearer {token}".encode()

    def authorised(
        request: Request,
        _: Annotated[HTTPAuthorizationCredentials | None, Security(BEARER)],
    ) -> None:
        given = request.headers.get("authorization", "").encode()
        if not hmac.compare_digest(given, expected):  # constant time: no hint from timing
            raise Unauthorized("missing or wrong bearer token")

    return authorised


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The documented error answers of an operation, with Retry-After where retrying helps."""
    documented: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        model = ERROR_ANSWERS[status]
        answer: dict[str, Any] = {"model": model, "description": model.__doc__}
        if status in RETRY_STATUSES:
            answer["headers"] = {
                "Retry-After": {
                    "description": "Seconds to wait before trying again.",
                    "required": True,
                    "schema": {"type": "integer", "minimum": 1},
                }
            }
        documented[status] = answer
    return documented


class _Observe:
    """Counts classify answers by outcome; turns an unexpected failure into one logged 500.

    A client that hangs up mid-upload is counted as `disconnected`: there is nobody to answer.
    """

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self._app = app
        self._metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        started = time.perf_counter()
        state: dict[str, Any] = scope.setdefault("state", {})
        answered = False

        async def tracked(message: Message) -> None:
            nonlocal answered
            answered = answered or message["type"] == "http.response.start"
            await send(message)

        try:
            await self._app(scope, receive, tracked)
            outcome = str(state.get(OUTCOME, "ok"))
        except ClientDisconnect:
            log.debug("%s %s: the client hung up", scope["method"], scope["path"])
            outcome = "disconnected"
        except Exception:
            log.exception("%s %s failed", scope["method"], scope["path"])
            outcome = "internal"
            if not answered:
                body = {"error": outcome, "message": "internal error"}
                await JSONResponse(body, status_code=500)(scope, receive, send)
        if scope["path"] == CLASSIFY_PATH:
            self._metrics.observe(outcome, time.perf_counter() - started)


def _version() -> str:
    try:
        return version("deepguard")
    except PackageNotFoundError:
        return "0"
