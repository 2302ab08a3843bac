"""The group register: every member's record on a date, read from Redis in one round trip."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import redis

from config.settings import Group
from handlers.calendar import day_date, day_index, week_start
from handlers.streaks import DayBits, Record, parse_goals, record, week_goal
from workers import directory, keys
from workers.connection import as_text


def camp_days(group: Group) -> tuple[int | None, int | None]:
    """The group's camp as (first day, last day), each None when open."""
    return (
        day_index(group.camp_start) if group.camp_start else None,
        day_index(group.camp_end) if group.camp_end else None,
    )


def prefs(r: redis.Redis, group: str) -> dict[str, str]:
    """The group's member preferences: `<userid>:mute` and `<userid>:private` -> "1" (免打扰, 不公开)."""
    return {as_text(k): as_text(v) for k, v in r.hgetall(keys.prefs(group)).items()}


def flagged(prefs: dict[str, str], flag: str) -> set[str]:
    """userids with `<userid>:<flag>` = 1 in a group's prefs."""
    suffix = ":" + flag
    return {f[: -len(suffix)] for f, v in prefs.items() if f.endswith(suffix) and v == "1"}


def hidden(r: redis.Redis, group: str) -> set[str]:
    """Members who chose 不公开: never named in anything the group reads."""
    return flagged(prefs(r, group), "private")


@dataclass
class MemberRow:
    userid: str
    name: str
    streak: int
    longest_streak: int
    total: int
    week_count: int
    week_goal: int
    checked_in: bool
    last_day: int | None = None  # last check-in day up to the date (for silence), not in --json

    def as_json(self) -> dict:
        data = asdict(self)
        data.pop("last_day")
        return data


@dataclass
class MemberState:
    """What Redis holds for one member, enough to compute any day's record."""

    userid: str
    name: str
    days: DayBits
    off: DayBits
    goals: dict[int, int]

    def row(self, day: int, default_goal: int, camp: tuple[int | None, int | None] = (None, None)) -> MemberRow:
        """The record on `day`; its `week_goal` is the goal in force that week, days off and the camp's
        dates taken into account (handlers.streaks.week_goal), as the chat, the review and the export show it."""
        rec: Record = record(self.days, self.off, day)
        checked = [d for d in self.days.days() if d <= day]
        return MemberRow(
            self.userid,
            self.name,
            rec.streak,
            rec.longest_streak,
            rec.total,
            rec.week_count,
            week_goal(self.goals, self.off, week_start(day), default_goal, camp),
            rec.checked_in,
            checked[-1] if checked else None,
        )


def member_ids(r: redis.Redis, group: Group) -> dict[str, str]:
    """userid -> display name: configured members first, then those learnt from posts.
    Leaders count only when they are members too (configured, or they checked in). A name is the
    one learnt from posts, else the configured one, else the directory's (directory.pick_name)."""
    members = list(group.members)
    with r.pipeline(transaction=False) as p:
        p.hgetall(keys.names(group.key))
        p.smembers(keys.removed(group.key))
        if members:
            p.hmget(keys.DIR_NAMES, members)
        raw = p.execute()
    learnt = {as_text(k): as_text(v) for k, v in raw[0].items()}
    found = dict(zip(members, directory.read(raw[2]), strict=True)) if members else {}
    out = {uid: directory.pick_name(uid, learnt, group.display_names, found) for uid in members}
    for uid, name in learnt.items():
        if uid in out:
            continue
        if uid in group.leaders and not r.exists(keys.days(group.key, uid)):
            continue
        out[uid] = name or uid
    removed = {as_text(m) for m in raw[1]}
    return {uid: name for uid, name in out.items() if uid not in removed}


def load_members(r: redis.Redis, group: Group) -> list[MemberState]:
    people = member_ids(r, group)
    with r.pipeline(transaction=False) as p:
        p.get(keys.base(group.key))
        for uid in people:
            p.get(keys.days(group.key, uid))
            p.get(keys.off(group.key, uid))
            p.hgetall(keys.goals(group.key, uid))
        raw = p.execute()
    base = int(raw[0]) if raw[0] is not None else 0
    out = []
    for i, (uid, name) in enumerate(people.items()):
        days, off, goals = raw[1 + 3 * i : 4 + 3 * i]
        out.append(MemberState(uid, name, DayBits(days, base), DayBits(off, base), parse_goals(goals)))
    return out


def rows(r: redis.Redis, group: Group, day: int) -> list[MemberRow]:
    camp = camp_days(group)
    return [m.row(day, group.weekly_goal, camp) for m in load_members(r, group)]


def stats_json(r: redis.Redis, group: Group, day: int) -> dict:
    return {
        "group": group.key,
        "date": day_date(day).isoformat(),
        "members": [row.as_json() for row in rows(r, group, day)],
    }
