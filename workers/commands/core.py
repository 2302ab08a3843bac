"""What every command handler builds on: the context it runs in (`Ctx`), the change it plans
(`Change`), the refusal that answers without changing anything (`Refuse`), the reply addressed
back to the sender, the optimistic transaction `commit` (WATCH ... MULTI/EXEC with the audit entry
and the exactly-once guard `wb:cmd:<msgid>`), and the small Redis readers several commands share.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import redis

from config.settings import Group, Settings
from handlers import command_texts as t
from handlers import messages
from handlers.calendar import day_of
from handlers.command_plans import Op
from handlers.command_table import Parsed
from handlers.commands import Resolved, Unclear, resolve
from handlers.messages import Message
from handlers.streaks import first_base
from workers import audit, directory, keys
from workers.connection import as_text
from workers.register import member_ids
from workers.weekly import notice

GUARD_TTL = keys.CMD_GUARD_TTL

Answer = str | list[Message]  # a text answered to the sender where they asked, or the messages themselves


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
    parsed: Parsed
    args: tuple[str, ...]  # the arguments, group key taken off
    key: str | None  # the group key the command names, if any
    uid: str
    name: str
    msgid: str
    ts: float
    chat_group: Group | None  # the group chat it came from; None in private

    @property
    def word(self) -> str:
        return self.parsed.word

    def today(self, group: Group) -> int:
        return day_of(self.ts, group.tz)

    def leads(self, group: Group) -> bool:
        return self.settings.leads(self.uid, group)

    def member_groups(self) -> list[Group]:
        """Every group whose roster the sender is on."""
        return [g for g in self.settings.groups.values() if self.uid in member_ids(self.r, g)]

    # --- what handlers.command_table's resolvers ask (its Sender) ----------------------------------

    @property
    def in_chat(self) -> bool:
        return self.chat_group is not None

    def leads_here(self) -> bool:
        if self.chat_group is not None:
            return self.leads(self.chat_group)
        if self.key:
            group = self.settings.group(self.key)
            return group is not None and self.leads(group)
        return self.leads_any()

    def leads_any(self) -> bool:
        return bool(self.settings.groups_led_by(self.uid))

    def belongs_anywhere(self) -> bool:
        return bool(self.member_groups())


@dataclass
class Change:
    what: str
    target: str
    ops: list[Op]
    undo: list[Op]
    reply: str
    undoes: str = ""


def private_reply(ctx: Ctx, text: str) -> list[Message]:
    """The answer to a command, privately to its sender wherever it was sent (profiles are for
    leaders' eyes: nothing about them is answered in a group)."""
    return [messages.to_users(f"cmd:{ctx.msgid}", [ctx.uid], text)]


def reply(ctx: Ctx, text: str, suffix: str = "") -> Message:
    """The answer to a command where it was sent: in the group @-ing the sender, or privately."""
    msg_id = f"cmd:{ctx.msgid}{suffix}"
    if ctx.chat_group is not None:
        return messages.to_group(msg_id, ctx.chat_group.key, text, [[ctx.uid, ctx.name]])
    return messages.to_users(msg_id, [ctx.uid], text)


# --- members -------------------------------------------------------------------------------------


def everyone(r: redis.Redis, group: Group) -> tuple[dict[str, str], set[str]]:
    """userid -> display name of everyone the group knows (removed ones too), and the removed set.
    Names as workers.directory.pick_name gives them (posts, configuration, the directory)."""
    active = member_ids(r, group)
    removed = {as_text(m) for m in r.smembers(keys.removed(group.key))}
    known = dict(active)
    gone = sorted(uid for uid in removed if uid not in known)
    if gone:
        with r.pipeline(transaction=False) as p:
            p.hmget(keys.names(group.key), gone)
            p.hmget(keys.DIR_NAMES, gone)
            learnt_raw, dir_raw = p.execute()
        learnt = dict(zip(gone, directory.read(learnt_raw), strict=True))
        found = dict(zip(gone, directory.read(dir_raw), strict=True))
        for uid in gone:
            known[uid] = directory.pick_name(uid, learnt, group.display_names, found)
    return known, removed


def target(ctx: Ctx, group: Group, query: str, allow_removed: bool = False) -> Resolved:
    """The member a command names; a question when that is not exactly one of the group's. A name
    nobody in the group has fetches the group's names from the directory first (at most once a
    minute per group: workers.directory.refresh_on_miss), then resolves once more."""
    known, removed = everyone(ctx.r, group)
    res = resolve(query, known)
    if isinstance(res, Unclear) and not res.ambiguous and directory.refresh_on_miss(ctx.r, ctx.settings, group):
        known, removed = everyone(ctx.r, group)
        res = resolve(query, known)
    if isinstance(res, Unclear):
        raise Refuse(t.ask_who(res))
    if res.userid in removed and not allow_removed:
        raise Refuse(t.removed_hint(res.name))
    return res


# --- the transaction -----------------------------------------------------------------------------


def commit(ctx: Ctx, group: Group, watch: list[str], plan: Callable[[redis.client.Pipeline], Change]) -> str:
    """Run `plan` against a consistent view (it reads through the watching pipeline and may raise
    Refuse), then apply its change, its audit entry and the exactly-once guard in one MULTI/EXEC."""
    guard = guard_key(ctx.msgid)
    with ctx.r.pipeline() as p:
        while True:
            try:
                p.watch(guard, *watch)
                prior = p.get(guard)
                if prior is not None:
                    return as_text(prior)
                change = plan(p)
                p.multi()
                audit.apply(p, change.ops)
                audit.record(
                    p,
                    group.key,
                    ctx.uid,
                    change.what,
                    ctx.parsed.text,
                    change.undo,
                    at=ctx.ts,
                    id=ctx.msgid,
                    target=change.target,
                    undoes=change.undoes,
                )
                p.set(guard, change.reply, ex=GUARD_TTL)
                p.execute()
                return change.reply
            except redis.WatchError:
                continue


# --- shared readers ------------------------------------------------------------------------------


def base(p, group: Group, today: int, ops: list[Op]) -> int:
    """The group's base day; when it has none yet, the one its first check-in would set (queued in ops)."""
    raw = p.get(keys.base(group.key))
    if raw is not None:
        return int(raw)
    day = first_base(group.camp_start, today)
    ops.append({"op": "set", "key": keys.base(group.key), "value": str(day)})
    return day


def goals(p, key: str) -> dict[int, str]:
    """A goal history as stored (week -> value), for handlers.command_plans.set_goal_from."""
    out = {}
    for k, v in p.hgetall(key).items():
        try:
            out[int(k)] = v.decode()
        except ValueError:
            continue
    return out


def notice_ops(ctx: Ctx, group: Group, userid: str, text: str) -> tuple[list[Op], list[Op]]:
    """A private notice to a member, written with the change itself (posted by the next tick, out of
    quiet hours) and taken back by its undo. None to oneself."""
    if userid == ctx.uid:
        return [], []
    value = notice(f"cmd:{ctx.msgid}:member", group.key, userid, text)
    return (
        [{"op": "rpush", "key": keys.NOTICES, "value": value}],
        [{"op": "lrem", "key": keys.NOTICES, "value": value}],
    )
