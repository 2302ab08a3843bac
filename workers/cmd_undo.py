"""`撤销`: a leader's undo of their last change (the newest undoable audit entry among the groups they
lead, applied only if nothing changed it since, in its own WATCH ... MULTI/EXEC with the same
exactly-once guard as command_core._commit), or a member's undo of today's check-in (workers.cmd_days).
Kept apart because it works on the audit log of every other command rather than on one kind of state.
"""
from __future__ import annotations

import redis

from handlers import commands as h
from workers import audit, keys
from workers.cmd_days import _undo_checkin
from workers.command_core import GUARD_TTL, Ctx, Refuse, _everyone, _leader_group, _leads, _private_reply, guard_key

# The guard of an undo answered privately starts with this, so a repeat answers privately too.
_PRIVATE_MARK = "\x00private\x00"


def cmd_undo(ctx: Ctx) -> str:
    if ctx.args and ctx.args[0].lower() in h.CHECKIN_WORDS:
        return _undo_checkin(ctx)
    if ctx.chat_group is not None:
        leader = _leads(ctx, ctx.chat_group)
    elif ctx.key:
        leader = _leads(ctx, ctx.settings.group(ctx.key))
    else:
        leader = bool(ctx.settings.groups_led_by(ctx.uid))
    if not leader:
        return _undo_checkin(ctx)
    try:
        reply = _undo_last(ctx)
    except Refuse as exc:
        reply = exc.text
    if reply.startswith(_PRIVATE_MARK):
        # an undo of a profile change is about the profile: the group never reads it
        return _private_reply(ctx, reply[len(_PRIVATE_MARK):])
    return reply


def _label(ctx: Ctx, entry: dict) -> str:
    """What the undone change was, by kind and member name: never its command text (see
    h.undo_label)."""
    target = entry.get("target", "")
    name = target
    if target and ctx.settings.groups.get(entry.get("group", "")) is not None:
        everyone, _ = _everyone(ctx.r, ctx.settings.groups[entry["group"]])
        name = everyone.get(target, target)
    return h.undo_label(entry.get("what", ""), name)


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
                label = _label(ctx, entry)
                private = ctx.chat_group is not None and entry.get("what") in h.PROFILE_CHANGES
                mark = _PRIVATE_MARK if private else ""
                if not audit.check(p, ops):
                    raise Refuse(mark + h.undo_conflict(label))
                reply = mark + h.undo_done(label)
                p.multi()
                audit.apply(p, ops)
                audit.record(p, entry["group"], ctx.uid, "undo", ctx.parsed.text, [], at=ctx.ts, id=ctx.msgid,
                             target=entry.get("target", ""), undoes=entry.get("id", ""))
                p.set(guard, reply, ex=GUARD_TTL)
                p.execute()
                return reply
            except redis.WatchError:
                continue

