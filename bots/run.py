"""What `deepguard run` and `deepguard serve` share as processes, and the start of the bots.

Both run inside `process()`: secrets redacted from every log record, SIGTERM and SIGINT turned
into a stop event, and a heartbeat file for the container's health check (the bots have no port
to probe; `deepguard health` passes while the file is fresh, so a wedged loop is restarted).
`run` then starts the bots whose tokens are set, sharing one judge; `serve` the inference API.
"""

from __future__ import annotations

import asyncio
import logging
import re
import signal
import time
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import make_url

from bots import replies
from bots.i18n import Catalogs
from config import Settings
from core.detector import Detector, Judge
from core.moderation.store import SqlStore, purge_regularly
from core.moderation.types import ModerationStore

log = logging.getLogger(__name__)


TOKEN_VARIABLES = ("DEEPGUARD_DISCORD__TOKEN", "DEEPGUARD_TELEGRAM__TOKEN")


class NoBotConfigured(Exception):
    """Neither bot has a token, so there is nothing to run."""


def secrets_of(settings: Settings) -> tuple[list[str], list[str]]:
    """The tokens (masked anywhere) and the database password (masked where it is one)."""
    tokens = [
        token.get_secret_value()
        for token in (settings.discord.token, settings.telegram.token, settings.core_token)
        if token is not None
    ]
    database_password = make_url(settings.database_url).password
    return tokens, [str(database_password)] if database_password else []


@asynccontextmanager
async def process(
    health_file: Path, secrets: Iterable[str], passwords: Iterable[str] = ()
) -> AsyncIterator[asyncio.Event]:
    """Redact secrets, beat the heartbeat, and yield the event that SIGTERM or SIGINT sets."""
    undo = install_redaction(secrets, passwords=passwords)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = (signal.SIGTERM, signal.SIGINT)
    for signum in signals:
        loop.add_signal_handler(signum, stop.set)
    beat = asyncio.create_task(heartbeat(health_file), name="heartbeat")
    try:
        yield stop
    finally:
        beat.cancel()
        await asyncio.gather(beat, return_exceptions=True)
        for signum in signals:
            loop.remove_signal_handler(signum)
        undo()


async def run(settings: Settings) -> None:
    """Load the model (or use the remote core), start the bots, stop them cleanly on a signal."""
    if not (settings.discord.enabled or settings.telegram.enabled):
        raise NoBotConfigured(f"no bot token is set; set {' or '.join(TOKEN_VARIABLES)}")
    catalogs = Catalogs.load()  # every language's words, compiled once for both bots
    # The database before the model: a wrong URL fails in a second, not after the model loaded.
    async with (
        process(settings.health_file, *secrets_of(settings)) as stop,
        open_store(settings) as store,
        _open_judge(settings) as detector,
    ):
        purge = asyncio.create_task(
            purge_regularly(store, settings.moderation.purge_interval_h * 3600), name="purge"
        )
        try:
            await serve(settings, detector, stop, store, catalogs)
        finally:
            purge.cancel()
            await asyncio.gather(purge, return_exceptions=True)


async def serve_api(settings: Settings) -> None:
    """Serve the inference API with the configured model until SIGTERM or SIGINT."""
    from api import server

    token = settings.serve.token
    secrets = [token.get_secret_value()] if token is not None else []
    async with process(settings.health_file, secrets) as stop:
        await server.serve(
            settings,
            stop,
            lambda: Detector.open(
                settings.model,
                settings.queue,
                settings.images,
                settings.provenance,
                settings.video,
            ),
            legend=replies.EXPLAIN_LEGEND,
        )


def open_store(
    settings: Settings, url: str | None = None
) -> AbstractAsyncContextManager[SqlStore]:
    """The moderation store (at `url`, else the configured one).

    A chat nobody configured starts with the operator's reply bands: its flag threshold is
    where replies start saying "likely AI-generated", its uncertain band where "likely real" ends;
    it counts an image's own declaration of AI as the provenance settings say.
    """
    bands = settings.replies
    return SqlStore.open(
        url or settings.database_url,
        retention_days=settings.moderation.retention_days,
        threshold=bands.likely_fake_from,
        uncertain_from=bands.likely_real_below,
        declared_ai_is_fake=settings.provenance.declared_ai_is_fake,
    )


def _open_judge(settings: Settings) -> AbstractAsyncContextManager[Judge]:
    """The remote core when `DEEPGUARD_CORE_URL` is set (no model here), else a local model."""
    if settings.core_url:
        from api.client import RemoteDetector

        token = settings.core_token.get_secret_value() if settings.core_token else None
        return RemoteDetector(
            settings.core_url, settings.remote, token=token, limits=settings.images
        )
    return Detector.open(
        settings.model, settings.queue, settings.images, settings.provenance, settings.video
    )


