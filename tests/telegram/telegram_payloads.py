"""Bot API objects as the fake Telegram sends them: users, chats, a chat administrator."""

from __future__ import annotations

from typing import Any

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
