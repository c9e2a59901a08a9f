"""SOS first under Telegram's flood limits (issue 15, part 5): while calls wait out a 429,
they go out most urgent first (SOS and the help screens, then first contacts, then the rest),
then in the order they came; one chat's 429 holds only that chat; nothing is lost; shutdown
still gives up at once.

The holds here last 30 s, and the tests end them by moving the event loop's clock forward
(SkippingLoop): every call has queued long before, however slow the machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, cast

import pytest
from telegram import Update
from telegram.error import RetryAfter

from bot import urgency
from bot.buttons import (
    CheckButton,
    LanguageButton,
    MainMenuButton,
    SosButton,
    TopicButton,
)
from bot.fake_telegram import FakeTelegram
from bot.processor import Places
from bot.ratelimit import PACE, FloodControl
from bot.urgency import Urgency, classify
from tests.helpers import real_snapshot
from tests.serving_helpers import flood_controlled_bot

HOLD = 30  # seconds every hold here lasts, until the test skips past it


@pytest.fixture(autouse=True)
def timedelta_durations(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")  # as `jol run` does (cli.main)


class SkippingLoop(asyncio.SelectorEventLoop):
    """The real clock, which the test can move forward at once with `skip`."""

    def __init__(self) -> None:
        super().__init__()
        self.skipped = 0.0

    def time(self) -> float:
        return super().time() + self.skipped

    def skip(self, seconds: float) -> None:
        self.skipped += seconds


def on_skipping_loop(scenario: Callable[[SkippingLoop], Awaitable[None]]) -> None:
    with asyncio.Runner(loop_factory=SkippingLoop) as runner:
        runner.run(scenario(cast(SkippingLoop, runner.get_loop())))


async def until(condition: Callable[[], bool], timeout: float = 30) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.005)


class Telegram:
    """Sends to chats; refuses each chat in `refuse` once, with a 429 for that many seconds."""

    def __init__(self, refuse: dict[int, int] | None = None) -> None:
        self.refuse = dict(refuse or {})
        self.sent: list[int] = []
        self.on_sent: Callable[[], None] = lambda: None

    async def send(self, chat: int) -> bool:
        if chat in self.refuse:
            raise RetryAfter(dt.timedelta(seconds=self.refuse.pop(chat)))
        self.sent.append(chat)
        self.on_sent()
        return True


def spawn(limiter: FloodControl, telegram: Telegram, chat: int,
          level: Urgency = Urgency.ROUTINE, method: str = "sendMessage") -> asyncio.Task[Any]:
    """A call (a sendMessage) to `chat`, made while handling an update of that urgency."""
    async def call() -> Any:
        with urgency.handling(level):
            return await limiter.process_request(telegram.send, (chat,), {}, method,
                                                 {"chat_id": chat}, None)
    return asyncio.create_task(call())


async def hold_every_chat(limiter: FloodControl, telegram: Telegram,
                          chats: tuple[int, ...] = (1, 2, 3)) -> list[asyncio.Task[Any]]:
    """429s for three chats within a second: the bot's overall limit, every chat waits."""
    telegram.refuse.update(dict.fromkeys(chats, HOLD))
    refused = [spawn(limiter, telegram, chat) for chat in chats]
    await until(lambda: limiter.waiting == len(chats))
    return refused


def test_under_a_hold_of_every_chat_sos_goes_first_then_first_contacts() -> None:
    async def scenario(loop: SkippingLoop) -> None:
        limiter, telegram = FloodControl(), Telegram()
        await limiter.initialize()
        refused = await hold_every_chat(limiter, telegram)
        routine = [spawn(limiter, telegram, 100 + i) for i in range(20)]
        first = [spawn(limiter, telegram, 200 + i, Urgency.FIRST_CONTACT) for i in range(5)]
        sos = spawn(limiter, telegram, 999, Urgency.HELP)  # the last to come
        await until(lambda: limiter.waiting == 3 + 20 + 5 + 1)
        assert telegram.sent == []  # all wait for the hold
        loop.skip(HOLD + 1)
        await asyncio.wait_for(asyncio.gather(*refused, *routine, *first, sos), 30)
        # The SOS, the first contacts, then the rest as they came (the refused ones kept
        # their place); each exactly once.
        assert telegram.sent == [999, *range(200, 205), 1, 2, 3, *range(100, 120)]
    on_skipping_loop(scenario)


