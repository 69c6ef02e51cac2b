"""`deepguard serve`: the classify contract, status codes, auth, load, probes and metrics."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import pytest
from fastapi.routing import APIRoute
from prometheus_client.parser import text_string_to_metric_families
from pydantic import ValidationError

from api import server as http_server
from api.app import InferenceAPI, create_app
from api.metrics import Metrics
from api.refusals import ERROR_ANSWERS, ERRORS, HTTP_CODES, ErrorKind
from config import ImageLimits
from core.classifier import HFClassifier
from core.detector import Detector
from core.errors import DeepGuardError, ExplanationUnavailable
from core.explain import Explanation
from core.result import Judgement
from tests.api.http_harness import Running, free_port, serve_settings, serving
from tests.fakes import FakeClassifier, Gate, no_unhandled_loop_errors, png_bytes
from tests.judges import CHECK_JSON_FIELDS


@pytest.fixture(autouse=True)
async def _no_lost_errors() -> AsyncIterator[None]:
    """Every test here also fails on task exceptions that nobody retrieved."""
    async with no_unhandled_loop_errors():
        yield


async def answer(running: Running, data: bytes, **kwargs: Any) -> tuple[int, dict[str, Any]]:
    async with running.classify(data, **kwargs) as response:
        return response.status, await response.json()


def form(*fields: tuple[str, bytes | str, str | None]) -> aiohttp.FormData:
    data = aiohttp.FormData()
    for name, value, filename in fields:
        data.add_field(name, value, filename=filename, content_type="application/octet-stream")
    return data


class TestClassify:
    async def test_raw_body_answers_the_check_json_fields(self, classifier: HFClassifier) -> None:
        """A raw PNG body is judged by the model and answered with `Judgement.as_dict()`."""
        image = png_bytes(200, size=(40, 40))
        async with serving(serve_settings(), classifier) as running:
            status, body = await answer(running, image, headers={"Content-Type": "image/png"})
            local = await running.detector.judge(image)  # the same scores, from the cache
        assert status == 200
        expected = {**local.as_dict(), "cached": False}
        expected.update(queue_ms=body["queue_ms"], model_ms=body["model_ms"])
        assert body == expected
        assert local.cached

    async def test_multipart_file_is_judged_like_a_raw_body(
        self, classifier: HFClassifier
    ) -> None:
        """The file of a multipart form (after other fields) gets the raw body's judgement."""
        image = png_bytes(90, size=(40, 40))
        async with serving(serve_settings(), classifier) as running:
            _, raw = await answer(running, image)
            upload = form(("note", "hello", None), ("upload", image, "cat.png"))
            status, multipart = await answer(running, upload)  # type: ignore[arg-type]
        assert status == 200
        assert multipart["sha256"] == raw["sha256"]
        assert multipart["fake_probability"] == raw["fake_probability"]
        assert multipart["cached"]

    @pytest.mark.parametrize(
        ("data", "headers", "status", "code"),
        [
            pytest.param(png_bytes(10)[:40], {}, 400, "corrupt", id="truncated"),
            pytest.param(b"", {}, 400, "corrupt", id="empty"),
            pytest.param(b"just some text, not an image", {}, 415, "unsupported", id="text"),
            pytest.param(
                png_bytes(10),
                {"Content-Type": "application/json"},
                415,
                "unsupported",
                id="json-type",
            ),
            pytest.param(bytes(5000), {}, 413, "too_large", id="over-byte-cap"),
            pytest.param(png_bytes(10, size=(64, 64)), {}, 413, "too_large", id="over-pixel-cap"),
        ],
    )
    async def test_refusals_have_their_status_and_code(
        self,
        classifier: HFClassifier,
        data: bytes,
        headers: dict[str, str],
        status: int,
        code: str,
    ) -> None:
        """Each unusable upload gets its own status and a JSON error with a user-safe message."""
        settings = serve_settings(images={"max_bytes": 4096, "max_pixels": 2000})
        async with serving(settings, classifier) as running:
            got_status, body = await answer(running, data, headers=headers)
        assert (got_status, body["error"]) == (status, code)
        assert body["message"]

    async def test_too_large_without_a_declared_length(self, classifier: HFClassifier) -> None:
        """A chunked body is cut off once it passes the cap, and answered 413."""

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(40):
                yield bytes(64 * 1024)

        settings = serve_settings(images={"max_bytes": 256 * 1024})
        async with serving(settings, classifier) as running:
            status, body = await answer(running, chunks())  # type: ignore[arg-type]
        assert (status, body["error"]) == (413, "too_large")

    async def test_form_without_a_file_is_refused(self, classifier: HFClassifier) -> None:
        """A multipart form with no file field is a 400 naming the problem."""
        async with serving(serve_settings(), classifier) as running:
            status, body = await answer(running, form(("note", "hi", None)))  # type: ignore[arg-type]
        assert (status, body["error"]) == (400, "invalid")
        assert "no file" in body["message"]

    async def test_unknown_routes_answer_json(self, classifier: HFClassifier) -> None:
        """A wrong path is a JSON 404 and a wrong method a JSON 405 naming the allowed one."""
        async with serving(serve_settings(), classifier) as running:
            async with running.session.get(f"{running.url}/nope") as missing:
                assert (missing.status, (await missing.json())["error"]) == (404, "not_found")
            async with running.session.get(f"{running.url}/v1/classify") as wrong:
                assert (wrong.status, (await wrong.json())["error"]) == (405, "method_not_allowed")
                assert wrong.headers["Allow"] == "POST"

    async def test_model_failure_is_500_and_the_next_request_works(self) -> None:
        """A failing batch answers 500 model_error; the server keeps judging."""
        model = FakeClassifier()
        model.fail_next(RuntimeError("boom"))
        async with serving(serve_settings(), model) as running:
            failed = await answer(running, png_bytes(1))
            status, body = await answer(running, png_bytes(2))
        assert (failed[0], failed[1]["error"]) == (500, "model_error")
        assert "boom" not in failed[1]["message"]
        assert (status, body["verdict"]) == (200, "REAL")

    async def test_request_timeout_is_504(self) -> None:
        """A request the model does not answer within the request timeout gets 504."""
        model = FakeClassifier(gate=Gate(opened=False))
        settings = serve_settings(queue={"request_timeout_s": 0.2, "drain_timeout_s": 0.1})
        async with serving(settings, model) as running:
            status, body = await answer(running, png_bytes(3))
            model.gate.open()
        assert (status, body["error"]) == (504, "timeout")


