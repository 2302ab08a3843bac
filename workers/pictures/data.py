"""What each picture shows, read from the service's own records into workers/pictures/model.py's plain
data. Group pictures name 不公开 members as handlers.texts.ANONYMOUS, as the texts do."""

from __future__ import annotations

import calendar
from collections.abc import Sequence

from config.settings import Group
from handlers import weekly as hw
from handlers.calendar import day_date, day_index, week_start
from handlers.streaks import MET, OFF, DayBits, record, unavailable_days, week_result
from workers.pictures import model
from workers.register import MemberState, camp_days

RANK = {"met": 0, "open": 1, "missed": 2, "off": 3}


def day_marks(days: DayBits, off: DayBits, first: int, last: int, today: int, gone: set[int]) -> tuple[str, ...]:
    """One mark per day from `first` to `last`: checked in, off (or outside the camp), gone by, ahead."""
    out = []
    for d in range(first, last + 1):
        if d in days:
            out.append(model.DONE)
        elif d in gone or d in off:
            out.append(model.OFF)
        elif d >= today:
            out.append(model.TODO)  # today is still open until it ends
        else:
            out.append(model.MISS)
    return tuple(out)


def week_wall(
    group: Group, day: int, members: Sequence[hw.MemberWeek], states: dict[str, MemberState], top: int, register: bool
) -> model.Wall:
    """The week's wall (the group's, anonymous where asked) or the leader's register (real names)."""
    week = week_start(day)
    # in the group's picture, a public 丁丁 is not told apart from a private one: that would say she is there
    names = hw.display_names(members if register else [m for m in members if not m.private])
    stars = {m.userid for m in hw.top_performers(members, top)}
    rows = []
    for m in sorted(members, key=lambda m: (RANK.get(m.week.status, 9), -m.week.count, -m.streak)):
        st = states.get(m.userid)
        marks = day_marks(st.days, st.off, week, week + 6, day, set(m.gone)) if st else (model.TODO,) * 7
        name = names.get(m.userid, m.name) if register else hw.public_name(m, names)
        rows.append(
            model.WallRow(
                name,
                marks,
                m.week.count,
                m.week.goal,
                m.week.status,
                m.streak,
                m.userid in stars,
                m.leave,
                bool(m.notes),
            )
        )
    label = hw.week_name(week, group.camp_start)
    met = sum(1 for m in members if m.week.status == MET)
    counted = sum(1 for m in members if m.week.status != OFF)
    star_names = "、".join(r.name for r in rows if r.star)
    footer = (f"本周之星：{star_names} · " if star_names else "") + f"{met}/{counted} 人达成目标"
    if register:
        return model.Wall(
            f"{group.display} · {label}登记", hw.week_dates(week), tuple(rows), footer + " · 档案「有」见文字版", True
        )
    return model.Wall(
        f"{label}打卡墙", f"{group.display} · {hw.week_dates(week)}", tuple(rows), footer + " · 大家辛苦啦"
    )


def month_view(group: Group, state: MemberState, today: int) -> model.Month:
    """A member's month so far, on the calendar of `today`'s month in the group's timezone."""
    d = day_date(today)
    first = day_index(d.replace(day=1))
    last = first + calendar.monthrange(d.year, d.month)[1] - 1
    camp = camp_days(group)
    gone: set[int] = set()
    for w in range(week_start(first), last + 1, 7):
        gone |= unavailable_days(DayBits(None, 0), w, camp)  # outside the camp counts as off
    marks = day_marks(state.days, state.off, first, last, today, gone)
    rec = record(state.days, state.off, today)
    count = state.days.count(first, last)
    footer = f"本月打卡 {count} 天 · 连续 {rec.streak} 天 · 最长 {rec.longest_streak} 天"
    return model.Month(
        f"{state.name} · {d.year}年{d.month}月", d.year, d.month, {i + 1: m for i, m in enumerate(marks)}, footer
    )


def group_rates(group: Group, states: Sequence[MemberState], first: int, weeks: Sequence[int], today: int) -> list:
    """The share of counted members who met their goal, per week of `weeks` (None before `first`)."""
    camp = camp_days(group)
    out: list[float | None] = []
    for w in weeks:
        if w < first:
            out.append(None)
            continue
        results = [week_result(s.days, s.off, s.goals, w, group.weekly_goal, min(today, w + 6), camp) for s in states]
        counted = [x for x in results if x.status != OFF]
        out.append(sum(1 for x in counted if x.status == MET) / len(counted) if counted else None)
    return out


def trend(groups: Sequence[tuple[Group, list[MemberState], int]], week: int, today: int, span: int = 8) -> model.Trend:
    """Each group's completion rate over the last `span` weeks up to `week` (first: the group's first week)."""
    weeks = [w for w in range(week - 7 * (span - 1), week + 1, 7)]
    labels = tuple(f"{day_date(w).month}/{day_date(w).day}" for w in weeks)
    series = tuple((g.display, tuple(group_rates(g, states, first, weeks, today))) for g, states, first in groups)
    return model.Trend("各组每周达成率", labels, series)
