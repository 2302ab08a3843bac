"""Goal commands: a leader's `目标 <成员> <N>` (from this week on) and `退阶 <成员> <N>` (lower, from
next week on), and a member's own proposal (`目标 <N>`, also `我的 目标 <N>`), which tells the leaders
privately with the exact command to confirm it. A leader's change also writes the member a private
notice. Kept together because they all read and rewrite the same per-member goal history.
"""

from __future__ import annotations

import json
from dataclasses import replace

from config.settings import Group
from handlers import command_texts as t
from handlers import messages
from handlers.calendar import day_date, day_index, week_start
from handlers.command_plans import confirm_command, downgrade_refusal, proposal_confirmed, set_goal_from
from handlers.commands import parse_number
from handlers.messages import Message
from handlers.routine import goal_answered
from handlers.streaks import MAX_GOAL, DayBits, goal_for_week, parse_goals
from workers import keys
from workers.commands.core import Change, Ctx, Refuse, commit, goals, notice_ops, reply, target
from workers.register import member_ids


def set_goal(ctx: Ctx, group: Group) -> str:
    """`目标 <成员> <N>`, a leader's (a leader's `目标 <N>` is asked for the member's name)."""
    if len(ctx.args) < 2:
        if len(ctx.args) == 1 and parse_number(ctx.args[0]) is not None:
            raise Refuse(t.proposal_leader_hint(f"目标 {ctx.name or ctx.uid} {ctx.args[0]}"))
        raise Refuse(t.usage("目标"))
    n = parse_number(ctx.args[-1])
    if n is None or not 1 <= n <= MAX_GOAL:
        raise Refuse(t.goal_bad(n))
    who = target(ctx, group, " ".join(ctx.args[:-1]))
    today = ctx.today(group)
    gkey, dkey, bkey = keys.goals(group.key, who.userid), keys.days(group.key, who.userid), keys.base(group.key)
    pkey = keys.proposals(group.key)

    def plan(p) -> Change:
        ops, undo = set_goal_from(gkey, week_start(today), n, goals(p, gkey))
        raw_base = p.get(bkey)
        count = DayBits(p.get(dkey), int(raw_base or 0)).count(week_start(today), today)
        proposal = p.hget(pkey, who.userid)
        confirmed = proposal_confirmed(proposal, n)
        if proposal is not None:
            ops.append({"op": "hdel", "key": pkey, "field": who.userid})
            undo.append({"op": "hset", "key": pkey, "field": who.userid, "value": proposal.decode(), "expect": None})
        more, less = notice_ops(ctx, group, who.userid, t.goal_notice(who.name, n, count, confirmed))
        return Change("goal", who.userid, ops + more, undo + less, t.goal_set(who.name, n, count))

    return commit(ctx, group, [gkey, dkey, bkey, pkey], plan)


