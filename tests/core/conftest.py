"""Fixtures of the core tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.core.detectors import DetectorFactory, detectors


@pytest.fixture
async def make_detector() -> AsyncIterator[DetectorFactory]:
    """Start Detectors around fakes; afterwards their gates open and they are closed."""
    async with detectors() as make:
        yield make
