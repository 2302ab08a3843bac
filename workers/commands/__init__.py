"""Carry out leader and member commands (`execute`), each state change exactly once.

The commands, their spellings and who may run each one are handlers.command_table; `COMMANDS`
below binds each command and role to its handler. `execute` reads the command, checks its role
once (workers.commands.roles: the role resolves to the group the command runs in, or to a refusal)
and calls the handler with that group. Handlers never check a role themselves.

Every change runs in one optimistic transaction (WATCH ... MULTI/EXEC, core.commit) together with
- an exactly-once guard `wb:cmd:<msgid>` holding the reply: a message processed again finds it and
  answers the same words without changing anything twice;
- an audit entry (workers.audit) with what it takes to undo the change.
Replies carry the id `cmd:<msgid>`, so the outbox sends each of them once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import redis

from config.settings import Settings
from handlers import command_texts as t
from handlers.command_table import SPECS, Role, parse
from handlers.commands import split_group_key
from handlers.messages import Message
from workers import audit
from workers.commands import days, goals, notice, people, roles, undo, views
from workers.commands.core import GUARD_TTL, Answer, Ctx, Refuse, guard_key, reply

__all__ = ["COMMANDS", "GUARD_TTL", "SOURCES", "execute", "guard_key"]

# the channels for commands (the archive also sees group posts: not a command); "console" is the leader
# console's web page (wecom_bot/console/), whose changes are commands like any other
SOURCES = ("robot", "app", "aibot", "console")

# A handler is given what its role resolves to (handlers.command_table): a Group for LEADER and
# MEMBER, a list of Groups for LEADER_ALL and MEMBER_ALL, None for ANYONE.
Handler = Callable[[Ctx, Any], Answer]

COMMANDS: dict[str, dict[Role, Handler]] = {
    "我的": {Role.MEMBER_ALL: views.me, Role.MEMBER: goals.propose_from_me},
    "目标": {Role.LEADER: goals.set_goal, Role.MEMBER: goals.propose},
    "退阶": {Role.LEADER: goals.downgrade},
    "档案": {Role.LEADER: people.note},
    "删除档案": {Role.LEADER: people.delete_notes},
    "补卡": {Role.LEADER: days.credit},
    "请假": {Role.LEADER: days.give_leave, Role.MEMBER: days.take_leave},
    "本周": {Role.LEADER: views.week},
    "导出": {Role.LEADER: views.export},
    "加入": {Role.LEADER: people.add},
    "移除": {Role.LEADER: people.remove},
    "暂停": {Role.LEADER: people.pause},
    "恢复": {Role.LEADER: people.resume},
    "通知": {Role.LEADER: notice.announce},
    "免打扰": {Role.MEMBER: people.mute},
    "不公开": {Role.MEMBER: people.private},
    "撤销": {Role.LEADER_ALL: undo.undo_last, Role.MEMBER: days.undo_checkin},
    "帮助": {Role.ANYONE: views.show_help},
}


def execute(r: redis.Redis, settings: Settings, event: dict, text: str) -> list[Message]:
    """The outbound messages answering one command (an empty list when it is not one of ours).
    `text`: the router's text of the post (leading mentions dropped)."""
    parsed = parse(event.get("text") or "")
    if parsed is None or parsed.word != (parse(text) or parsed).word:
        parsed = parse(text)
    if parsed is None:
        return []
    spec = SPECS[parsed.word]
    chat_id = event.get("chat_id") or ""
    chat_group = settings.group_by_chat(chat_id) if chat_id else None
    uid = event.get("userid", "")
    if event.get("source") not in SOURCES:
        # the message archive: only a leader's own announcement counts (tracked, never answered in the group)
        if spec.archive and chat_group is not None and settings.leads(uid, chat_group):
            return notice.track_from_archive(r, settings, event, chat_group)
        return []
    if chat_id and chat_group is None:
        return []  # an unknown chat: the router reports it to the admins
    args, key = split_group_key(parsed.args, settings.groups)
    if spec.names_group is not None:
        key = spec.names_group(event.get("text") or "", settings.groups, chat_group is not None)
    ctx = Ctx(
        r,
        settings,
        event,
        parsed,
        args,
        key,
        uid,
        event.get("name") or uid,
        str(event.get("msgid") or ""),
        float(event.get("ts") or time.time()),
        chat_group,
    )
    try:
        role = spec.roles[0] if spec.decide is None else spec.decide(args, ctx)
        if role is None:
            raise Refuse(t.usage(spec.word))
        with audit.via(str(event.get("source"))):
            answer = COMMANDS[spec.word][role](ctx, roles.resolve(ctx, role))
    except Refuse as exc:
        answer = exc.text
    if isinstance(answer, str):
        return [reply(ctx, answer)]
    return answer