def propose(ctx: Ctx, group: Group) -> list[Message]:
    """A member proposes their own weekly goal (`目标 <N>`): the leaders are told privately with the
    exact command to confirm it, the member that it waits for them. Recorded in the audit (goal
    history)."""
    n = parse_number(ctx.args[0])
    if n is None or not 1 <= n <= MAX_GOAL:
        raise Refuse(t.goal_bad(n))
    today = ctx.today(group)
    uid = ctx.uid
    gkey, dkey, bkey, pkey = (
        keys.goals(group.key, uid),
        keys.days(group.key, uid),
        keys.base(group.key),
        keys.proposals(group.key),
    )
    people = member_ids(ctx.r, group)
    name = people.get(uid) or ctx.name or uid
    if name == uid and ctx.name:
        name = ctx.name
    facts: dict[str, int] = {}

    def read(reader) -> dict[str, int]:
        """The goal in force this week and the days checked in so far (through a pipeline or not)."""
        current = goal_for_week(parse_goals(reader.hgetall(gkey)), week_start(today), group.weekly_goal)
        raw_base = reader.get(bkey)
        count = DayBits(reader.get(dkey), int(raw_base or 0)).count(week_start(today), today) if raw_base else 0
        return {"current": current, "count": count}

    def plan(p) -> Change:
        now = read(p)
        current = now["current"]
        if n == current:
            raise Refuse(t.proposal_same(n))
        facts.update(now)
        value = json.dumps({"n": n, "at": int(ctx.ts), "msgid": ctx.msgid}, separators=(",", ":"))
        return Change(
            "propose", uid, [{"op": "hset", "key": pkey, "field": uid, "value": value}], [], t.proposal_sent(n, current)
        )

    answer = commit(ctx, group, [gkey, dkey, bkey, pkey], plan)
    if not facts:  # the same message again: rebuild what the leaders were told
        facts.update(read(ctx.r))
    out = [reply(ctx, answer)]
    for leader in dict.fromkeys(ctx.settings.leaders_of(group)):
        several = len(ctx.settings.groups_led_by(leader)) > 1
        command = confirm_command(name, uid, people, n, group.key if several else None)
        text = t.proposal_for_leader(group.display, name, n, facts["current"], facts["count"], command)
        out.append(messages.to_user(f"cmd:{ctx.msgid}:leader:{leader}", leader, text))
    return out


def propose_from_me(ctx: Ctx, group: Group) -> list[Message]:
    """`我的 目标 <N>`: the same proposal."""
    return propose(replace(ctx, args=(ctx.args[1],)), group)


def downgrade(ctx: Ctx, group: Group) -> str:
    """`退阶 <成员> <N>`: a lower goal from next week on."""
    if len(ctx.args) < 2:
        raise Refuse(t.usage("退阶"))
    n = parse_number(ctx.args[-1])
    if n is None:
        raise Refuse(t.usage("退阶"))
    who = target(ctx, group, " ".join(ctx.args[:-1]))
    today = ctx.today(group)
    gkey = keys.goals(group.key, who.userid)
    nxt = week_start(today) + 7
    if n >= 1 and group.camp_end is not None and nxt > day_index(group.camp_end):
        raise Refuse(t.downgrade_after_camp(who.name, n, group.camp_end))

    def plan(p) -> Change:
        current_raw = goals(p, gkey)
        history = parse_goals(current_raw)
        current = goal_for_week(history, week_start(today), group.weekly_goal)
        refusal = downgrade_refusal(who.name, n, current, goal_for_week(history, nxt, group.weekly_goal), day_date(nxt))
        if refusal is not None:
            raise Refuse(refusal)
        ops, undo = set_goal_from(gkey, nxt, n, current_raw)
        more, less = notice_ops(ctx, group, who.userid, t.downgrade_notice(who.name, n, day_date(nxt)))
        return Change(
            "downgrade", who.userid, ops + more, undo + less, t.downgrade_set(who.name, current, n, day_date(nxt))
        )

    return commit(ctx, group, [gkey], plan)


def choose(ctx: Ctx, group: Group, n: int) -> str:
    """A member's answer to the private question about their weekly goal: `n` from this week on, the
    question closed (keys.goal_ask, `done:<today>`, which the day's digest reads), in one audited
    change. Returns the reply."""
    today = ctx.today(group)
    gkey, akey = keys.goals(group.key, ctx.uid), keys.goal_ask(group.key)

    def plan(p) -> Change:
        ops, undo = set_goal_from(gkey, week_start(today), n, goals(p, gkey))
        asked = p.hget(akey, ctx.uid)
        ops.append({"op": "hset", "key": akey, "field": ctx.uid, "value": f"done:{today}"})
        undo.append(
            {"op": "hset", "key": akey, "field": ctx.uid, "value": asked.decode(), "expect": f"done:{today}"}
            if asked is not None
            else {"op": "hdel", "key": akey, "field": ctx.uid, "expect": f"done:{today}"}
        )
        return Change("choose", ctx.uid, ops, undo, goal_answered(n))

    return commit(ctx, group, [gkey, akey], plan)