def test_an_sos_coming_while_the_queue_drains_goes_next() -> None:
    """After the hold the queue goes out at Telegram's pace, not all at once, so an SOS that
    comes meanwhile does not wait behind what is left of it."""
    async def scenario(loop: SkippingLoop) -> None:
        limiter, telegram = FloodControl(), Telegram()
        await limiter.initialize()
        refused = await hold_every_chat(limiter, telegram)
        routine = [spawn(limiter, telegram, 100 + i) for i in range(60)]
        await until(lambda: limiter.waiting == 63)
        sos: list[asyncio.Task[Any]] = []

        def sos_after_the_fifth() -> None:
            if len(telegram.sent) == 5:
                sos.append(spawn(limiter, telegram, 999, Urgency.HELP))

        telegram.on_sent = sos_after_the_fifth
        loop.skip(HOLD + 1)
        await until(lambda: len(sos) == 1)
        await asyncio.wait_for(asyncio.gather(*refused, *routine, *sos), 30)
        assert telegram.sent.index(999) == 5 and len(telegram.sent) == 64
    on_skipping_loop(scenario)


def test_one_chats_429_holds_only_that_chat_even_beside_a_hold_of_every_chat() -> None:
    async def scenario(loop: SkippingLoop) -> None:
        limiter, telegram = FloodControl(), Telegram({7: HOLD})
        await limiter.initialize()
        group = spawn(limiter, telegram, 7)  # a group over its 20 messages a minute
        await until(lambda: limiter.waiting == 1)
        for chat in (10, 11, 12):  # the others go straight on
            assert await asyncio.wait_for(spawn(limiter, telegram, chat), 10) is True
        # Then the overall limit, for a second: the queue behind it does not wait for the
        # group, whose own hold is longer.
        telegram.refuse.update({1: 1, 2: 1, 3: 1})
        refused = [spawn(limiter, telegram, chat) for chat in (1, 2, 3)]
        await until(lambda: limiter.waiting == 4)
        others = [spawn(limiter, telegram, 20 + i) for i in range(5)]
        await until(lambda: limiter.waiting == 9)
        loop.skip(2)
        await asyncio.wait_for(asyncio.gather(*refused, *others), 30)
        assert not group.done() and 7 not in telegram.sent
        loop.skip(HOLD)
        assert await asyncio.wait_for(group, 10) is True
        assert telegram.sent[-1] == 7 and len(telegram.sent) == 12
    on_skipping_loop(scenario)


async def send_spread(limiter: FloodControl, telegram: Telegram, loop: SkippingLoop,
                      count: int, every: float) -> None:
    """`count` messages that go out one by one, `every` seconds apart."""
    for i in range(count):
        if i:
            loop.skip(every)
        await asyncio.wait_for(spawn(limiter, telegram, 500 + i), 10)


async def not_yet_out_by(loop: SkippingLoop, when: float, task: asyncio.Task[Any]) -> bool:
    """Moves the clock to `when` (loop time): whether `task` is still waiting 50 ms later (the
    real clock runs on too, so `when` needs a margin of more than that)."""
    loop.skip(max(0.0, when - loop.time()))
    await asyncio.sleep(0.05)
    return not task.done()


async def out_by(loop: SkippingLoop, when: float, task: asyncio.Task[Any]) -> bool:
    """Moves the clock to `when` (loop time): whether `task` then goes out at once."""
    loop.skip(max(0.0, when - loop.time()))
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.shield(task), 1)
    return task.done()


