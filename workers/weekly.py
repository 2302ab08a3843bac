"""The camp's weekly cycle and instant praise: everything that reads Redis for them and posts.

- `midweek(...)`, `summary(...)`, `final(...)`: the posts of the weekly slots and of the camp's end,
  built by workers.schedule.build_slot (ids derived from the slot's claim key, so a retried batch
  posts nothing twice). The weekend summary also records its suggestions per group and week
  (keys.suggestions), which the admins' overview compares with the goals a week later.
- `camp_overview(week_iso, ts)`: the RQ job behind the admins' one camp-wide overview a week,
  claimed once per week by the tick (keys.slot("_camp", "overview", <Monday>)).
- notices: private messages that may wait (the kind word to a member whose goal a leader changed,
  a mid-week nudge that fell in quiet hours). Commands append them to keys.NOTICES in their own
  transaction (so an undo can take them back); every tick posts those whose group is out of quiet
  hours. Their ids are fixed when they are written, so a notice posted twice is sent once.
- praise: `checkin_reply(...)` words the instant reply with its milestone (handlers.praise) and
  keeps the last template per member (keys.praise_last); `route_replies(...)` posts each group reply
  on its own, or, when the group's robot is close to its 20 messages a minute, gathers it
  (keys.reply_buffer) into one message that the next tick posts (`flush_replies`).
"""
from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, timezone

import redis

from config.settings import Group, Settings, get_settings
from handlers import praise, texts
from handlers import weekly as hw
from handlers.calendar import day_date, day_index, day_of, week_start
from handlers.daily import ANONYMOUS, in_quiet_hours
from handlers.streaks import (MISSED, OFF, OPEN, DayBits, goal_for_week, leave_goal, record, unavailable_days, week_result)
from workers import keys, scripts
from workers import register
from workers.register import MemberState, load_members

log = logging.getLogger(__name__)

BACKFILL_DAYS = 35             # as workers.ingest: a group's first check-in sets base = that day - 35
SUGGESTION_TTL = 21 * 24 * 3600    # read back by the next week's overview ("were they applied?")
ROUTE_TTL = 8 * 24 * 3600
WINDOW = 61.0                  # the robot's minute, as workers.outbound counts it
NOTES_SHOWN = 3
NOTICE_BATCH = 500


# --- settings --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Cfg:
    downgrade_after: int = 2
    upgrade_after: int = 2
    top: int = 3
    nudge: bool = True
    streaks: tuple[int, ...] = praise.STREAK_MILESTONES
    reserve: int = 3


def cfg(settings: Settings) -> Cfg:
    """The knobs of config/settings.py's weekly block (defaults for a Settings built by hand)."""
    return Cfg(getattr(settings, "downgrade_after_weeks", 2), getattr(settings, "upgrade_after_weeks", 2),
               getattr(settings, "top_performers", 3), getattr(settings, "midweek_nudge", True),
               tuple(getattr(settings, "praise_streaks", praise.STREAK_MILESTONES)),
               getattr(settings, "reply_reserve", 3))


def camp_days(group: Group) -> tuple[int | None, int | None]:
    return (day_index(group.camp_start) if group.camp_start else None,
            day_index(group.camp_end) if group.camp_end else None)


def leaders_of(settings: Settings, group: Group) -> list[str]:
    return list(group.leaders) or list(settings.admins)


def quiet_at(settings: Settings, group: Group, ts: float) -> bool:
    local = datetime.fromtimestamp(ts, tz=timezone.utc).astimezone(group.tz)
    return in_quiet_hours(local.hour, local.minute, settings.quiet_hours)


def _user_msg(msg_id: str, userid: str, content: str) -> dict:
    return {"id": msg_id, "to": "user", "users": [userid], "msgtype": "text", "content": content}


def _group_msg(msg_id: str, group: str, content: str) -> dict:
    return {"id": msg_id, "to": "group", "group": group, "msgtype": "text", "content": content, "mentions": []}


def _post(r: redis.Redis, msgs: list[dict]) -> None:
    if not msgs:
        return
    from workers import outbound
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


