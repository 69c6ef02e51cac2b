"""`deepguard serve` against hostile or broken uploads: stalls, hang-ups, huge forms, bad boundaries.

Most requests here are written byte by byte on a raw socket, since a well-behaved client cannot
stall mid-body, hang up on purpose or send a non-ASCII header.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.api.http_harness import Running, serve_settings, serving
from tests.fakes import FakeClassifier, no_unhandled_loop_errors, png_bytes

# A bound on waits for what must happen anyway, so a regression fails instead of hanging.
PATIENCE_S = 30


@pytest.fixture(autouse=True)
async def _no_lost_errors() -> AsyncIterator[None]:
    """Every test here also fails on task exceptions that nobody retrieved."""
    async with no_unhandled_loop_errors():
        yield


async def connect(running: Running) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    url = urlsplit(running.url)
    assert url.hostname is not None
    assert url.port is not None
    return await asyncio.open_connection(url.hostname, url.port)


def head(content_type: bytes, length: int) -> bytes:
    """The request line and headers of a classify request, up to the body."""
    return (
        b"POST /v1/classify HTTP/1.1\r\nHost: deepguard\r\n"
        b"Content-Type: " + content_type + b"\r\n"
        b"Content-Length: " + str(length).encode() + b"\r\n\r\n"
    )


async def answer_of(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], Any]:
    """Read one whole HTTP answer: status, headers (lower-cased names) and its JSON body."""
    async with asyncio.timeout(PATIENCE_S):
        status_line = await reader.readline()
        headers: dict[str, str] = {}
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        body = await reader.readexactly(int(headers["content-length"]))
    return int(status_line.split()[1]), headers, json.loads(body)


async def send_raw(running: Running, request: bytes) -> tuple[int, dict[str, str], Any]:
    reader, writer = await connect(running)
    try:
        writer.write(request)
        await writer.drain()
        return await answer_of(reader)
    finally:
        writer.close()
        await writer.wait_closed()


async def scrape(running: Running) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    async with running.session.get(f"{running.url}/metrics") as response:
        text = await response.text()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def outcomes(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float]) -> dict[str, float]:
    return {
        dict(labels)["outcome"]: value
        for (name, labels), value in samples.items()
        if name == "deepguard_http_requests_total"
    }


async def eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    """Poll for a state other tasks reach; give up after about PATIENCE_S."""
    for _ in range(PATIENCE_S * 100):
        if await check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never reached: {what}")


async def until_in_flight(running: Running, count: int) -> None:
    async def reached() -> bool:
        return (await scrape(running))[("deepguard_http_in_flight", ())] == count

    await eventually(reached, f"{count} requests in flight")


async def readiness(running: Running) -> tuple[int, str]:
    async with running.session.get(f"{running.url}/readyz") as response:
        return response.status, (await response.json())["status"]


class TestReadTimeout:
    async def test_stalled_uploads_get_408_and_free_their_places(self) -> None:
        """Two uploads stalled mid-body hold MAX_IN_FLIGHT=2 only until the read timeout: then
        each gets 408 and the connection is closed, another client is judged and /readyz passes."""
        settings = serve_settings(max_in_flight=2, read_timeout_s=0.5)
        async with serving(settings, FakeClassifier()) as running:
            stalled = [await connect(running) for _ in range(2)]
            for _, writer in stalled:
                writer.write(head(b"image/png", 1000) + png_bytes(1)[:10])
                await writer.drain()
            await until_in_flight(running, 2)
            locked_out = await readiness(running)
            async with running.classify(png_bytes(2)) as refused:
                refused_status = refused.status
            answers = [await answer_of(reader) for reader, _ in stalled]
            closed = [await reader.read() == b"" for reader, _ in stalled]
            for _, writer in stalled:
                writer.close()
            async with running.classify(png_bytes(3)) as judged:
                judged_status = judged.status
            ready_after = await readiness(running)
            counted = outcomes(await scrape(running))
        assert locked_out == (503, "saturated")
        assert refused_status == 429
        for status, headers, body in answers:
            assert (status, body["error"]) == (408, "read_timeout")
            assert headers["connection"] == "close"
            assert body["message"]
        assert closed == [True, True]
        assert judged_status == 200
        assert ready_after == (200, "ready")
        assert counted["read_timeout"] == 2


class TestDisconnect:
    async def test_hang_up_mid_upload_is_counted_not_logged_as_an_error(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A client that closes its socket mid-body is counted as `disconnected`, frees its place
        and leaves no error (nor traceback) in the log."""
        async with serving(serve_settings(), FakeClassifier()) as running:
            _, writer = await connect(running)
            writer.write(head(b"application/octet-stream", 100_000) + bytes(1000))
            await writer.drain()
            await until_in_flight(running, 1)
            with caplog.at_level(logging.DEBUG):
                writer.close()
                await writer.wait_closed()

                async def counted() -> bool:
                    return "disconnected" in outcomes(await scrape(running))

                await eventually(counted, "the hang-up counted")
            async with running.classify(png_bytes(4)) as judged:
                judged_status = judged.status
            samples = await scrape(running)
        assert outcomes(samples) == {"disconnected": 1, "ok": 1}
        assert samples[("deepguard_http_in_flight", ())] == 0
        assert judged_status == 200
        assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
        assert not any(r.exc_info for r in caplog.records)


BOUNDARY = b"deepguard-boundary"


def form(*parts: bytes, boundary: bytes = BOUNDARY, end: bool = True) -> bytes:
    """A multipart body of the given parts (each: headers, blank line, data)."""
    body = b"".join(b"--" + boundary + b"\r\n" + part + b"\r\n" for part in parts)
    return body + (b"--" + boundary + b"--\r\n" if end else b"")


