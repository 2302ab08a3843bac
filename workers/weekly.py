"""The camp's weekly cycle: everything that reads Redis for it and posts.

- `midweek(...)`, `summary(...)`, `final(...)`: the posts of the weekly slots and of the camp's end,
  built by workers.schedule.build_slot (ids derived from the slot's claim key, so a retried batch
  posts nothing twice). The weekend summary also records its suggestions per group and week
  (keys.suggestions), which the admins' overview compares with the goals a week later. The review's
  本周之星, the leader's 尖子生 and the final report each name at most BOT_TOP_PERFORMERS members.
- `camp_overview(week_iso, ts)`: the RQ job behind the admins' one camp-wide overview a week,
  claimed once per week by the tick (keys.slot("_camp", "overview", <Monday>)).
- notices: private messages that may wait (the kind word to a member whose goal a leader changed,
  a mid-week nudge that fell in quiet hours). Commands append them to keys.NOTICES in their own
  transaction (so an undo can take them back); every tick posts those whose group is out of quiet
  hours (`flush_notices`). Their ids are fixed when they are written, so a notice posted twice is
  sent once.

The instant check-in replies and their praise are workers/replies.py.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import redis

from config.settings import Group, Settings, get_settings
from handlers import messages
from handlers import weekly as hw
from handlers.calendar import day_date, day_index, day_of, quiet_at, week_start
from handlers.links import group_page_url
from handlers.routine import Feat, Kind
from handlers.streaks import (
    BACKFILL_DAYS,
    MISSED,
    OFF,
    OPEN,
    DayBits,
    beaten_run,
    goal_for_week,
    missed_run,
    record,
    unavailable_days,
    week_result,
)
from handlers.texts import local_note
from workers import initiative, keys, outbound, register, routine
from workers.connection import as_text, get_redis
from workers.pictures import badges
from workers.pictures import send as pictures
from workers.register import MemberState, camp_days, load_members

log = logging.getLogger(__name__)

NOTES_SHOWN = 3
NOTICE_BATCH = 500


def _post(r: redis.Redis, msgs: list[dict]) -> None:
    if msgs:
        outbound.post_many(r, msgs)


# --- reading a group's weeks -----------------------------------------------------------------------


def first_week(r: redis.Redis, group: Group, day: int) -> int:
    """The first week whose results count (for runs of missed or beaten weeks): the camp's first
    week, else the week of the group's first check-in."""
    if group.camp_start:
        return week_start(day_index(group.camp_start))
    raw = r.get(keys.base(group.key))
    if raw is None:
        return week_start(day)
    return min(week_start(int(raw) + BACKFILL_DAYS), week_start(day))


def member_week(
    state: MemberState, group: Group, day: int, first: int, prefs: dict[str, str], notes: list | None = None
) -> hw.MemberWeek:
    camp = camp_days(group)
    week = week_start(day)
    gone = unavailable_days(state.off, week, camp)
    history = [
        week_result(state.days, state.off, state.goals, w, group.weekly_goal, day, camp)
        for w in range(min(first, week), week + 1, 7)
    ]
    rec = record(state.days, state.off, day)
    return hw.MemberWeek(
        state.userid,
        state.name,
        history[-1],
        history,
        rec.streak,
        rec.longest_streak,
        rec.total,
        rec.checked_in,
        goal_for_week(state.goals, week + 7, group.weekly_goal),
        private=prefs.get(f"{state.userid}:private") == "1",
        muted=prefs.get(f"{state.userid}:mute") == "1",
        off_today=day in state.off,
        notes=notes or [],
        gone=frozenset(gone),
        leave=len(gone - unavailable_days(DayBits(None, 0), week, camp)),
    )


def group_weeks(r: redis.Redis, group: Group, day: int, with_notes: bool = False) -> list[hw.MemberWeek]:
    states = load_members(r, group)
    prefs = register.prefs(r, group.key)
    notes: dict[str, list] = {}
    if with_notes and states:
        with r.pipeline(transaction=False) as p:
            for st in states:
                p.lrange(keys.notes(group.key, st.userid), -NOTES_SHOWN, -1)
            raw = p.execute()
        notes = {
            st.userid: [local_note(n, group.tz) for n in items] for st, items in zip(states, raw, strict=True) if items
        }
    first = first_week(r, group, day)
    return [member_week(st, group, day, first, prefs, notes.get(st.userid)) for st in states]


# --- the mid-week pace check -------------------------------------------------------------------------


