"""UI strings in Kyrgyz and Russian from Babel/gettext catalogs (content text lives in content/).

The catalogs are the `.po` files in bot/locales; they are read with Babel at start, so there is no
compile step to forget. Message ids are English; a missing translation falls back to Russian,
then to the id, and the parity test fails on any gap.
"""

from __future__ import annotations

from datetime import date
from functools import cache
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from bot import LANGUAGES

LOCALES_DIR = Path(__file__).resolve().parent / "locales"
DEFAULT_LANGUAGE = "ru"

# Babel's "long" date format (CLDR) for our two languages, spelled out: babel.dates would load
# the whole CLDR locale data (~6 MB resident) for twelve month names. A test compares every
# month with babel.dates.format_date, so a CLDR change cannot slip by.
_MONTHS = {
    "ru": ("января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа",
           "сентября", "октября", "ноября", "декабря"),
    "ky": ("январь", "февраль", "март", "апрель", "май", "июнь", "июль", "август",
           "сентябрь", "октябрь", "ноябрь", "декабрь"),
}
_LONG_DATE = {
    "ru": "{day} {month} {year}\u202fг.",  # d MMMM y 'г'.
    "ky": "{year}-ж., {day}-{month}",  # y-'ж'., d-MMMM
}


@cache
def load_catalog(lang: str) -> Catalog:
    with (LOCALES_DIR / lang / "LC_MESSAGES" / "messages.po").open("rb") as f:
        return read_po(f, locale=lang)


class Texts:
    """The UI strings of one language: `texts("Main menu")`, `texts("Page {n}", n=2)`."""

    def __init__(self, lang: str) -> None:
        if lang not in LANGUAGES:
            raise ValueError(f"unsupported language {lang!r}")
        self.lang = lang
        self._own = load_catalog(lang)
        self._fallback = load_catalog(DEFAULT_LANGUAGE)

    def __call__(self, msgid: str, /, **values: object) -> str:
        text = self._lookup(msgid)
        return text.format(**values) if values else text

    def _lookup(self, msgid: str) -> str:
        for catalog in (self._own, self._fallback):
            message = catalog.get(msgid)
            if message is not None and message.string and isinstance(message.string, str):
                return message.string
        return msgid

    def date(self, value: date) -> str:
        month = _MONTHS[self.lang][value.month - 1]
        return _LONG_DATE[self.lang].format(day=value.day, month=month, year=value.year)


@cache
def texts(lang: str) -> Texts:
    return Texts(lang if lang in LANGUAGES else DEFAULT_LANGUAGE)
