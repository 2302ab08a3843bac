"""Day commands: what is recorded for single days of a member's calendar. A leader's `补卡 <成员>
<日期>` (credit a missed day), `请假` (days off, for oneself or, from a leader, for a member; the
week's goal is lowered in proportion) and a member's undo of today's check-in (`撤销` / `撤销 打卡`,
dispatched from workers.cmd_undo). Kept together because they all set bits in the day bitmaps
(`days`, `off`) relative to the group's base day.
"""
from __future__ import annotations

from handlers import commands as h
from handlers.calendar import day_date, day_index, week_start
from handlers.daily import camp_week
from handlers.streaks import DayBits, goal_for_week, leave_goal, parse_goals, unavailable_days, week_goal
from workers import keys
from workers.command_core import (Change, Ctx, Refuse, _base, _camp, _commit, _groups_of_member, _leader_group,
                                  _member_group, _target)
from workers.register import member_ids


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

