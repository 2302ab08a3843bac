"""What a member's record says on a given day, computed from their day bitmaps.

Redis keeps one bitmap of check-in days and one of days off per member (bit N = day base+N);
streaks, totals and week counts are derived here, so that a late message, a 补卡 or a 请假
can never leave a stored counter out of step with the days themselves.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from handlers.calendar import day_index, week_start

BACKFILL_DAYS = 35  # a group's first check-in sets its base day this many days before it


def first_base(camp_start: date | None, day: int) -> int:
    """The base day (bit 0 of every member's day bitmaps) a group gets with its first check-in on
    `day`: a week before the camp's start, else BACKFILL_DAYS back so that make-ups fit."""
    return day_index(camp_start) - 7 if camp_start else day - BACKFILL_DAYS


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


MIN_GOAL, MAX_GOAL = 1, 7


def goal_for_week(goals: dict[int, int], week: int, default: int) -> int:
    """The goal in force in the week starting on day `week`: the latest change made for that
    week or an earlier one, else the group's default. Never below 1 (a stored 0 from a hand edit
    or an old backup must not turn a member's goal off) and never above 7."""
    best = None
    for start, goal in goals.items():
        if start <= week and (best is None or start > best[0]):
            best = (start, goal)
    goal = best[1] if best else default
    return min(max(int(goal), MIN_GOAL), MAX_GOAL)


# --- a week's goal with days off, and its result ---------------------------------------------------
# Days off (请假) lower that week's goal pro rata: goal × (7 − days off) / 7, rounded to the nearest
# day (halves up), at least 1 and never above the days left to check in on, so that it stays
# reachable (rounding up would keep 3 of 5 days after two days off); 0 when the whole week is off,
# and then the week is neither met nor missed. Days outside the camp count like days off (a camp
# that starts on a Wednesday asks for a pro-rata goal in its first week).


def leave_goal(goal: int, unavailable: int) -> int:
    """`goal` for a week with `unavailable` days (off, or outside the camp) out of 7."""
    unavailable = min(max(unavailable, 0), 7)
    if unavailable == 0:
        return goal
    available = 7 - unavailable
    if available == 0:
        return 0
    return min(max((2 * goal * available + 7) // 14, MIN_GOAL), available)


def unavailable_days(off: DayBits, week: int, camp: tuple[int | None, int | None] = (None, None)) -> set[int]:
    """The days of the week starting on `week` that nobody expects a check-in on."""
    first, last = camp
    out = set()
    for day in range(week, week + 7):
        if day in off or (first is not None and day < first) or (last is not None and day > last):
            out.add(day)
    return out


def week_goal(
    goals: dict[int, int], off: DayBits, week: int, default: int, camp: tuple[int | None, int | None] = (None, None)
) -> int:
    """The goal that week asks for, days off taken into account."""
    return leave_goal(goal_for_week(goals, week, default), len(unavailable_days(off, week, camp)))


MET, MISSED, OPEN, OFF = "met", "missed", "open", "off"


@dataclass(frozen=True)
class WeekResult:
    week: int  # its Monday
    count: int  # check-in days that week (as far as `today`)
    goal: int  # the goal it asks for (days off taken into account)
    base_goal: int  # the goal in force, before days off
    off: int  # days of it that are off (or outside the camp)
    left: int  # days on which one can still check in, today included while it is open
    status: str  # MET, MISSED (can no longer be reached), OPEN (still reachable), OFF (all off)

    @property
    def beaten(self) -> bool:
        return self.status == MET and self.count > self.goal


def week_result(
    days: DayBits,
    off: DayBits,
    goals: dict[int, int],
    week: int,
    default: int,
    today: int,
    camp: tuple[int | None, int | None] = (None, None),
) -> WeekResult:
    """How the week starting on `week` stands on day `today` (a closed week when today is after it).
    Derived from the bitmaps only, so a 补卡 in a closed week changes its result."""
    base_goal = goal_for_week(goals, week, default)
    gone = unavailable_days(off, week, camp)
    goal = leave_goal(base_goal, len(gone))
    count = days.count(week, min(week + 6, today))
    left = 0
    for day in range(max(week, today), week + 7):
        if day in gone or day in days:
            continue
        left += 1
    if goal == 0:
        status = OFF
    elif count >= goal:
        status = MET
    elif count + left < goal:
        status = MISSED
    else:
        status = OPEN
    return WeekResult(week, count, goal, base_goal, len(gone), left, status)


def missed_run(results: list[WeekResult]) -> list[WeekResult]:
    """The weeks missed in a row up to the last of `results` (oldest first). Weeks fully off are
    skipped, neither missed nor breaking the run; a week still open ends it (it may yet be met)."""
    run: list[WeekResult] = []
    for res in reversed(results):
        if res.status == OFF:
            continue
        if res.status != MISSED:
            break
        run.append(res)
    return list(reversed(run))


def beaten_run(results: list[WeekResult]) -> list[WeekResult]:
    """The weeks in a row, up to the last one, whose goal was beaten (more days than asked)."""
    run: list[WeekResult] = []
    for res in reversed(results):
        if res.status == OFF:
            continue
        if not res.beaten:
            break
        run.append(res)
    return list(reversed(run))


def current_run_start(days: DayBits, off: DayBits, today: int) -> int | None:
    """The first check-in day of the run that `streak` counts on `today` (None without one)."""
    day = today if today in days else today - 1
    start = None
    while day >= days.base:
        if day in days:
            start = day
        elif day not in off:
            break
        day -= 1
    return start


def parse_goals(raw: dict[Any, Any] | Sequence[Any]) -> dict[int, int]:
    """HGETALL of a goals hash (a flat list from Lua, or a dict from redis-py) as {week: goal}."""
    items: Iterable[tuple[Any, Any]]
    if isinstance(raw, dict):
        items = raw.items()
    else:
        items = zip(raw[0::2], raw[1::2], strict=False)  # an odd last item has no value: left out
    out: dict[int, int] = {}
    for k, v in items:
        try:
            out[int(k)] = int(v)
        except (TypeError, ValueError):
            continue
    return out
