"""Carry out leader and member commands (`execute`), each state change exactly once.

Every change runs in one optimistic transaction (WATCH ... MULTI/EXEC) together with
- an exactly-once guard `wb:cmd:<msgid>` holding the reply: a message processed again finds it and
  answers the same words without changing anything twice;
- an audit entry (workers.audit) with what it takes to undo the change.
Replies carry the id `cmd:<msgid>`, so the outbox sends each of them once.
Parsing and wording live in handlers.commands.
"""
from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import redis

from config.settings import Group, Settings
from handlers import commands as h
from handlers.calendar import day_date, day_index, day_of, week_start
from handlers.daily import camp_week
from handlers.streaks import DayBits, goal_for_week, leave_goal, parse_goals, record, unavailable_days, week_goal
from workers import announce, audit, keys
from workers.register import load_members, member_ids

log = logging.getLogger(__name__)

GUARD_TTL = 8 * 24 * 3600
BACKFILL_DAYS = 35          # as workers.ingest: a group's first check-in sets base = that day - 35
SOURCES = ("robot", "app")  # the channels for commands (the archive also sees group posts: not a command)
_USERID = re.compile(r"^[A-Za-z0-9_.@\-]{1,64}$")
audit.WHAT_CN.setdefault("propose", "目标提议")     # a member's own goal proposal (goal history)


def guard_key(msgid: str) -> str:
    """Set (with the reply) by the transaction that carried out a command's change."""
    return f"wb:cmd:{msgid}"


class Refuse(Exception):
    """A question or a refusal: nothing changes, the text is the answer."""

    def __init__(self, text: str):
        super().__init__(text)
        self.text = text


@dataclass
class Ctx:
    r: redis.Redis
    settings: Settings
    event: dict
    parsed: h.Parsed
    args: tuple[str, ...]          # the arguments, group key taken off
    key: str | None                # the group key named as the last word, if any
    uid: str
    name: str
    msgid: str
    ts: float
    chat_group: Group | None       # the group chat it came from; None in private

    @property
    def word(self) -> str:
        return self.parsed.word

    def today(self, group: Group) -> int:
        return day_of(self.ts, group.tz)


@dataclass
class Change:
    what: str
    target: str
    ops: list[dict]
    undo: list[dict]
    reply: str
    undoes: str = ""


# --- entry point ---------------------------------------------------------------------------------

def execute(r: redis.Redis, settings: Settings, event: dict, text: str) -> list[dict]:
    """The outbound messages answering one command (an empty list when it is not one of ours)."""
    parsed = h.parse(event.get("text") or "")
    if parsed is None or parsed.word != (h.parse(text) or parsed).word:
        parsed = h.parse(text)       # the router's text, mentions already stripped
    if parsed is None:
        return []
    if event.get("source") not in SOURCES:
        if parsed.word == "通知" and event.get("chat_id"):   # a leader's #通知 seen by the archive
            from workers import announce
            return announce.track_from_archive(r, settings, event)
        return []
    chat_id = event.get("chat_id") or ""
    chat_group = settings.group_by_chat(chat_id) if chat_id else None
    if chat_id and chat_group is None:
        return []                    # an unknown chat: the router reports it to the admins
    args, key = h.split_group_key(parsed.args, settings.groups)
    msgid = str(event.get("msgid") or "")
    ctx = Ctx(r, settings, event, parsed, args, key, event.get("userid", ""),
              event.get("name") or event.get("userid", ""), msgid,
              float(event.get("ts") or time.time()), chat_group)
    try:
        answer = HANDLERS[parsed.word](ctx)
    except Refuse as exc:
        answer = exc.text
    if isinstance(answer, str):
        return [_reply(ctx, answer)]
    return answer


def _reply(ctx: Ctx, text: str, suffix: str = "") -> dict:
    msg_id = f"cmd:{ctx.msgid}{suffix}"
    if ctx.chat_group is not None:
        return h.group_msg(msg_id, ctx.chat_group.key, text, [[ctx.uid, ctx.name]])
    return h.user_msg(msg_id, [ctx.uid], text)


# --- who may act where ---------------------------------------------------------------------------

def _leads(ctx: Ctx, group: Group) -> bool:
    return ctx.uid in ctx.settings.admins or ctx.uid in group.leaders


