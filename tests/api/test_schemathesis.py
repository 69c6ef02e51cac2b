"""The generated OpenAPI document against the live server: schemathesis, every check, on loopback.

`schemathesis run <url>/openapi.json --checks all` runs as a subprocess against `deepguard serve`
(the real server, a fake model) in this test's loop, with and without a bearer token; a bounded
number of examples per operation and a fixed seed keep it to a few seconds and repeatable.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import numpy as np
import pytest

from core.explain import Method, PatchMap
from core.preprocess import PixelArray
from core.result import Scores
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

[[operations]]
include-path = "/v1/explain"
checks.positive_data_acceptance.expected-statuses = ["2xx", "401", "413", "415", "429"]
"""
EXAMPLES = 15


class _Explaining(FakeClassifier):
    """The fake model, explaining too (a flat 2x2 map), so /v1/explain answers pictures."""

    def explain(self, prepared: PixelArray, size: tuple[int, int]) -> tuple[Scores, PatchMap]:
        red = int(prepared[0, 0, 0])
        return self._scores(red), PatchMap(np.full((2, 2), red / 255), 0.0, Method.EXACT)


SEED = 7


@pytest.mark.parametrize("token", [None, "s3cret"], ids=["open", "bearer-token"])
async def test_schemathesis_finds_no_failure(token: str | None, tmp_path: Path) -> None:
    """Every request schemathesis derives from /openapi.json is answered as the document says."""
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG, encoding="utf-8")
    auth = ["--header", f"Authorization: Bearer {token}"] if token else []
    async with serving(serve_settings(token=token), _Explaining()) as running:
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
    assert "No issues found" in report, report
    assert "5 selected / 5 total" in report