class _Raising:
    """A `Judge` that fails every request with one error."""

    depth = 0

    def __init__(self, error: DeepGuardError) -> None:
        self.error = error

    async def judge(self, data: bytes) -> Judgement:
        raise self.error

    async def explain(self, data: bytes, *, legend: str | None = None) -> Explanation:
        raise self.error


def in_process(api: InferenceAPI) -> httpx.AsyncClient:
    """A client that calls the app directly, without a socket."""
    transport = httpx.ASGITransport(app=create_app(api))
    return httpx.AsyncClient(transport=transport, base_url="http://deepguard")


def test_each_error_status_has_a_model_of_its_codes() -> None:
    """Every code the API answers validates against its status's model, and no other code does."""
    answered = [(kind.status, kind.code) for kind in ERRORS] + list(HTTP_CODES.items())
    for status, code in answered:
        ERROR_ANSWERS[status].model_validate({"error": code, "message": "m"})
    for status, model in ERROR_ANSWERS.items():
        others = {code for other, code in answered if other != status}
        for code in others:
            with pytest.raises(ValidationError):
                model.model_validate({"error": code, "message": "m"})
    assert {status for status, _ in answered} == set(ERROR_ANSWERS)


@pytest.mark.parametrize("kind", ERRORS, ids=[kind.code for kind in ERRORS])
async def test_every_core_error_has_its_answer(kind: ErrorKind) -> None:
    """Each core error class maps to its status and code, with Retry-After when retrying helps."""
    api = InferenceAPI(serve_settings(retry_after_s=7), Metrics())
    api.attach(_Raising(kind.error()))
    async with in_process(api) as client:
        response = await client.post("/v1/classify", content=png_bytes(1))
        body = response.json()
    assert (response.status_code, body) == (
        kind.status,
        {
            "error": kind.code,
            "message": kind.error().message,
            "template": kind.error().template,
            "values": {},
        },
    )
    assert response.headers.get("Retry-After") == ("7" if kind.retry else None)