def member_week(state: MemberState, group: Group, day: int, first: int, prefs: dict[str, str],
                notes: list | None = None) -> hw.MemberWeek:
    camp = camp_days(group)
    week = week_start(day)
    gone = unavailable_days(state.off, week, camp)
    history = [week_result(state.days, state.off, state.goals, w, group.weekly_goal, day, camp)
               for w in range(min(first, week), week + 1, 7)]
    rec = record(state.days, state.off, day)
    return hw.MemberWeek(
        state.userid, state.name, history[-1], history, rec.streak, rec.longest_streak, rec.total, rec.checked_in,
        goal_for_week(state.goals, week + 7, group.weekly_goal),
        private=prefs.get(f"{state.userid}:private") == "1", muted=prefs.get(f"{state.userid}:mute") == "1",
        off_today=day in state.off, notes=notes or [],
        gone=frozenset(gone), leave=len(gone - unavailable_days(DayBits(None, 0), week, camp)))


def group_weeks(r: redis.Redis, group: Group, day: int, with_notes: bool = False) -> list[hw.MemberWeek]:
    states = load_members(r, group)
    prefs = register.prefs(r, group.key)
    notes: dict[str, list] = {}
    if with_notes and states:
        with r.pipeline(transaction=False) as p:
            for st in states:
                p.lrange(keys.notes(group.key, st.userid), -NOTES_SHOWN, -1)
            raw = p.execute()
        notes = {st.userid: [n.decode() for n in items] for st, items in zip(states, raw) if items}
    first = first_week(r, group, day)
    return [member_week(st, group, day, first, prefs, notes.get(st.userid)) for st in states]


# --- the mid-week pace check -------------------------------------------------------------------------

def midweek(r: redis.Redis, settings: Settings, group: Group, day: int, now: float, base_id: str) -> list[dict]:
    """Each leader privately: who is behind the pace, with numbers and notes. Each member behind:
    an encouraging private nudge (not to 免打扰, not on a day off; in quiet hours it waits as a
    notice for the hours to end)."""
    c = cfg(settings)
    members = group_weeks(r, group, day, with_notes=True)
    late = [m for m in members if hw.behind(m, day)]
    nudges: list[dict] = []
    if c.nudge:
        for m in late:
            if m.muted or m.off_today:
                continue
            text = hw.midweek_nudge(m, day, f"{base_id}:{m.userid}")
            nudges.append(_user_msg(f"{base_id}:nudge:{m.userid}", m.userid, text))
    text = hw.midweek_leader(group.display, day, members, group.camp_start, NOTES_SHOWN,
                             nudged=[m["users"][0] for m in nudges])
    out = [_user_msg(f"{base_id}:{uid}", uid, text) for uid in leaders_of(settings, group)]
    if nudges and quiet_at(settings, group, now):
        defer(r, group.key, nudges)
        return out
    return out + nudges


# --- the weekend review ------------------------------------------------------------------------------

def summary(r: redis.Redis, settings: Settings, group: Group, day: int, base_id: str) -> list[dict]:
    """The group's review post, and each leader's weekly register with suggestions (recorded for
    the admins' overview)."""
    c = cfg(settings)
    members = group_weeks(r, group, day, with_notes=True)
    closing = group.camp_end is not None and week_start(day) + 6 >= day_index(group.camp_end)
    post = hw.review(day, members, group.camp_start, seed=base_id, closing=closing)
    tips = [] if closing else hw.suggest(members, c.downgrade_after, c.upgrade_after)
    report = hw.leader_report(group.display, day, members, tips, group.camp_start, NOTES_SHOWN)
    record_suggestions(r, group, week_start(day), tips)
    out = [_group_msg(base_id, group.key, post)]
    out += [_user_msg(f"{base_id}:{uid}", uid, report) for uid in leaders_of(settings, group)]
    return out


def record_suggestions(r: redis.Redis, group: Group, week: int, tips: list[hw.Suggestion]) -> None:
    key = keys.suggestions(group.key, day_date(week).isoformat())
    with r.pipeline() as p:
        p.delete(key)
        for s in tips:
            if s.kind in ("downgrade", "upgrade"):
                # compact (kind|n|from|name): one per flagged member and week, kept three weeks
                p.hset(key, s.userid, f"{s.kind}|{s.n}|{s.current}|{s.name}")
        p.expire(key, SUGGESTION_TTL)
        p.execute()


