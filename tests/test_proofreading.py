"""The review of 2026-12-02 found wrong Kyrgyz spellings and outdated Russian rules; none may
come back. Each line of content, the self-check and the UI catalogs is read as a user reads it
(search `keywords:` lines are not shown to anyone and may hold misspellings people type)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import REAL_CONTENT, REPO_ROOT
from tests.helpers import running_bot

LOCALES = REPO_ROOT / "bot" / "locales"

# (wrong form, what to write instead) — review §5 for Kyrgyz, §2 and §3 for the rules.
WRONG_IN_KY = [
    ("Туугандыңыз", "Тууганыңыз"),
    ("Новосибирскиде", "Новосибирскте"),
    ("бойуңуз", "боюңуз"),
    ("Суроооң", "Сурооң"),
    ("«каалабаган»", "«каалагыс»"),
    ("Европадан сезондук", "Европадагы сезондук"),
    ("а чынында", "бирок чынында"),
    ("акысыз калыш", "айлыгыңызды ала албай калышыңыз"),
    ("учаар", "учар"),
    ("чыгаар", "чыгар"),
    ("алаар", "алар"),
    ("Кетээр", "Кетер"),
    ("үзүлмө", "ажыратма талон"),
    ("МОМ", "ЭМУ"),
    ("ИИМдин миграция бөлүмүнө", "Орусиянын ИИМинин миграция бөлүмүнө"),
    ("Текшерилген", "булагы менен салыштырылды"),
]
WRONG_IN_RU = [
    ("Проверено", "сверен с источником"),
    ("не езжайте", "лучше не уезжайте"),
    ("свидетелей", "сначала консульство и родные"),
    ("при свидетелях", "сначала консульство и родные"),
    ("мало мест", "квота 2024 года — 3 300"),
    ("6 месяцев в течение 12", "6 месяцев в любые 10 месяцев"),
    ("не платите за визу", "платите только официальный сбор на GOV.UK"),
    ("90 дней в течение 180", "обновлённые правила с 1 сентября 2025"),
    ("ЭМУ", "МОМ"),
    ("трудоустройства за рубежом", "Центр трудоустройства граждан за рубежом (one name)"),
]


def shown_lines(path: Path) -> list[tuple[int, str]]:
    """Lines a user can read: no search keywords, no catalog msgids or comments."""
    lines = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith(("keywords:", "msgid ", "#")):
            continue
        lines.append((number, line))
    return lines


def files(lang: str) -> list[Path]:
    return [*sorted((REAL_CONTENT / lang).glob("*.md")),
            LOCALES / lang / "LC_MESSAGES" / "messages.po"]


def ky_parts(path: Path, line: str) -> list[str]:
    """The Kyrgyz a line shows: a whole ky file, or the ky side of a bilingual yaml line."""
    if path.suffix == ".yaml":
        return [part.split('"')[1] for part in line.split("ky: ")[1:] if '"' in part]
    return [line]


@pytest.mark.parametrize("lang", ["ky", "ru"])
def test_no_wrong_form_of_the_review_remains(lang: str) -> None:
    wrong = WRONG_IN_KY if lang == "ky" else WRONG_IN_RU
    found = []
    for path in files(lang):
        for number, line in shown_lines(path):
            found += [f"{path.relative_to(REPO_ROOT)}:{number}: {bad!r} → {right!r}"
                      for bad, right in wrong if bad in line]
    for yaml in ("selfcheck.yaml", "contacts.yaml"):
        path = REAL_CONTENT / yaml
        for number, line in shown_lines(path):
            for text in (ky_parts(path, line) if lang == "ky" else
                         [p.split('"')[1] for p in line.split("ru: ")[1:] if '"' in p]):
                found += [f"content/{yaml}:{number}: {bad!r} → {right!r}"
                          for bad, right in wrong if bad in text]
    assert not found, "\n".join(found)


def test_kyrgyz_names_hiv_in_kyrgyz_first() -> None:
    found = [f"{path.name}:{number}" for path in files("ky")
             for number, line in shown_lines(path) if "ВИЧ" in line and "АИВ" not in line]
    assert not found


@pytest.mark.parametrize("lang", ["ky", "ru"])
def test_reporting_a_lost_passport_to_the_russian_police_says_consulate_first_without_status(
        lang: str) -> None:
    # Without legal status a visit to the police in Russia can end in detention (review §3).
    police, caveat = (("полицияга", "Мыйзамдуу статус") if lang == "ky" else
                      ("в полицию", "законного статуса"))
    for name in ("documents.md", "russia.md", "passport-taken.md"):
        path = REAL_CONTENT / lang / name
        text = path.read_text(encoding="utf-8")
        lost_passport = [line for line in text.splitlines() if police in line and "3 " in line]
        assert lost_passport, name
        for line in lost_passport:
            assert caveat in line, f"{name}: {line}"


@pytest.mark.parametrize("lang", ["ky", "ru", "uz"])
async def test_about_ends_its_date_with_one_full_stop(tmp_path: Path, lang: str) -> None:
    async with running_bot(tmp_path) as bot:
        about = (await bot.user(lang).send("/about")).text
        assert "2026" in about
        assert ".." not in about


@pytest.mark.parametrize(("lang", "korea", "hint"), [
    ("ru", "🇰🇷 Южная Корея", "звоните 1330: переводчик"),
    ("ky", "🇰🇷 Түштүк Корея", "1330 номерине чалыңыз: котормочу"),
])
async def test_sos_in_korea_says_an_interpreter_can_join_the_call(
        tmp_path: Path, lang: str, korea: str, hint: str) -> None:
    # Most people from Kyrgyzstan speak no Korean; 1330 joins an emergency call (FCDO).
    async with running_bot(tmp_path) as bot:
        user = bot.user(lang)
        await user.send("/sos")
        screen = await user.press(korea)
        assert "☎️ 112" in screen.text and hint in screen.text


@pytest.mark.parametrize(("lang", "reports"), [
    ("ru", "о каких номерах сообщили «не работает»"),
    ("ky", "кайсы номерлер «иштебейт» деп билдирилгенин"),
    ("uz", "qaysi raqamlar «ishlamadi» deb belgilanadi"),
])
async def test_forget_and_about_name_the_same_counts(
        tmp_path: Path, lang: str, reports: str) -> None:
    # /about says «did not work» reports are counted; /forget must not say less (review §5).
    async with running_bot(tmp_path) as bot:
        user = bot.user(lang)
        assert reports in (await user.send("/about")).text
        assert reports in (await user.send("/forget")).text
