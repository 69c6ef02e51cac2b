"""Settings for every part of DeepGuard, read once from the environment and `.env`."""

from config.settings import (
    DiscordSettings,
    ImageLimits,
    ModelSettings,
    ModerationSettings,
    QueueSettings,
    ReplySettings,
    Settings,
    TelegramSettings,
    ThrottleSettings,
)

__all__ = [
    "DiscordSettings",
    "ImageLimits",
    "ModelSettings",
    "ModerationSettings",
    "QueueSettings",
    "ReplySettings",
    "Settings",
    "TelegramSettings",
    "ThrottleSettings",
]
