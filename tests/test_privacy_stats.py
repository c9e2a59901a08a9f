"""The measured attacks on the statistics (hardening issue items 1-3 and 12, advice item 9),
re-run: each now reveals nothing.

1. gap words: names, spelt-out numbers, e-mails never count; a word typed by one chat (six
   times) never reaches any database file; enough different chats make it appear.
2. campaign sources: an undeclared deep-link source is stored only as "other".
3. differencing: every report is a sum of stored noisy cells of closed weeks.
9. "this number did not work": counted per contact, shown to editors only from the release.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import REPO_ROOT, events
from bot.cli import main
from bot.content.campaigns import parse_campaigns
from bot.content.loader import load_content
from bot.content.model import Problem
from bot.db import create_engine, upgrade
from bot.db.models import Counter, ReleasedCell
from bot.stats.cap import DailyCap
from bot.stats.gaps import gap_words
from bot.stats.recorder import StatsRecorder, utc_today
from bot.stats.release import (
    Noise,
    load_released,
    period_start,
    release_closed_periods,
)
from bot.stats.reports import load_counts, summary_table
from tests.helpers import migrated_sqlite_url, real_snapshot, running_bot

ADMIN = 4242
CONTENT = real_snapshot()
NOISE = Noise(epsilon=2.0, cap=4, minimum=5)  # sensitivity 8 (4 + reserved), scale 4


def database_bytes(folder: Path) -> bytes:
    """Every byte of every SQLite file there: the database, its WAL and shared memory."""
    return b"".join(p.read_bytes() for p in sorted(folder.glob("jol.sqlite3*")))


# --- 1. gap words -------------------------------------------------------------------------

@pytest.mark.parametrize("query", [
    "Айгерим Асанова", "AIGERIM ASANOVA", "Aigerim asanovA",
    "плюс девять девять шесть семьсот", "plyus devyat shest semsot",
    "бир эки үч төрт беш", "aigerim.asanova@mail.ru", "@aigerim", "t.me/aigerim",
    "https://example.org/x", "+996 700 123 456", "0700123456", "паспорт2",
])
def test_personal_tokens_are_never_gap_words(query: str) -> None:
    assert gap_words(query) == []


def test_common_lower_case_words_stay() -> None:
    assert gap_words("как получить визу в дубай, работа!") == ["получить", "визу", "дубай",
                                                               "работа"]


def test_the_cap_admits_a_chat_once_per_cell_and_a_few_cells_a_day() -> None:
    cap = DailyCap(2)
    cap.new_day(date(2026, 12, 1))
    assert cap.admit(1, ("topic", "a", "ru"))
    assert not cap.admit(1, ("topic", "a", "ru"))  # the same cell again
    assert cap.admit(1, ("topic", "b", "ru"))
    assert not cap.admit(1, ("topic", "c", "ru"))  # over the cap
    assert cap.admit(2, ("topic", "c", "ru"))  # another chat
    assert cap.new_day(date(2026, 12, 2))
    assert cap.admit(1, ("topic", "a", "ru"))  # a new day, a new key, nothing remembered


async def test_one_chat_typing_a_word_six_times_never_reaches_the_disk(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        user = bot.user("ru")
        for _ in range(6):
            await user.send("куурчак тоолордо")
        await bot.services.stats.flush()
        rows = await load_counts(bot.services.engine, days=1)
        assert not [r for r in rows if r.event == "gap"]
    raw = database_bytes(tmp_path)
    assert raw, "the database files exist"
    for word in ("куурчак", "тоолордо"):
        assert word.encode() not in raw


async def test_a_word_appears_once_enough_different_chats_typed_it(tmp_path: Path) -> None:
    async with running_bot(tmp_path, JOL_MIN_REPORT_COUNT="3") as bot:
        for i in range(2):
            await bot.user("ru").send("куурчак тоолордо" if i == 0 else "куурчак")
        await bot.services.stats.flush()
        assert "куурчак".encode() not in database_bytes(tmp_path)
        for _ in range(2):
            await bot.user("ky").send("куурчак")
        await bot.services.stats.flush()
        gaps = {r.key: r.count for r in await load_counts(bot.services.engine, days=1)
                if r.event == "gap"}
    assert gaps == {"куурчак": 4}  # different chats, counted from the third on
    raw = database_bytes(tmp_path)
    assert "куурчак".encode() in raw and "тоолордо".encode() not in raw


async def test_a_name_typed_by_many_chats_is_still_never_counted(tmp_path: Path) -> None:
    async with running_bot(tmp_path, JOL_MIN_REPORT_COUNT="2") as bot:
        for query in ("Айгерим Асанова", "AIGERIM ASANOVA", "плюс девять шесть семьсот") * 3:
            await bot.user("ru").send(query)
        await bot.services.stats.flush()
    raw = database_bytes(tmp_path)
    for word in ("айгерим", "Айгерим", "асанова", "aigerim", "плюс", "девять", "семьсот"):
        assert word.encode() not in raw


async def test_gap_words_below_the_threshold_are_forgotten_at_midnight(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'jol.sqlite3'}"
    await upgrade(url)
    engine = create_engine(url)
    today = [date(2026, 12, 1)]
    recorder = StatsRecorder(engine, today=lambda: today[0], gap_threshold=2)
    try:
        recorder.count_gap_words(1, ["виза"])
        today[0] += timedelta(days=1)
        recorder.count_gap_words(2, ["виза"])  # a different day: still one chat that day
        assert recorder.pending == 0
        recorder.count_gap_words(3, ["виза"])
        assert recorder.pending == 1
        recorder.count_gap_words(4, ["редкое"])
        assert recorder.gap_words_waiting == 2
        today[0] += timedelta(days=1)
        await recorder.flush()  # nobody searched after midnight: the flush forgets anyway
        assert recorder.gap_words_waiting == 0
    finally:
        await engine.dispose()


@pytest.mark.parametrize(("name", "value"), [
    ("JOL_STATS_EPSILON", "0"), ("JOL_STATS_EPSILON", "lots"), ("JOL_STATS_EPSILON", "50"),
    ("JOL_STATS_CAP", "0"), ("JOL_STATS_CAP", "many")])
def test_bad_privacy_settings_stop_the_start_with_their_name(name: str, value: str) -> None:
    from bot.settings import Settings, SettingsError

    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: value})


# --- 2. campaign sources ------------------------------------------------------------------

async def test_undeclared_sources_are_only_counted_as_other(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        for payload in ("--996700123456", "--aigerim_asanova", "russia--aigerim_asanova",
                        "--osh_bus_2026"):
            await bot.user("ru").send(f"/start {payload}")
        await bot.services.stats.flush()
        starts = {r.key: r.count for r in await load_counts(bot.services.engine, days=1)
                  if r.event == "start"}
    assert starts == {"other": 3, "osh_bus_2026": 1}
    raw = database_bytes(tmp_path)
    assert b"996700123456" not in raw and b"aigerim" not in raw


def test_campaign_file_problems_are_located() -> None:
    text = ("- code: osh_bus_2026\n  note: Osh buses\n"
            "- code: 996700123456\n  note: a number\n"
            "- code: Bad-Code\n  note: x\n"
            "- code: other\n  note: x\n"
            "- code: osh_bus_2026\n  note: again\n"
            "- code: radio\n")
    problems: list[Problem] = []

    def report(name: str, line: int, message: str, severity: str = "error") -> None:
        problems.append(Problem(name, line, message, severity))  # type: ignore[arg-type]

    assert parse_campaigns("campaigns.yaml", text, report) is None
    assert [(p.line, p.severity) for p in problems] == [
        (3, "error"), (5, "error"), (7, "error"), (9, "error"), (11, "warning")]
    assert "starting with a letter" in problems[0].message
    assert "declared twice" in problems[3].message
    assert parse_campaigns("campaigns.yaml", None, report) == {}  # no such file


def test_content_check_reports_a_broken_campaign_file(content_copy: Path) -> None:
    (content_copy / "campaigns.yaml").write_text("- code: osh bus\n", encoding="utf-8")
    snapshot, problems = load_content(content_copy)
    assert snapshot is None
    assert any(p.path.endswith("campaigns.yaml") and p.line == 1 and p.severity == "error"
               and p.message.startswith("campaign code 'osh bus'") for p in problems)


# --- 3. differencing ----------------------------------------------------------------------

async def _two_weeks(engine: AsyncEngine, monday: date) -> None:
    """The measured case: 6 in the older week, 1 (the hidden cell) in the newer one."""
    for day, times in ((monday - timedelta(days=7), 6), (monday, 1)):
        recorder = StatsRecorder(engine, today=lambda day=day: day)
        for _ in range(times):
            recorder.count(events.TOPIC, "russia", "ky")
        await recorder.close()


async def test_overlapping_reports_difference_to_a_stored_noisy_cell(engine: AsyncEngine) -> None:
    monday = date(2026, 11, 23)
    await _two_weeks(engine, monday)
    done = await release_closed_periods(engine, CONTENT, NOISE, today=monday + timedelta(days=7))
    assert done == [monday - timedelta(days=7), monday]

    async with engine.connect() as conn:
        stored = dict((await conn.execute(
            select(ReleasedCell.period_start, ReleasedCell.noisy).where(
                ReleasedCell.event == "topic", ReleasedCell.key == "russia",
                ReleasedCell.lang == "ky"))).all())
        assert (await conn.execute(select(Counter))).all() == []  # raw counts are gone
    one, two = await load_released(engine, 1), await load_released(engine, 2)
    newest = one.sum_by("topic")["russia"]["ky"]
    both = two.sum_by("topic")["russia"]["ky"]
    # The attack: (two weeks) - (older week) = the newer week. What comes back is the stored
    # noisy cell of that week, the same number every time, never the raw count behind it.
    older = both - newest
    assert newest == stored[monday] and older == stored[monday - timedelta(days=7)]
    for _ in range(3):  # reports and releases again: nothing is re-drawn to average away
        assert await release_closed_periods(engine, CONTENT, NOISE,
                                            today=monday + timedelta(days=7)) == []
        assert (await load_released(engine, 1)).sum_by("topic")["russia"]["ky"] == newest
    # Printed, the hidden week is "<12" unless its noise alone is large: the table shows the
    # stored cell or the threshold, nothing computed from raw counts.
    rows = [x.split() for x in summary_table(one, NOISE, "en").splitlines()
            if x.startswith("russia")]
    if rows:
        assert rows[0][1] == (str(newest) if newest >= NOISE.threshold else "<12")
    else:  # the whole row was below the threshold
        assert newest < NOISE.threshold


async def test_no_report_can_include_the_open_week(engine: AsyncEngine) -> None:
    today = utc_today()
    recorder = StatsRecorder(engine, today=lambda: today)
    for _ in range(50):
        recorder.count(events.SOS, lang="ru")
    await recorder.close()
    assert await release_closed_periods(engine, CONTENT, NOISE, today=today) == []
    assert (await load_released(engine, 52)).periods == []
    assert [r.count for r in await load_counts(engine, days=1)] == [50]  # still only raw


# --- `jol stats` on the command line -----------------------------------------------------

def _jol(*args: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "bot.cli", *args], cwd=REPO_ROOT,
                            env={**os.environ, **env}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


RunJol = Callable[..., tuple[int, str, str]]  # `jol ARGS`, env=...: exit code, stdout, stderr


@pytest.fixture
def jol_here(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> RunJol:
    """`jol ARGS` with `env` set, run here through `main()` as test_operator_errors does: its
    exit code, stdout and stderr, without a new interpreter's second of CPU (the piped CSV
    below still runs as a process of its own)."""
    def run(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err
    return run


def test_stats_on_a_missing_database_says_what_to_run_and_creates_nothing(
        tmp_path: Path, jol_here: RunJol) -> None:
    db_file = tmp_path / "sub" / "jol.sqlite3"
    code, out, err = jol_here("stats", env={"JOL_DATABASE_URL": f"sqlite+aiosqlite:///{db_file}"})
    assert code == 2 and out == ""
    assert "jol db upgrade" in err and "Traceback" not in err
    assert not db_file.exists() and not db_file.parent.exists()


def test_stats_on_an_unmigrated_database_says_what_to_run(tmp_path: Path,
                                                          jol_here: RunJol) -> None:
    db_file = tmp_path / "jol.sqlite3"
    db_file.write_bytes(b"")  # an empty file: SQLite reads it as a database with no tables
    code, _, err = jol_here("stats", env={"JOL_DATABASE_URL": f"sqlite+aiosqlite:///{db_file}"})
    assert code == 2 and "jol db upgrade" in err and "Traceback" not in err


@pytest.mark.parametrize(("chart", "message"), [
    ("missing/folder/chart.png", "does not exist"), ("chart.jpg", "ending in .png"),
    ("chart", "ending in .png")])
def test_stats_chart_paths_are_checked_first(tmp_path: Path, chart: str, message: str,
                                             jol_here: RunJol) -> None:
    url = migrated_sqlite_url(tmp_path / "jol.sqlite3")
    code, out, err = jol_here("stats", "--chart", str(tmp_path / chart),
                              env={"JOL_DATABASE_URL": url})
    assert code == 2 and message in err and out == ""


async def _released_weeks(url: str, weeks: int) -> None:
    await upgrade(url)
    engine = create_engine(url)
    try:
        monday = period_start(utc_today())
        for week in range(1, weeks + 1):
            day = monday - timedelta(days=7 * week)
            recorder = StatsRecorder(engine, today=lambda day=day: day)
            for _ in range(30):
                recorder.count(events.TOPIC, "russia", "ky")
            await recorder.close()
        await release_closed_periods(engine, CONTENT, NOISE)
    finally:
        await engine.dispose()


def test_stats_reports_closed_weeks_with_their_noise_and_pipes_quietly(
        tmp_path: Path, jol_here: RunJol) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'jol.sqlite3'}"
    asyncio.run(_released_weeks(url, 12))
    env = {"JOL_DATABASE_URL": url}
    code, one_day, err = jol_here("stats", "--days", "1", env=env)
    assert code == 0, err
    assert "ε=2" in one_day and "масштаб 4" in one_day
    _, two_days, _ = jol_here("stats", "--days", "2", env=env)
    assert two_days == one_day  # both are the last closed week: nothing to subtract
    assert "Номера, которые надо перепроверить" in one_day

    chart = tmp_path / "chart.png"
    code, _, err = jol_here("stats", "--days", "84", "--chart", str(chart), env=env)
    assert code == 0, err
    assert chart.read_bytes().startswith(b"\x89PNG")

    process = _jol("stats", "--days", "84", "--csv", env=env)  # ~3000 lines: more than a pipe
    assert process.stdout is not None
    assert process.stdout.readline().startswith(b"period_start,")
    process.stdout.close()  # like `| head -1`
    _, err_bytes = process.communicate(timeout=120)
    assert process.returncode == 0 and err_bytes == b""


# --- 9. "this number did not work" --------------------------------------------------------

async def _reports(tmp_path: Path, chats: int, presses: int = 1) -> str:
    """`chats` different people report 1966 (`presses` times each); the week is released;
    what does the editor's /content show?"""
    env = {"JOL_MIN_REPORT_COUNT": "3", "JOL_STATS_EPSILON": "10"}
    async with running_bot(tmp_path, admin_ids=str(ADMIN), **env) as bot:
        for _ in range(chats):
            user = bot.user("ru", first_name="Айгерим")
            for _ in range(presses):
                screen = await user.send("/start hotlines")
                assert "📵 Номер не работает" in screen.button_labels
                listing = await user.press("📵 Номер не работает")
                assert listing.text.startswith("Какой номер не сработал?")
                assert "⬅️ Назад" in listing.button_labels
                label = next(x for x in listing.button_labels if x.startswith("1966 · "))
                thanks = await user.press(label, listing)
                assert user.chat.callback_answers[-1] == (
                    "Спасибо! Сотрудники НКО проверят этот номер.")
                assert thanks.text.startswith("Главное меню")
        services = bot.services
        await services.stats.flush()
        # Released with tiny noise (scale 0.1: a cell moves with probability 2e-4), so that
        # the threshold, not the noise, decides what the editor sees.
        await release_closed_periods(services.engine, services.content.snapshot,
                                     Noise(50, 1, 3), today=utc_today() + timedelta(days=7))
        admin = bot.user("ru", user_id=ADMIN)
        await admin.send("/content")
        chat = bot.telegram.chats[ADMIN]
        return "\n".join(m.text for m in chat.visible if m.kind == "text")


