"""The remote core: `RemoteDetector` against a live `deepguard serve` and a scripted fake API."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from pydantic import ValidationError

from api.client import RemoteDetector, Unreachable
from api.refusals import Unauthorized
from api.wire import judgement_from_json, judgement_to_json
from bots import run as app
from config import RemoteSettings, Settings
from core.classifier import HFClassifier
from core.errors import (
    CorruptImage,
    DeepGuardError,
    ImageTooLarge,
    ModelError,
    Overloaded,
    RequestTimeout,
    ShuttingDown,
    UnsupportedImage,
)
from core.result import Judgement, ModelScores, Scores, judge_scores
from tests.api.http_harness import free_port, serve_settings, serving
from tests.fakes import FakeClassifier, Gate, no_unhandled_loop_errors, png_bytes

FAST = RemoteSettings(retries=2, max_retry_wait_s=0.01, timeout_s=10)


@pytest.fixture(autouse=True)
async def _no_lost_errors() -> AsyncIterator[None]:
    """Every test here also fails on task exceptions that nobody retrieved."""
    async with no_unhandled_loop_errors():
        yield


def _comparable(judgement: Judgement) -> dict[str, object]:
    """What must match between a local and a remote judgement (timings and cache may not)."""
    fields = judgement.as_dict()
    for name in ("queue_ms", "model_ms", "cached"):
        del fields[name]
    return fields


class TestAgainstServe:
    async def test_judgement_is_rebuilt_whole(self, classifier: HFClassifier) -> None:
        """A remote judgement equals the local one: scores, classes, verdict, threshold, hash."""
        image = png_bytes(180, size=(40, 40))
        async with serving(serve_settings(), classifier) as running:
            async with RemoteDetector(running.url, FAST) as remote:
                first = await remote.judge(image)
                again = await remote.judge(image)
            local = await running.detector.judge(image)
        assert isinstance(first, Judgement)
        assert _comparable(first) == _comparable(local)
        assert first.sha256 == hashlib.sha256(image).hexdigest()
        assert (first.cached, again.cached) == (False, True)
        assert first.model_ms > 0
        assert set(first.classes) == {"Real", "Fake"}

    @pytest.mark.parametrize(
        ("data", "error"),
        [
            pytest.param(png_bytes(10)[:40], CorruptImage, id="corrupt"),
            pytest.param(b"plain text, not an image", UnsupportedImage, id="unsupported"),
            pytest.param(bytes(5000), ImageTooLarge, id="too-large"),
        ],
    )
    async def test_refusals_raise_what_a_local_detector_raises(
        self, classifier: HFClassifier, data: bytes, error: type[DeepGuardError]
    ) -> None:
        """An unusable upload raises the same class with the same message as locally."""
        settings = serve_settings(images={"max_bytes": 4096})
        async with serving(settings, classifier) as running:
            async with RemoteDetector(running.url, FAST) as remote:
                with pytest.raises(error) as remote_error:
                    await remote.judge(data)
            with pytest.raises(error) as local_error:
                await running.detector.judge(data)
        assert type(remote_error.value) is type(local_error.value)
        assert remote_error.value.message == local_error.value.message

    async def test_token_is_sent_and_a_wrong_one_is_a_clear_error(self) -> None:
        """The right token is accepted; a wrong one raises Unauthorized, a ModelError users can read."""
        async with serving(serve_settings(token="t0ken"), FakeClassifier()) as running:
            async with RemoteDetector(running.url, FAST, token="t0ken") as remote:
                judged = await remote.judge(png_bytes(3))
            async with RemoteDetector(running.url, FAST, token="wrong") as remote:
                with pytest.raises(Unauthorized) as refused:
                    await remote.judge(png_bytes(3))
        assert judged.verdict.value == "REAL"
        assert isinstance(refused.value, ModelError)
        assert refused.value.message == Unauthorized.default_message

    async def test_busy_server_is_retried_then_overloaded(self) -> None:
        """While the API answers 429, each attempt is retried, then Overloaded is raised."""
        model = FakeClassifier(gate=Gate(opened=False))
        async with serving(serve_settings(max_in_flight=1), model) as running:
            async with RemoteDetector(running.url, FAST) as remote:
                held = asyncio.create_task(remote.judge(png_bytes(1)))
                await model.gate.arrived()
                with pytest.raises(Overloaded):
                    await remote.judge(png_bytes(2))
                depth_while_held = remote.depth
                model.gate.open()
                await held
            seen_by_detector = running.detector.counters.requests
            async with running.session.get(f"{running.url}/metrics") as response:
                metrics = await response.text()
        assert 'deepguard_http_requests_total{outcome="overloaded"} 3.0' in metrics
        assert seen_by_detector == 1  # the retries were refused at the door
        assert depth_while_held == 1


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class FakeAPI:
    """A scripted inference API on 127.0.0.1: each request gets the next scripted answer."""

    def __init__(self, *answers: Handler) -> None:
        self.answers = list(answers)
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.url = ""

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append((dict(request.headers), await request.read()))
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return await answer(request)


@pytest.fixture
async def fake_api() -> AsyncIterator[Callable[..., Awaitable[FakeAPI]]]:
    runners: list[web.AppRunner] = []

    async def start(*answers: Handler) -> FakeAPI:
        api = FakeAPI(*answers)
        application = web.Application()
        application.router.add_post("/v1/classify", api.handle)
        runner = web.AppRunner(application, shutdown_timeout=0.5)
        await runner.setup()
        runners.append(runner)
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        api.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        return api

    yield start
    for runner in runners:
        await runner.cleanup()


def status(code: int, body: Any = None, headers: dict[str, str] | None = None) -> Handler:
    async def answer(request: web.Request) -> web.StreamResponse:
        if isinstance(body, str):
            return web.Response(text=body, status=code, headers=headers)
        return web.json_response(body, status=code, headers=headers)

    return answer


def judged(request_body: bytes, fake: float = 0.25) -> Handler:
    scores = Scores(fake_probability=fake, classes={"Real": 1 - fake, "Fake": fake})
    digest = hashlib.sha256(request_body).hexdigest()
    return status(200, judgement_to_json(judge_scores(scores, 0.5, digest, 1.0, 2.0)))


IMAGE = png_bytes(42)


class TestRetries:
    async def test_503_is_retried_until_an_answer(self, fake_api: Any) -> None:
        """Two 503s with Retry-After, then a judgement: the caller gets the judgement."""
        busy = {"error": "unavailable", "message": "starting"}
        api = await fake_api(
            status(503, busy, {"Retry-After": "1"}), status(503, busy), judged(IMAGE)
        )
        async with RemoteDetector(api.url, FAST, token="abc") as remote:
            judgement = await remote.judge(IMAGE)
        assert len(api.requests) == 3
        assert judgement.fake_probability == 0.25
        assert (judgement.queue_ms, judgement.model_ms) == (1.0, 2.0)
        headers, body = api.requests[0]
        assert headers["Authorization"] == "Bearer abc"
        assert body == IMAGE

    async def test_plain_text_503_like_rays_ends_overloaded(self, fake_api: Any) -> None:
        """A 503 without our JSON (Ray's proxy, a load balancer) is retried, then Overloaded."""
        api = await fake_api(status(503, "Service Unavailable"))
        async with RemoteDetector(api.url, FAST) as remote:
            with pytest.raises(Overloaded):
                await remote.judge(IMAGE)
        assert len(api.requests) == FAST.retries + 1

    async def test_shutting_down_keeps_its_class(self, fake_api: Any) -> None:
        """A 503 coded shutting_down ends, after retries, as ShuttingDown with the server's words."""
        api = await fake_api(status(503, {"error": "shutting_down", "message": "restarting"}))
        async with RemoteDetector(api.url, FAST) as remote:
            with pytest.raises(ShuttingDown, match="restarting"):
                await remote.judge(IMAGE)
        assert len(api.requests) == 3

    async def test_client_errors_are_not_retried(self, fake_api: Any) -> None:
        """A 415 is final: one request, UnsupportedImage with the server's message."""
        api = await fake_api(status(415, {"error": "unsupported", "message": "no SVG"}))
        async with RemoteDetector(api.url, FAST) as remote:
            with pytest.raises(UnsupportedImage, match="no SVG"):
                await remote.judge(IMAGE)
        assert len(api.requests) == 1

    async def test_unreachable_api_is_a_polite_error(self) -> None:
        """Nobody listening: every attempt fails to connect, then Unreachable (a ShuttingDown)."""
        async with RemoteDetector(f"http://127.0.0.1:{free_port()}", FAST) as remote:
            with pytest.raises(Unreachable) as caught:
                await remote.judge(IMAGE)
        assert isinstance(caught.value, ShuttingDown)

    @pytest.mark.parametrize(
        "answer",
        [
            pytest.param(status(200, {"verdict": "FAKE"}), id="missing-fields"),
            pytest.param(status(200, "not json"), id="not-json"),
            pytest.param(judged(b"other bytes"), id="other-image"),
            pytest.param(status(502, "Bad Gateway"), id="bad-gateway"),
        ],
    )
    async def test_answers_that_are_not_judgements_are_model_errors(
        self, fake_api: Any, answer: Handler
    ) -> None:
        """A malformed answer, an answer for other bytes or a proxy error is a ModelError."""
        api = await fake_api(answer)
        async with RemoteDetector(api.url, FAST) as remote:
            with pytest.raises(ModelError):
                await remote.judge(IMAGE)

    async def test_slow_answer_is_a_request_timeout(self, fake_api: Any) -> None:
        """No answer within timeout_s: RequestTimeout, without a retry."""
        release = asyncio.Event()

        async def hang(request: web.Request) -> web.StreamResponse:
            await release.wait()
            return web.json_response({})

        api = await fake_api(hang)
        settings = RemoteSettings(timeout_s=0.2, retries=2, max_retry_wait_s=0.01)
        async with RemoteDetector(api.url, settings) as remote:
            with pytest.raises(RequestTimeout):
                await remote.judge(IMAGE)
        release.set()
        assert len(api.requests) == 1


class TestSettings:
    def test_bots_judge_remotely_when_core_url_is_set(self) -> None:
        """With DEEPGUARD_CORE_URL the bots get a RemoteDetector; without it, a local model."""
        remote = Settings(_env_file=None, core_url="http://inference:8000/", core_token="x")
        local = Settings(_env_file=None)
        assert isinstance(app._open_judge(remote), RemoteDetector)
        assert not isinstance(app._open_judge(local), RemoteDetector)
        assert remote.core_url == "http://inference:8000"
        assert "x" in app.secrets_of(remote)[0]

    def test_core_url_must_be_http(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A core URL that is not http(s) is refused; a blank one means a local model."""
        with pytest.raises(ValidationError, match="http"):
            Settings(_env_file=None, core_url="inference:8000")
        monkeypatch.setenv("DEEPGUARD_CORE_URL", "")
        assert Settings(_env_file=None).core_url is None


def test_several_models_cross_the_wire_whole() -> None:
    """`models` is sent with several models, rebuilt by the client, and absent with one."""
    models = (
        ModelScores("a/one", Scores(0.8, {"Real": 0.2, "Fake": 0.8})),
        ModelScores("./two", Scores(0.4, {"AI": 0.4, "Human": 0.6})),
    )
    both = judge_scores(Scores(0.6, {"fake": 0.6, "real": 0.4}, models), 0.5, "0" * 64)
    sent = judgement_to_json(both)
    listed = sent["models"]
    assert isinstance(listed, list)
    assert [model["name"] for model in listed] == ["a/one", "./two"]
    assert judgement_from_json(json.dumps(sent).encode()).models == models
    alone = judgement_to_json(judge_scores(Scores(0.6, {"Real": 0.4, "Fake": 0.6}), 0.5, "0" * 64))
    assert "models" not in alone
