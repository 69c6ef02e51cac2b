"""Without the `model` extra (no torch, no transformers) the bots still run on a remote core.

Each test runs a fresh interpreter whose `sitecustomize` makes `import torch` and
`import transformers` fail exactly as on an install of plain `deepguard`.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

from core.backends import MODEL_EXTRA_MISSING
from tests.api.http_harness import serve_settings, serving
from tests.fakes import FakeClassifier, png_bytes, red_probability
from tests.judges import PERCENT
from tests.sample_images import image_bytes
from tests.telegram.fake_telegram import FakeTelegram

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]

NO_MODEL = '''
"""Installed by tests/bots/test_model_extra.py: this interpreter has no torch and no transformers."""
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

from bots import run  # noqa: F401  (imported as `deepguard run` does)
from bots.discord import client as discord_client  # noqa: F401
from bots.telegram import application as telegram_app  # noqa: F401
from api import client  # noqa: F401
from config import Settings


async def main() -> None:
    settings = Settings(_env_file=None, core_url=sys.argv[1])
    async with run._open_judge(settings) as judge:
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


async def test_deepguard_run_answers_a_photo_through_the_remote_core_without_torch(
    tmp_path: Path,
) -> None:
    """`deepguard run` with DEEPGUARD_CORE_URL, and no torch, answers a Telegram photo, then stops."""
    env = without_model(tmp_path)
    async with FakeTelegram() as telegram, serving(serve_settings(), FakeClassifier()) as api:
        env |= {
            "PTB_TIMEDELTA": "1",
            "DEEPGUARD_CORE_URL": api.url,
            "DEEPGUARD_TELEGRAM__TOKEN": telegram.token,
            "DEEPGUARD_TELEGRAM__BASE_URL": telegram.base_url,
            "DEEPGUARD_TELEGRAM__BASE_FILE_URL": telegram.base_file_url,
            "DEEPGUARD_TELEGRAM__POLL_TIMEOUT_S": "1",
            "DEEPGUARD_HEALTH_FILE": str(tmp_path / "alive"),
            "DEEPGUARD_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'deepguard.db'}",
        }
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bots.cli",
            "run",
            env=env,
            cwd=tmp_path,
            stderr=asyncio.subprocess.PIPE,
        )
        talk = asyncio.create_task(child.communicate())  # drains stderr until it exits
        telegram.push(telegram.photo(image_bytes(5)))
        replied = asyncio.create_task(telegram.wait_for("sendMessage", timeout_s=30))
        await asyncio.wait({talk, replied}, return_when=asyncio.FIRST_COMPLETED)
        if child.returncode is None:
            child.send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            _, err = await talk
        if not replied.done():
            replied.cancel()
            await asyncio.gather(replied, return_exceptions=True)
            pytest.fail(f"deepguard run exited before answering:\n{err.decode()}")
        [reply] = replied.result()
    assert child.returncode == 0, err.decode()
    assert PERCENT.search(reply["text"])
    assert api.detector.counters.requests == 1