def _leader_group(ctx: Ctx) -> Group:
    s = ctx.settings
    if ctx.chat_group is not None:
        if ctx.key and ctx.key != ctx.chat_group.key:
            raise Refuse(h.only_this_group())
        if not _leads(ctx, ctx.chat_group):
            raise Refuse(h.not_leader(ctx.word))
        return ctx.chat_group
    led = s.groups_led_by(ctx.uid)
    if ctx.key:
        group = s.group(ctx.key)
        if not _leads(ctx, group):
            raise Refuse(h.not_leader_of(group.display) if led else h.not_leader(ctx.word))
        return group
    if not led:
        raise Refuse(h.not_leader(ctx.word))
    if len(led) == 1:
        return led[0]
    raise Refuse(h.pick_group(ctx.word, [(g.key, g.display) for g in led]))


def _groups_of_member(ctx: Ctx) -> list[Group]:
    return [g for g in ctx.settings.groups.values() if ctx.uid in member_ids(ctx.r, g)]


def _member_group(ctx: Ctx) -> Group:
    if ctx.chat_group is not None:
        if ctx.key and ctx.key != ctx.chat_group.key:
            raise Refuse(h.only_this_group())
        return ctx.chat_group
    mine = _groups_of_member(ctx)
    if ctx.key:
        group = ctx.settings.group(ctx.key)
        if group.key not in {g.key for g in mine}:
            raise Refuse(f"你不在「{group.display}」的名单里哦🙂")
        return group
    if not mine:
        raise Refuse(h.no_group_member())
    if len(mine) == 1:
        return mine[0]
    raise Refuse(h.pick_group(ctx.word, [(g.key, g.display) for g in mine]))


def _everyone(r: redis.Redis, group: Group) -> tuple[dict[str, str], set[str]]:
    """userid -> display name of everyone the group knows (removed ones too), and the removed set."""
    active = member_ids(r, group)
    removed = {m.decode() for m in r.smembers(keys.removed(group.key))}
    learnt = {k.decode(): v.decode() for k, v in r.hgetall(keys.names(group.key)).items()}
    everyone = dict(active)
    for uid in sorted(removed):
        everyone.setdefault(uid, learnt.get(uid) or uid)
    return everyone, removed


def _target(ctx: Ctx, group: Group, query: str, allow_removed: bool = False) -> h.Resolved:
    everyone, removed = _everyone(ctx.r, group)
    res = h.resolve(query, everyone)
    if isinstance(res, h.Unclear):
        raise Refuse(h.ask_who(res))
    if res.userid in removed and not allow_removed:
        raise Refuse(h.removed_hint(res.name))
    return res


# --- the transaction -----------------------------------------------------------------------------

def _commit(ctx: Ctx, group: Group, watch: list[str], plan: Callable[[redis.client.Pipeline], Change]) -> str:
    """Run `plan` against a consistent view (it reads through the watching pipeline and may raise
    Refuse), then apply its change, its audit entry and the exactly-once guard in one MULTI/EXEC."""
    guard = guard_key(ctx.msgid)
    with ctx.r.pipeline() as p:
        while True:
            try:
                p.watch(guard, *watch)
                prior = p.get(guard)
                if prior is not None:
                    return prior.decode()
                change = plan(p)
                p.multi()
                audit.apply(p, change.ops)
                audit.record(p, group.key, ctx.uid, change.what, ctx.parsed.text, change.undo, at=ctx.ts,
                             id=ctx.msgid, target=change.target, undoes=change.undoes)
                p.set(guard, change.reply, ex=GUARD_TTL)
                p.execute()
                return change.reply
            except redis.WatchError:
                continue


def _base(p, group: Group, today: int, ops: list[dict]) -> int:
    """The group's base day; when it has none yet, the one its first check-in would set (queued in ops)."""
    raw = p.get(keys.base(group.key))
    if raw is not None:
        return int(raw)
    base = (day_index(group.camp_start) - 7) if group.camp_start else today - BACKFILL_DAYS
    ops.append({"op": "set", "key": keys.base(group.key), "value": str(base)})
    return base


def _goals(p, key: str) -> dict[int, str]:
    out = {}
    for k, v in p.hgetall(key).items():
        try:
            out[int(k)] = v.decode()
        except ValueError:
            continue
    return out


def _set_goal_from(key: str, week: int, n: int, current: dict[int, str]) -> tuple[list[dict], list[dict]]:
    """Ops making `n` the goal from `week` on (later changes dropped), and their undo."""
    ops = [{"op": "hset", "key": key, "field": str(week), "value": str(n)}]
    prev = current.get(week)
    undo = [{"op": "hset", "key": key, "field": str(week), "value": prev, "expect": str(n)} if prev is not None
            else {"op": "hdel", "key": key, "field": str(week), "expect": str(n)}]
    for later, value in sorted(current.items()):
        if later > week:
            ops.append({"op": "hdel", "key": key, "field": str(later)})
            undo.append({"op": "hset", "key": key, "field": str(later), "value": value, "expect": None})
    return ops, undo


