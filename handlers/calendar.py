"""Days and weeks in a group's timezone, as plain integers.

A day is its number of days since EPOCH in the group's own calendar, so that "one check-in per
member per day" and "Monday to Sunday" are local notions, whatever the server's clock says.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

EPOCH = date(2020, 1, 6)  # a Monday: (day - week_start) arithmetic stays simple
WEEKDAY_CN = "一二三四五六日"


def local_date(ts: float, tz: ZoneInfo) -> date:
    return datetime.fromtimestamp(ts, tz=timezone.utc).astimezone(tz).date()


def day_index(d: date) -> int:
    return (d - EPOCH).days


def day_date(idx: int) -> date:
    return EPOCH + timedelta(days=idx)


def day_of(ts: float, tz: ZoneInfo) -> int:
    return day_index(local_date(ts, tz))


def week_start(idx: int) -> int:
    """The Monday of the week holding day `idx`."""
    return idx - (idx % 7)


def weekday(idx: int) -> int:
    return idx % 7


def cn_date(d: date) -> str:
    return f"{d.month}月{d.day}日"


def cn_weekday(idx: int) -> str:
    return "周" + WEEKDAY_CN[weekday(idx)]


def parse_instant(text: str, tz: ZoneInfo) -> datetime:
    """ISO-8601; a time without an offset is read in `tz`."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=tz)
    return value


def local_midnight(d: date, tz: ZoneInfo) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=tz)