def midweek(r: redis.Redis, settings: Settings, group: Group, day: int, now: float, base_id: str) -> list[dict]:
    """Each leader privately: who is behind the pace, with numbers and notes. Each member behind:
    an encouraging private nudge (not to 免打扰, not on a day off, within the member's daily budget
    of the bot's own notes: workers/initiative.py; in quiet hours it is dropped, not kept)."""
    members = group_weeks(r, group, day, with_notes=True)
    late = [m for m in members if hw.behind(m, day)]
    notes: list[initiative.Note] = []
    if settings.midweek_nudge:
        for m in late:
            if m.muted or m.off_today:
                continue
            text = hw.midweek_nudge(m, day, f"{base_id}:{m.userid}")
            msg = messages.to_user(f"{base_id}:nudge:{m.userid}", m.userid, text)
            notes.append(initiative.Note(Kind.MIDWEEK, m.userid, msg))
    # the member's daily budget decides (none in quiet hours): the leader hears who was told
    nudges = initiative.admit(r, settings, group, notes, now, {m.userid for m in members if m.muted})
    text = hw.midweek_leader(
        group.display, day, members, group.camp_start, NOTES_SHOWN, nudged=[m["users"][0] for m in nudges]
    )
    out = [messages.to_user(f"{base_id}:{uid}", uid, text) for uid in settings.leaders_of(group)]
    return out + nudges


# --- the weekend review ------------------------------------------------------------------------------


def summary(
    r: redis.Redis,
    settings: Settings,
    group: Group,
    day: int,
    base_id: str,
    now: float | None = None,
    own_notes: bool = True,
) -> list[dict]:
    """The group's review post, and each leader's weekly register with suggestions (recorded for
    the admins' overview)."""
    now = time.time() if now is None else now
    members = group_weeks(r, group, day, with_notes=True)
    closing = group.camp_end is not None and week_start(day) + 6 >= day_index(group.camp_end)
    post = hw.review(day, members, group.camp_start, seed=base_id, closing=closing, top=settings.top_performers)
    tips = [] if closing else hw.suggest(members, settings.downgrade_after_weeks, settings.upgrade_after_weeks)
    kudos = _congratulate_stars(r, settings, group, members, base_id, now, day) if own_notes else []
    report = hw.leader_report(
        group.display,
        day,
        members,
        tips,
        group.camp_start,
        NOTES_SHOWN,
        top=settings.top_performers,
        congratulated=[m["users"][0] for m in kudos if m.get("msgtype") != "image"],
    )
    page = group_page_url(settings.public_url, group.key)
    if page:
        report += f"\n🔗 本周登记表和往周记录：{page}"
    record_suggestions(r, group, week_start(day), tips)
    out = [messages.to_group(base_id, group.key, post)]
    out += [messages.to_user(f"{base_id}:{uid}", uid, report) for uid in settings.leaders_of(group)]
    out += pictures.summary(r, settings, group, day, base_id, members)  # the wall and the register, after the texts
    return out + kudos


def _congratulate_stars(
    r: redis.Redis,
    settings: Settings,
    group: Group,
    members: list[hw.MemberWeek],
    base_id: str,
    now: float,
    day: int | None = None,
) -> list[dict]:
    """开小灶: the week's stars each get a private word in the leader's voice (within their budget),
    and after it their badge (勋章), within their one badge picture of the day."""
    stars = hw.top_performers(members, settings.top_performers)
    feats = [Feat(m.userid, m.name, "star", m.week.count, m.week.goal) for m in stars if m.userid not in group.leaders]
    kudos = routine.recognize(r, settings, group, feats, base_id, now, {m.userid for m in members if m.muted})
    by_user = {f.userid: f for f in feats}
    day = day_of(now, group.tz) if day is None else day  # the slot's day: a retry claims the same one
    out = []
    for m in kudos:
        f = by_user[m["users"][0]]
        out += [m, *badges.star(r, settings, group, f.userid, f.name, f.n, f.before, base_id, day)]
    return out


def record_suggestions(r: redis.Redis, group: Group, week: int, tips: list[hw.Suggestion]) -> None:
    key = keys.suggestions(group.key, day_date(week).isoformat())
    with r.pipeline() as p:
        p.delete(key)
        for s in tips:
            if s.kind in ("downgrade", "upgrade"):
                # compact (kind|n|from|name): one per flagged member and week, kept three weeks
                p.hset(key, s.userid, f"{s.kind}|{s.n}|{s.current}|{s.name}")
        p.expire(key, keys.SUGGESTION_TTL)
        p.execute()