def test_after_the_limits_second_every_chat_goes_on_the_refused_ones_wait_their_hold() -> None:
    """A second's worth of messages (PACE, over 0.58 s) just went out when three chats get a
    429 (retry_after 1, rounded up): the overall limit has room again a second after the first
    of them, and an SOS waiting goes then, not a second after the 429s. The refused calls wait
    what Telegram told them."""
    async def scenario(loop: SkippingLoop) -> None:
        limiter, telegram = FloodControl(), Telegram()
        await limiter.initialize()
        first = loop.time()
        await send_spread(limiter, telegram, loop, PACE, 0.02)
        loop.skip(0.02)
        refused_at = loop.time()
        telegram.refuse.update({1: 1, 2: 1, 3: 1})
        refused = [spawn(limiter, telegram, chat) for chat in (1, 2, 3)]
        await until(lambda: limiter.waiting == 3)
        routine = spawn(limiter, telegram, 100)
        sos = spawn(limiter, telegram, 999, Urgency.HELP)
        await until(lambda: limiter.waiting == 5)
        assert await not_yet_out_by(loop, first + 0.85, sos)
        assert await out_by(loop, first + 1.05, sos)
        await asyncio.wait_for(routine, 10)
        assert telegram.sent[PACE:] == [999, 100]
        assert not any(task.done() for task in refused)  # until refused_at + 1
        loop.skip(refused_at + 1.05 - loop.time())
        await asyncio.wait_for(asyncio.gather(*refused), 10)
        assert telegram.sent[PACE + 2:] == [1, 2, 3]
    on_skipping_loop(scenario)


def test_a_longer_retry_after_is_shortened_by_the_rounding_only() -> None:
    """30 s is no rounding: Telegram knows of more than the bot counted (a penalty, another
    process on the token). Every chat waits 29 of them."""
    async def scenario(loop: SkippingLoop) -> None:
        limiter, telegram = FloodControl(), Telegram()
        await limiter.initialize()
        await send_spread(limiter, telegram, loop, PACE, 0.02)
        refused = await hold_every_chat(limiter, telegram)  # retry_after HOLD (30)
        held_at = loop.time()
        sos = spawn(limiter, telegram, 999, Urgency.HELP)
        await until(lambda: limiter.waiting == 4)
        assert await not_yet_out_by(loop, held_at + HOLD - 1.2, sos)
        assert await out_by(loop, held_at + HOLD - 0.8, sos)
        loop.skip(1)
        await asyncio.wait_for(asyncio.gather(*refused), 10)
        assert telegram.sent[PACE:] == [999, 1, 2, 3]
    on_skipping_loop(scenario)


def test_a_queue_that_empties_mid_flood_keeps_its_pace_for_a_second() -> None:
    """The next crowd of messages, a moment after the queue emptied, still goes out one by one:
    let go at once it would meet the limit, and an SOS after it a whole new hold."""
    async def scenario(loop: SkippingLoop) -> None:
        limiter, telegram = FloodControl(), Telegram()
        await limiter.initialize()
        refused = await hold_every_chat(limiter, telegram)
        loop.skip(HOLD + 1)
        await asyncio.wait_for(asyncio.gather(*refused), 10)
        peak = 0

        def count_waiting() -> None:
            nonlocal peak
            peak = max(peak, limiter.waiting)

        telegram.on_sent = count_waiting
        await asyncio.wait_for(asyncio.gather(
            *(spawn(limiter, telegram, 100 + i) for i in range(10))), 10)
        assert peak >= 5  # paced: the others waited while each went
        loop.skip(1.5)  # a second with nobody waiting: straight out again
        peak = 0
        await asyncio.wait_for(asyncio.gather(
            *(spawn(limiter, telegram, 200 + i) for i in range(10))), 10)
        assert peak == 0 and len(telegram.sent) == 23
    on_skipping_loop(scenario)


@pytest.mark.parametrize(("count", "then"), [(PACE - 1, 0.0), (PACE, 1.5)],
                         ids=["fewer-than-the-limit", "over-a-second-ago"])
def test_429s_the_last_seconds_messages_do_not_explain_hold_every_chat_the_whole_wait(
        count: int, then: float) -> None:
    """Fewer messages than the limit went out in the last second: then the limit is not the one
    Telegram states, and its retry_after is all there is."""
    async def scenario(loop: SkippingLoop) -> None:
        limiter, telegram = FloodControl(), Telegram()
        await limiter.initialize()
        await send_spread(limiter, telegram, loop, count, 0.01)
        loop.skip(then)
        refused = await hold_every_chat(limiter, telegram)
        held_at = loop.time()
        sos = spawn(limiter, telegram, 999, Urgency.HELP)
        await until(lambda: limiter.waiting == 4)
        assert await not_yet_out_by(loop, held_at + HOLD - 0.2, sos)
        assert len(telegram.sent) == count
        assert await out_by(loop, held_at + HOLD + 0.2, sos)
        await asyncio.wait_for(asyncio.gather(*refused), 10)
        assert telegram.sent[count:] == [999, 1, 2, 3]
    on_skipping_loop(scenario)


