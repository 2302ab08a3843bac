"""People commands: a leader's notes on a member (`档案`, `删除档案`), the roster (`加入`, `移除`),
the group's reminders (`暂停`, `恢复`), and a member's own preferences (`免打扰`, `不公开`). Kept
together because each one changes a fact about who is in the group or how they are treated, never
the check-in calendar; every change goes through command_core._commit.
"""
from __future__ import annotations

import json
import re
from typing import Callable

from handlers import commands as h
from workers import keys
from workers.command_core import (Change, Ctx, Refuse, _commit, _everyone, _leader_group, _member_group,
                                  _private_reply, _target)

_USERID = re.compile(r"^[A-Za-z0-9_.@\-]{1,64}$")


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

    reply = _commit(ctx, group, [nkey], plan)
    if ctx.chat_group is not None:   # profiles are for leaders' eyes: answer privately, never in the group
        return _private_reply(ctx, reply + "\n" + h.note_in_group_hint())
    return reply


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

    try:
        reply = _commit(ctx, group, [nkey], plan)
    except Refuse as exc:
        reply = exc.text
    if ctx.chat_group is not None:   # about a profile: answered privately, never in the group
        return _private_reply(ctx, reply + "\n" + h.note_in_group_hint())
    return reply


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

