"""The fake Bot API with what moderation needs: chat administrators chosen per test, callback
queries and their answers, message edits, `my_chat_member` updates, and the sent messages kept
as the fake returned them (their ids are what a button press refers to).

Typical use::

    async with ModFake() as fake:
        fake.push(fake.group_photo(image_bytes(1)))
        [post] = await fake.wait_posted(MODLOG)
        fake.press(post, "dg:ok:1", user_id=ADMIN)
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.telegram.fake_telegram import FakeTelegram
from tests.telegram.telegram_api import Injected
from tests.telegram.telegram_harness import isolate_environment
from tests.telegram.telegram_payloads import ALICE, BOB, BOT_USER, Json, administrator, chat, user

GROUP = -1001234567890  # the moderated supergroup
MODLOG = -1009876543210  # the moderators' chat
ADMIN, MEMBER = ALICE, BOB
ANONYMOUS_ADMIN_BOT = 1087968824  # "GroupAnonymousBot", the sender of anonymous admins' messages


class ModFake(FakeTelegram):
    """`admins[chat]` are administrators there; everyone else is a plain member."""

    def __init__(self) -> None:
        super().__init__()
        self.admins: dict[int, set[int]] = {GROUP: {ADMIN}, MODLOG: {ADMIN}}
        self.posted: list[Json] = []
        self.answers.update(
            {
                "getchatmember": self._member,
                "sendmessage": self._post,
                "answercallbackquery": lambda params: True,
                "editmessagetext": self._edit,
                "editmessagereplymarkup": self._edit,
            }
        )

    # --- what a test does -------------------------------------------------------------------

    def group_photo(self, data: bytes, *, user_id: int = MEMBER, **fields: Any) -> Json:
        return self.photo(data, chat_id=GROUP, user_id=user_id, **fields)

    def group_command(self, text: str, *, user_id: int = ADMIN, **fields: Any) -> Json:
        return self.command(text, chat_id=GROUP, user_id=user_id, **fields)

    def anonymous_command(self, text: str) -> Json:
        """A command from an anonymous administrator: it speaks as the group itself."""
        return self.group_command(text, user_id=ANONYMOUS_ADMIN_BOT, sender_chat=chat(GROUP))

    def press(self, post: Json, data: str, *, user_id: int) -> Json:
        """A user presses the inline button carrying `data` under the bot's message `post`."""
        return self.push_update("callback_query", self.button_press(post, data, user_id=user_id))

    def button_press(self, post: Json, data: str, *, user_id: int) -> Json:
        """The callback query of a press, as Telegram sends it."""
        return {
            "id": f"query-{len(self.calls)}-{data}",
            "from": user(user_id),
            "chat_instance": "instance",
            "message": post,
            "data": data,
        }

    def bot_removed(self, chat_id: int = GROUP, status: str = "left") -> Json:
        """Telegram tells the bot it left (or was kicked from) a chat."""
        return self.push_update("my_chat_member", self.removal(chat_id, status))

    def removal(self, chat_id: int = GROUP, status: str = "left") -> Json:
        """The `my_chat_member` change saying the bot left (or was kicked from) a chat."""
        return {
            "chat": chat(chat_id),
            "from": user(ADMIN),
            "date": int(time.time()),
            "old_chat_member": administrator(BOT_USER),
            "new_chat_member": {"status": status, "user": BOT_USER, "until_date": 0},
        }

    def migrated(self, method: str, new_chat_id: int) -> None:
        """Answer the next call of `method` as Telegram does for a group upgraded to a supergroup."""
        error = {
            "ok": False,
            "error_code": 400,
            "description": "Bad Request: group chat was upgraded",
        }
        self._failures[method.lower()].append(
            Injected(error | {"parameters": {"migrate_to_chat_id": new_chat_id}})
        )

    def posted_to(self, chat_id: int) -> list[Json]:
        return [message for message in self.posted if message["chat"]["id"] == chat_id]

    async def wait_posted(self, chat_id: int, count: int = 1) -> list[Json]:
        """Wait until the bot sent `count` messages to `chat_id`; return them as sent."""
        await self.wait_until(lambda: len(self.posted_to(chat_id)) >= count)
        return self.posted_to(chat_id)

    async def ask(self, *messages: Json) -> list[str]:
        """Push each message once the one before is answered in its chat; the answers' texts."""
        answers = []
        for message in messages:
            chat_id = int(message["chat"]["id"])
            before = len(self.posted_to(chat_id))
            self.push(message)
            answers.append(str((await self.wait_posted(chat_id, before + 1))[before]["text"]))
        return answers

    def callback_answers(self) -> list[str]:
        return [str(params.get("text", "")) for params in self.sent("answerCallbackQuery")]

    # --- serving ----------------------------------------------------------------------------

    def _member(self, params: Json) -> Json:
        chat_id, user_id = int(params["chat_id"]), int(params["user_id"])
        if user_id == BOT_USER["id"] or user_id in self.admins.get(chat_id, set()):
            return administrator(BOT_USER if user_id == BOT_USER["id"] else user(user_id))
        return {"status": "member", "user": user(user_id)}

    def _post(self, params: Json) -> Json:
        message = self._send_message(params)
        if "reply_markup" in params:
            message["reply_markup"] = params["reply_markup"]
        self.posted.append(message)
        return message

    def _edit(self, params: Json) -> Json:
        return {
            "message_id": int(params["message_id"]),
            "date": int(time.time()),
            "chat": chat(int(params["chat_id"])),
            "from": BOT_USER,
            "text": params.get("text", ""),
        }


def buttons(message: Json) -> dict[str, str]:
    """Button text -> callback data of a sent message's inline keyboard."""
    rows = message.get("reply_markup", {}).get("inline_keyboard", [])
    return {button["text"]: button["callback_data"] for row in rows for button in row}


def texts(fake: ModFake, chat_id: int) -> list[str]:
    """The texts of the messages the bot sent to a chat, in order."""
    return [str(message["text"]) for message in fake.posted_to(chat_id)]


async def isolated_mod_fake(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[ModFake]:
    """A running fake, the environment isolated: `fake = pytest.fixture(isolated_mod_fake)`."""
    isolate_environment(monkeypatch)
    async with ModFake() as server:
        yield server
