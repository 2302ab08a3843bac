"""The shared core of the command workers: the context a command runs in (`Ctx`), the change it
plans (`Change`), the refusal that answers without changing anything (`Refuse`), who may act where
(`_leader_group`, `_member_group`, `_target`, ...), the reply addressed back to the sender, and the
optimistic transaction `_commit` (WATCH ... MULTI/EXEC with the audit entry and the exactly-once
guard `wb:cmd:<msgid>`), plus the small Redis readers several commands share (`_base`, `_goals`,
`_set_goal_from`, `_notice_ops`, `_camp`). It lives apart from the commands so that every command
module (workers.cmd_*) builds on one place without importing workers.commands (no import cycle);
workers.announce reaches the same names through workers.commands, which re-exports them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import redis

from config.settings import Group, Settings
from handlers import commands as h
from handlers.calendar import day_index, day_of
from workers import audit, keys
from workers.register import member_ids

GUARD_TTL = 8 * 24 * 3600
BACKFILL_DAYS = 35          # as workers.ingest: a group's first check-in sets base = that day - 35


def guard_key(msgid: str) -> str:
    """Set (with the reply) by the transaction that carried out a command's change."""
    return keys.cmd_guard(msgid)


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


def _private_reply(ctx: Ctx, text: str) -> list[dict]:
    """The answer to a command, privately to its sender wherever it was sent (profiles are for
    leaders' eyes: nothing about them is answered in a group)."""
    return [h.user_msg(f"cmd:{ctx.msgid}", [ctx.uid], text)]


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

