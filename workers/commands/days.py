"""Day commands: what is recorded for single days of a member's calendar. A leader's `补卡 <成员>
<日期>` (credit a missed day), `请假` (days off: a leader's for a member, or one's own; the week's
goal is lowered in proportion, handlers.command_plans.plan_leave) and a member's undo of today's
check-in (`撤销` / `撤销 打卡`). Kept together because they all set bits in the day bitmaps (`days`,
`off`) relative to the group's base day.
"""

from __future__ import annotations

from config.settings import Group
from handlers import command_texts as t
from handlers.calendar import day_date, day_index, week_start
from handlers.command_plans import Op, plan_leave
from handlers.command_table import MAX_LEAVE_DAYS
from handlers.commands import parse_day, parse_number
from handlers.streaks import DayBits, parse_goals, week_goal
from workers import keys
from workers.commands.core import Change, Ctx, Refuse, base, commit, target
from workers.register import camp_days, member_ids


def credit(ctx: Ctx, group: Group) -> str:
    """`补卡 <成员> <日期>`."""
    if len(ctx.args) < 2:
        raise Refuse(t.usage("补卡"))
    today = ctx.today(group)
    d = parse_day(ctx.args[-1], day_date(today))
    if d is None:
        raise Refuse(t.bad_date(ctx.args[-1]))
    who = target(ctx, group, " ".join(ctx.args[:-1]))
    idx = day_index(d)
    if idx > today:
        raise Refuse(t.credit_future(d))
    dkey, gkey = keys.days(group.key, who.userid), keys.goals(group.key, who.userid)
    okey = keys.off(group.key, who.userid)

    def plan(p) -> Change:
        ops: list[Op] = []
        first = base(p, group, today, ops)
        if idx < first:
            raise Refuse(t.credit_too_old(d, day_date(first)))
        if p.getbit(dkey, idx - first):
            raise Refuse(t.credit_already(who.name, d))
        ops.append({"op": "setbit", "key": dkey, "offset": idx - first, "value": 1})
        undo: list[Op] = [{"op": "setbit", "key": dkey, "offset": idx - first, "value": 0, "expect": 1}]
        week = week_start(idx)
        count = DayBits(p.get(dkey), first).count(week, week + 6) + 1
        goal = week_goal(
            parse_goals(p.hgetall(gkey)), DayBits(p.get(okey), first), week, group.weekly_goal, camp_days(group)
        )
        return Change("credit", who.userid, ops, undo, t.credit_done(who.name, d, count, goal, closed=week + 6 < today))

    return commit(ctx, group, [dkey, gkey, okey, keys.base(group.key)], plan)


def give_leave(ctx: Ctx, group: Group) -> str:
    """`请假 <成员> <天数>`, a leader's."""
    who = target(ctx, group, " ".join(ctx.args[:-1]))
    return _leave(ctx, group, who.userid, who.name)


def take_leave(ctx: Ctx, group: Group) -> str:
    """`请假 <天数>`, for oneself."""
    return _leave(ctx, group, ctx.uid, None)


def _leave(ctx: Ctx, group: Group, uid: str, name: str | None) -> str:
    n = parse_number(ctx.args[-1])
    if n is None or not 1 <= n <= MAX_LEAVE_DAYS:
        raise Refuse(t.leave_bad())
    today = ctx.today(group)
    okey, gkey = keys.off(group.key, uid), keys.goals(group.key, uid)

    def plan(p) -> Change:
        ops: list[Op] = []
        first = base(p, group, today, ops)
        leave = plan_leave(
            today,
            n,
            first,
            DayBits(p.get(okey), first),
            parse_goals(p.hgetall(gkey)),
            group.weekly_goal,
            camp_days(group),
            group.camp_start,
        )
        if not leave.days:
            raise Refuse(t.leave_nothing(name))
        ops += [{"op": "setbit", "key": okey, "offset": day - first, "value": 1} for day in leave.days]
        undo: list[Op] = [
            {"op": "setbit", "key": okey, "offset": day - first, "value": 0, "expect": 1} for day in leave.days
        ]
        return Change(
            "leave", uid, ops, undo, t.leave_done(name, day_date(today), day_date(today + n - 1), n, leave.goals)
        )

    return commit(ctx, group, [okey, gkey, keys.base(group.key)], plan)


def undo_checkin(ctx: Ctx, group: Group) -> str:
    """`撤销` from a member (`撤销 打卡` from anyone): today's check-in taken back."""
    today = ctx.today(group)
    dkey, lkey, bkey = keys.days(group.key, ctx.uid), keys.links(group.key, today), keys.base(group.key)
    name = member_ids(ctx.r, group).get(ctx.uid) or ctx.name
    if name == ctx.uid and ctx.name:
        name = ctx.name

    def plan(p) -> Change:
        raw = p.get(bkey)
        if raw is None or today < int(raw) or not p.getbit(dkey, today - int(raw)):
            raise Refuse(t.undo_checkin_nothing())
        off = today - int(raw)
        ops: list[Op] = [{"op": "setbit", "key": dkey, "offset": off, "value": 0}]
        undo: list[Op] = [{"op": "setbit", "key": dkey, "offset": off, "value": 1, "expect": 0}]
        links = p.hget(lkey, ctx.uid)
        if links is not None:
            ops.append({"op": "hdel", "key": lkey, "field": ctx.uid})
            undo.append({"op": "hset", "key": lkey, "field": ctx.uid, "value": links.decode(), "expect": None})
        return Change("uncheckin", ctx.uid, ops, undo, t.undo_checkin_done(name))

    return commit(ctx, group, [dkey, lkey, bkey], plan)
