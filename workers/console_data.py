"""What the leader console shows, read from Redis: a group's week (members × days), one member's
history over the camp, and the admins' camp overview. No HTML here (wecom_bot/console/ renders it)
and no decisions of its own: the weeks come from workers.weekly (`member_week`, `followed`), the
suggestions from handlers.weekly, the notes as workers.export reads them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone

import redis

from config.settings import Group, Settings
from handlers import weekly as hw
from handlers.calendar import day_date, day_of, week_start
from handlers.streaks import MISSED, OFF, WeekResult, missed_run
from workers import audit, keys, register
from workers.connection import as_text
from workers.export import Note
from workers.register import MemberState, load_members, member_ids
from workers.weekly import first_week, followed, member_week

NOTES_SHOWN = 3
LINK_DAYS = 14  # check-in links are kept this long (keys.links)


@dataclass
class Row:
    """One member in the week table: a mark per day (✓ checked in, 假 off, · still to come)."""

    m: hw.MemberWeek
    marks: list[str]
    notes: list[Note]
    suggestion: str = ""


@dataclass
class Notice:
    text: str
    at: str
    silent: list[str]


@dataclass
class WeekView:
    group: Group
    week: int
    today: int
    title: str
    dates: list[str]
    rows: list[Row]
    weeks: list[tuple[int, str]]  # every week of the camp so far: (Monday, its name)
    notices: list[Notice] = field(default_factory=list)


def when(ts: float, group: Group, fmt: str = "%m-%d %H:%M") -> str:
    """An instant as the group's clock shows it (its timezone)."""
    return datetime.fromtimestamp(ts, tz=timezone.utc).astimezone(group.tz).strftime(fmt) if ts else ""


def today_of(group: Group, now: float) -> int:
    return day_of(now, group.tz)


def _notes(r: redis.Redis, group: Group, userids: list[str], last: int | None) -> dict[str, list[Note]]:
    with r.pipeline(transaction=False) as p:
        for uid in userids:
            p.lrange(keys.notes(group.key, uid), -last if last else 0, -1)
        raw = p.execute()
    out: dict[str, list[Note]] = {}
    for uid, items in zip(userids, raw, strict=True):
        out[uid] = [_note(n) for n in items]
    return out


def _note(raw: bytes) -> Note:
    try:
        data = json.loads(raw)
        return Note(str(data.get("text", "")), str(data.get("by_name") or data.get("by", "")), int(data.get("at", 0)))
    except (TypeError, ValueError, AttributeError):
        return Note(as_text(raw), "", 0)


def _marks(st: MemberState, week: int, today: int) -> list[str]:
    out = []
    for d in range(week, week + 7):
        if d in st.days:
            out.append("✓")
        elif d in st.off:
            out.append("假")
        else:
            out.append("·" if d >= today else "")
    return out


def week_view(r: redis.Redis, settings: Settings, group: Group, now: float, week: int | None = None) -> WeekView:
    """The group's week (this one, or an earlier one seen as it closed) with its members' days."""
    today = today_of(group, now)
    this_week = week_start(today)
    week = this_week if week is None or week > this_week else week_start(week)
    day = today if week == this_week else week + 6
    states = load_members(r, group)
    prefs = register.prefs(r, group.key)
    first = first_week(r, group, day)
    members = [member_week(st, group, day, first, prefs) for st in states]
    notes = _notes(r, group, [st.userid for st in states], NOTES_SHOWN)
    tips = {}
    if week == this_week:
        names = hw.display_names(members)
        for s in hw.suggest(members, settings.downgrade_after_weeks, settings.upgrade_after_weeks):
            tips[s.userid] = " ".join(line.strip("· ") for line in hw.suggestion_lines(s, names[s.userid]))
    rows = [
        Row(m, _marks(st, week, today), notes.get(st.userid, []), tips.get(st.userid, ""))
        for st, m in zip(states, members, strict=True)
    ]
    start = min(first, this_week)
    return WeekView(
        group,
        week,
        today,
        hw.week_span(week, group.camp_start),
        [str(day_date(d).day) for d in range(week, week + 7)],
        rows,
        [(w, hw.week_name(w, group.camp_start)) for w in range(start, this_week + 1, 7)],
        open_notices(r, group) if week == this_week else [],
    )