def file_part(data: bytes, name: bytes = b"file") -> bytes:
    return (
        b'Content-Disposition: form-data; name="' + name + b'"; filename="x.png"\r\n'
        b"Content-Type: image/png\r\n\r\n" + data
    )


class TestForms:
    @pytest.mark.parametrize(
        ("content_type", "body"),
        [
            pytest.param(b"multipart/form-data", form(file_part(b"x")), id="no-boundary"),
            pytest.param(b"multipart/form-data; boundary=", form(file_part(b"x")), id="empty"),
            pytest.param(
                "multipart/form-data; boundary=gr\u00fc\u00dfe".encode(),
                form(file_part(b"x"), boundary="gr\u00fc\u00dfe".encode()),
                id="non-ascii-utf8",
            ),
            pytest.param(
                b"multipart/form-data; boundary=caf\xe9",
                form(file_part(b"x"), boundary=b"caf\xe9"),
                id="non-ascii-latin1",
            ),
            pytest.param(
                b"multipart/form-data; boundary=" + b"b" * 71,
                form(file_part(b"x"), boundary=b"b" * 71),
                id="too-long",
            ),
            pytest.param(
                b"multipart/form-data; boundary=a{b}",
                form(file_part(b"x"), boundary=b"a{b}"),
                id="bad-character",
            ),
            pytest.param(
                b"multipart/form-data; boundary=" + BOUNDARY,
                b"this is not a form at all",
                id="not-a-form",
            ),
            pytest.param(
                b"multipart/form-data; boundary=" + BOUNDARY,
                form(file_part(png_bytes(5)), end=False)[:-40],
                id="cut-inside-the-file",
            ),
        ],
    )
    async def test_malformed_forms_are_400(self, content_type: bytes, body: bytes) -> None:
        """A missing, empty, non-ASCII, overlong or invalid boundary, or a broken form, is a
        400 `invalid` with a message, never a 500."""
        async with serving(serve_settings(), FakeClassifier()) as running:
            status, _, answer = await send_raw(running, head(content_type, len(body)) + body)
            counted = outcomes(await scrape(running))
        assert (status, answer["error"]) == (400, "invalid")
        assert answer["message"]
        assert "internal" not in counted

    async def test_file_part_is_found_among_others_and_capped(self) -> None:
        """The file part is judged wherever it is; one over the byte cap is a 413 while reading."""
        image = png_bytes(6)
        other = b'Content-Disposition: form-data; name="note"\r\n\r\nhello'
        settings = serve_settings(images={"max_bytes": 4096})
        content_type = b"multipart/form-data; boundary=" + BOUNDARY
        async with serving(settings, FakeClassifier()) as running:
            body = form(other, file_part(image, name=b"upload"), other)
            judged = await send_raw(running, head(content_type, len(body)) + body)
            big = form(other, file_part(bytes(5000)))
            refused = await send_raw(running, head(content_type, len(big)) + big)
        assert judged[0] == 200
        assert (refused[0], refused[2]["error"]) == (413, "too_large")

    async def test_a_form_is_judged_as_it_streams(self) -> None:
        """The file part is judged once it is whole, before the rest of the body has come."""
        image = png_bytes(7)
        content_type = b"multipart/form-data; boundary=" + BOUNDARY
        # The file part, then a part whose data goes on: 10 MB announced, a few bytes sent.
        start = form(file_part(image), end=False) + b"--" + BOUNDARY + b"\r\n\r\n" + bytes(1000)
        async with serving(serve_settings(), FakeClassifier()) as running:
            reader, writer = await connect(running)
            writer.write(head(content_type, len(start) + 10_000_000) + start)
            await writer.drain()
            status, _, answer = await answer_of(reader)  # the other 9.99 MB never come
            writer.close()
            await writer.wait_closed()
        assert (status, answer["verdict"]) == (200, "REAL")

    async def test_a_huge_form_of_empty_parts_does_not_stall_the_server(self) -> None:
        """While a 25 MB body of empty parts is parsed, /healthz is answered: a request sent
        halfway through the upload is answered before the upload is."""
        part = b"--" + BOUNDARY + b"\r\n\r\n\r\n"
        chunk = part * (2**20 // len(part))
        chunks = 25_000_000 // len(chunk)
        halfway = asyncio.Event()
        finished: list[str] = []

        async def body() -> AsyncIterator[bytes]:
            for sent in range(chunks):
                if sent == chunks // 2:
                    halfway.set()
                yield chunk
            yield b"--" + BOUNDARY + b"--\r\n"

        async with serving(serve_settings(), FakeClassifier()) as running:

            async def upload() -> tuple[int, Any]:
                headers = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY.decode()}"}
                async with running.classify(body(), headers=headers) as response:  # type: ignore[arg-type]
                    answer = response.status, await response.json()
                finished.append("upload")
                return answer

            async def health() -> int:
                await halfway.wait()
                async with (
                    aiohttp.ClientSession() as fresh,
                    fresh.get(f"{running.url}/healthz") as response,
                ):
                    status = response.status
                finished.append("healthz")
                return status

            async with asyncio.timeout(120):
                (status, answer), alive = await asyncio.gather(upload(), health())
        assert chunks * len(chunk) > 24_000_000
        assert (status, answer["error"]) == (400, "invalid")
        assert "no file" in answer["message"]
        assert alive == 200
        assert finished == ["healthz", "upload"]
