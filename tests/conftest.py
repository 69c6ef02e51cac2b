"""Fixtures shared by the suite: a tiny model on disk, settings, a running detector, a store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bots.run import open_store
from config import ImageLimits, ModelSettings, QueueSettings, Settings
from core.classifier import HFClassifier
from core.detector import Detector
from core.moderation.store import SqlStore
from tests.tiny_model import build_model_dir


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random SigLIP classifier, `id2label {0: Real, 1: Fake}`, saved like a hub repo."""
    return build_model_dir(tmp_path_factory.mktemp("tiny-siglip"))


@pytest.fixture(scope="session")
def model_settings(model_dir: Path) -> ModelSettings:
    return ModelSettings(name=str(model_dir), offline=True, device="cpu", threads=1)


@pytest.fixture(scope="session")
def classifier(model_settings: ModelSettings) -> HFClassifier:
    """Loaded once through the user's path: `from_pretrained` on a directory."""
    return HFClassifier.load(model_settings)


@pytest.fixture
def settings(model_dir: Path, tmp_path: Path) -> Settings:
    """The tiny model; `deepguard run`'s moderation database in the test's own directory."""
    return Settings(
        _env_file=None,
        model=ModelSettings(name=str(model_dir), offline=True, device="cpu", threads=1),
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'run.db'}",
    )


@pytest.fixture
async def detector(classifier: HFClassifier) -> AsyncIterator[Detector]:
    queue = QueueSettings(max_batch_size=4, max_wait_ms=5)
    async with Detector(classifier, queue=queue, limits=ImageLimits()) as running:
        yield running


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    """A fresh SQLite file; open it again with `SqlStore.open(store_url)` to act as a restart."""
    return f"sqlite+aiosqlite:///{tmp_path / 'deepguard.db'}"


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[SqlStore]:
    """The real moderation store on a temporary SQLite file, opened as `deepguard run` opens it."""
    async with open_store(Settings(_env_file=None), store_url) as opened:
        yield opened
