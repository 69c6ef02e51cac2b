"""The "Why?" button under verdict replies on Telegram: the picture, as a photo reply.

The button's data is fixed (`dg:why`), so it works for as long as the reply exists, across
restarts: a press brings the verdict reply, and Telegram includes the message it quotes
(`reply_to_message`), whose image is downloaded again (nothing is stored). The presser spends
a token like a check; a refusal (throttled, nothing to look at) is a private notice on the
button, in the presser's language, the picture a photo quoting the verdict reply, captioned in
the chat's (a private chat's: its user's).
"""

from __future__ import annotations

import logging

from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    ReplyParameters,
    Update,
)
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from bots.delivery import InFlight
from bots.explain_replies import EXPLAIN_CAPTION, WHY_BUTTON, WHY_DATA, OriginalGone
from bots.i18n import SOURCE, Words
from bots.replies import EXPLAIN_LEGEND, THROTTLED, error_text
from bots.telegram.chats import is_private
from bots.telegram.languages import Languages
from bots.telegram.media import fetch, media_of
from bots.throttle import Admission, Throttle
from config import TelegramSettings
from core.detector import Judge
from core.errors import DeepGuardError

log = logging.getLogger(__name__)

WHY_PATTERN = rf"^{WHY_DATA}$"


def why_markup(words: Words) -> InlineKeyboardMarkup:
    """The inline "Why?" button under a verdict reply."""
    button = InlineKeyboardButton(words.gettext(WHY_BUTTON), callback_data=WHY_DATA)
    return InlineKeyboardMarkup([[button]])


class WhyButton:
    """Answers presses of "Why?" through the judge and the pipeline's throttle."""

    def __init__(
        self,
        detector: Judge,
        throttle: Throttle,
        settings: TelegramSettings,
        inflight: InFlight,
        languages: Languages,
    ) -> None:
        self._detector = detector
        self._languages = languages
        self._throttle = throttle
        self._settings = settings
        self._inflight = inflight

    async def on_press(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None:
            return
        with self._inflight.track():
            reply = query.message if isinstance(query.message, Message) else None
            original = reply.reply_to_message if reply is not None else None
            media = media_of(original, self._settings.max_file_bytes) if original else None
            private = self._languages.of(query.from_user)
            if reply is None or media is None:
                await query.answer(error_text(private, OriginalGone()), show_alert=True)
                return
            # The key the pipeline spends a user's checks under (`handlers._sender`).
            presser = f"telegram-user:{query.from_user.id}"
            if self._throttle.admit(presser) is not Admission.ALLOW:
                await query.answer(private.gettext(THROTTLED), show_alert=True)
                return
            await query.answer()
            words = private if is_private(reply) else await self._languages.group(reply.chat_id)
            try:
                data = await fetch(
                    context.bot,
                    media,
                    self._settings.max_file_bytes,
                    self._settings.download_timeout_s,
                )
                # The picture's font has Latin letters only: its legend stays English.
                explanation = await self._detector.explain(data, legend=EXPLAIN_LEGEND)
            except DeepGuardError as error:
                await _answer(context.bot, reply, text=error_text(words, error))
                return
            if explanation.png is None:  # a judge that ignored the legend: a bug
                raise RuntimeError("an explanation asked with a legend came without its picture")
            caption = words.gettext(EXPLAIN_CAPTION)
            if words.code != SOURCE:
                caption = f"{caption}\n{words.gettext(EXPLAIN_LEGEND)}"
            await _answer(context.bot, reply, picture=explanation.png, caption=caption)


async def _answer(
    bot: Bot,
    reply: Message,
    *,
    text: str | None = None,
    picture: bytes | None = None,
    caption: str | None = None,
) -> None:
    """Quote the verdict reply, in its forum topic when it has one; a refusing chat is logged."""
    where = ReplyParameters(reply.message_id, allow_sending_without_reply=True)
    topic = reply.message_thread_id if reply.is_topic_message else None
    try:
        if picture is not None:
            await bot.send_photo(
                reply.chat_id,
                picture,
                caption=caption,
                reply_parameters=where,
                message_thread_id=topic,
            )
        else:
            await bot.send_message(
                reply.chat_id, text or "", reply_parameters=where, message_thread_id=topic
            )
    except TelegramError as exc:
        log.warning("answer to a Why? press in %s failed: %s", reply.chat_id, exc)
