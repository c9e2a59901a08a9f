"""A bare python-telegram-bot echo bot with default settings: the benchmark's PTB peer.

Every message gets an echo with one inline button; every button press is answered
(answerCallbackQuery) and gets one message with the same button, so each action a simulated
user takes has exactly one visible answer.

`--aiohttp` swaps in Jol's transport (bot/transport.py) and `--concurrent` turns on concurrent
updates, to measure what each is worth. Reads TELEGRAM_BOT_TOKEN and JOL_API_BASE_URL.
"""

from __future__ import annotations

import argparse
import os

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import Application, CallbackQueryHandler, ContextTypes, MessageHandler, filters

KEYBOARD = InlineKeyboardMarkup([[InlineKeyboardButton("Ещё раз", callback_data="again")]])


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    if update.message is not None:
        await update.message.reply_text(update.message.text or "…", reply_markup=KEYBOARD)


async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    if query is None or update.effective_chat is None:
        return
    await query.answer()
    await context.bot.send_message(update.effective_chat.id, f"Нажато: {query.data}",
                                   reply_markup=KEYBOARD)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--aiohttp", action="store_true", help="Jol's aiohttp transport")
    parser.add_argument("--concurrent", action="store_true", help="concurrent updates (256)")
    args = parser.parse_args()
    builder = (Application.builder().token(os.environ["TELEGRAM_BOT_TOKEN"])
               .base_url(os.environ["JOL_API_BASE_URL"]))
    if args.aiohttp:
        from bot.transport import AiohttpRequest

        builder = builder.request(AiohttpRequest()).get_updates_request(AiohttpRequest())
    if args.concurrent:
        builder = builder.concurrent_updates(True)
    application = builder.build()
    application.add_handler(MessageHandler(filters.ALL, echo))
    application.add_handler(CallbackQueryHandler(pressed))
    application.run_polling()


if __name__ == "__main__":
    main()