# --- leader commands -----------------------------------------------------------------------------

def _camp(group: Group) -> tuple[int | None, int | None]:
    return (day_index(group.camp_start) if group.camp_start else None,
            day_index(group.camp_end) if group.camp_end else None)


def _notice_ops(ctx: Ctx, group: Group, userid: str, text: str) -> tuple[list[dict], list[dict]]:
    """A private notice to a member, written with the change itself (posted by the next tick, out of
    quiet hours) and taken back by its undo. None to oneself."""
    if userid == ctx.uid:
        return [], []
    from workers.weekly import notice
    value = notice(f"cmd:{ctx.msgid}:member", group.key, userid, text)
    return ([{"op": "rpush", "key": keys.NOTICES, "value": value}],
            [{"op": "lrem", "key": keys.NOTICES, "value": value}])


def _wants_to_propose(ctx: Ctx) -> bool:
    """`目标 <N>` from someone who is not a leader where it counts: a member's own proposal."""
    if len(ctx.args) != 1 or h.parse_number(ctx.args[0]) is None:
        return False
    if ctx.chat_group is not None:
        return not _leads(ctx, ctx.chat_group)
    if ctx.key:
        group = ctx.settings.group(ctx.key)
        return group is not None and not _leads(ctx, group)
    return not ctx.settings.groups_led_by(ctx.uid)


def cmd_goal(ctx: Ctx) -> str | list[dict]:
    if _wants_to_propose(ctx):
        return _propose(ctx)
    group = _leader_group(ctx)
    if len(ctx.args) < 2:
        if len(ctx.args) == 1 and h.parse_number(ctx.args[0]) is not None:
            raise Refuse(h.proposal_leader_hint(f"目标 {ctx.name or ctx.uid} {ctx.args[0]}"))
        raise Refuse(h.usage("目标"))
    n = h.parse_number(ctx.args[-1])
    if n is None or not 1 <= n <= h.MAX_GOAL:
        raise Refuse(h.goal_bad(n))
    who = _target(ctx, group, " ".join(ctx.args[:-1]))
    today = ctx.today(group)
    gkey, dkey, bkey = keys.goals(group.key, who.userid), keys.days(group.key, who.userid), keys.base(group.key)
    pkey = keys.proposals(group.key)

    def plan(p) -> Change:
        ops, undo = _set_goal_from(gkey, week_start(today), n, _goals(p, gkey))
        raw_base = p.get(bkey)
        count = DayBits(p.get(dkey), int(raw_base or 0)).count(week_start(today), today)
        proposal = p.hget(pkey, who.userid)
        confirmed = False
        if proposal is not None:
            try:
                confirmed = int(json.loads(proposal).get("n", 0)) == n
            except (TypeError, ValueError, AttributeError):
                confirmed = False
            ops.append({"op": "hdel", "key": pkey, "field": who.userid})
            undo.append({"op": "hset", "key": pkey, "field": who.userid, "value": proposal.decode(), "expect": None})
        more, less = _notice_ops(ctx, group, who.userid, h.goal_notice(who.name, n, count, confirmed))
        return Change("goal", who.userid, ops + more, undo + less, h.goal_set(who.name, n, count))

    return _commit(ctx, group, [gkey, dkey, bkey, pkey], plan)


