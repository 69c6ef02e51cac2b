"""Without the `model` extra (no torch, no transformers) the bots still run on a remote core.

Each test runs a fresh interpreter whose `sitecustomize` makes `import torch` and
`import transformers` fail exactly as on an install of plain `deepguard`.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

from core.backends import MODEL_EXTRA_MISSING
from tests.fakes import FakeClassifier, png_bytes, red_probability
from tests.http_harness import serve_settings, serving

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent

NO_MODEL = '''
"""Installed by tests/test_model_extra.py: this interpreter has no torch and no transformers."""
import sys


class _NotInstalled:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in ("torch", "transformers"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, _NotInstalled())
'''

JUDGE_REMOTELY = """
import asyncio, json, sys

from bots import app, discord_bot, telegram_bot  # noqa: F401  (imported as `deepguard run` does)
from config import Settings
from core import remote  # noqa: F401


async def main() -> None:
    settings = Settings(_env_file=None, core_url=sys.argv[1])
    async with app._open_judge(settings) as judge:
        judgement = await judge.judge(open(sys.argv[2], "rb").read())
    try:
        import torch  # noqa: F401
        blocked = False
    except ModuleNotFoundError:
        blocked = True
    loaded = sorted(m for m in sys.modules if m.partition(".")[0] in ("torch", "transformers"))
    print(json.dumps({"judge": type(judge).__name__, "fake": judgement.fake_probability,
                      "blocked": blocked, "loaded": loaded}))


asyncio.run(main())
"""


def without_model(tmp_path: Path) -> dict[str, str]:
    """Environment for a child interpreter that cannot import torch or transformers."""
    site = tmp_path / "no-model"
    site.mkdir()
    (site / "sitecustomize.py").write_text(NO_MODEL)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEEPGUARD_")}
    env["PYTHONPATH"] = os.pathsep.join([str(site), str(ROOT)])
    env["NO_PROXY"] = "127.0.0.1,localhost"
    return env


async def run_python(
    env: Mapping[str, str], cwd: Path, *args: str, timeout_s: float = 60.0
) -> tuple[int, str, str]:
    """Run `python *args` without blocking the loop (the servers under test share it)."""
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        *args,
        env=dict(env),
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(timeout_s):
        out, err = await child.communicate()
    assert child.returncode is not None
    return child.returncode, out.decode(), err.decode()


async def test_bots_import_and_judge_through_a_remote_core_without_torch(tmp_path: Path) -> None:
    """The bot modules import without torch, and the judge `deepguard run` opens works remotely."""
    image = tmp_path / "red.png"
    image.write_bytes(png_bytes(200))
    env = without_model(tmp_path)
    async with serving(serve_settings(), FakeClassifier()) as api:
        code, out, err = await run_python(env, tmp_path, "-c", JUDGE_REMOTELY, api.url, str(image))
    assert code == 0, err
    answer = json.loads(out)
    assert answer["blocked"]  # the child really had no torch
    assert answer["loaded"] == []
    assert answer["judge"] == "RemoteDetector"
    assert answer["fake"] == pytest.approx(red_probability(200))


async def test_check_without_the_model_extra_says_what_to_install(tmp_path: Path) -> None:
    """`deepguard check` with no torch exits 2 and names the `model` extra, without a traceback."""
    image = tmp_path / "red.png"
    image.write_bytes(png_bytes(10))
    env = without_model(tmp_path)
    code, out, err = await run_python(env, tmp_path, "-m", "bots.cli", "check", str(image))
    assert code == 2
    assert f"deepguard: {MODEL_EXTRA_MISSING}" in err
    assert "Traceback" not in err
    assert out == ""
