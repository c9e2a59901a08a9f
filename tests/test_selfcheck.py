"""The job-offer self-check, destination first: conversations as a person taps through them,
for the worker and for a relative, in both languages; the yaml's own test cases; old buttons.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bot.content.loader import load_content
from bot.content.selfcheck import Destination
from bot.local import LocalUser, SentMessage
from bot.stats.reports import load_counts
from tests.conftest import FULL_LANGUAGES, REAL_CONTENT
from tests.helpers import running_bot

REAL = load_content(REAL_CONTENT)[0]
assert REAL is not None
CHECK = REAL.selfcheck
LABELS = {"ru": {"y": "Да", "n": "Нет", "u": "Не знаю"},
          "ky": {"y": "Ооба", "n": "Жок", "u": "Билбейм"}}
START = {False: {"ru": "✅ Проверить предложение о работе", "ky": "✅ Жумуш сунушун текшерүү"},
         True: {"ru": "✅ Проверить предложение родственнику",
                "ky": "✅ Туугандын жумуш сунушун текшерүү"}}
ALL_REASONS = {"ru": "📋 Все причины", "ky": "📋 Бардык себептер"}


@dataclass(frozen=True)
class Scenario:
    """What a person answers; questions not named get the answer a legal worker gives."""

    name: str
    destination: str
    expect: str
    answers: dict[str, str] = field(default_factory=dict)
    rest: str = "safe"


# The seven scenarios of the issue, written here independently of the yaml's `cases:`, so a
# change of weights that breaks one fails here too.
SCENARIOS = [
    Scenario("legal worker to Russia via the state Center", "ru", "low",
             {"recruiter-unlisted": "n", "written-contract": "y", "vague-job": "y"}),
    Scenario("UK scheme via a licensed operator", "uk", "low",
             {"uk-operator": "y", "work-visa": "y"}),
    Scenario("Korea EPS", "kr", "low", {"kr-eps": "y", "work-visa": "y"}),
    Scenario("Thailand online job with a free ticket", "sea", "high",
             {"sea-online-job": "y", "free-travel": "y"}),
    Scenario("passport handover alone", "ru", "high", {"passport-handover": "y"}),
    Scenario("fee alone", "kz", "high", {"upfront-fee": "y"}),
    Scenario("don't know to everything", "unknown", "medium", rest="u"),
]


def destination(destination_id: str) -> Destination:
    return next(d for d in CHECK.destinations if d.id == destination_id)


def level_title(level_id: str, lang: str) -> str:
    return next(lv for lv in CHECK.levels if lv.id == level_id).title[lang]


async def walk(user: LocalUser, lang: str, scenario: Scenario, family: bool) -> SentMessage:
    """Tap through the check as a person would: where the job is, then each question."""
    place = destination(scenario.destination)
    screen = user.chat.last
    for question in place.questions:
        assert (question.ask_family if family else question.ask)[lang] in screen.text
        answer = scenario.answers.get(question.id) or (
            question.safe if scenario.rest == "safe" else scenario.rest)
        screen = await user.press(LABELS[lang][answer])
    return screen


async def start_check(user: LocalUser, lang: str, family: bool) -> SentMessage:
    if family:
        await user.send("/start family")
    else:
        await user.send("/start")
    return await user.press(START[family][lang])


@pytest.mark.parametrize("family", [False, True], ids=["worker", "relative"])
@pytest.mark.parametrize("lang", FULL_LANGUAGES)
@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
async def test_scenario_reaches_its_level(tmp_path: Path, scenario: Scenario, lang: str,
                                          family: bool) -> None:
    place = destination(scenario.destination)
    async with running_bot(tmp_path) as bot:
        user = bot.user(lang)
        picker = await start_check(user, lang, family)
        assert place.name[lang] in picker.button_labels
        await user.press(place.name[lang])
        result = await walk(user, lang, scenario, family)
        assert result.text.startswith(("🟢", "🟡", "🔴"))
        assert level_title(scenario.expect, lang) in result.text
        level = next(lv for lv in CHECK.levels if lv.id == scenario.expect)
        assert (level.advice_family if family else level.advice)[lang] in result.text
        assert (level.advice if family else level.advice_family)[lang] not in result.text
        await bot.services.stats.flush()
        rows = await load_counts(bot.services.engine, days=1)
        counted = {(r.event, r.key) for r in rows if "check" in r.event}
        assert counted == {("family_check" if family else "check", scenario.expect),
                           ("check_destination", scenario.destination)}


async def test_where_first_two_places_a_row_and_back(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        user = bot.user("ky")
        picker = await user.send("/check")
        assert "Жумуш кайсы өлкөдө?" in picker.text
        rows = [row for row in picker.buttons if row[0][1].startswith("q:")]
        assert [len(row) for row in rows] == [2, 2, 2, 2, 1]
        assert [label for row in rows for label, _ in row] == [
            d.name["ky"] for d in CHECK.destinations]
        first = await user.press("🇷🇺 Орусия")
        assert "🇷🇺 Орусия · " in first.text
        total = len(destination("ru").questions)
        assert f"{total} суроонун 1-суроосу" in first.text
        second = await user.press("Билбейм")
        assert f"{total} суроонун 2-суроосу" in second.text
        assert (await user.press("⬅️ Артка")).text == first.text
        assert (await user.press("⬅️ Артка")).text == picker.text


@pytest.mark.parametrize("lang", FULL_LANGUAGES)
async def test_no_visa_question_for_russia_and_kazakhstan(tmp_path: Path, lang: str) -> None:
    visa = next(q for q in destination("tr").questions if q.id == "work-visa")
    async with running_bot(tmp_path) as bot:
        for place in ("ru", "kz", "tr"):
            user = bot.user(lang)
            await user.send("/check")
            await user.press(destination(place).name[lang])
            seen = []
            while not user.chat.last.text.startswith(("🟢", "🟡", "🔴")):
                seen.append(user.chat.last.text)
                await user.press(LABELS[lang]["n"])
            asked = any(visa.ask[lang] in text for text in seen)
            assert asked == (place == "tr")


async def test_result_shows_three_reasons_and_a_button_for_all(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        user = bot.user("ru")
        await user.send("/check")
        await user.press(destination("other").name["ru"])
        # Everything risky: many reasons, the strong ones first.
        everything = Scenario("all risky", "other", "high", rest="y", answers={
            "written-contract": "n", "vague-job": "n", "work-visa": "n"})
        result = await walk(user, "ru", everything, family=False)
        questions = {q.id: q for q in destination("other").questions}
        reasons = [line for line in result.text.splitlines() if line.startswith(("❗", "•"))]
        assert len(reasons) == 3
        assert all(line.startswith("❗") for line in reasons)  # strong signs lead
        assert questions["online-abroad"].why["ru"] in result.text
        assert questions["private-interview"].why["ru"] not in result.text
        label = next(x for x in result.button_labels if x.startswith(ALL_REASONS["ru"]))
        assert label == f"{ALL_REASONS['ru']} ({len(questions)})"
        full = await user.press(label)
        assert full.text.startswith("Все причины:")
        for question in questions.values():
            assert question.why["ru"] in full.text
        assert len(full.text) <= 4096
        again = await user.press("⬅️ Назад")
        assert again.text == result.text
        await bot.services.stats.flush()
        rows = await load_counts(bot.services.engine, days=1)
        # Looking at the reasons and back is not a second check.
        assert [(r.event, r.key, r.count) for r in rows if r.event == "check"] == [
            ("check", "high", 1)]


async def test_dont_know_reasons_are_marked_and_no_button_when_all_fit(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        user = bot.user("ky")
        await user.send("/check")
        await user.press("🇷🇺 Орусия")
        unsure = Scenario("unsure", "ru", "medium", {"vague-job": "u"})
        result = await walk(user, "ky", unsure, family=False)
        assert level_title("medium", "ky") in result.text
        vague = next(q for q in destination("ru").questions if q.id == "vague-job")
        assert f"❔ {vague.why['ky']}" in result.text
        assert not any(x.startswith(ALL_REASONS["ky"]) for x in result.button_labels)
        assert "🔁 Башка сунушту текшерүү" in result.button_labels
        picker = await user.press("🔁 Башка сунушту текшерүү")
        assert "Жумуш кайсы өлкөдө?" in picker.text


async def test_a_relative_reads_reasons_written_to_them(tmp_path: Path) -> None:
    passport = next(q for q in destination("ru").questions if q.id == "passport-handover")
    assert passport.why_family["ru"] != passport.why["ru"]
    async with running_bot(tmp_path) as bot:
        user = bot.user("ru")
        await start_check(user, "ru", family=True)
        await user.press("🇷🇺 Россия")
        alone = Scenario("passport", "ru", "high", {"passport-handover": "y"})
        result = await walk(user, "ru", alone, family=True)
        assert f"❗ {passport.why_family['ru']}" in result.text
        assert passport.why["ru"] not in result.text


def forged() -> list[str]:
    ru = destination("ru")
    full = "n" * len(ru.questions)
    return [
        "q:0000",  # a version that never existed
        f"q:{CHECK.version}z",  # no such destination
        f"q:{CHECK.version}{ru.code}{full}y",  # one answer too many
        f"q:{CHECK.version}{ru.code}nn*",  # "all reasons" before the end
        f"q:{CHECK.version}{ru.code}x",
        "fq:zzzz",
    ]


@pytest.mark.parametrize("data", forged())
async def test_forged_or_old_check_button_is_out_of_date(tmp_path: Path, data: str) -> None:
    async with running_bot(tmp_path) as bot:
        user = bot.user("ky")
        await user.send("/start")
        screen = await user.press_data(data)
        assert user.chat.callback_answers[-1] == "Бул баскыч эскирип калган."
        assert screen.text.startswith("Башкы меню")


async def test_buttons_of_an_older_check_are_out_of_date_after_reload(
        tmp_path: Path, content_copy: Path) -> None:
    async with running_bot(tmp_path, content_copy, admin_ids="4242") as bot:
        user = bot.user("ru")
        await user.send("/check")
        question = await user.press("🇷🇺 Россия")
        path = content_copy / "selfcheck.yaml"
        path.write_text(path.read_text(encoding="utf-8").replace(
            "Паспорт должен быть у вас.", "Паспорт должен быть только у вас."), encoding="utf-8")
        reply = await bot.user("ru", user_id=4242).send("/reload")
        assert "error" not in reply.text
        screen = await user.press("Да", question)
        assert user.chat.callback_answers[-1] == "Эта кнопка устарела."
        assert screen.text.startswith("Главное меню")


def test_a_case_that_no_longer_holds_is_a_located_error(content_copy: Path) -> None:
    path = content_copy / "selfcheck.yaml"
    text = path.read_text(encoding="utf-8")
    # An editor makes the upfront fee an ordinary sign: "fee alone" would quietly drop.
    fee = text.index("  - id: upfront-fee")
    strong = text.index("    strong: yes\n", fee)
    path.write_text(text[:strong] + text[strong + len("    strong: yes\n"):], encoding="utf-8")
    snapshot, problems = load_content(content_copy)
    assert snapshot is None
    lines = path.read_text(encoding="utf-8").splitlines()
    case_line = lines.index("  - name: fee alone") + 1
    located = f"selfcheck.yaml:{case_line}: error: case 'fee alone' expects high, got medium"
    assert any(str(p).endswith(f"{located} (score 3)") for p in problems), problems


def test_a_misspelt_field_is_reported_at_its_line(content_copy: Path) -> None:
    path = content_copy / "selfcheck.yaml"
    text = path.read_text(encoding="utf-8")
    fee = text.index("  - id: upfront-fee")
    path.write_text(text[:fee] + text[fee:].replace("    strong: yes", "    strog: yes", 1),
                    encoding="utf-8")
    _, problems = load_content(content_copy)
    line = path.read_text(encoding="utf-8").splitlines().index("    strog: yes") + 1
    assert any(str(p).endswith(f"selfcheck.yaml:{line}: warning: unknown field 'strog' in a "
                               "question; known: applies_to, ask, ask_family, except, id, "
                               "risky, sources, strong, weight, why, why_family")
               for p in problems), [str(p) for p in problems]


@pytest.mark.parametrize(("old", "new", "message"), [
    ("    except: [kr]   #", "    except: [jp]   #",
     r"question 'free-travel': unknown destination 'jp'"),
    ("dont_know_up_to: medium", "dont_know_up_to: high",
     r"dont_know_up_to must name a level below 'high'"),
    ("    destination: kz\n    answers: {upfront-fee: yes}",
     "    destination: kz\n    answers: {work-visa: no}",
     r"case 'fee alone': question 'work-visa' is not asked for 'kz'"),
    ("    applies_to: [ru]\n", "", r"question 'military': say where it is asked"),
])
def test_broken_selfcheck_gives_a_line_and_a_sentence(content_copy: Path, old: str, new: str,
                                                      message: str) -> None:
    path = content_copy / "selfcheck.yaml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    snapshot, problems = load_content(content_copy)
    assert snapshot is None
    assert any(re.fullmatch(rf".*selfcheck\.yaml:\d+: error: {message}.*", str(p))
               for p in problems), [str(p) for p in problems]