async def test_closing_refuses_new_work_and_fails_readiness() -> None:
    """Once closing, classify answers 503 shutting_down with Retry-After and /readyz says stopping."""
    api = InferenceAPI(serve_settings(), Metrics())
    async with Detector(FakeClassifier(), queue=serve_settings().queue, limits=ImageLimits()) as d:
        api.attach(d)
        async with in_process(api) as client:
            before = (await client.post("/v1/classify", content=png_bytes(1))).status_code
            api.close()
            refused = await client.post("/v1/classify", content=png_bytes(2))
            ready = await client.get("/readyz")
            body, readiness = refused.json(), ready.json()
    assert before == 200
    assert (refused.status_code, body["error"], refused.headers["Retry-After"]) == (
        503,
        "shutting_down",
        "1",
    )
    assert (ready.status_code, readiness["status"]) == (503, "stopping")


class TestAuth:
    async def test_bearer_token_guards_classify_and_metrics(self) -> None:
        """With a token set, classify and metrics need it exactly; probes and the document do not."""
        async with serving(serve_settings(token="s3cret"), FakeClassifier()) as running:
            missing = await answer(running, png_bytes(1))
            wrong = await answer(running, png_bytes(1), headers={"Authorization": "Bearer s3cre"})
            longer = await answer(
                running, png_bytes(1), headers={"Authorization": "Bearer s3cret!"}
            )
            right = await answer(running, png_bytes(1), headers={"Authorization": "Bearer s3cret"})
            async with running.classify(png_bytes(1)) as response:
                assert response.headers["WWW-Authenticate"] == "Bearer"
            open_paths = {}
            for path in ("/healthz", "/readyz", "/openapi.json", "/metrics"):
                async with running.session.get(running.url + path) as response:
                    open_paths[path] = response.status
        for status, body in (missing, wrong, longer):
            assert (status, body["error"]) == (401, "unauthorized")
        assert right[0] == 200
        assert open_paths == {
            "/healthz": 200,
            "/readyz": 200,
            "/openapi.json": 200,
            "/metrics": 401,
        }


async def _until(condition: Any, what: str) -> None:
    """Poll for a state reached by other tasks and threads; give up after ~10 s."""
    for _ in range(1000):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never reached: {what}")


class TestLoad:
    async def test_a_full_queue_is_refused_without_waiting_for_the_model(self) -> None:
        """With the model busy and the queue full, the next request gets 429 while the model still holds."""
        model = FakeClassifier(gate=Gate(opened=False))
        settings = serve_settings(queue={"max_batch_size": 1, "max_pending": 1})
        async with serving(settings, model) as running:
            in_model = asyncio.create_task(answer(running, png_bytes(1)))
            await model.gate.arrived()
            queued = asyncio.create_task(answer(running, png_bytes(2)))
            await _until(lambda: running.detector.depth == 2, "a queued request")
            async with running.session.get(f"{running.url}/readyz") as ready:
                readiness = ready.status, (await ready.json())["status"]
            async with running.classify(png_bytes(3)) as refused:
                refusal = refused.status, refused.headers.get("Retry-After"), await refused.json()
            still_held = not in_model.done() and model.images_seen == 1
            model.gate.open()
            answered = [status for status, _ in await asyncio.gather(in_model, queued)]
        assert refusal[:2] == (429, "1")
        assert refusal[2]["error"] == "overloaded"
        assert still_held
        assert readiness == (503, "saturated")
        assert answered == [200, 200]

    async def test_hundreds_of_concurrent_requests_stay_bounded(self) -> None:
        """300 requests at once: only max_in_flight are held, the rest get 429 at once, all is well after."""
        model = FakeClassifier(gate=Gate(opened=False))
        async with serving(serve_settings(max_in_flight=8), model) as running:
            connector = aiohttp.TCPConnector(limit=100)
            async with aiohttp.ClientSession(connector=connector) as session:

                async def post(green: int) -> int:
                    image = png_bytes(200, green=green)
                    async with session.post(f"{running.url}/v1/classify", data=image) as response:
                        await response.read()
                        return response.status

                tasks = [asyncio.create_task(post(i % 256)) for i in range(300)]
                await _until(lambda: sum(t.done() for t in tasks) == 292, "292 refusals")
                early = [t.result() for t in tasks if t.done()]
                metrics = await _scrape(running)
                held = metrics[("deepguard_http_in_flight", ())]
                async with session.get(f"{running.url}/healthz") as health:
                    alive = health.status
                model.gate.open()
                statuses = await asyncio.gather(*tasks)
            after = await _scrape(running)
            async with running.session.get(f"{running.url}/readyz") as ready:
                ready_after = ready.status
        assert set(early) == {429}
        assert (held, alive) == (8, 200)
        assert sorted(statuses).count(200) == 8
        assert after[("deepguard_http_requests_total", (("outcome", "overloaded"),))] == 292
        assert after[("deepguard_http_in_flight", ())] == 0
        assert ready_after == 200


