"""bot.i18n spells out Babel's long date format; it must match Babel exactly."""

from __future__ import annotations

from datetime import date

import pytest
from babel.dates import format_date

from bot import LANGUAGES
from bot.i18n import texts


@pytest.mark.parametrize("lang", LANGUAGES)
def test_long_dates_match_babel(lang: str) -> None:
    for year in (999, 2025):
        for month in range(1, 13):
            for day in (1, 9, 28):
                value = date(year, month, day)
                assert texts(lang).date(value) == format_date(value, "long", locale=lang)
