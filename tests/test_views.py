"""What the participant reads: plain words for 'when', and the dot calendar."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from bot.i18n import Catalogs
from core.streaks import DayMark
from handlers import views
from storage.models import Participant

CATALOGS = Catalogs()
TOKYO = ZoneInfo("Asia/Tokyo")
NOW = dt.datetime(2026, 3, 2, 9, 30, tzinfo=TOKYO)  # a Monday morning


def person(window: str = "evening") -> Participant:
    return Participant(language="en", timezone="Asia/Tokyo", window=window, rhythm="daily")


def when(at: dt.datetime, language: str = "en", window: str = "evening") -> str:
    return views.when_text(CATALOGS[language], at, NOW, person(window), TOKYO)


def test_when_today_tomorrow_and_later_in_both_languages() -> None:
    assert when(NOW.replace(hour=19)) == "this evening"
    assert when(NOW.replace(hour=19) + dt.timedelta(days=1)) == "tomorrow evening"
    assert when(NOW.replace(hour=19) + dt.timedelta(days=4)) == "on Friday 6 March, in the evening"
    assert when(NOW.replace(hour=19) + dt.timedelta(days=4), "ja") == "3月6日（金）の夕方"
    assert when(None) == CATALOGS["en"]("when.unknown")


def test_a_late_night_hello_after_midnight_is_still_tonight() -> None:
    # At 09:30 Monday, a hello at 01:00 Tuesday belongs to Monday's late-night window.
    assert when(dt.datetime(2026, 3, 3, 1, 0, tzinfo=TOKYO), window="late_night") == "tonight, late"


def test_the_calendar_shows_presence_never_absence() -> None:
    marks = (DayMark.REST,) * 25 + (DayMark.SHOWED_UP, DayMark.MISSED, DayMark.SHOWED_UP)
    rows = views.calendar(marks).splitlines()
    assert len(rows) == 4
    assert rows[-1] == "・ ・ ・ ・ ● ・ ●"


def test_a_buttons_day_is_read_back_and_anything_else_is_no_day() -> None:
    day = dt.date(2026, 3, 2)
    assert views.button_day(f"{day:%Y%m%d}") == day
    assert views.button_day("00010101") == dt.date(1, 1, 1)
    for text in ("20261301", "20260230", "2026030", "202603021", "2026-3-2", "2026030²", "2026030٢", "", "+2026030"):
        assert views.button_day(text) is None, text