class TestProbes:
    async def test_probes_while_the_model_loads(self) -> None:
        """While the model loads, /healthz is 200, /readyz 503 and classify 503 with Retry-After."""
        loaded = asyncio.Event()
        started: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        settings = serve_settings()

        @contextlib.asynccontextmanager
        async def slow_load() -> AsyncIterator[Detector]:
            await loaded.wait()
            async with Detector(
                FakeClassifier(), queue=settings.queue, limits=settings.images
            ) as d:
                yield d

        stop = asyncio.Event()
        task = asyncio.create_task(
            http_server.serve(settings, stop, slow_load, started=started.set_result)
        )
        url = await started
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{url}/healthz") as health:
                alive = health.status
            async with session.get(f"{url}/readyz") as ready:
                loading = ready.status, (await ready.json())["status"]
            async with session.post(f"{url}/v1/classify", data=png_bytes(1)) as early:
                refused = (
                    early.status,
                    early.headers.get("Retry-After"),
                    (await early.json())["error"],
                )
            loaded.set()
            await _until_status(session, f"{url}/readyz", 200)
        stop.set()
        await task
        assert alive == 200
        assert loading == (503, "loading")
        assert refused == (503, "1", "unavailable")


async def _until_status(session: aiohttp.ClientSession, url: str, status: int) -> None:
    for _ in range(500):
        async with session.get(url) as response:
            if response.status == status:
                return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{url} never answered {status}")


Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def _scrape(running: Running) -> Samples:
    """GET /metrics and parse it with prometheus-client's own parser."""
    async with running.session.get(f"{running.url}/metrics") as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        text = await response.text()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_metrics_count_outcomes_batches_cache_and_latency() -> None:
    """/metrics reports answers by outcome, verdicts, batches, cache hits and latency histograms."""
    model = FakeClassifier()
    async with serving(serve_settings(), model) as running:
        for red in (10, 240, 250):
            assert (await answer(running, png_bytes(red)))[0] == 200
        assert (await answer(running, png_bytes(10)))[0] == 200  # a cache hit
        assert (await answer(running, b"\x89PNG\r\n"))[0] == 400
        samples = await _scrape(running)
        batches = running.detector.counters.batches

    def value(name: str, **labels: str) -> float:
        return samples[(name, tuple(sorted(labels.items())))]

    assert value("deepguard_http_requests_total", outcome="ok") == 4
    assert value("deepguard_http_requests_total", outcome="corrupt") == 1
    assert value("deepguard_http_request_seconds_count") == 5
    assert value("deepguard_verdicts_total", verdict="FAKE") == 2
    assert value("deepguard_verdicts_total", verdict="REAL") == 2
    assert value("deepguard_core_cache_hits_total") == 1
    assert value("deepguard_core_requests_total") == 5
    assert value("deepguard_batch_size_count") == batches
    assert value("deepguard_batch_size_sum") == 3
    assert value("deepguard_batch_size_bucket", le="+Inf") == batches
    assert value("deepguard_queue_seconds_count") == 3
    assert value("deepguard_model_seconds_count") == 3
    assert value("deepguard_queue_depth") == 0