def test_shutdown_gives_up_at_once_on_calls_queued_behind_a_hold() -> None:
    async def scenario(loop: SkippingLoop) -> None:
        limiter, telegram = FloodControl(), Telegram()
        await limiter.initialize()
        refused = await hold_every_chat(limiter, telegram)
        queued = [spawn(limiter, telegram, 100 + i, Urgency(i % 3)) for i in range(30)]
        await until(lambda: limiter.waiting == 33)
        limiter.stop_waiting()  # what shutdown does; the clock is not moved
        results = await asyncio.wait_for(
            asyncio.gather(*refused, *queued, return_exceptions=True), 10)
        # A call that met a 429 gives up with it; one that had not tried yet tries once.
        assert all(isinstance(r, RetryAfter) for r in results[:3])
        assert results[3:] == [True] * 30 and sorted(telegram.sent) == list(range(100, 130))
        assert limiter.waiting == 0
    on_skipping_loop(scenario)


class RecordingTelegram(FakeTelegram):
    """Notes the chat of each message Telegram accepted, in the order it accepted them."""

    def __init__(self, clock: Callable[[], float]) -> None:
        super().__init__(clock=clock)
        self.delivered: list[int] = []

    def call(self, method: str, params: dict[str, Any]) -> Any:
        result = super().call(method, params)
        if method.lower() == "sendmessage":
            self.delivered.append(int(params["chat_id"]))
        return result


def test_the_bot_answers_an_sos_before_the_first_contacts_and_those_before_the_rest(
        tmp_path: Path) -> None:
    """The real Application: updates classified in the processor, answers sent through the
    flood control, while three groups' 429s hold every chat."""
    groups, menus, starts, sos = (-1001, -1002, -1003), range(8001, 8011), range(8101, 8111), 8201

    async def scenario(loop: SkippingLoop) -> None:
        telegram = RecordingTelegram(clock=lambda: time.time() + loop.skipped)
        async with flood_controlled_bot(tmp_path, telegram) as bot:
            application = bot.application
            limiter = application.bot.rate_limiter
            assert isinstance(limiter, FloodControl)
            await application.start()
            try:
                async def put(user: int, text: str, **chat: Any) -> None:
                    update = telegram.message_update(user, text, **chat)
                    await application.update_queue.put(Update.de_json(update, application.bot))

                for group in groups:
                    telegram.hold_chat(group, HOLD)
                    await put(7001, "/start@jol_local_bot", chat_id=group, chat_type="group")
                await until(lambda: limiter.waiting == 3)
                for user in menus:
                    await put(user, "/menu")
                for user in starts:
                    await put(user, "/start")
                await put(sos, "/sos")
                await until(lambda: limiter.waiting == 3 + 21)
                assert telegram.delivered == []
                loop.skip(HOLD + 1)
                await until(lambda: len(telegram.delivered) == 3 + 21)
            finally:
                limiter.stop_waiting()
                await application.stop()
        users = [chat for chat in telegram.delivered if chat > 0]
        assert users[0] == sos and telegram.chats[sos].last.text.startswith("SOS")
        assert set(users[1:11]) == set(starts) and set(users[11:]) == set(menus)
        assert len(users) == len(set(users)) == 21  # one answer each: none lost, none twice
    on_skipping_loop(scenario)


async def test_a_freed_place_goes_to_the_most_urgent_update_waiting() -> None:
    places = Places(1)
    handled: list[str] = []
    done = {name: asyncio.Event() for name in "ABCDE"}

    async def handle(name: str, level: Urgency) -> None:
        async with places.taken(level):
            handled.append(name)
            await done[name].wait()

    first = asyncio.create_task(handle("A", Urgency.ROUTINE))
    await asyncio.sleep(0)
    waiting = [asyncio.create_task(handle(name, level)) for name, level in (
        ("B", Urgency.ROUTINE), ("C", Urgency.FIRST_CONTACT), ("D", Urgency.HELP),
        ("E", Urgency.HELP))]
    await asyncio.sleep(0)  # each new task has run to its wait
    waiting[2].cancel()  # D gives up waiting: the place is not lost with it
    for name in "ABCDE":
        done[name].set()
    await asyncio.gather(first, *waiting, return_exceptions=True)
    assert handled == ["A", "E", "C", "B"]

    # An update cancelled just as the place was handed to it passes the place on.
    done.update(F=asyncio.Event(), G=asyncio.Event())
    async with places.taken(Urgency.ROUTINE):
        handed = asyncio.create_task(handle("F", Urgency.HELP))
        later = asyncio.create_task(handle("G", Urgency.ROUTINE))
        await asyncio.sleep(0)
    handed.cancel()  # its place is handed over, and it has not run since
    done["G"].set()
    await asyncio.wait_for(later, 5)
    assert handed.cancelled() and handled[-1] == "G"


