"""Tokens never reach a log line, a formatted argument or a traceback; passwords only where they are."""

from __future__ import annotations

import logging

import pytest

from bots.run import MASK, install_redaction
from config import Settings

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


def test_a_wrong_logging_call_reaches_loggings_own_error_handling(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Redaction formats nothing at the call site: a bad call fails in the handler, as without."""
    log = logging.getLogger("deepguard.test.wrong")
    log.propagate = False  # pytest's own capture handler raises on bad records; the stdlib's don't
    handler = logging.StreamHandler()
    log.addHandler(handler)
    undo = install_redaction([TOKEN])
    try:
        log.warning("%d images from bot%s", "not a number", TOKEN)  # must not raise here
    finally:
        undo()
        log.removeHandler(handler)
        log.propagate = True
    err = capsys.readouterr().err
    assert "--- Logging error ---" in err
    assert "TypeError" in err
    assert "images from bot" in err  # the report names the call...
    assert TOKEN not in err  # ...with its arguments masked


def test_a_short_database_password_is_masked_only_where_it_is_a_password(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A password such as "a" leaves ordinary words alone; in a URL or a field it is masked."""
    undo = install_redaction([TOKEN], passwords=["a"])
    try:
        log = logging.getLogger("deepguard.test.password")
        with caplog.at_level(logging.INFO):
            log.info("a cat sat on a mat")
            log.info("connecting to %s", "postgresql+asyncpg://bot:a@db.local/deepguard")
            log.info("options: password=a sslmode=require")
            log.info('config {"password": "a"}')
        lines = [r.getMessage() for r in caplog.records]
    finally:
        undo()
    assert lines == [
        "a cat sat on a mat",
        f"connecting to postgresql+asyncpg://bot:{MASK}@db.local/deepguard",
        f"options: password={MASK} sslmode=require",
        f'config {{"password": "{MASK}"}}',
    ]


def test_stacked_redactions_each_keep_masking(caplog: pytest.LogCaptureFixture) -> None:
    """A second install (one per bot) adds its secrets to the first's."""
    first = install_redaction([TOKEN])
    second = install_redaction(["other-secret-value"])
    try:
        with caplog.at_level(logging.INFO):
            logging.getLogger("deepguard.test").info("%s and %s", TOKEN, "other-secret-value")
        message = caplog.records[-1].getMessage()
    finally:
        second()
        first()
    assert message == f"{MASK} and {MASK}"


def test_settings_repr_never_shows_the_database_password() -> None:
    settings = Settings(
        _env_file=None, database_url="postgresql+asyncpg://deepguard:pa55-word@db/deepguard"
    )
    assert "pa55-word" not in repr(settings)
    assert "pa55-word" not in str(settings)
    assert "postgresql+asyncpg://deepguard:***@db/deepguard" in repr(settings)
    assert settings.database_url.endswith("deepguard:pa55-word@db/deepguard")  # value unchanged


def test_undo_restores_factory() -> None:
    """Tests can remove the redaction again."""
    before = logging.getLogRecordFactory()
    install_redaction([TOKEN])()
    assert logging.getLogRecordFactory() is before
