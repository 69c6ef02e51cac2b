"""Settings for every part of DeepGuard, read once from the environment and `.env`.

This package's one face: `Settings`, `load_settings` and every settings group.
"""

from config.chat import DiscordSettings, ReplySettings, TelegramSettings, ThrottleSettings
from config.inference import (
    ImageLimits,
    MiB,
    ModelSettings,
    ProvenanceSettings,
    QueueSettings,
    VideoSettings,
)
from config.service import ModerationSettings, RemoteSettings, ServeSettings
from config.settings import ENV_PREFIX, Settings, SettingsError, env_name, load_settings

__all__ = [
    "ENV_PREFIX",
    "DiscordSettings",
    "ImageLimits",
    "MiB",
    "ModelSettings",
    "ModerationSettings",
    "ProvenanceSettings",
    "QueueSettings",
    "RemoteSettings",
    "ReplySettings",
    "ServeSettings",
    "Settings",
    "SettingsError",
    "TelegramSettings",
    "ThrottleSettings",
    "VideoSettings",
    "env_name",
    "load_settings",
]
