"""The bound on uploads in hand before the model: downloads, decodes and the queue together."""

from __future__ import annotations

import pytest

from core.backlog import Backlog
from core.errors import Overloaded


def test_past_the_limit_an_upload_is_refused_at_once_and_counted() -> None:
    backlog = Backlog(2)
    with backlog.admit(), backlog.admit():
        assert backlog.in_hand == 2
        with pytest.raises(Overloaded), backlog.admit():
            pass  # never reached
        assert backlog.refused == 1
    assert backlog.in_hand == 0


def test_a_place_is_freed_when_its_upload_fails() -> None:
    backlog = Backlog(1)
    with pytest.raises(RuntimeError), backlog.admit():
        raise RuntimeError("download failed")
    with backlog.admit():
        assert backlog.in_hand == 1


def test_a_limit_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Backlog(0)