async def test_openapi_document_lists_the_routes() -> None:
    """/openapi.json is generated from the routes, with every error code under its status."""
    settings = serve_settings(token="t0ken")
    app = create_app(InferenceAPI(settings, Metrics()))
    routes = {
        (route.path, method.lower())
        for route in app.routes
        if isinstance(route, APIRoute)
        for method in route.methods or ()
    }
    async with (
        serving(settings, FakeClassifier()) as running,
        running.session.get(f"{running.url}/openapi.json") as response,
    ):
        doc = await response.json()
    documented = {(path, method) for path, item in doc["paths"].items() for method in item}
    assert doc["openapi"].startswith("3.")
    assert documented == routes
    assert routes == {
        ("/v1/classify", "post"),
        ("/v1/explain", "post"),
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/metrics", "get"),
    }
    schemas = doc["components"]["schemas"]
    for path in ("/v1/classify", "/v1/explain"):
        operation = doc["paths"][path]["post"]
        for kind in ERRORS:
            if kind.error is ExplanationUnavailable and path == "/v1/classify":
                assert str(kind.status) not in operation["responses"]
                continue
            answer = operation["responses"][str(kind.status)]
            name = answer["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
            code = schemas[name]["properties"]["error"]
            assert kind.code in code.get("enum", [code.get("const")]), kind
            assert ("Retry-After" in answer.get("headers", {})) == kind.retry, kind
        form = operation["requestBody"]["content"]["multipart/form-data"]["schema"]
        assert form["required"] == ["file"]
        assert operation["security"] == [{"bearer": []}]
    explained = doc["paths"]["/v1/explain"]["post"]["responses"]["200"]["content"]
    assert set(explained) == {"image/png", "application/json"}


class TestShutdown:
    async def test_requests_in_flight_are_answered(self) -> None:
        """On stop the socket closes at once, but a request already in the model is still answered."""
        model = FakeClassifier(gate=Gate(opened=False))
        async with serving(serve_settings(), model) as running:
            in_flight = asyncio.create_task(answer(running, png_bytes(220)))
            await model.gate.arrived()
            running.stop.set()
            await _until_refused(running.url)
            model.gate.open()
            status, body = await in_flight
            await running.task
        assert (status, body["verdict"]) == (200, "FAKE")

    async def test_drain_timeout_bounds_shutdown(self) -> None:
        """A request still unanswered when the drain timeout ends is dropped, and serve() returns."""
        model = FakeClassifier(gate=Gate(opened=False))
        settings = serve_settings(drain_timeout_s=0.2, queue={"drain_timeout_s": 0.1})
        async with serving(settings, model) as running:
            stuck = asyncio.create_task(answer(running, png_bytes(5)))
            await model.gate.arrived()
            await running.shut()
            with pytest.raises(aiohttp.ServerDisconnectedError):
                await stuck
            model.gate.open()


async def _until_refused(url: str) -> None:
    """Wait until a fresh connection to the server is refused: it stopped listening."""
    for _ in range(500):
        try:
            async with aiohttp.ClientSession() as session, session.get(f"{url}/healthz"):
                pass
        except aiohttp.ClientConnectorError:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the server kept listening")


@pytest.mark.slow
async def test_serve_command_answers_and_stops_on_sigterm(model_dir: Path, tmp_path: Path) -> None:
    """`deepguard serve` loads the model, judges on its port, keeps a heartbeat, exits 0 on SIGTERM."""
    port = free_port()
    env = {name: value for name, value in os.environ.items() if not name.startswith("DEEPGUARD_")}
    env.update(
        DEEPGUARD_MODEL__NAME=str(model_dir),
        DEEPGUARD_MODEL__OFFLINE="true",
        DEEPGUARD_MODEL__DEVICE="cpu",
        DEEPGUARD_MODEL__THREADS="1",
        DEEPGUARD_SERVE__PORT=str(port),
        DEEPGUARD_HEALTH_FILE=str(tmp_path / "alive"),
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bots.cli",
        "serve",
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as session:
            for _ in range(600):
                with contextlib.suppress(aiohttp.ClientConnectionError):
                    async with session.get(f"{url}/readyz") as ready:
                        if ready.status == 200:
                            break
                await asyncio.sleep(0.1)
            async with session.post(f"{url}/v1/classify", data=png_bytes(99)) as response:
                status, body = response.status, await response.json()
        beating = (tmp_path / "alive").exists()
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), 60)
    finally:
        if process.returncode is None:
            process.kill()
            await process.communicate()
    assert status == 200
    assert set(body) == CHECK_JSON_FIELDS
    assert process.returncode == 0, stderr.decode()
    assert b"inference API ready" in stderr
    assert beating
    assert not (tmp_path / "alive").exists()