def suggestions_of(r: redis.Redis, group: Group, week: int) -> dict[str, dict]:
    raw = r.hgetall(keys.suggestions(group.key, day_date(week).isoformat()))
    out = {}
    for k, v in raw.items():
        text = as_text(v)
        try:
            if text.startswith("{"):  # written by an earlier version
                out[as_text(k)] = json.loads(text)
                continue
            kind, n, current, name = text.split("|", 3)
            out[as_text(k)] = {"kind": kind, "n": int(n), "from": int(current), "name": name}
        except (TypeError, ValueError):
            continue
    return out


def followed(
    r: redis.Redis, group: Group, week: int, states: dict[str, MemberState], settings: Settings
) -> list[tuple[str, bool | None]]:
    """Last week's suggestions (made for week `week - 7`) and whether the goals now say the leader
    acted on them: a 退阶 applied means a lower goal from next week on, a higher goal a higher one.
    None for one not applied that no longer stands: a 补卡 has since changed the weeks behind it."""
    out: list[tuple[str, bool | None]] = []
    last = week - 7
    first = None
    for uid, s in sorted(suggestions_of(r, group, last).items()):
        st = states.get(uid)
        if st is None:
            continue
        goal = goal_for_week(st.goals, week + 7, group.weekly_goal)
        n, was = int(s.get("n", 0)), int(s.get("from", 0))
        down = s.get("kind") == "downgrade"
        ok: bool | None = goal < was if down else goal > was
        if not ok:
            first = first_week(r, group, last) if first is None else first
            history = [
                week_result(st.days, st.off, st.goals, w, group.weekly_goal, last + 6, camp_days(group))
                for w in range(min(first, last), last + 1, 7)
            ]
            run = missed_run(history) if down else beaten_run(history)
            if len(run) < (settings.downgrade_after_weeks if down else settings.upgrade_after_weeks):
                ok = None
        verb = "退阶" if down else "目标"
        out.append((f"{verb} {s.get('name') or st.name} {n}", ok))
    return out


# --- the admins' camp-wide overview ------------------------------------------------------------------


def camp_overview(week_iso: str, ts: float | None = None) -> int:
    """The RQ job: one overview of every group in camp that week, to each admin (claimed once a week
    by the tick). Idempotent: its ids are fixed by the week."""
    r = get_redis()
    settings = get_settings()
    if not settings.admins:
        return 0
    week = day_index(date.fromisoformat(week_iso))
    now = time.time() if ts is None else float(ts)
    rows = []
    for group in settings.groups.values():
        day = min(max(day_of(now, group.tz), week), week + 6)
        first, last = camp_days(group)
        if (first is not None and week + 6 < first) or (last is not None and week > last):
            continue
        states = load_members(r, group)
        prefs = register.prefs(r, group.key)
        start = first_week(r, group, day)
        members = [member_week(st, group, day, start, prefs) for st in states]
        counted = [m for m in members if m.week.status != OFF]
        met = [m for m in counted if m.week.status == "met"]
        names = hw.display_names(members)
        risk = [
            (names[m.userid], len(missed_run(m.history)), hw.fraction(m)) for m in counted if m.week.status == "missed"
        ]
        rows.append(
            hw.GroupWeek(
                group.key,
                group.display,
                hw.week_name(week, group.camp_start),
                len(met),
                len(counted),
                risk,
                followed(r, group, week, {s.userid: s for s in states}, settings),
            )
        )
    text = hw.overview(week, rows)
    base = f"slot:_camp:overview:{week_iso}"
    _post(r, [messages.to_user(f"{base}:{uid}", uid, text) for uid in settings.admins])
    _post(r, pictures.overview(r, settings, week_iso, now))  # each group's completion rate over the weeks
    return len(settings.admins)


# --- the end of the camp -----------------------------------------------------------------------------


def final(r: redis.Redis, settings: Settings, group: Group, day: int, base_id: str) -> list[dict]:
    """Each leader privately, the day after the camp: every member's whole-camp record and the camp's
    top performers. `day` is the camp's last day."""
    camp = camp_days(group)
    start = camp[0] if camp[0] is not None else first_week(r, group, day)
    records = []
    for st in load_members(r, group):
        weeks = [
            week_result(st.days, st.off, st.goals, w, group.weekly_goal, day, camp)
            for w in range(week_start(start), week_start(day) + 1, 7)
        ]
        counted = [w for w in weeks if w.status != OFF]
        total = st.days.count(start, day)
        best = run = 0
        for d in range(start, day + 1):
            if d in st.days:
                run += 1
                best = max(best, run)
            elif d not in st.off:
                run = 0
        records.append(
            hw.CampRecord(st.userid, st.name, sum(1 for w in counted if w.status == "met"), len(counted), total, best)
        )
    text = hw.final_report(group.display, group.camp_start, day_date(day), records, settings.top_performers)
    return closing_week(r, settings, group, day, base_id) + [
        messages.to_user(f"{base_id}:{uid}", uid, text) for uid in settings.leaders_of(group)
    ]


