"""Goal commands: a leader's `目标 <成员> <N>` (from this week on) and `退阶 <成员> <N>` (lower, from
next week on), and a member's own proposal (`目标 <N>`, also `我的 目标 <N>`), which tells the leaders
privately with the exact command to confirm it. Each goes through command_core._commit; a leader's
change also writes the member a private notice. Kept together because they all read and rewrite
the same per-member goal history.
"""
from __future__ import annotations

import json

from handlers import commands as h
from handlers.calendar import day_date, day_index, week_start
from handlers.streaks import DayBits, goal_for_week, parse_goals
from workers import audit, keys
from workers.command_core import (Change, Ctx, Refuse, _commit, _goals, _leader_group, _leads, _member_group,
                                  _notice_ops, _reply, _set_goal_from, _target)
from workers.register import member_ids

audit.WHAT_CN.setdefault("propose", "目标提议")     # a member's own goal proposal (goal history)


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