def open_notices(r: redis.Redis, group: Group) -> list[Notice]:
    """Announcements (#通知) still waiting for answers, and who has not answered yet."""
    out = []
    roster = member_ids(r, group)
    for mid in sorted(as_text(m) for m in r.smembers(keys.ann_open(group.key))):
        raw = r.hget(keys.ann(group.key), mid)
        if raw is None:
            continue
        ann = json.loads(raw)
        acks = {as_text(m) for m in r.smembers(keys.ann_acks(group.key, mid))}
        silent = [
            name
            for uid, name in roster.items()
            if uid not in acks and uid not in group.leaders and uid != ann.get("by")
        ]
        out.append(Notice(str(ann.get("text", "")), when(float(ann.get("at", 0)), group), silent))
    return out


@dataclass
class History:
    group: Group
    m: hw.MemberWeek
    weeks: list[tuple[str, WeekResult]]  # newest first
    changes: list[str]  # goal changes and other changes about this member, newest first
    notes: list[Note]
    leave: list[str]
    links: list[tuple[str, list[str]]]  # (date, links) of the last LINK_DAYS days


def member_history(r: redis.Redis, settings: Settings, group: Group, userid: str, now: float) -> History | None:
    """One member's camp: every week's result, goal changes, notes, days off and check-in links."""
    today = today_of(group, now)
    states = {st.userid: st for st in load_members(r, group)}
    st = states.get(userid)
    if st is None:
        return None
    m = member_week(st, group, today, first_week(r, group, today), register.prefs(r, group.key))
    weeks = [(hw.week_span(w.week, group.camp_start), w) for w in reversed(m.history)]
    entries = [e for e in audit.entries(r, group.key) if e.get("target") == userid and e.get("what") != "undo"]
    done = audit.undone_ids(audit.entries(r, group.key))
    changes = [audit.format_entry(e, group.tz, e.get("id") in done) for e in reversed(entries)]
    leave = [day_date(d).strftime("%Y-%m-%d") for d in st.off.days()]
    return History(
        group, m, weeks, changes, _notes(r, group, [userid], None)[userid], leave, _links(r, group, userid, today)
    )


def _links(r: redis.Redis, group: Group, userid: str, today: int) -> list[tuple[str, list[str]]]:
    days = list(range(today, today - LINK_DAYS, -1))
    with r.pipeline(transaction=False) as p:
        for d in days:
            p.hget(keys.links(group.key, d), userid)
        raw = p.execute()
    return [(day_date(d).strftime("%m-%d"), as_text(v).split()) for d, v in zip(days, raw, strict=True) if v]


def member_of(r: redis.Redis, settings: Settings, userid: str) -> list[Group]:
    """The groups whose roster has `userid` (for a member's own page)."""
    return [g for g in settings.groups.values() if userid in member_ids(r, g)]


@dataclass
class GroupRate:
    group: Group
    rate: str
    met: int
    counted: int
    at_risk: list[str]
    followed: list[tuple[str, bool | None]]


def overview(r: redis.Redis, settings: Settings, groups: list[Group], now: float) -> list[GroupRate]:
    """Each group's week so far: completion (met / counted), members at risk (missed this week,
    with their run of missed weeks) and whether last week's suggestions were applied."""
    out = []
    for group in groups:
        today = today_of(group, now)
        states = load_members(r, group)
        prefs = register.prefs(r, group.key)
        first = first_week(r, group, today)
        members = [member_week(st, group, today, first, prefs) for st in states]
        counted = [m for m in members if m.week.status != OFF]
        met = sum(1 for m in counted if m.week.status == "met")
        names = hw.display_names(members)
        risk = [
            f"{names[m.userid]} {hw.fraction(m)}（连续 {len(missed_run(m.history))} 周）"
            for m in counted
            if m.week.status == MISSED
        ]
        rate = f"{round(100 * met / len(counted))}%" if counted else "—"
        done = followed(r, group, week_start(today), {s.userid: s for s in states}, settings)
        out.append(GroupRate(group, rate, met, len(counted), risk, done))
    return out
