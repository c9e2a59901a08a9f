"""Builds the Application. The one place that registers handlers, in order.

Order matters, and is:
  group -3  remember the id of each incoming message (in memory) for "clear this chat".
  group -2  language: every later handler needs to know the user's language, and a user
            without one is asked first (the handler stops the update there).
  group -1  the handoff first (bot.handlers.talk): the caseworkers' group, and a private chat
            with an open case, are taken here before search sees them; then other chats:
            groups and channels stop here, so features only see private chats.
  group  0  features, first match wins: commands, admin commands (only for JOL_ADMIN_IDS,
            registered before the unknown-command catch-all so that for anyone else they
            are simply unknown), buttons by kind (each feature's PRESSES), then free text
            (search), then the rest.
"""

from __future__ import annotations

import logging
from typing import Any

from telegram import BotCommand, BotCommandScopeChat, LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    Defaults,
    MessageHandler,
    TypeHandler,
    filters,
)
from telegram.request import BaseRequest

from bot.context import JolContext, Services
from bot.handlers import (
    admin,
    errors,
    fallbacks,
    language,
    menu,
    reports,
    safety,
    search,
    selfcheck,
    sos,
    start,
    talk,
)
from bot.handlers.screens import out_of_date
from bot.i18n import N_
from bot.languages import DEFAULT_LANGUAGE
from bot.processor import PerChatUpdateProcessor
from bot.ratelimit import FloodControl
from bot.transport import RetryTransient
from bot.urgency import classify

log = logging.getLogger(__name__)

JolApplication = Application[Any, JolContext, Any, Any, Any, Any]

USER_COMMANDS = (
    ("start", N_("Start")),
    ("menu", N_("Main menu")),
    ("sos", N_("Emergency numbers and hotlines")),
    ("check", N_("Check a job offer")),
    ("language", N_("Change the language")),
    ("forget", N_("Forget my language choice")),
    ("help", N_("How to use the bot")),
    ("about", N_("About Jol and privacy")),
)
TALK_COMMAND = ("talk", N_("Talk to a person"))  # offered only when the handoff is configured


# The features whose buttons are pressed; each declares PRESSES, its kinds of button
# (bot.buttons) with the handler of each. A press parses to one kind only, so the order of
# these handlers does not matter.
FEATURES_WITH_BUTTONS = (menu, sos, language, selfcheck, safety, reports, talk)


def register_handlers(application: JolApplication, services: Services) -> None:
    private = filters.ChatType.PRIVATE
    new_message = filters.UpdateType.MESSAGE  # edited messages are ignored on purpose

    application.add_handler(TypeHandler(Update, safety.remember_incoming), group=-3)
    application.add_handler(TypeHandler(Update, language.resolve_language), group=-2)
    casework = services.settings.casework
    if casework is not None:
        application.add_handler(MessageHandler(filters.Chat(casework.chat_id) & new_message,
                                               talk.from_caseworkers), group=-1)
        application.add_handler(MessageHandler(private & new_message & ~filters.COMMAND,
                                               talk.from_user), group=-1)
    application.add_handler(TypeHandler(Update, fallbacks.other_chats), group=-1)

    for name, callback in (
        ("start", start.start_command),
        ("menu", menu.menu_command),
        ("help", start.help_command),
        ("about", start.about_command),
        ("sos", sos.sos_command),
        ("check", selfcheck.check_command),
        ("language", language.language_command),
        ("forget", language.forget_command),
        ("talk", talk.talk_command),
    ):
        application.add_handler(CommandHandler(name, callback, filters=private & new_message))

    admins = filters.User(user_id=services.settings.admin_ids)
    for name, callback in (
        ("reload", admin.reload_command),
        ("content", admin.content_command),
        ("stats", admin.stats_command),
        ("workspace", admin.workspace_command),
    ):
        application.add_handler(CommandHandler(name, callback,
                                               filters=private & new_message & admins))

    # A press without data: PTB hands it to the first handler with a pattern, whatever the
    # pattern says, so this one comes first and is the only one whose pattern wants no data.
    application.add_handler(CallbackQueryHandler(out_of_date, pattern=fallbacks.has_no_data))
    for feature in FEATURES_WITH_BUTTONS:
        application.add_handlers(feature.PRESSES)
    application.add_handler(CallbackQueryHandler(out_of_date))  # no kind of ours: stale

    application.add_handler(MessageHandler(private & new_message & filters.TEXT & ~filters.COMMAND,
                                           search.search_text))
    application.add_handler(MessageHandler(private & new_message & filters.COMMAND,
                                           fallbacks.unknown_command))
    application.add_handler(MessageHandler(private & new_message, fallbacks.not_text))
    application.add_error_handler(errors.on_error)


ADMIN_COMMANDS = (
    ("reload", N_("Reload the content")),
    ("content", N_("Loaded content and its warnings")),
    ("stats", N_("Anonymous statistics")),
    ("workspace", N_("Sign in to the editors' workspace")),
)


async def register_commands(application: JolApplication) -> None:
    """The command menu in each user's language (Russian for everyone else); admins also see
    theirs, in their own chat only."""
    bot = application.bot
    services: Services = application.bot_data["services"]
    content = services.content.snapshot
    offered = USER_COMMANDS + ((TALK_COMMAND,) if services.settings.casework else ())
    for lang in content.languages.codes:
        commands = [BotCommand(name, content.catalogs.texts(lang)(description))
                    for name, description in offered]
        await bot.set_my_commands(commands, language_code=lang)
    russian = content.catalogs.texts(DEFAULT_LANGUAGE)
    user_commands = [BotCommand(name, russian(d)) for name, d in offered]
    await bot.set_my_commands(user_commands)
    admin_commands = user_commands + [BotCommand(name, russian(d)) for name, d in ADMIN_COMMANDS]
    for admin_id in services.settings.admin_ids:
        try:
            await bot.set_my_commands(admin_commands, scope=BotCommandScopeChat(admin_id))
        except BadRequest:
            log.warning("an admin has not opened the bot yet; their command menu waits")


def build_application(services: Services, *, request: BaseRequest | None = None,
                      rate_limiter: bool = True) -> JolApplication:
    settings = services.settings
    builder = (
        ApplicationBuilder()
        .token(settings.token or "0:local")
        .base_url(settings.api_base_url)
        .context_types(ContextTypes(context=JolContext))
        .defaults(Defaults(parse_mode=ParseMode.HTML,
                           link_preview_options=LinkPreviewOptions(is_disabled=True)))
        .post_init(register_commands)
    )
    if request is not None:
        request = RetryTransient(request)  # a 5xx from Telegram is retried, not lost
        builder = builder.request(request).get_updates_request(request)
    if rate_limiter:
        # PTB types the builder for rate limiters without per-call arguments; ours takes an
        # int of retries, which the builder accepts at runtime.
        builder = builder.rate_limiter(
            FloodControl(settings.max_messages_per_second))  # type: ignore[arg-type]
    builder = builder.concurrent_updates(PerChatUpdateProcessor(
        classify=lambda update: classify(update, services.content.snapshot)))
    # Updates come from bot.server (long polling or the webhook), not PTB's Updater; and
    # nothing is scheduled through PTB (bot.server runs its own loops), so no JobQueue even
    # where APScheduler happens to be installed (PTB accepts None; its stubs do not say so).
    builder = builder.updater(None).job_queue(None)  # type: ignore[arg-type]
    application: JolApplication = builder.build()
    application.bot_data["services"] = services
    register_handlers(application, services)
    return application