def suggestions_of(r: redis.Redis, group: Group, week: int) -> dict[str, dict]:
    raw = r.hgetall(keys.suggestions(group.key, day_date(week).isoformat()))
    out = {}
    for k, v in raw.items():
        text = v.decode()
        try:
            if text.startswith("{"):                    # written by an earlier version
                out[k.decode()] = json.loads(text)
                continue
            kind, n, current, name = text.split("|", 3)
            out[k.decode()] = {"kind": kind, "n": int(n), "from": int(current), "name": name}
        except (TypeError, ValueError):
            continue
    return out


def followed(r: redis.Redis, group: Group, week: int, states: dict[str, MemberState],
             c: Cfg = Cfg()) -> list[tuple[str, bool | None]]:
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
            history = [week_result(st.days, st.off, st.goals, w, group.weekly_goal, last + 6, camp_days(group))
                       for w in range(min(first, last), last + 1, 7)]
            run = hw.missed_run(history) if down else hw.beaten_run(history)
            if len(run) < (c.downgrade_after if down else c.upgrade_after):
                ok = None
        verb = "退阶" if down else "目标"
        out.append((f"{verb} {s.get('name') or st.name} {n}", ok))
    return out


# --- the admins' camp-wide overview ------------------------------------------------------------------

def camp_overview(week_iso: str, ts: float | None = None) -> int:
    """The RQ job: one overview of every group in camp that week, to each admin (claimed once a week
    by the tick). Idempotent: its ids are fixed by the week."""
    r = redis_client()
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
        risk = [(names[m.userid], len(hw.missed_run(m.history)), hw.fraction(m))
                for m in counted if m.week.status == "missed"]
        rows.append(hw.GroupWeek(group.key, group.display, hw.week_name(week, group.camp_start), len(met),
                                 len(counted), risk,
                                 followed(r, group, week, {s.userid: s for s in states}, cfg(settings))))
    text = hw.overview(week, rows)
    base = f"slot:_camp:overview:{week_iso}"
    _post(r, [_user_msg(f"{base}:{uid}", uid, text) for uid in settings.admins])
    return len(settings.admins)


def redis_client() -> redis.Redis:
    from workers.connection import get_redis
    return get_redis()


# --- the end of the camp -----------------------------------------------------------------------------

def final(r: redis.Redis, settings: Settings, group: Group, day: int, base_id: str) -> list[dict]:
    """Each leader privately, the day after the camp: every member's whole-camp record and the camp's
    top performers. `day` is the camp's last day."""
    c = cfg(settings)
    camp = camp_days(group)
    start = camp[0] if camp[0] is not None else first_week(r, group, day)
    records = []
    for st in load_members(r, group):
        weeks = [week_result(st.days, st.off, st.goals, w, group.weekly_goal, day, camp)
                 for w in range(week_start(start), week_start(day) + 1, 7)]
        counted = [w for w in weeks if w.status != OFF]
        total = st.days.count(start, day)
        best = run = 0
        for d in range(start, day + 1):
            if d in st.days:
                run += 1
                best = max(best, run)
            elif d not in st.off:
                run = 0
        records.append(hw.CampRecord(st.userid, st.name, sum(1 for w in counted if w.status == "met"),
                                     len(counted), total, best))
    text = hw.final_report(group.display, group.camp_start, day_date(day), records, c.top)
    return closing_week(r, settings, group, day, base_id) + [
        _user_msg(f"{base_id}:{uid}", uid, text) for uid in leaders_of(settings, group)]