def _propose(ctx: Ctx) -> list[dict]:
    """A member proposes their own weekly goal: the leaders are told privately with the exact
    command to confirm it, the member that it waits for them. Recorded in the audit (goal history)."""
    group = _member_group(ctx)
    n = h.parse_number(ctx.args[0])
    if n is None or not 1 <= n <= h.MAX_GOAL:
        raise Refuse(h.goal_bad(n))
    today = ctx.today(group)
    uid = ctx.uid
    gkey, dkey, bkey, pkey = (keys.goals(group.key, uid), keys.days(group.key, uid), keys.base(group.key),
                              keys.proposals(group.key))
    people = member_ids(ctx.r, group)
    name = people.get(uid) or ctx.name or uid
    if name == uid and ctx.name:
        name = ctx.name
    facts: dict = {}

    def plan(p) -> Change:
        current = goal_for_week(parse_goals(p.hgetall(gkey)), week_start(today), group.weekly_goal)
        raw_base = p.get(bkey)
        count = DayBits(p.get(dkey), int(raw_base or 0)).count(week_start(today), today) if raw_base else 0
        if n == current:
            raise Refuse(h.proposal_same(n))
        facts.update(current=current, count=count)
        value = json.dumps({"n": n, "at": int(ctx.ts), "msgid": ctx.msgid}, separators=(",", ":"))
        return Change("propose", uid, [{"op": "hset", "key": pkey, "field": uid, "value": value}], [],
                      h.proposal_sent(n, current))

    reply = _commit(ctx, group, [gkey, dkey, bkey, pkey], plan)
    if not facts:                       # the same message again: rebuild what the leaders were told
        current = goal_for_week(parse_goals(ctx.r.hgetall(gkey)), week_start(today), group.weekly_goal)
        raw_base = ctx.r.get(bkey)
        facts.update(current=current, count=DayBits(ctx.r.get(dkey), int(raw_base or 0)).count(
            week_start(today), today) if raw_base else 0)
    named = sum(1 for v in people.values() if v == name) == 1 and name != ""
    who = name if named else uid
    out = [_reply(ctx, reply)]
    for leader in dict.fromkeys(group.leaders or ctx.settings.admins):
        command = f"目标 {who} {n}"
        if len(ctx.settings.groups_led_by(leader)) > 1:
            command += f" {group.key}"
        text = h.proposal_for_leader(group.display, name, n, facts["current"], facts["count"], command)
        out.append(h.user_msg(f"cmd:{ctx.msgid}:leader:{leader}", [leader], text))
    return out


def cmd_downgrade(ctx: Ctx) -> str:
    group = _leader_group(ctx)
    if len(ctx.args) < 2:
        raise Refuse(h.usage("退阶"))
    n = h.parse_number(ctx.args[-1])
    if n is None:
        raise Refuse(h.usage("退阶"))
    who = _target(ctx, group, " ".join(ctx.args[:-1]))
    today = ctx.today(group)
    gkey = keys.goals(group.key, who.userid)
    nxt = week_start(today) + 7
    if n >= 1 and group.camp_end is not None and nxt > day_index(group.camp_end):
        raise Refuse(h.downgrade_after_camp(who.name, n, group.camp_end))

    def plan(p) -> Change:
        current_raw = _goals(p, gkey)
        goals = parse_goals(current_raw)
        current = goal_for_week(goals, week_start(today), group.weekly_goal)
        if n < 1:
            raise Refuse(h.downgrade_zero(who.name))
        if n >= current:
            raise Refuse(h.downgrade_not_lower(who.name, current, n))
        if goal_for_week(goals, nxt, group.weekly_goal) == n:
            raise Refuse(h.downgrade_already(who.name, n, day_date(nxt)))
        ops, undo = _set_goal_from(gkey, nxt, n, current_raw)
        more, less = _notice_ops(ctx, group, who.userid, h.downgrade_notice(who.name, n, day_date(nxt)))
        return Change("downgrade", who.userid, ops + more, undo + less,
                      h.downgrade_set(who.name, current, n, day_date(nxt)))

    return _commit(ctx, group, [gkey], plan)


def cmd_note(ctx: Ctx) -> str:
    group = _leader_group(ctx)
    if not ctx.args:
        raise Refuse(h.usage("档案"))
    everyone, _ = _everyone(ctx.r, group)
    name_part, rest = h.split_name(ctx.args, everyone)
    who = _target(ctx, group, name_part, allow_removed=True)
    if not rest:
        raise Refuse(h.note_empty())
    text = h.skip_words(ctx.parsed.rest, len(name_part.split()))
    if ctx.key and text.split() and text.split()[-1].lower() == ctx.key:
        text = text[: text.lower().rstrip().rfind(ctx.key)].rstrip()
    note = json.dumps({"text": text, "by": ctx.uid, "by_name": ctx.name, "at": int(ctx.ts)},
                      ensure_ascii=False, separators=(",", ":"))
    nkey = keys.notes(group.key, who.userid)

    def plan(p) -> Change:
        count = p.llen(nkey)
        return Change("note", who.userid, [{"op": "rpush", "key": nkey, "value": note}],
                      [{"op": "lrem", "key": nkey, "value": note}], h.note_added(who.name, count + 1))

    return _commit(ctx, group, [nkey], plan)


