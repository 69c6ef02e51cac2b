"""Settings come from DEEPGUARD_* variables and `.env`, and bad ones are named."""

from __future__ import annotations

from pathlib import Path

import pytest

from config import Settings, SettingsError, load_settings
from config.table import readme_block
from config.table import rows as table_rows


def test_defaults() -> None:
    """With nothing set, the card's model and threshold are used and both bots are off."""
    settings = Settings(_env_file=None)
    assert settings.model.name == "king1oo1/deepfake-model"
    assert settings.model.threshold == 0.5
    assert settings.images.max_pixels == 40_000_000
    assert not settings.discord.enabled
    assert not settings.telegram.enabled


def test_nested_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nested groups are set with the `__` delimiter under the DEEPGUARD_ prefix."""
    monkeypatch.setenv("DEEPGUARD_QUEUE__MAX_BATCH_SIZE", "3")
    monkeypatch.setenv("DEEPGUARD_MODEL__DEVICE", "cpu")
    monkeypatch.setenv("DEEPGUARD_TELEGRAM__TOKEN", "123:abc")
    settings = Settings(_env_file=None)
    assert settings.queue.max_batch_size == 3
    assert settings.model.device == "cpu"
    assert settings.telegram.enabled
    assert settings.telegram.token is not None
    assert settings.telegram.token.get_secret_value() == "123:abc"
    assert "123:abc" not in repr(settings)


def test_dotenv_file(tmp_path: Path) -> None:
    """A `.env` file is read, and a blank token leaves that bot off."""
    env = tmp_path / ".env"
    env.write_text("DEEPGUARD_MODEL__NAME=/models/mine\nDEEPGUARD_DISCORD__TOKEN=\n")
    settings = load_settings(env)
    assert settings.model.name == "/models/mine"
    assert not settings.discord.enabled


def test_errors_name_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    """A validation error says which environment variable to fix."""
    monkeypatch.setenv("DEEPGUARD_QUEUE__MAX_BATCH_SIZE", "0")
    monkeypatch.setenv("DEEPGUARD_MODEL__DEVICE", "tpu")
    with pytest.raises(SettingsError) as caught:
        load_settings(None)
    message = str(caught.value)
    assert "DEEPGUARD_QUEUE__MAX_BATCH_SIZE" in message
    assert "DEEPGUARD_MODEL__DEVICE" in message


def test_reply_bands_must_be_ordered() -> None:
    """The uncertain band cannot be inverted."""
    with pytest.raises(ValueError, match="likely_real_below"):
        Settings(_env_file=None, replies={"likely_fake_from": 0.2, "likely_real_below": 0.6})


def test_env_example_lists_every_setting() -> None:
    """`.env.example` documents each variable the Settings accept."""
    text = (Path(__file__).parents[2] / ".env.example").read_text()
    for group_name, group in Settings.model_fields.items():  # class access: no deprecation
        annotation = group.annotation
        fields = getattr(annotation, "model_fields", None)
        if fields is None:
            assert f"DEEPGUARD_{group_name.upper()}=" in text
            continue
        for field_name in fields:
            assert f"DEEPGUARD_{group_name.upper()}__{field_name.upper()}=" in text


def test_every_setting_says_what_it_does() -> None:
    """Each field has a description, which the README's table and `.env.example` rely on."""
    for name, default, about in table_rows():
        assert about, f"{name} (default {default}) has no description"


def test_readme_table_matches_the_settings() -> None:
    """README.md's settings table is the one made from the code (`python -m config.table --write`)."""
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    assert readme_block() in readme, (
        "README's settings table is stale: python -m config.table --write"
    )


class TestTelegramWebhook:
    """Webhook mode never starts without a secret: without one, anyone could post updates."""

    def _webhook(self, monkeypatch: pytest.MonkeyPatch, secret: str | None) -> None:
        monkeypatch.setenv("DEEPGUARD_TELEGRAM__TOKEN", "123:abc")
        monkeypatch.setenv("DEEPGUARD_TELEGRAM__MODE", "webhook")
        monkeypatch.setenv("DEEPGUARD_TELEGRAM__WEBHOOK_URL", "https://bot.example.org/hook")
        if secret is not None:
            monkeypatch.setenv("DEEPGUARD_TELEGRAM__WEBHOOK_SECRET", secret)

    @pytest.mark.parametrize("secret", [None, "", "short", "x" * 31, "has spaces " * 4])
    def test_refused_without_a_strong_secret(
        self, monkeypatch: pytest.MonkeyPatch, secret: str | None
    ) -> None:
        self._webhook(monkeypatch, secret)
        with pytest.raises(SettingsError) as caught:
            load_settings(None)
        message = str(caught.value)
        assert "DEEPGUARD_TELEGRAM__WEBHOOK_SECRET" in message
        assert "at least 32 random characters" in message
        assert "secrets.token_urlsafe" in message

    def test_started_with_one_and_listening_on_loopback_by_default(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        self._webhook(monkeypatch, "A" * 20 + "-_b" * 4)
        telegram = load_settings(None).telegram
        assert telegram.mode == "webhook"
        assert telegram.webhook_listen == "127.0.0.1"

    def test_polling_needs_no_secret(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("DEEPGUARD_TELEGRAM__TOKEN", "123:abc")
        assert load_settings(None).telegram.webhook_secret is None