@pytest.mark.parametrize(("text", "expected"), [
    ("/sos", Urgency.HELP),
    ("помогите", Urgency.HELP),  # answered with the SOS screen
    ("🆘", Urgency.HELP),
    ("/start", Urgency.FIRST_CONTACT),
    ("/start sos--osh_bus_2026", Urgency.HELP),  # a deep link to a help screen
    ("/start russia", Urgency.FIRST_CONTACT),
    ("/menu", Urgency.ROUTINE),
    ("/help", Urgency.ROUTINE),
    ("забрали паспорт", Urgency.ROUTINE),  # a search: which topic it finds is not known yet
])
def test_how_a_message_is_classified(text: str, expected: Urgency) -> None:
    update = Update.de_json(FakeTelegram().message_update(5, text), None)
    assert classify(update, real_snapshot()) is expected


@pytest.mark.parametrize(("data", "expected"), [
    (SosButton().pack(), Urgency.HELP),
    (SosButton("RU").pack(), Urgency.HELP),
    (TopicButton("passport-taken").pack(), Urgency.HELP),  # the "trouble" section
    (TopicButton("trafficking-signs").pack(), Urgency.HELP),  # the "danger" section
    (TopicButton("hotlines").pack(), Urgency.HELP),  # the "help" section
    (TopicButton("danger").pack(), Urgency.HELP),
    (TopicButton("russia").pack(), Urgency.ROUTINE),
    (TopicButton("no-such-topic").pack(), Urgency.ROUTINE),
    (LanguageButton("ky").pack(), Urgency.FIRST_CONTACT),
    (MainMenuButton().pack(), Urgency.ROUTINE),
    (CheckButton("0000").pack(), Urgency.ROUTINE),
    ("garbage:data", Urgency.ROUTINE),
])
def test_how_a_press_is_classified(data: str, expected: Urgency) -> None:
    update = Update.de_json(FakeTelegram().callback_update(5, 1, data), None)
    assert classify(update, real_snapshot()) is expected
    assert classify(object(), real_snapshot()) is Urgency.ROUTINE


def test_under_the_proactive_cap_an_sos_goes_out_next() -> None:
    async def scenario(loop: SkippingLoop) -> None:
        limiter, telegram = FloodControl(max_messages_per_second=100), Telegram()
        await limiter.initialize()
        routine = [spawn(limiter, telegram, 100 + i) for i in range(20)]
        sos = spawn(limiter, telegram, 999, Urgency.HELP)
        await asyncio.wait_for(asyncio.gather(*routine, sos), 30)
        # The first call found the cap free; every other waited for it, the SOS first.
        assert telegram.sent == [100, 999, *range(101, 120)]
    on_skipping_loop(scenario)


def test_the_cap_paces_new_messages_only_an_edit_goes_out_at_once() -> None:
    """Telegram's overall limit counts new messages: a press (an edit) never waits for it."""
    async def scenario(loop: SkippingLoop) -> None:
        limiter, telegram = FloodControl(max_messages_per_second=1), Telegram()
        await limiter.initialize()
        sends = [spawn(limiter, telegram, 100 + i) for i in range(3)]
        await until(lambda: limiter.waiting == 2)  # the first went out; two wait a second each
        edit = spawn(limiter, telegram, 999, method="editMessageText")
        await asyncio.wait_for(edit, 0.5)
        assert telegram.sent == [100, 999]
        loop.skip(5)
        await asyncio.wait_for(asyncio.gather(*sends), 30)
        assert telegram.sent == [100, 999, 101, 102]
    on_skipping_loop(scenario)