def cmd_delnote(ctx: Ctx) -> str:
    group = _leader_group(ctx)
    if not ctx.args:
        raise Refuse(h.usage("删除档案"))
    who = _target(ctx, group, " ".join(ctx.args), allow_removed=True)
    nkey = keys.notes(group.key, who.userid)

    def plan(p) -> Change:
        values = [v.decode() for v in p.lrange(nkey, 0, -1)]
        if not values:
            raise Refuse(h.notes_none(who.name))
        return Change("delnote", who.userid, [{"op": "del", "key": nkey}],
                      [{"op": "lpush_all", "key": nkey, "values": values}],
                      h.notes_deleted(who.name, len(values)))

    return _commit(ctx, group, [nkey], plan)


def cmd_credit(ctx: Ctx) -> str:
    group = _leader_group(ctx)
    if len(ctx.args) < 2:
        raise Refuse(h.usage("补卡"))
    today = ctx.today(group)
    d = h.parse_day(ctx.args[-1], day_date(today))
    if d is None:
        raise Refuse(h.bad_date(ctx.args[-1]))
    who = _target(ctx, group, " ".join(ctx.args[:-1]))
    idx = day_index(d)
    if idx > today:
        raise Refuse(h.credit_future(d))
    dkey, gkey, okey = keys.days(group.key, who.userid), keys.goals(group.key, who.userid), keys.off(group.key, who.userid)

    def plan(p) -> Change:
        ops: list[dict] = []
        base = _base(p, group, today, ops)
        if idx < base:
            raise Refuse(h.credit_too_old(d, day_date(base)))
        if p.getbit(dkey, idx - base):
            raise Refuse(h.credit_already(who.name, d))
        ops.append({"op": "setbit", "key": dkey, "offset": idx - base, "value": 1})
        undo = [{"op": "setbit", "key": dkey, "offset": idx - base, "value": 0, "expect": 1}]
        week = week_start(idx)
        count = DayBits(p.get(dkey), base).count(week, week + 6) + 1
        goal = week_goal(parse_goals(p.hgetall(gkey)), DayBits(p.get(okey), base), week, group.weekly_goal,
                         _camp(group))
        return Change("credit", who.userid, ops, undo,
                      h.credit_done(who.name, d, count, goal, closed=week + 6 < today))

    return _commit(ctx, group, [dkey, gkey, okey, keys.base(group.key)], plan)


def cmd_leave(ctx: Ctx) -> str:
    if len(ctx.args) >= 2:          # 请假 <成员> <天数>: a leader's command
        group = _leader_group(ctx)
        who = _target(ctx, group, " ".join(ctx.args[:-1]))
        uid, name = who.userid, who.name
    elif len(ctx.args) == 1:        # 请假 <天数>: for oneself
        try:
            group = _member_group(ctx)
        except Refuse:
            if ctx.chat_group is None and ctx.settings.groups_led_by(ctx.uid) and not _groups_of_member(ctx):
                raise Refuse(h.usage("请假")) from None    # a leader who left out the member's name
            raise
        uid, name = ctx.uid, None
    else:
        raise Refuse(h.usage("请假"))
    n = h.parse_number(ctx.args[-1])
    if n is None or not 1 <= n <= h.MAX_LEAVE_DAYS:
        raise Refuse(h.leave_bad())
    today = ctx.today(group)
    okey, gkey = keys.off(group.key, uid), keys.goals(group.key, uid)

    def plan(p) -> Change:
        ops: list[dict] = []
        base = _base(p, group, today, ops)
        undo = []
        before = DayBits(p.get(okey), base)
        added = set()
        for day in range(max(today, base), today + n):
            if day not in before:
                added.add(day)
                ops.append({"op": "setbit", "key": okey, "offset": day - base, "value": 1})
                undo.append({"op": "setbit", "key": okey, "offset": day - base, "value": 0, "expect": 1})
        if not undo:
            raise Refuse(h.leave_nothing(name))
        goals, camp = parse_goals(p.hgetall(gkey)), _camp(group)
        lowered = []
        for week in sorted({week_start(d) for d in added}):
            gone = unavailable_days(before, week, camp)
            goal = goal_for_week(goals, week, group.weekly_goal)
            was = leave_goal(goal, len(gone))
            now = leave_goal(goal, len(gone | {d for d in added if week <= d <= week + 6}))
            label = "本周" if week == week_start(today) else (
                f"第{camp_week(week, group.camp_start)}周" if camp_week(week, group.camp_start) else "下周")
            lowered.append((label, was, now))
        return Change("leave", uid, ops, undo,
                      h.leave_done(name, day_date(today), day_date(today + n - 1), n, lowered))

    return _commit(ctx, group, [okey, gkey, keys.base(group.key)], plan)