def closing_week(r: redis.Redis, settings: Settings, group: Group, day: int, base_id: str) -> list[dict]:
    """A camp that ends before its week's summary slot (the slot falls after the camp, so it never
    fires): the last week's review in the group and each leader's register for it (no suggestions,
    the camp is over), posted with the final report."""
    slot = group.slots.get("summary")
    if slot is None or slot.weekday is None or week_start(day) + slot.weekday <= day:
        return []
    members = [closed(m) for m in group_weeks(r, group, day, with_notes=True)]
    post = hw.review(day, members, group.camp_start, seed=base_id, closing=True, top=settings.top_performers)
    report = hw.leader_report(
        group.display, day, members, [], group.camp_start, NOTES_SHOWN, top=settings.top_performers
    )
    return [messages.to_group(f"{base_id}:review", group.key, post)] + [
        messages.to_user(f"{base_id}:week:{uid}", uid, report) for uid in settings.leaders_of(group)
    ]


def closed(m: hw.MemberWeek) -> hw.MemberWeek:
    """A member's week once the camp is over: a goal still open can no longer be reached."""
    if m.week.status != OPEN:
        return m
    week = replace(m.week, status=MISSED, left=0)
    return replace(m, week=week, history=m.history[:-1] + [week])


def final_due(settings: Settings, ts: float) -> list[tuple[str, date, float]]:
    """(group, camp end, instant) of the final reports due at `ts`: the day after the camp's end, at
    the summary time (midnight when the summary is off), or the first tick after it within a week."""
    out = []
    for group in settings.groups.values():
        if group.camp_end is None:
            continue
        today = datetime.fromtimestamp(ts, tz=timezone.utc).astimezone(group.tz).date()
        after = group.camp_end + timedelta(days=1)
        if not after <= today <= after + timedelta(days=6):
            continue
        slot = group.slots.get("summary")
        hour, minute = (slot.hour, slot.minute) if slot else (0, 0)
        at = datetime(after.year, after.month, after.day, hour, minute, tzinfo=group.tz).timestamp()
        if at <= ts:
            out.append((group.key, group.camp_end, at))
    return out


# --- notices that may wait ---------------------------------------------------------------------------


def notice(msg_id: str, group: str, userid: str, text: str) -> str:
    """A notice as stored in keys.NOTICES (fixed once written, so that an undo can remove it)."""
    return json.dumps(
        {"id": msg_id, "group": group, "user": userid, "text": text},
        ensure_ascii=False,
        separators=(",", ":"),
        sort_keys=True,
    )


def defer(r: redis.Redis, group: str, msgs: list[dict]) -> None:
    values = [notice(m["id"], group, m["users"][0], m["content"]) for m in msgs]
    if values:
        r.rpush(keys.NOTICES, *values)


def flush_notices(r: redis.Redis, settings: Settings, ts: float) -> int:
    """Post the waiting notices whose group is out of quiet hours at `ts`."""
    raw = r.lrange(keys.NOTICES, 0, NOTICE_BATCH - 1)
    if not raw:
        return 0
    msgs, done = [], []
    for value in raw:
        try:
            item = json.loads(value)
        except (TypeError, ValueError):
            done.append(value)
            continue
        group = settings.group(item.get("group", ""))
        if group is None:
            # A group this process does not know (taken out of BOT_GROUPS, or a command line run with
            # another env file): its member still sleeps, so quiet hours hold in BOT_TIMEZONE. Held,
            # not dropped: the notice tells a person about a change that was made (and audited).
            if quiet_at(ts, ZoneInfo(settings.timezone), settings.quiet_hours):
                continue
            log.info("notice %s of unknown group %r sent in BOT_TIMEZONE's day", item.get("id"), item.get("group"))
        elif quiet_at(ts, group.tz, settings.quiet_hours):
            continue
        msgs.append(messages.to_user(item["id"], item["user"], item["text"]))
        done.append(value)
    _post(r, msgs)
    if done:
        with r.pipeline(transaction=False) as p:
            for value in done:
                p.lrem(keys.NOTICES, 1, value)  # type: ignore[arg-type]  # the bytes as read: redis-py sends them as is
            p.execute()
    return len(msgs)