def closing_week(r: redis.Redis, settings: Settings, group: Group, day: int, base_id: str) -> list[dict]:
    """A camp that ends before its week's summary slot (the slot falls after the camp, so it never
    fires): the last week's review in the group and each leader's register for it (no suggestions,
    the camp is over), posted with the final report."""
    slot = group.slots.get("summary")
    if slot is None or slot.weekday is None or week_start(day) + slot.weekday <= day:
        return []
    members = [closed(m) for m in group_weeks(r, group, day, with_notes=True)]
    post = hw.review(day, members, group.camp_start, seed=base_id, closing=True)
    report = hw.leader_report(group.display, day, members, [], group.camp_start, NOTES_SHOWN)
    return [_group_msg(f"{base_id}:review", group.key, post)] + [
        _user_msg(f"{base_id}:week:{uid}", uid, report) for uid in leaders_of(settings, group)]


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
    return json.dumps({"id": msg_id, "group": group, "user": userid, "text": text},
                      ensure_ascii=False, separators=(",", ":"), sort_keys=True)


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
        if group is not None and quiet_at(settings, group, ts):
            continue
        msgs.append(_user_msg(item["id"], item["user"], item["text"]))
        done.append(value)
    _post(r, msgs)
    if done:
        with r.pipeline(transaction=False) as p:
            for value in done:
                p.lrem(keys.NOTICES, 1, value)
            p.execute()
    return len(msgs)


# --- praise ------------------------------------------------------------------------------------------

class PraiseBook:
    """The praise of one inbox batch: every member's last template (keys.praise_last) read in one
    round trip, the choices written back in one, so that wording a batch's replies costs no Redis
    call per message. A member with two check-ins in one batch sees the first choice at once."""

    def __init__(self, r: redis.Redis, settings: Settings, members: list[tuple[str, str]]):
        self.r, self.settings = r, settings
        wanted = sorted(set(members))
        self.last: dict[tuple[str, str], str] = {}
        self.writes: dict[tuple[str, str], str] = {}
        if wanted:
            with r.pipeline(transaction=False) as p:
                for group, uid in wanted:
                    p.hget(keys.praise_last(group), uid)
                self.last = {k: v.decode() for k, v in zip(wanted, p.execute()) if v is not None}

    def reply(self, action, res: dict, msgid: str) -> tuple[str, str]:
        """The instant reply to one check-in and the few words a gathered reply gives it. `res` is
        what checkin.lua returned: the member's days and days off as this check-in left them."""
        rec = res["record"]
        if res["status"] == -1:
            return texts.too_early_reply(action.name), ""
        if res["status"] == 0:
            return texts.already_reply(action.name, rec.streak, rec.week_count, res["goal"]), praise.already_short()
        group = self.settings.groups.get(action.group)
        camp = camp_days(group) if group else (None, None)
        days, off = res.get("days"), res.get("off") or DayBits(None, action.day)
        if days is not None and action.day not in days:      # not what checkin.lua left: nothing special
            days = None
        goal = leave_goal(res["goal"], len(unavailable_days(off, week_start(action.day), camp)))
        if days is not None:
            m = praise.milestone(days, off, action.day, rec.streak, rec.total, rec.week_count, goal,
                                 cfg(self.settings).streaks)
        else:
            m = praise.Milestone(praise.DAILY, rec.streak, goal=goal)
        key = (action.group, action.userid)
        last_msgid, _, last_choice = self.last.get(key, "").rpartition("|")
        idx = None
        if last_msgid == msgid and last_choice.startswith(m.kind + ":"):
            try:
                idx = int(last_choice.split(":", 1)[1])       # the same message again: the same words
            except ValueError:
                idx = None
        if idx is None:
            idx = praise.choose(m.kind, msgid, last_choice or None)
            self.last[key] = self.writes[key] = f"{msgid}|{m.kind}:{idx}"
        text = texts.checkin_reply(action.name, rec.streak, rec.week_count, goal, msgid, praise.sentence(m, idx),
                                   mark_goal=m.kind != praise.GOAL)
        return text, praise.short(m, rec.week_count, goal)

    def flush(self) -> None:
        if self.writes:
            with self.r.pipeline(transaction=False) as p:
                for (group, uid), value in self.writes.items():
                    p.hset(keys.praise_last(group), uid, value)
                p.execute()
            self.writes.clear()


