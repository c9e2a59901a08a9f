"""A bare aiogram 3 echo bot with default settings: the benchmark's aiogram peer.

The same behaviour as ptb_echo.py: an echo with one inline button for every message; for every
button press an answerCallbackQuery and one message. Reads TELEGRAM_BOT_TOKEN and
JOL_API_BASE_URL (python-telegram-bot's form, `http://host:port/bot`).
"""

from __future__ import annotations

import asyncio
import os

from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

KEYBOARD = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="Ещё раз",
                                                                       callback_data="again")]])
dispatcher = Dispatcher()


@dispatcher.message()
async def echo(message: Message) -> None:
    await message.answer(message.text or "…", reply_markup=KEYBOARD)


@dispatcher.callback_query()
async def pressed(query: CallbackQuery, bot: Bot) -> None:
    await query.answer()
    await bot.send_message(query.from_user.id, f"Нажато: {query.data}", reply_markup=KEYBOARD)


async def main() -> None:
    base = os.environ["JOL_API_BASE_URL"]
    server = TelegramAPIServer(base=base + "{token}/{method}",
                               file=base.removesuffix("/bot") + "/file/bot{token}/{path}")
    bot = Bot(os.environ["TELEGRAM_BOT_TOKEN"], session=AiohttpSession(api=server))
    await dispatcher.start_polling(bot)


if __name__ == "__main__":
    asyncio.run(main())
