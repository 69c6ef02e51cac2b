"""Bot API objects as the fake Telegram sends them, and the pictures tests post.

Users, chats and a chat administrator in the Bot API's shape; `image_bytes` gives a distinct
small picture per seed and `pixel_bomb` a tiny PNG that declares a huge one.
"""

from __future__ import annotations

import io
import struct
import zlib
from typing import Any

from PIL import Image

TOKEN = "123456:TEST-secret-token-do-not-log"
BOT_USER = {"id": 123456, "is_bot": True, "first_name": "DeepGuard", "username": "deepguard_bot"}
ALICE, BOB = 42, 43
Json = dict[str, Any]


def user(user_id: int) -> Json:
    return {"id": user_id, "is_bot": False, "first_name": f"User{user_id}"}


def chat(chat_id: int) -> Json:
    if chat_id > 0:
        return {"id": chat_id, "type": "private", "first_name": f"User{chat_id}"}
    return {"id": chat_id, "type": "supergroup", "title": "Test group", "is_forum": True}


def administrator(member: Json) -> Json:
    rights = [
        "can_manage_chat",
        "can_delete_messages",
        "can_manage_video_chats",
        "can_restrict_members",
        "can_promote_members",
        "can_change_info",
        "can_invite_users",
        "can_post_stories",
        "can_edit_stories",
        "can_delete_stories",
    ]
    flags = dict.fromkeys(rights, False) | {"can_manage_chat": True, "can_delete_messages": True}
    return {
        "status": "administrator",
        "user": member,
        "can_be_edited": False,
        "is_anonymous": False,
        **flags,
    }


def image_bytes(seed: int, fmt: str = "PNG", side: int = 48) -> bytes:
    """A small picture, different for each seed so the Detector's cache does not answer."""
    image = Image.new("RGB", (side, side), ((seed * 53) % 256, (seed * 97) % 256, 128))
    image.putpixel((seed % side, (seed // side) % side), (255, 255, 255))
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def pixel_bomb(side: int = 20_000) -> bytes:
    """A 100-byte PNG whose header declares `side` x `side` pixels."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body)
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\0" * 64)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", pixels)
        + chunk(b"IEND", b"")
    )
