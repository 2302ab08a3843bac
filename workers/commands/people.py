"""People commands: a leader's notes on a member (`档案`, `删除档案`), the roster (`加入`, `移除`),
the group's reminders (`暂停`, `恢复`), and a member's own preferences (`免打扰`, `不公开`). Kept
together because each one changes a fact about who is in the group or how they are treated, never
the check-in calendar.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from config.settings import Group
from handlers import command_texts as t
from handlers.command_plans import Op, toggled
from handlers.commands import Unclear, newcomer, note_text, split_name, switch
from workers import keys
from workers.commands.core import Answer, Change, Ctx, Refuse, commit, everyone, private_reply, target


def note(ctx: Ctx, group: Group) -> Answer:
    """`档案 <成员> <文字>`: answered privately wherever it was sent (profiles are for leaders' eyes)."""
    if not ctx.args:
        raise Refuse(t.usage("档案"))
    known, _ = everyone(ctx.r, group)
    name_part, rest = split_name(ctx.args, known)
    who = target(ctx, group, name_part, allow_removed=True)
    if not rest:
        raise Refuse(t.note_empty())
    text = note_text(ctx.parsed.rest, name_part, ctx.key)
    value = json.dumps(
        {"text": text, "by": ctx.uid, "by_name": ctx.name, "at": int(ctx.ts)}, ensure_ascii=False, separators=(",", ":")
    )
    nkey = keys.notes(group.key, who.userid)

    def plan(p) -> Change:
        count = p.llen(nkey)
        return Change(
            "note",
            who.userid,
            [{"op": "rpush", "key": nkey, "value": value}],
            [{"op": "lrem", "key": nkey, "value": value}],
            t.note_added(who.name, count + 1),
        )

    answer = commit(ctx, group, [nkey], plan)
    if ctx.chat_group is not None:  # profiles are for leaders' eyes: answer privately, never in the group
        return private_reply(ctx, answer + "\n" + t.note_in_group_hint())
    return answer


def delete_notes(ctx: Ctx, group: Group) -> Answer:
    """`删除档案 <成员>`: answered privately too."""
    if not ctx.args:
        raise Refuse(t.usage("删除档案"))
    who = target(ctx, group, " ".join(ctx.args), allow_removed=True)
    nkey = keys.notes(group.key, who.userid)

    def plan(p) -> Change:
        values = [v.decode() for v in p.lrange(nkey, 0, -1)]
        if not values:
            raise Refuse(t.notes_none(who.name))
        return Change(
            "delnote",
            who.userid,
            [{"op": "del", "key": nkey}],
            [{"op": "lpush_all", "key": nkey, "values": values}],
            t.notes_deleted(who.name, len(values)),
        )

    try:
        answer = commit(ctx, group, [nkey], plan)
    except Refuse as exc:
        answer = exc.text
    if ctx.chat_group is not None:  # about a profile: answered privately, never in the group
        return private_reply(ctx, answer + "\n" + t.note_in_group_hint())
    return answer


def add(ctx: Ctx, group: Group) -> str:
    """`加入 <成员>`: back onto the roster, or a newcomer by userid (`加入 lulu 小鹿`)."""
    if not ctx.args:
        raise Refuse(t.usage("加入"))
    known, _ = everyone(ctx.r, group)
    res, new_name = newcomer(ctx.args, known)
    if isinstance(res, Unclear):
        raise Refuse(t.ask_who_to_add(res))
    rkey, nkey = keys.removed(group.key), keys.names(group.key)

    def plan(p) -> Change:
        ops: list[Op] = []
        undo: list[Op] = []
        if p.sismember(rkey, res.userid):
            ops.append({"op": "srem", "key": rkey, "member": res.userid})
            undo.append({"op": "sadd", "key": rkey, "member": res.userid, "expect": False})
        if new_name is not None and p.hget(nkey, res.userid) is None:
            ops.append({"op": "hset", "key": nkey, "field": res.userid, "value": new_name})
            undo.append({"op": "hdel", "key": nkey, "field": res.userid, "expect": new_name})
        if not ops:
            raise Refuse(t.roster_already_in(res.name))
        return Change("add", res.userid, ops, undo, t.roster_added(res.name, new_name is not None))

    return commit(ctx, group, [rkey, nkey], plan)


def remove(ctx: Ctx, group: Group) -> str:
    """`移除 <成员>`: off the roster (their history stays)."""
    if not ctx.args:
        raise Refuse(t.usage("移除"))
    who = target(ctx, group, " ".join(ctx.args), allow_removed=True)
    rkey = keys.removed(group.key)

    def plan(p) -> Change:
        if p.sismember(rkey, who.userid):
            raise Refuse(t.roster_already_out(who.name))
        return Change(
            "remove",
            who.userid,
            [{"op": "sadd", "key": rkey, "member": who.userid}],
            [{"op": "srem", "key": rkey, "member": who.userid, "expect": True}],
            t.roster_removed(who.name),
        )

    return commit(ctx, group, [rkey], plan)


def pause(ctx: Ctx, group: Group) -> str:
    """`暂停`: the group's scheduled posts stop until `恢复`."""
    pkey = keys.paused(group.key)

    def plan(p) -> Change:
        if p.exists(pkey):
            raise Refuse(t.already_paused(group.display))
        return Change(
            "pause",
            "",
            [{"op": "set", "key": pkey, "value": "1"}],
            [{"op": "del", "key": pkey, "expect": True}],
            t.paused_text(group.display),
        )

    return commit(ctx, group, [pkey], plan)


def resume(ctx: Ctx, group: Group) -> str:
    pkey = keys.paused(group.key)

    def plan(p) -> Change:
        value = p.get(pkey)
        if value is None:
            raise Refuse(t.not_paused(group.display))
        return Change(
            "resume",
            "",
            [{"op": "del", "key": pkey}],
            [{"op": "set", "key": pkey, "value": value.decode(), "expect": False}],
            t.resumed_text(group.display),
        )

    return commit(ctx, group, [pkey], plan)


def _toggle(ctx: Ctx, group: Group, pref: str, wording: Callable[[bool], str]) -> str:
    """A member's switch in the group's prefs hash (field `<userid>:<pref>`, present when on)."""
    field_name = f"{ctx.uid}:{pref}"
    pkey = keys.prefs(group.key)
    want = switch(ctx.args)

    def plan(p) -> Change:
        cur = p.hget(pkey, field_name)
        on = toggled(want, cur is not None)
        if on is None:
            raise Refuse(wording(cur is not None))
        if on:
            ops: list[Op] = [{"op": "hset", "key": pkey, "field": field_name, "value": "1"}]
            undo: list[Op] = [{"op": "hdel", "key": pkey, "field": field_name, "expect": "1"}]
        else:
            ops = [{"op": "hdel", "key": pkey, "field": field_name}]
            undo = [{"op": "hset", "key": pkey, "field": field_name, "value": cur.decode(), "expect": None}]
        return Change(pref, ctx.uid, ops, undo, wording(on))

    return commit(ctx, group, [pkey], plan)


def mute(ctx: Ctx, group: Group) -> str:
    """`免打扰`: no reminders for this member."""
    return _toggle(ctx, group, "mute", t.mute_text)


def private(ctx: Ctx, group: Group) -> str:
    """`不公开`: the member's name left out of every list the group reads."""
    return _toggle(ctx, group, "private", t.private_text)
