"""A member's private answer to the goal question (私聊定目标): `3`, `每周3次`, `一周四篇` after the bot
asked how many days a week they will post (workers/routine.py asks on the camp's first morning).

In every group where the question waits (keys.goal_ask), the goal is set from this week on through
the command core (workers.commands.goals.choose: one audited transaction, exactly once per message)
and the member is answered in the leader's voice; the leaders read who chose what in that day's
digest (workers.routine.goal_answers). A number with no question
waiting is not taken as a change: the member learns how to propose one (`目标 N`, which a leader
confirms), the flow for later changes.
"""

from __future__ import annotations

from dataclasses import replace

import redis

from config.settings import Group, Settings
from handlers import messages
from handlers import routine as hr
from handlers.command_table import parse
from handlers.router import GoalAnswer
from workers import keys
from workers.commands import goals
from workers.commands.core import Ctx
from workers.connection import as_text


def answer(r: redis.Redis, settings: Settings, event: dict, action: GoalAnswer) -> list[dict]:
    msgid = str(event["msgid"])
    waiting = _waiting(r, settings, action)
    if not waiting:
        return [messages.to_user(f"goal:{msgid}", action.userid, hr.goal_not_asked(action.days))]
    ctx = _ctx(r, settings, event, action)
    reply = ""
    for group in waiting:
        # one transaction (and exactly-once guard) per group the question waits in
        reply = goals.choose(replace(ctx, msgid=f"{msgid}:{group.key}"), group, action.days)
    return [messages.to_user(f"goal:{msgid}", action.userid, reply)]


def _waiting(r: redis.Redis, settings: Settings, action: GoalAnswer) -> list[Group]:
    groups = [g for g in (settings.group(k) for k in action.groups) if g is not None]
    if not groups:
        return []
    with r.pipeline(transaction=False) as p:
        for g in groups:
            p.hget(keys.goal_ask(g.key), action.userid)
        raw = p.execute()
    return [g for g, value in zip(groups, raw, strict=True) if hr.pending(as_text(value) if value else None)]


def _ctx(r: redis.Redis, settings: Settings, event: dict, action: GoalAnswer) -> Ctx:
    parsed = parse(f"目标 {action.days}")
    assert parsed is not None  # 目标 is in the command table
    parsed = replace(parsed, text=str(event.get("text") or parsed.text))  # the audit shows what they wrote
    return Ctx(
        r=r,
        settings=settings,
        event=event,
        parsed=parsed,
        args=(str(action.days),),
        key=None,
        uid=action.userid,
        name=action.name,
        msgid=str(event["msgid"]),
        ts=float(event.get("ts") or 0),
        chat_group=None,
    )
