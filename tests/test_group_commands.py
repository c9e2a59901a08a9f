"""In a group, a command for another bot is ignored; one for Jol gets the private-chat note."""

from __future__ import annotations

from pathlib import Path

from bot.i18n import texts
from tests.helpers import running_bot

GROUP = -100300400


async def test_commands_for_another_bot_are_ignored_in_groups(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        telegram = bot.telegram
        user = bot.user(user_id=9001)
        for text in ("/start@other_bot", "/help@SomeOtherBot hello"):
            await user.feed(telegram.message_update(9001, text, chat_id=GROUP,
                                                    chat_type="group"))
        assert telegram.chats[GROUP].visible == []
        for text in ("/start@jol_local_bot", "/help@JOL_LOCAL_BOT", "/start"):
            await user.feed(telegram.message_update(9001, text, chat_id=GROUP,
                                                    chat_type="group"))
        notes = [m.text for m in telegram.chats[GROUP].visible]
        assert len(notes) == 3
        note = texts("ru")("I work only in a private chat. Open me and press Start.")
        assert all(note in text for text in notes)
