"""Long dates come from each catalog (a pattern and month names); they must match Babel's CLDR
"long" format exactly, for every catalog in bot/locales, so a translator's slip shows here."""

from __future__ import annotations

from datetime import date

import pytest
from babel.dates import format_date

from bot.i18n import LOCALES_DIR, catalog_path, texts

CATALOGS = sorted(p.name for p in LOCALES_DIR.iterdir()
                  if catalog_path(LOCALES_DIR, p.name).is_file())


def test_the_real_catalogs_are_found() -> None:
    assert {"ky", "ru"} <= set(CATALOGS)


@pytest.mark.parametrize("lang", CATALOGS)
def test_long_dates_match_babel(lang: str) -> None:
    for year in (999, 2025):
        for month in range(1, 13):
            for day in (1, 9, 28):
                value = date(year, month, day)
                assert texts(lang).date(value) == format_date(value, "long", locale=lang)
