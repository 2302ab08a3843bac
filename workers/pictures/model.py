"""The plain data each picture is drawn from: no Redis, no WeCom, so that a render is deterministic
and testable from fixed values. workers/pictures/data.py fills these from Redis; every name in a
group picture is already the public one (不公开 members are handlers.texts.ANONYMOUS here).
"""

from __future__ import annotations

from dataclasses import dataclass, field

# what a day cell shows
DONE = "done"  # checked in
OFF = "off"  # a day off (请假) or outside the camp
MISS = "miss"  # gone by without a check-in
TODO = "todo"  # still ahead (or today, not yet)


@dataclass(frozen=True)
class WallRow:
    name: str
    days: tuple[str, ...]  # Monday to Sunday, DONE / OFF / MISS / TODO
    count: int
    goal: int
    status: str  # handlers.streaks: met / missed / open / off
    streak: int
    star: bool = False  # 本周之星
    leave: int = 0  # days off this week (register)
    note: bool = False  # a profile note exists (register)


@dataclass(frozen=True)
class Wall:
    """The week's wall (group) or the leader's register (`register`: leave and note columns)."""

    title: str
    subtitle: str
    rows: tuple[WallRow, ...]
    footer: str = ""
    register: bool = False


@dataclass(frozen=True)
class Month:
    """One member's month as a calendar: `marks[d]` for day d of the month (1-based)."""

    title: str
    year: int
    month: int
    marks: dict[int, str] = field(default_factory=dict)
    footer: str = ""


@dataclass(frozen=True)
class Trend:
    """Each group's completion rate (0..1, None before it started) over the weeks `labels`."""

    title: str
    labels: tuple[str, ...]
    series: tuple[tuple[str, tuple[float | None, ...]], ...]


@dataclass(frozen=True)
class Badge:
    headline: str  # 连续 7 天 / 新纪录 / 本周之星
    name: str
    line: str
