"""Tokens never reach a log line, a formatted argument or a traceback."""

from __future__ import annotations

import logging

import pytest

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