def cmd_week(ctx: Ctx) -> str:
    group = _leader_group(ctx)
    today = ctx.today(group)
    public = ctx.chat_group is not None
    prefs = {k.decode(): v for k, v in ctx.r.hgetall(keys.prefs(group.key)).items()}
    lines = []
    for m in load_members(ctx.r, group):
        rec = record(m.days, m.off, today)
        lines.append(h.WeekLine(m.userid, m.name, rec.week_count,
                                week_goal(m.goals, m.off, week_start(today), group.weekly_goal, _camp(group)),
                                rec.streak, h.days_left(today, rec.checked_in), today in m.off,
                                hidden=public and bool(prefs.get(f"{m.userid}:private"))))
    n = camp_week(today, group.camp_start)
    return h.week_register(group.display, today, lines, paused=bool(ctx.r.exists(keys.paused(group.key))),
                           week_label=f"第{n}周" if n else "本周")


def export_path(settings: Settings, group: Group, msgid: str, fmt: str = "xlsx") -> Path:
    digest = hashlib.sha1(msgid.encode()).hexdigest()[:12]
    return (Path(settings.data_dir) / "exports" / f"{group.key}-{digest}.{fmt}").resolve()


EXPORT_KEEP_SECONDS = 7 * 24 * 3600


def _clean_exports(directory: Path) -> None:
    """Spreadsheets sent more than a week ago are not needed any more (the outbox has long sent them)."""
    if not directory.is_dir():
        return
    cutoff = time.time() - EXPORT_KEEP_SECONDS
    for item in directory.iterdir():
        try:
            if item.is_file() and item.stat().st_mtime < cutoff:
                item.unlink()
        except OSError:
            continue


def cmd_export(ctx: Ctx) -> list[dict]:
    from workers import export
    group = _leader_group(ctx)
    today = ctx.today(group)
    path = export_path(ctx.settings, group, ctx.msgid)
    _clean_exports(path.parent)
    export.write(ctx.r, group, "xlsx", path, today=today)
    name = f"{group.display}-打卡登记-{day_date(today).isoformat()}.xlsx"
    out = [h.file_msg(f"cmd:{ctx.msgid}", [ctx.uid], str(path), name)]
    if ctx.chat_group is not None:
        out.append(_reply(ctx, h.export_sent_in_group(ctx.name), ":group"))
    return out


def cmd_add(ctx: Ctx) -> str:
    group = _leader_group(ctx)
    if not ctx.args:
        raise Refuse(h.usage("加入"))
    everyone, removed = _everyone(ctx.r, group)
    res = h.resolve(" ".join(ctx.args), everyone)
    new_name = None
    if isinstance(res, h.Unclear) and len(ctx.args) <= 2:
        uid = h.clean_name(ctx.args[0])
        if uid in everyone:
            res = h.Resolved(uid, everyone[uid])
        elif _USERID.match(uid) and not res.ambiguous:
            res = h.Resolved(uid, h.clean_name(ctx.args[1]) if len(ctx.args) == 2 else uid)
            new_name = res.name
    if isinstance(res, h.Unclear):
        raise Refuse(h.ask_who(res) + ("" if res.ambiguous else f"\n新人请写 userid：{h.USAGE['加入']}"))
    rkey, nkey = keys.removed(group.key), keys.names(group.key)

    def plan(p) -> Change:
        ops, undo = [], []
        if p.sismember(rkey, res.userid):
            ops.append({"op": "srem", "key": rkey, "member": res.userid})
            undo.append({"op": "sadd", "key": rkey, "member": res.userid, "expect": False})
        if new_name is not None and p.hget(nkey, res.userid) is None:
            ops.append({"op": "hset", "key": nkey, "field": res.userid, "value": new_name})
            undo.append({"op": "hdel", "key": nkey, "field": res.userid, "expect": new_name})
        if not ops:
            raise Refuse(h.roster_already_in(res.name))
        return Change("add", res.userid, ops, undo, h.roster_added(res.name, new_name is not None))

    return _commit(ctx, group, [rkey, nkey], plan)


