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


def days_left(day: int, *, today_open: bool = False, gone: frozenset[int] | set[int] = frozenset()) -> int:
    """Days of `day`'s week on which one can still check in: the days after it up to Sunday, `day`
    itself too while `today_open`, leaving out `gone` (days off, days after the camp's end)."""
    first = day if today_open else day + 1
    return sum(1 for d in range(first, week_start(day) + 7) if d not in gone)


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


# --- camp words and quiet hours -------------------------------------------------------------------


def camp_week(day: int, camp_start: date | None) -> int | None:
    """The camp week (1-based, Monday to Sunday weeks) holding `day`, or None without camp dates."""
    if camp_start is None:
        return None
    n = (week_start(day) - week_start(day_index(camp_start))) // 7 + 1
    return n if n >= 1 else None


def day_label(day: int, camp_start: date | None = None) -> str:
    """`周二`, or `第2周 周二` when the camp start is known."""
    week = camp_week(day, camp_start)
    return f"第{week}周 {cn_weekday(day)}" if week else cn_weekday(day)


def in_quiet_hours(hour: int, minute: int, quiet: tuple[int, int, int, int] | None) -> bool:
    """Whether a local time of day falls in quiet hours `(h1, m1, h2, m2)`, which may span midnight."""
    if not quiet:
        return False
    t, start, end = hour * 60 + minute, quiet[0] * 60 + quiet[1], quiet[2] * 60 + quiet[3]
    if start == end:
        return False
    if start < end:
        return start <= t < end
    return t >= start or t < end


def quiet_at(ts: float, tz: ZoneInfo, quiet: tuple[int, int, int, int] | None) -> bool:
    """Whether the instant `ts` falls in quiet hours in the timezone `tz` (a group's)."""
    local = datetime.fromtimestamp(ts, tz=timezone.utc).astimezone(tz)
    return in_quiet_hours(local.hour, local.minute, quiet)
