"""The generated OpenAPI document against the live server: schemathesis, every check, on loopback.

`schemathesis run <url>/openapi.json --checks all` runs as a subprocess against `deepguard serve`
(the real server, a fake model) in this test's loop, with and without a bearer token; a bounded
number of examples per operation and a fixed seed keep it to a few seconds and repeatable.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from tests.api.http_harness import serve_settings, serving
from tests.fakes import FakeClassifier

pytest.importorskip("schemathesis", reason="needs the dev extra: pip install -e '.[dev]'")

pytestmark = pytest.mark.slow

# Bytes that follow the schema (`format: binary`) are still mostly no image format: the API
# answers them 415 unsupported (or 413 too large), as documented, instead of a judgement. A 400
# stays a failure: a request the document calls valid must not be malformed.
CONFIG = """
[[operations]]
include-path = "/v1/classify"
checks.positive_data_acceptance.expected-statuses = ["2xx", "401", "413", "415", "429"]
"""
EXAMPLES = 15
SEED = 7


@pytest.mark.parametrize("token", [None, "s3cret"], ids=["open", "bearer-token"])
async def test_schemathesis_finds_no_failure(token: str | None, tmp_path: Path) -> None:
    """Every request schemathesis derives from /openapi.json is answered as the document says."""
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG, encoding="utf-8")
    auth = ["--header", f"Authorization: Bearer {token}"] if token else []
    async with serving(serve_settings(token=token), FakeClassifier()) as running:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "schemathesis.cli",
            "--config-file",
            str(config),
            "run",
            f"{running.url}/openapi.json",
            "--checks",
            "all",
            "--max-examples",
            str(EXAMPLES),
            "--seed",
            str(SEED),
            "--workers",
            "1",
            "--generation-database",
            "none",
            "--no-color",
            *auth,
            cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await asyncio.wait_for(process.communicate(), 300)
    report = output.decode(errors="replace")
    assert process.returncode == 0, report
    assert "No issues found" in report
    assert "4 selected / 4 total" in report