def cmd_remove(ctx: Ctx) -> str:
    group = _leader_group(ctx)
    if not ctx.args:
        raise Refuse(h.usage("移除"))
    who = _target(ctx, group, " ".join(ctx.args), allow_removed=True)
    rkey = keys.removed(group.key)

    def plan(p) -> Change:
        if p.sismember(rkey, who.userid):
            raise Refuse(h.roster_already_out(who.name))
        return Change("remove", who.userid, [{"op": "sadd", "key": rkey, "member": who.userid}],
                      [{"op": "srem", "key": rkey, "member": who.userid, "expect": True}],
                      h.roster_removed(who.name))

    return _commit(ctx, group, [rkey], plan)


def cmd_pause(ctx: Ctx) -> str:
    group = _leader_group(ctx)
    pkey = keys.paused(group.key)

    def plan(p) -> Change:
        if p.exists(pkey):
            raise Refuse(h.already_paused(group.display))
        return Change("pause", "", [{"op": "set", "key": pkey, "value": "1"}],
                      [{"op": "del", "key": pkey, "expect": True}], h.paused_text(group.display))

    return _commit(ctx, group, [pkey], plan)


def cmd_resume(ctx: Ctx) -> str:
    group = _leader_group(ctx)
    pkey = keys.paused(group.key)

    def plan(p) -> Change:
        value = p.get(pkey)
        if value is None:
            raise Refuse(h.not_paused(group.display))
        return Change("resume", "", [{"op": "del", "key": pkey}],
                      [{"op": "set", "key": pkey, "value": value.decode(), "expect": False}],
                      h.resumed_text(group.display))

    return _commit(ctx, group, [pkey], plan)


# --- undo ----------------------------------------------------------------------------------------

def cmd_undo(ctx: Ctx) -> str:
    if ctx.args and ctx.args[0].lower() in h.CHECKIN_WORDS:
        return _undo_checkin(ctx)
    if ctx.chat_group is not None:
        leader = _leads(ctx, ctx.chat_group)
    elif ctx.key:
        leader = _leads(ctx, ctx.settings.group(ctx.key))
    else:
        leader = bool(ctx.settings.groups_led_by(ctx.uid))
    return _undo_last(ctx) if leader else _undo_checkin(ctx)


def _undo_last(ctx: Ctx) -> str:
    if ctx.chat_group is not None or ctx.key:
        groups = [_leader_group(ctx)]
    else:
        groups = ctx.settings.groups_led_by(ctx.uid)
    guard = guard_key(ctx.msgid)
    with ctx.r.pipeline() as p:
        while True:
            try:
                p.watch(guard, *[keys.audit(g.key) for g in groups])
                prior = p.get(guard)
                if prior is not None:
                    return prior.decode()
                items = []
                for g in groups:
                    items += audit.entries(p, g.key)
                entry = audit.last_undoable(items, ctx.uid)
                if entry is None:
                    raise Refuse(h.undo_nothing(leader=True))
                ops = entry["undo"]
                p.watch(*audit.watch_keys(ops))
                if not audit.check(p, ops):
                    raise Refuse(h.undo_conflict(entry.get("why", "")))
                reply = h.undo_done(entry.get("why", ""))
                p.multi()
                audit.apply(p, ops)
                audit.record(p, entry["group"], ctx.uid, "undo", ctx.parsed.text, [], at=ctx.ts, id=ctx.msgid,
                             target=entry.get("target", ""), undoes=entry.get("id", ""))
                p.set(guard, reply, ex=GUARD_TTL)
                p.execute()
                return reply
            except redis.WatchError:
                continue


def _undo_checkin(ctx: Ctx) -> str:
    group = _member_group(ctx)
    today = ctx.today(group)
    dkey, lkey, bkey = keys.days(group.key, ctx.uid), keys.links(group.key, today), keys.base(group.key)
    name = member_ids(ctx.r, group).get(ctx.uid) or ctx.name
    if name == ctx.uid and ctx.name:
        name = ctx.name

    def plan(p) -> Change:
        raw = p.get(bkey)
        if raw is None or today < int(raw) or not p.getbit(dkey, today - int(raw)):
            raise Refuse(h.undo_checkin_nothing())
        off = today - int(raw)
        ops = [{"op": "setbit", "key": dkey, "offset": off, "value": 0}]
        undo = [{"op": "setbit", "key": dkey, "offset": off, "value": 1, "expect": 0}]
        links = p.hget(lkey, ctx.uid)
        if links is not None:
            ops.append({"op": "hdel", "key": lkey, "field": ctx.uid})
            undo.append({"op": "hset", "key": lkey, "field": ctx.uid, "value": links.decode(), "expect": None})
        return Change("uncheckin", ctx.uid, ops, undo, h.undo_checkin_done(name))

    return _commit(ctx, group, [dkey, lkey, bkey], plan)


