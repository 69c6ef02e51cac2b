"""The administrators' commands: `/settings` with its buttons, `/stats`, `/forget`; and a chat's
data following the chat when the bot is removed or a group is upgraded.

`/settings` (or `/settings show`) shows the policy with buttons for the mode and the actions;
`/settings threshold 0.8`, `/settings uncertain 0.3` (never above the threshold),
`/settings modlog -100123` (asks that chat first: see `bots.telegram.modlog`; or `off`),
`/settings exempt 42` / `unexempt 42` (or in reply to the user's message), `/settings declared
on|off` (an image declaring AI counts as such, or the model alone decides) and `/settings
language fr` (the group's language; without a code, or with one no catalog has, the choices)
set the rest. Every message and every button press is checked with `getChatMember` at that
moment: being an administrator yesterday is not enough. Answers in a group are in its language,
a button's private notice in the presser's.

Telegram sends a `my_chat_member` update when the bot is removed from a group (or a user blocks
it in private): that chat's settings, flags and counts are deleted then. A basic group upgraded
to a supergroup gets a new id (a service message in each chat names the other): its settings,
flags and counts move to the new id.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatMemberStatus
from telegram.error import BadRequest
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bots import moderation_replies
from bots.i18n import N_, Words
from bots.moderation_replies import crossing
from bots.outage import Outage
from bots.telegram.chats import (
    author_id,
    chat_key,
    first_time,
    is_admin,
    is_private,
    sender_is_admin,
)
from bots.telegram.languages import Languages
from bots.telegram.modlog import PATTERN as MODLOG_PATTERN
from bots.telegram.modlog import ModlogHandshake, withdrawn
from bots.telegram.review import PATTERN as REVIEW_PATTERN
from bots.telegram.review import ReviewButtons, UnknownButtons, expired
from core.moderation.policy import parse_fraction, with_mode, with_threshold
from core.moderation.types import Action, ChatKey, ChatPolicy, Mode, ModerationStore

log = logging.getLogger(__name__)

Context = ContextTypes.DEFAULT_TYPE
PATTERN = r"^dgs:"
ACTIONS = (Action.REACT, Action.WARN, Action.MODLOG, Action.DELETE)
BANDS = frozenset({"threshold", "uncertain"})  # typed as a share: 80%, 80 or 0.8
GONE = frozenset({ChatMemberStatus.LEFT, ChatMemberStatus.BANNED})
SWITCH = {"on": True, "off": False}
DECLARED_BUTTON = N_("declared AI counts as AI")


def moderation_handlers(
    store: ModerationStore, languages: Languages, outage: Outage
) -> list[BaseHandler[Update, Context, None]]:
    """The commands, buttons and membership updates of moderation, sharing one store (and the
    pipeline's `outage`, which forgets a chat that removed the bot even during one)."""
    handshake = ModlogHandshake(store, languages)
    settings, review, chat = (
        SettingsCommand(store, handshake, languages),
        ReviewButtons(store, languages),
        ChatCommands(store, languages, outage),
    )
    only_new = filters.UpdateType.MESSAGE  # an edited command is not a new request
    return [
        CommandHandler("settings", settings.on_settings, only_new),
        CommandHandler("stats", chat.on_stats, only_new),
        CommandHandler("forget", chat.on_forget, only_new),
        CallbackQueryHandler(settings.on_button, PATTERN),
        CallbackQueryHandler(review.on_button, REVIEW_PATTERN),
        CallbackQueryHandler(handshake.on_confirm, MODLOG_PATTERN),
        ChatMemberHandler(chat.on_membership, ChatMemberHandler.MY_CHAT_MEMBER),
        MessageHandler(filters.StatusUpdate.MIGRATE, chat.on_migrated),
        # Last: a press none of the above took.
        CallbackQueryHandler(UnknownButtons(languages).on_press),
    ]


class SettingsCommand:
    """`/settings` and its buttons; the store is the only state."""

    def __init__(
        self, store: ModerationStore, modlog: ModlogHandshake, languages: Languages
    ) -> None:
        self._store = store
        self._modlog = modlog
        self._languages = languages

    async def on_settings(self, update: Update, context: Context) -> None:
        message = update.effective_message
        if message is None or not await first_time(self._store, message):
            return
        words = await self._languages.of_message(message)
        if not await self._may_configure(message, context.bot, words):
            return
        key, chat = chat_key(message.chat_id), str(message.chat_id)
        args = context.args or []
        if args and args[0] == "language":
            await self._language(key, args[1:], message, words)
            return
        if (target := typed_modlog(args)) is not None:
            await message.reply_text(await self._modlog.ask(context.bot, message, target, words))
            return
        if not args or args[0] == "show":
            policy = await self._store.policy(key, private=False)
        else:
            changed = await self._change(key, args, message, words)
            if changed is None:
                return
            policy = changed
        text = moderation_replies.settings_text(words, policy)
        await message.reply_text(text, reply_markup=keyboard(words, policy, chat))

    async def _language(
        self, key: ChatKey, args: list[str], message: Message, words: Words
    ) -> None:
        """`/settings language <code>`: saved atomically, confirmed in the new language; no
        code, or one no catalog fits, gets the choices."""
        asked = " ".join(args)
        code = self._languages.catalogs.resolve(asked) if asked else None
        if code is None:
            await message.reply_text(moderation_replies.language_choices(words, asked or None))
            return

        def chosen(policy: ChatPolicy) -> ChatPolicy:
            return replace(policy, language=code)

        await self._store.change_policy(key, chosen)
        spoken = self._languages.catalogs.words(code)
        await message.reply_text(moderation_replies.language_set(spoken, code))

    async def _change(
        self, key: ChatKey, args: list[str], message: Message, words: Words
    ) -> ChatPolicy | None:
        """Apply the typed change atomically; None once the sender was told why it was not."""
        refusals: list[str] = []

        def change(policy: ChatPolicy) -> ChatPolicy | None:
            result = typed(words, policy, args, message)
            if isinstance(result, str):
                refusals.append(result)
                return None
            return result

        changed = await self._store.change_policy(key, change)
        if changed is None:
            await message.reply_text(refusals[0])
        return changed

    async def _may_configure(self, message: Message, bot: Bot, words: Words) -> bool:
        """A group's administrator; anyone else is refused."""
        if is_private(message):
            await message.reply_text(words.gettext(moderation_replies.SETTINGS_GROUPS_ONLY))
            return False
        if not await sender_is_admin(bot, message):
            await message.reply_text(words.gettext(moderation_replies.ADMINS_ONLY))
            return False
        return True

    async def on_button(self, update: Update, context: Context) -> None:
        query = update.callback_query
        post = query.message if query is not None else None
        if query is None:
            return
        words = self._languages.of(query.from_user)
        if not isinstance(post, Message):  # too old to edit, or no message at all
            await expired(query, words)
            return
        pressed = pressed_setting(query.data)
        if pressed is None:
            await expired(query, words)
            return
        if not await is_admin(context.bot, post.chat_id, query.from_user.id):
            await query.answer(words.gettext(moderation_replies.ADMINS_ONLY), show_alert=True)
            return
        key, chat = chat_key(post.chat_id), str(post.chat_id)

        def change(policy: ChatPolicy) -> ChatPolicy:
            if isinstance(pressed, Mode):
                return with_mode(policy, pressed)
            if isinstance(pressed, bool):
                return replace(policy, declared_ai_is_fake=pressed)
            return toggled(policy, chat, pressed)

        policy = await self._store.change_policy(key, change)
        if policy is None:
            raise RuntimeError("a settings button's change saved nothing; this is a bug")
        await query.answer(words.gettext(moderation_replies.SETTINGS_SAVED))
        group_words = self._languages.catalogs.words(policy.language)
        try:
            text = moderation_replies.settings_text(group_words, policy)
            await query.edit_message_text(text, reply_markup=keyboard(group_words, policy, chat))
        except BadRequest as exc:
            if "not modified" not in exc.message:  # the current mode pressed again
                raise


def pressed_setting(data: str | None) -> Mode | Action | bool | None:
    """The mode, action or `declared_ai_is_fake` value a settings button names; None for data
    that is none of ours."""
    kind, _, value = (data or "").removeprefix("dgs:").partition(":")
    if kind == "mode" and value in Mode._value2member_map_:
        return Mode(value)
    if kind == "act" and value in {action.value for action in ACTIONS}:
        return Action(value)
    if kind == "declared" and value in SWITCH:
        return SWITCH[value]
    return None


def keyboard(words: Words, policy: ChatPolicy, chat: str) -> InlineKeyboardMarkup:
    """One row of modes (the current one marked), one row of actions (ticked when on), and the
    `declared_ai_is_fake` switch (ticked when on; pressing it sets the other value)."""

    def mode(m: Mode) -> InlineKeyboardButton:
        mark = "• " if policy.mode is m else ""
        label = words.gettext(moderation_replies.MODE_NAMES[m])
        return InlineKeyboardButton(f"{mark}{label}", callback_data=f"dgs:mode:{m.value}")

    def action(a: Action) -> InlineKeyboardButton:
        mark = "✓ " if enabled(policy, chat, a) else ""
        label = words.gettext(moderation_replies.ACTION_NAMES[a])
        return InlineKeyboardButton(f"{mark}{label}", callback_data=f"dgs:act:{a.value}")

    on = policy.declared_ai_is_fake
    declared = InlineKeyboardButton(
        f"{'✓ ' if on else ''}{words.gettext(DECLARED_BUTTON)}",
        callback_data=f"dgs:declared:{'off' if on else 'on'}",
    )
    return InlineKeyboardMarkup(
        [[mode(m) for m in Mode], [action(a) for a in ACTIONS], [declared]]
    )


def enabled(policy: ChatPolicy, chat: str, action: Action) -> bool:
    where = policy.modlog if action is Action.MODLOG else chat
    return action in policy.actions and (where, action) not in policy.disabled


def toggled(policy: ChatPolicy, chat: str, action: Action) -> ChatPolicy:
    """Off when on; on (and no longer switched off after a refusal) when off."""
    if enabled(policy, chat, action):
        return replace(policy, actions=policy.actions - {action})
    disabled = frozenset(pair for pair in policy.disabled if pair[1] is not action)
    return replace(policy, actions=policy.actions | {action}, disabled=disabled)


def typed_modlog(args: list[str]) -> str | None:
    """The chat `/settings modlog <id>` names, as the store keeps it; None for anything else."""
    if len(args) != 2 or args[0] != "modlog" or args[1] == "off":
        return None
    try:
        return str(int(args[1]))
    except ValueError:
        return None


def typed(words: Words, policy: ChatPolicy, args: list[str], message: Message) -> ChatPolicy | str:
    """The policy after `/settings <name> <value>`, or why it cannot be (a reply's text)."""
    name, value = args[0] if args else "", " ".join(args[1:])
    target = message.reply_to_message
    if name in {"exempt", "unexempt"} and not value and target is not None:
        value = author_id(target)
    if name in BANDS:
        share = parse_fraction(value)
        if share is None:
            return moderation_replies.percent_refused(words, name)
        if name == "threshold":
            return with_threshold(policy, share)
        banded = replace(policy, uncertain_from=share)
        return crossing(words, banded) or banded
    try:
        if name == "modlog" and value == "off":  # a chat to use is asked first (ModlogHandshake)
            return withdrawn(policy)
        if name == "mode":
            return with_mode(policy, Mode(value))
        if name == "declared" and value in SWITCH:
            return replace(policy, declared_ai_is_fake=SWITCH[value])
        if name in {"exempt", "unexempt"}:
            users = {str(int(value))}
            changed = (
                policy.exempt_users | users if name == "exempt" else policy.exempt_users - users
            )
            return replace(policy, exempt_users=frozenset(changed))
    except ValueError:
        pass
    return words.gettext(moderation_replies.SETTINGS_USAGE)


class ChatCommands:
    """Per-chat data on demand; the store is the only state."""

    def __init__(self, store: ModerationStore, languages: Languages, outage: Outage) -> None:
        self._store = store
        self._languages = languages
        self._outage = outage

    async def on_stats(self, update: Update, context: Context) -> None:
        """Images scanned, flagged, confirmed and dismissed in the last 7 and 30 days."""
        asked = await self._from_admin(update, context)
        if asked is None:
            return
        message, words = asked
        now, key = datetime.now(UTC), chat_key(message.chat_id)
        week = await self._store.stats(key, now - timedelta(days=7))
        month = await self._store.stats(key, now - timedelta(days=30))
        await message.reply_text(moderation_replies.stats_text(words, week, month))

    async def on_forget(self, update: Update, context: Context) -> None:
        """Delete everything stored about this chat, at an administrator's request."""
        asked = await self._from_admin(update, context)
        if asked is None:
            return
        message, words = asked  # the chat's language, read before it is forgotten
        await self._store.forget(chat_key(message.chat_id))
        log.info("telegram chat %s: data deleted on request", message.chat_id)
        await message.reply_text(words.gettext(moderation_replies.FORGOTTEN))

    async def _from_admin(self, update: Update, context: Context) -> tuple[Message, Words] | None:
        """The command's message and its chat's language when it is new and an administrator
        sent it (else refused)."""
        message = update.effective_message
        if message is None or not await first_time(self._store, message):
            return None
        words = await self._languages.of_message(message)
        if not await sender_is_admin(context.bot, message):
            await message.reply_text(words.gettext(moderation_replies.ADMINS_ONLY_COMMAND))
            return None
        return message, words

    async def on_membership(self, update: Update, context: Context) -> None:
        """The bot left or was removed (or blocked in private): forget the chat."""
        change = update.my_chat_member
        if change is None or change.new_chat_member.status not in GONE:
            return
        if await self._outage.forget(chat_key(change.chat.id)):
            log.info("telegram chat %s: the bot was removed, its data deleted", change.chat.id)

    async def on_migrated(self, update: Update, context: Context) -> None:
        """The group became a supergroup: its data follows the new id (either message will do)."""
        message = update.effective_message
        if message is None:
            return
        if message.migrate_to_chat_id is not None:
            old, new = message.chat_id, message.migrate_to_chat_id
        elif message.migrate_from_chat_id is not None:
            old, new = message.migrate_from_chat_id, message.chat_id
        else:
            return
        await self._store.move(chat_key(old), chat_key(new))

        def renamed(policy: ChatPolicy) -> ChatPolicy | None:
            # In Telegram a group is its own (only) channel: actions switched off there stay off.
            changed = channel_renamed(policy, str(old), str(new))
            return changed if changed != policy else None

        await self._store.change_policy(chat_key(new), renamed)
        log.info("telegram group %s is now supergroup %s; its data moved", old, new)


def channel_renamed(policy: ChatPolicy, old: str, new: str) -> ChatPolicy:
    """The policy with channel id `old` (in refusals and the mod-log) called `new`."""
    disabled = frozenset((new if c == old else c, a) for c, a in policy.disabled)
    modlog = new if policy.modlog == old else policy.modlog
    return replace(policy, disabled=disabled, modlog=modlog)
