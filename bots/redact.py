"""Keep bot tokens out of every log line, including tracebacks.

Telegram file URLs carry the token in their path, and HTTP libraries put URLs in their errors.
Redacting where records are created (not in one handler) covers every logger and handler,
including ones added later, such as pytest's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

MASK = "[REDACTED]"


def install_redaction(secrets: Iterable[str]) -> Callable[[], None]:
    """Wrap the log-record factory so each record's text is redacted; returns an undo."""
    words = sorted({s for s in secrets if s}, key=len, reverse=True)
    previous = logging.getLogRecordFactory()
    if not words:
        return lambda: None
    formatter = logging.Formatter()

    def redact(text: str) -> str:
        for word in words:
            text = text.replace(word, MASK)
        return text

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        message = redact(record.getMessage())
        record.msg, record.args = message, None
        if record.exc_info:
            record.exc_text = redact(formatter.formatException(record.exc_info))
        return record

    logging.setLogRecordFactory(factory)
    return lambda: logging.setLogRecordFactory(previous)