# --- member commands -----------------------------------------------------------------------------

def cmd_me(ctx: Ctx) -> str | list[dict]:
    if len(ctx.args) == 2 and ctx.args[0].lower() in ("目标", "goal") and h.parse_number(ctx.args[1]) is not None:
        from dataclasses import replace
        return _propose(replace(ctx, args=(ctx.args[1],)))      # `我的 目标 4`: a goal proposal
    if ctx.chat_group is not None:
        groups = [ctx.chat_group] if ctx.uid in member_ids(ctx.r, ctx.chat_group) else []
    else:
        groups = [_member_group(ctx)] if ctx.key else _groups_of_member(ctx)
    if not groups:
        if ctx.chat_group is not None:
            return "还没有你的打卡记录哦～完成后 @我 说「打卡」就开始记录啦✨"
        return h.my_none(bool(ctx.settings.groups_led_by(ctx.uid)))
    items = []
    for g in groups:
        today = ctx.today(g)
        state = next((m for m in load_members(ctx.r, g) if m.userid == ctx.uid), None)
        if state is None:
            continue
        rec = record(state.days, state.off, today)
        prefs = ctx.r.hmget(keys.prefs(g.key), f"{ctx.uid}:mute", f"{ctx.uid}:private")
        off_days = [d for d in state.off.days() if d >= today]
        off_until = None
        if off_days and off_days[0] == today:
            last = today
            while last + 1 in state.off:
                last += 1
            off_until = day_date(last)
        week = week_start(today)
        items.append(h.MyGroup(g.display, state.name, rec.week_count,
                               week_goal(state.goals, state.off, week, g.weekly_goal, _camp(g)),
                               goal_for_week(state.goals, week + 7, g.weekly_goal), rec.streak, rec.longest_streak,
                               rec.total, h.days_left(today, rec.checked_in), bool(prefs[0]), bool(prefs[1]),
                               off_until))
    return h.my_text(items)


def _toggle(ctx: Ctx, pref: str, what: str, wording: Callable[[bool], str]) -> str:
    group = _member_group(ctx)
    field_name = f"{ctx.uid}:{pref}"
    pkey = keys.prefs(group.key)
    want = None
    if ctx.args and ctx.args[0].lower() in h.ON_WORDS:
        want = True
    elif ctx.args and ctx.args[0].lower() in h.OFF_WORDS:
        want = False

    def plan(p) -> Change:
        cur = p.hget(pkey, field_name)
        on = (cur is None) if want is None else want
        if on == (cur is not None):
            raise Refuse(wording(on))
        if on:
            ops = [{"op": "hset", "key": pkey, "field": field_name, "value": "1"}]
            undo = [{"op": "hdel", "key": pkey, "field": field_name, "expect": "1"}]
        else:
            ops = [{"op": "hdel", "key": pkey, "field": field_name}]
            undo = [{"op": "hset", "key": pkey, "field": field_name, "value": cur.decode(), "expect": None}]
        return Change(what, ctx.uid, ops, undo, wording(on))

    return _commit(ctx, group, [pkey], plan)


def cmd_mute(ctx: Ctx) -> str:
    return _toggle(ctx, "mute", "mute", h.mute_text)


def cmd_private(ctx: Ctx) -> str:
    return _toggle(ctx, "private", "private", h.private_text)


def cmd_help(ctx: Ctx) -> str:
    if ctx.chat_group is not None:
        leader = _leads(ctx, ctx.chat_group)
        example = ctx.chat_group.key
    else:
        led = ctx.settings.groups_led_by(ctx.uid)
        leader = bool(led)
        example = led[0].key if led else "xhs01"
    return h.help_text(leader, example)


HANDLERS: dict[str, Callable[[Ctx], str | list[dict]]] = {
    "帮助": cmd_help, "我的": cmd_me, "目标": cmd_goal, "退阶": cmd_downgrade, "档案": cmd_note,
    "删除档案": cmd_delnote, "补卡": cmd_credit, "请假": cmd_leave, "本周": cmd_week, "导出": cmd_export,
    "加入": cmd_add, "移除": cmd_remove, "暂停": cmd_pause, "恢复": cmd_resume, "撤销": cmd_undo,
    "免打扰": cmd_mute, "不公开": cmd_private, "通知": announce.cmd_notice,
}
