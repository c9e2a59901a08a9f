"""`jol chat`: talk to the real bot in a terminal, offline, as a user would see it.

Type a message to send it; type a button's number to press it; /quit to leave.
"""

from __future__ import annotations

import asyncio
import tempfile
import textwrap
from dataclasses import replace
from pathlib import Path

from bot.app import build_application
from bot.fake_telegram import FakeTelegram, LocalRequest, LocalUser, SentMessage
from bot.services import open_services
from bot.settings import Settings

WIDTH = 60


def render_screen(message: SentMessage) -> str:
    """A message as a phone would show it: text, then numbered buttons."""
    lines = ["─" * WIDTH]
    for paragraph in message.text.split("\n"):
        lines.extend(textwrap.wrap(paragraph, WIDTH) or [""])
    number = 0
    for row in message.buttons:
        cells = []
        for label, _ in row:
            number += 1
            cells.append(f"[{number}] {label}")
        lines.append("   ".join(cells))
    lines.append("─" * WIDTH)
    return "\n".join(lines)


def button_data(message: SentMessage, number: int) -> str | None:
    flat = [data for row in message.buttons for _, data in row]
    return flat[number - 1] if 1 <= number <= len(flat) else None


async def chat(settings: Settings, lang: str | None) -> None:
    # A throwaway database: what happens in a rehearsal is not counted in real statistics,
    # and the folder as it is on disk, so a writer sees their edit at once (/reload).
    with tempfile.TemporaryDirectory() as scratch:
        database_url = f"sqlite+aiosqlite:///{Path(scratch) / 'chat.db'}"
        settings = replace(settings, database_url=database_url, secret="local-chat",
                           content_source="folder")
        telegram = FakeTelegram()
        async with open_services(settings) as services:
            application = build_application(services, request=LocalRequest(telegram),
                                            rate_limiter=False)
            async with application:
                user = LocalUser(telegram, application, user_id=1, language_code=lang)
                shown = 0
                print("Jol — offline chat. Type a message, a button number, or /quit.")
                await user.send("/start")
                while True:
                    for message in user.chat.visible[shown:]:
                        if message.text:
                            print(render_screen(message))
                    shown = len(user.chat.visible)
                    try:
                        line = (await asyncio.to_thread(input, "> ")).strip()
                    except (EOFError, KeyboardInterrupt):
                        print()
                        return
                    if line in ("/quit", "/exit"):
                        return
                    if not line:
                        continue
                    if line.isdigit() and user.chat.visible:
                        data = button_data(user.chat.last, int(line))
                        if data is None:
                            print("(no such button)")
                            continue
                        before = user.chat.last.edits, len(user.chat.visible)
                        await user.press_data(data)
                        if (user.chat.last.edits, len(user.chat.visible)) != before and len(
                                user.chat.visible) == before[1]:
                            shown -= 1  # edited in place: show the new version
                        if user.chat.callback_answers and user.chat.callback_answers[-1]:
                            print(f"({user.chat.callback_answers[-1]})")
                            user.chat.callback_answers.append("")
                    else:
                        await user.send(line)