def checkin_reply(r: redis.Redis, settings: Settings, action, res: dict, msgid: str) -> tuple[str, str]:
    """One reply on its own (PraiseBook does a batch's): reads the member's days when `res` lacks them."""
    if res.get("status") == 1 and res.get("days") is None:
        with r.pipeline(transaction=False) as p:
            p.get(keys.base(action.group))
            p.get(keys.days(action.group, action.userid))
            p.get(keys.off(action.group, action.userid))
            raw_base, raw_days, raw_off = p.execute()
        base = int(raw_base) if raw_base is not None else action.day
        res = {**res, "days": DayBits(raw_days, base), "off": DayBits(raw_off, base)}
    book = PraiseBook(r, settings, [(action.group, action.userid)])
    out = book.reply(action, res, msgid)
    book.flush()
    return out


def route_replies(r: redis.Redis, settings: Settings, items: list[tuple[dict, str, str, str, str]]) -> list[dict]:
    """Group replies to post now, or gathered while the group's robot is near its limit; `items`:
    (msg, msgid, name, words, userid) in the batch's order ("" userid: a leader's chain naming several),
    routed in one pipelined round trip. The choice is kept per message, so a message processed again
    goes the same way."""
    from workers import outbound
    if not items:
        return []
    route = scripts.script("reply_route", r)
    now = time.time()
    routed: list[bool] = []          # per item: does its fate hang on the script (else: post it)
    with r.pipeline(transaction=False) as p:
        for msg, msgid, name, words, uid in items:
            group = msg["group"]
            ch = outbound.channel_of({"to": "group", "group": group}, settings)
            routed.append(bool(ch.rate_keys))
            if not ch.rate_keys:
                continue
            limit = max(ch.limit - cfg(settings).reserve, 1)
            entry = json.dumps({"id": msg["id"], "name": name, "uid": uid, "words": words, "at": round(now, 3)},
                               ensure_ascii=False, separators=(",", ":"))
            route(keys=[keys.reply_route(group, msgid), keys.replies_recent(group), keys.reply_buffer(group),
                        keys.REPLY_GROUPS, *ch.rate_keys],
                  args=[repr(now), WINDOW, limit, msg["id"], entry, ROUTE_TTL, group], client=p)
        answers = iter(p.execute() if any(routed) else [])
    out = []
    for (msg, *_), via_script in zip(items, routed):
        how = next(answers) if via_script else b"post"
        if (how.decode() if isinstance(how, bytes) else str(how)) == "post":
            out.append(msg)
    return out


def gathered_id(group: str, items: list[dict]) -> str:
    digest = hashlib.sha1("|".join(sorted(i["id"] for i in items)).encode()).hexdigest()[:16]
    return f"replies:{group}:{digest}"


def flush_replies(r: redis.Redis, settings: Settings, group: str) -> int:
    """Post the gathered replies of one group as ONE message (ids from the gathered message ids, so
    a retried flush posts nothing twice)."""
    take = scripts.script("reply_take", r)
    batch_key, buf_key = keys.reply_flushing(group), keys.reply_buffer(group)
    raw = take(keys=[batch_key, buf_key, keys.REPLY_GROUPS], args=[group], client=r)
    if not raw:
        return 0
    try:
        items = json.loads(raw)
    except (TypeError, ValueError):
        r.delete(batch_key)
        return 0
    if items and settings.group(group) is not None:
        hidden = register.hidden(r, group)
        # a member who chose 不公开 is not named in a list the group reads, even one answering her own post
        text = praise.gathered([(ANONYMOUS if i.get("uid") in hidden else i.get("name", ""), i.get("words", ""))
                                for i in items])
        _post(r, [_group_msg(gathered_id(group, items), group, text)])
    scripts.script("reply_done", r)(keys=[batch_key, buf_key, keys.REPLY_GROUPS], args=[raw, group], client=r)
    return len(items)


def flush_all_replies(r: redis.Redis, settings: Settings) -> int:
    """The minute tick: post every group's gathered replies (the robot's minute has passed, or it has
    room again; either way it is one message)."""
    n = 0
    for raw in r.smembers(keys.REPLY_GROUPS):
        group = raw.decode()
        try:
            n += flush_replies(r, settings, group)
        except Exception:
            log.exception("could not post the gathered replies of group %s", group)
    return n


def on_tick(r: redis.Redis, settings: Settings, ts: float) -> dict:
    """What the minute tick does for this module besides the slots."""
    return {"notices": flush_notices(r, settings, ts), "gathered": flush_all_replies(r, settings)}
