"""What a member's record says on a given day, computed from their day bitmaps.

Redis keeps one bitmap of check-in days and one of days off per member (bit N = day base+N);
streaks, totals and week counts are derived here, so that a late message, a 补卡 or a 请假
can never leave a stored counter out of step with the days themselves.
"""
from __future__ import annotations

from dataclasses import dataclass

from handlers.calendar import week_start


class DayBits:
    """A Redis bitmap (SETBIT order: bit 0 is the high bit of byte 0) offset by `base`."""

    __slots__ = ("base", "_n", "_len")

    def __init__(self, raw: bytes | None, base: int):
        raw = raw or b""
        self.base = base
        self._len = len(raw) * 8
        self._n = int.from_bytes(raw, "big") if raw else 0

    def __contains__(self, day: int) -> bool:
        off = day - self.base
        if off < 0 or off >= self._len:
            return False
        return bool((self._n >> (self._len - 1 - off)) & 1)

    def count(self, first: int, last: int) -> int:
        """Days set in [first, last]."""
        lo, hi = max(first - self.base, 0), min(last - self.base, self._len - 1)
        if hi < lo:
            return 0
        width = hi - lo + 1
        window = (self._n >> (self._len - 1 - hi)) & ((1 << width) - 1)
        return window.bit_count()

    def days(self) -> list[int]:
        n, out = self._n, []
        for off in range(self._len):
            if (n >> (self._len - 1 - off)) & 1:
                out.append(self.base + off)
        return out

    @property
    def first(self) -> int | None:
        days = self.days()
        return days[0] if days else None


@dataclass(frozen=True)
class Record:
    streak: int
    longest_streak: int
    total: int
    week_count: int
    checked_in: bool


def record(days: DayBits, off: DayBits, today: int) -> Record:
    checked = today in days
    return Record(
        streak=streak(days, off, today),
        longest_streak=longest(days, off, today),
        total=days.count(days.base, today),
        week_count=days.count(week_start(today), today),
        checked_in=checked,
    )


def streak(days: DayBits, off: DayBits, today: int) -> int:
    """Consecutive check-in days ending today, or yesterday while today is still open.
    Days off bridge the run without adding to it."""
    day = today if today in days else today - 1
    count = 0
    while day >= days.base:
        if day in days:
            count += 1
        elif day not in off:
            break
        day -= 1
    return count


def longest(days: DayBits, off: DayBits, today: int) -> int:
    best = run = 0
    for day in range(days.base, today + 1):
        if day in days:
            run += 1
            best = max(best, run)
        elif day not in off:
            run = 0
    return best


def goal_for_week(goals: dict[int, int], week: int, default: int) -> int:
    """The goal in force in the week starting on day `week`: the latest change made for that
    week or an earlier one, else the group's default."""
    best = None
    for start, goal in goals.items():
        if start <= week and (best is None or start > best[0]):
            best = (start, goal)
    return best[1] if best else default


def parse_goals(raw) -> dict[int, int]:
    """HGETALL of a goals hash (a flat list from Lua, or a dict from redis-py) as {week: goal}."""
    if isinstance(raw, dict):
        items = raw.items()
    else:
        items = zip(raw[0::2], raw[1::2])
    out = {}
    for k, v in items:
        try:
            out[int(k)] = int(v)
        except (TypeError, ValueError):
            continue
    return out
