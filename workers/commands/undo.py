"""A leader's `撤销`: the newest undoable change they made among the groups it is about (the chat's
or the named one, else every group they lead), taken back only if nothing changed it since, in its
own WATCH ... MULTI/EXEC with the same exactly-once guard as core.commit. (A member's `撤销` takes
back today's check-in: workers.commands.days.undo_checkin.) Kept apart because it works on the
audit log of every other command rather than on one kind of state.
"""

from __future__ import annotations

import redis

from config.settings import Group
from handlers import command_texts as t
from workers import audit, keys
from workers.commands.core import GUARD_TTL, Answer, Ctx, Refuse, everyone, guard_key, private_reply
from workers.connection import as_text

# The guard of an undo answered privately starts with this, so a repeat answers privately too.
PRIVATE_MARK = "\x00private\x00"


def undo_last(ctx: Ctx, groups: list[Group]) -> Answer:
    try:
        answer = _undo_last(ctx, groups)
    except Refuse as exc:
        answer = exc.text
    if answer.startswith(PRIVATE_MARK):
        # an undo of a profile change is about the profile: the group never reads it
        return private_reply(ctx, answer[len(PRIVATE_MARK) :])
    return answer


def _label(ctx: Ctx, entry: dict) -> str:
    """What the undone change was, by kind and member name: never its command text (see
    command_texts.undo_label)."""
    who = entry.get("target", "")
    name = who
    group = ctx.settings.groups.get(entry.get("group", ""))
    if who and group is not None:
        known, _ = everyone(ctx.r, group)
        name = known.get(who, who)
    return t.undo_label(entry.get("what", ""), name)


def _undo_last(ctx: Ctx, groups: list[Group]) -> str:
    guard = guard_key(ctx.msgid)
    with ctx.r.pipeline() as p:
        while True:
            try:
                p.watch(guard, *[keys.audit(g.key) for g in groups])
                prior = p.get(guard)
                if prior is not None:
                    return as_text(prior)
                items = []
                for g in groups:
                    items += audit.entries(p, g.key)
                entry = audit.last_undoable(items, ctx.uid)
                if entry is None:
                    raise Refuse(t.undo_nothing(leader=True))
                ops = entry["undo"]
                p.watch(*audit.watch_keys(ops))
                label = _label(ctx, entry)
                private = ctx.chat_group is not None and entry.get("what") in t.PROFILE_CHANGES
                mark = PRIVATE_MARK if private else ""
                if not audit.check(p, ops):
                    raise Refuse(mark + t.undo_conflict(label))
                answer = mark + t.undo_done(label)
                p.multi()
                audit.apply(p, ops)
                audit.record(
                    p,
                    entry["group"],
                    ctx.uid,
                    "undo",
                    ctx.parsed.text,
                    [],
                    at=ctx.ts,
                    id=ctx.msgid,
                    target=entry.get("target", ""),
                    undoes=entry.get("id", ""),
                )
                p.set(guard, answer, ex=GUARD_TTL)
                p.execute()
                return answer
            except redis.WatchError:
                continue