async def serve(
    settings: Settings,
    detector: Judge,
    stop: asyncio.Event,
    store: ModerationStore,
    catalogs: Catalogs,
) -> None:
    """Run each configured adapter until `stop` is set; one failing stops the others."""
    # Imported here so that `deepguard check` and a one-platform install load one client only.
    async with asyncio.TaskGroup() as group:
        if settings.telegram.enabled:
            from bots.telegram import application as telegram_app

            group.create_task(
                telegram_app.run(settings, detector, stop, store=store, catalogs=catalogs),
                name="telegram",
            )
        if settings.discord.enabled:
            from bots.discord import client as discord_client

            group.create_task(
                discord_client.run(settings, detector, stop, store=store, catalogs=catalogs),
                name="discord",
            )
    log.info("bots stopped")


INTERVAL_S = 15.0


MAX_AGE_S = 60.0


async def heartbeat(path: Path, interval_s: float = INTERVAL_S) -> None:
    """Touch `path` every `interval_s` until cancelled, then remove it."""
    try:
        while True:
            await asyncio.to_thread(path.touch)
            await asyncio.sleep(interval_s)
    finally:
        await asyncio.to_thread(path.unlink, missing_ok=True)


def is_alive(path: Path, max_age_s: float = MAX_AGE_S, now: float | None = None) -> bool:
    """True while the heartbeat file was touched within `max_age_s`."""
    try:
        age = (time.time() if now is None else now) - path.stat().st_mtime
    except FileNotFoundError:
        return False
    return age <= max_age_s


MASK = "[REDACTED]"


@dataclass(frozen=True, slots=True)
class Redactor:
    """Masks secrets in log text: `words` anywhere, `passwords` only where they are passwords.

    Tokens are long and random, so any occurrence is one. A database password may be a short
    common word, so it is masked only inside a URL (`scheme://user:PASSWORD@host`) or a
    `password=` / `password: ` field, never as a bare word in unrelated text.
    """

    words: tuple[str, ...] = ()
    patterns: tuple[re.Pattern[str], ...] = ()

    @classmethod
    def of(cls, words: Iterable[str], passwords: Iterable[str] = ()) -> Redactor:
        found = sorted({w for w in words if w}, key=len, reverse=True)
        patterns = [
            re.compile(
                rf"(://[^\s/@:]*:){re.escape(p)}(?=@)"  # in a URL's user:password@
                rf"|(password['\"]?\s*[=:]\s*['\"]?){re.escape(p)}",  # password=, "password":
                re.IGNORECASE,
            )
            for p in sorted({p for p in passwords if p}, key=len, reverse=True)
        ]
        return cls(tuple(found), tuple(patterns))

    def __bool__(self) -> bool:
        return bool(self.words or self.patterns)

    def __add__(self, other: Redactor) -> Redactor:
        return Redactor(self.words + other.words, self.patterns + other.patterns)

    def __call__(self, text: str) -> str:
        for word in self.words:
            text = text.replace(word, MASK)
        for pattern in self.patterns:
            text = pattern.sub(lambda m: (m.group(1) or m.group(2)) + MASK, text)
        return text


class _RedactedRecord(logging.LogRecord):
    """A record whose message is redacted when a handler formats it, not when it is made.

    So a wrong logging call (`log.info("%d", "x")`) still reaches logging's own error
    handling in the handler, as without redaction, instead of raising at the call site.
    """

    redactor: Redactor

    def getMessage(self) -> str:
        try:
            return self.redactor(super().getMessage())
        except Exception:
            # logging's error report prints the message and its arguments: masked too.
            self.msg = self.redactor(str(self.msg))
            self.args = tuple(self.redactor(repr(arg)) for arg in _arguments(self.args))
            raise


def _arguments(args: Any) -> tuple[Any, ...]:
    return args if isinstance(args, tuple) else (args,)


def install_redaction(
    secrets: Iterable[str], *, passwords: Iterable[str] = ()
) -> Callable[[], None]:
    """Wrap the log-record factory so each record's text is redacted; returns an undo."""
    redactor = Redactor.of(secrets, passwords)
    previous = logging.getLogRecordFactory()
    if not redactor:
        return lambda: None
    formatter = logging.Formatter()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        made = previous(*args, **kwargs)
        record = _RedactedRecord.__new__(_RedactedRecord)
        record.__dict__.update(made.__dict__)
        # Stacked installs (each bot adds its own) keep every earlier redaction too.
        earlier = made.redactor if isinstance(made, _RedactedRecord) else Redactor()
        record.redactor = earlier + redactor
        if record.exc_info:
            record.exc_text = record.redactor(formatter.formatException(record.exc_info))
        if record.stack_info:
            record.stack_info = record.redactor(record.stack_info)
        return record

    logging.setLogRecordFactory(factory)
    return lambda: logging.setLogRecordFactory(previous)