async def test_editor_sees_a_number_once_enough_different_chats_reported_it(
        tmp_path: Path) -> None:
    shown = await _reports(tmp_path / "three", chats=3)
    assert "Номера, которые надо перепроверить" in shown
    assert re.search(r"\n3 · 1966 · Министерство труда.*\(kg-mlsp-1966\)", shown)
    assert "ε=50, масштаб 0.1; только от 3" in shown  # the noise is printed with the list
    assert "Айгерим" not in shown and "1001" not in shown  # never who


async def test_one_chat_pressing_again_and_again_counts_once(tmp_path: Path) -> None:
    shown = await _reports(tmp_path / "two", chats=2, presses=3)
    assert "Номера, которые надо перепроверить" in shown
    assert "kg-mlsp-1966" not in shown  # 2 different chats: below the threshold of 3


async def test_a_topic_without_numbers_has_no_report_button_and_forged_data_is_stale(
        tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        user = bot.user("ru")
        await user.send("/start")
        screen = await user.press_data("t:job-offer-red-flags")
        assert "📵 Номер не работает" not in screen.button_labels
        for forged in ("nf:no-such-contact", "nw:no-such-topic", "nf:", "nw:job-offer-red-flags",
                       "nf:KG-112"):
            stale = await user.press_data(forged)
            assert user.chat.callback_answers[-1] == "Эта кнопка устарела.", forged
            assert stale.text.startswith("Главное меню")
        await bot.services.stats.flush()
        rows = await load_counts(bot.services.engine, days=1)
        assert not [r for r in rows if r.event == "contact_failed"]


async def test_upgrading_deletes_words_and_sources_the_old_rules_stored(tmp_path: Path) -> None:
    from bot.db.schema import _run_alembic

    url = f"sqlite+aiosqlite:///{tmp_path / 'jol.sqlite3'}"
    await _run_alembic(url, "upgrade", "0001")
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(Counter.__table__.insert(), [
                {"day": date(2026, 12, 1), "event": "gap", "key": "aigerimsecret", "lang": "ru",
                 "source": "", "count": 6},
                {"day": date(2026, 12, 1), "event": "start", "key": "", "lang": "ru",
                 "source": "996700123456", "count": 1},
                {"day": date(2026, 12, 1), "event": "sos", "key": "", "lang": "ru",
                 "source": "", "count": 1}])
        await upgrade(url)
        rows = await load_counts(engine, days=1, today=date(2026, 12, 1))
        async with engine.connect() as conn:
            await conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        await engine.dispose()
    assert [(r.event, r.count) for r in rows] == [("sos", 1)]
    raw = database_bytes(tmp_path)
    assert b"aigerimsecret" not in raw and b"996700123456" not in raw


async def test_admin_stats_shows_released_weeks_only_with_chart_and_csv(tmp_path: Path) -> None:
    async with running_bot(tmp_path, admin_ids=str(ADMIN), JOL_MIN_REPORT_COUNT="3",
                           JOL_STATS_EPSILON="10") as bot:
        admin = bot.user("ru", user_id=ADMIN)
        nothing = await admin.send("/stats")
        assert nothing.text == "Ещё ни одна неделя не закрыта и не выпущена."
        for _ in range(6):
            user = bot.user("ky")
            await user.send("/start russia--osh_bus_2026")
            await user.send("куурчак тоолордо")  # nothing found: its words wait for others
        await bot.user("ru").send("/start korea--aigerim")
        services = bot.services
        await services.stats.flush()
        await release_closed_periods(services.engine, services.content.snapshot,
                                     Noise(50, 1, 3), today=utc_today() + timedelta(days=7))
        await admin.send("/stats")
        chat = bot.telegram.chats[ADMIN]
        texts = "\n".join(m.text for m in chat.visible if m.kind == "text")
        assert "ε=50" in texts and "масштаб 0.1" in texts  # the release's noise is printed
        assert texts.count("Статистика Jol: недели") == 1
        assert re.search(r"russia +6 +<3 +<3 +6", texts)  # columns ky, ru, uz, total
        assert re.search(r"osh_bus_2026 +6", texts)
        assert "korea" not in texts and "aigerim" not in texts  # one chat: below 3; as "other"
        # The second word is over each chat's daily cap of 4 cells (start, topic, search, word).
        assert "куурчак (6)" in texts and "тоолордо" not in texts
        assert [m.kind for m in chat.visible[-2:]] == ["photo", "document"]
        (_, png_name, png), (_, _, csv) = bot.telegram.files[-2:]
        assert png.startswith(b"\x89PNG") and png_name.endswith(".png")
        assert csv.decode().startswith("period_start,period_end,event,key,lang,value")
        assert ",topic,russia,ky,6,50,0.1" in csv.decode()


def test_sos_and_number_reports_are_counted_after_a_full_day_of_pages() -> None:
    """A person who opened many pages first still has their SOS and their "number did not
    work" counted: those have allowances of their own, which the noise is scaled to."""
    cap = DailyCap(4)
    cap.new_day(date(2026, 12, 1))
    for topic in ("a", "b", "c", "d"):
        assert cap.admit(1, ("topic", topic, "ru"))
    assert not cap.admit(1, ("topic", "e", "ru"))  # the day's pages are used up
    assert cap.admit(1, ("sos", "", "ru")) and cap.admit(1, ("sos", "RU", "ru"))
    assert cap.admit(1, ("contact_failed", "ru-iom-hotline", ""))
    assert cap.admit(1, ("contact_failed", "kg-mlsp-1966", ""))
    assert not cap.admit(1, ("contact_failed", "kg-mfa-consular", ""))  # its own cap of 2
    assert Noise(epsilon=1.0, cap=4, minimum=5).sensitivity == 8
    assert Noise(epsilon=1.0, cap=4, minimum=5).scale == 8.0
