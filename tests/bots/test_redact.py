"""Tokens never reach a log line, a formatted argument or a traceback."""

from __future__ import annotations

import logging

import pytest

from bots.dedupe import SeenMessages
from bots.run import MASK, install_redaction

TOKEN = "123456:SECRET-token"


def test_messages_arguments_and_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    """Redaction covers the message, its %-arguments and exception text."""
    undo = install_redaction([TOKEN])
    try:
        log = logging.getLogger("deepguard.test")
        with caplog.at_level(logging.INFO):
            log.info("GET https://api.example/file/bot%s/photo.jpg", TOKEN)
            try:
                raise RuntimeError(f"failed https://x/bot{TOKEN}/getFile")
            except RuntimeError:
                log.exception("download failed")
        text = caplog.text
    finally:
        undo()
    assert TOKEN not in text
    assert MASK in text
    assert "RuntimeError" in text


def test_undo_restores_factory() -> None:
    """Tests can remove the redaction again."""
    before = logging.getLogRecordFactory()
    install_redaction([TOKEN])()
    assert logging.getLogRecordFactory() is before


async def test_seen_messages_claims_once() -> None:
    """A redelivered message key is claimed only the first time."""
    seen = SeenMessages(capacity=2)
    assert await seen.claim("tg:1:10")
    assert not await seen.claim("tg:1:10")
    assert await seen.claim("tg:1:11")
    assert await seen.claim("tg:1:12")
    assert await seen.claim("tg:1:10")  # evicted past the capacity
