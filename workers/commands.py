"""Carry out leader and member commands (`execute`), each state change exactly once.

Every change runs in one optimistic transaction (WATCH ... MULTI/EXEC) together with
- an exactly-once guard `wb:cmd:<msgid>` holding the reply: a message processed again finds it and
  answers the same words without changing anything twice;
- an audit entry (workers.audit) with what it takes to undo the change.
Replies carry the id `cmd:<msgid>`, so the outbox sends each of them once.
Parsing lives in handlers.commands, wording in handlers.command_texts.

This module is the entry point and the table of commands. The shared core (Ctx, Change, Refuse,
the transaction `_commit`, who may act where) is in workers.command_core; the commands themselves
are in workers.cmd_goals, cmd_days, cmd_people, cmd_views and cmd_undo (`通知` in workers.announce).
Their names are imported here too, so `workers.commands.<name>` keeps working for every caller.
"""
from __future__ import annotations

import logging
import time
from typing import Callable

import redis

from config.settings import Settings
from handlers import commands as h
from workers import announce
from workers.cmd_days import cmd_credit, cmd_leave
from workers.cmd_goals import cmd_downgrade, cmd_goal
from workers.cmd_people import (cmd_add, cmd_delnote, cmd_mute, cmd_note, cmd_pause, cmd_private, cmd_remove,
                                cmd_resume)
from workers.cmd_undo import cmd_undo
from workers.cmd_views import cmd_export, cmd_help, cmd_me, cmd_week
from workers.command_core import Ctx, Refuse, _reply, guard_key  # noqa: F401  (guard_key: for callers)

log = logging.getLogger(__name__)

SOURCES = ("robot", "app")  # the channels for commands (the archive also sees group posts: not a command)


# --- entry point ---------------------------------------------------------------------------------

def execute(r: redis.Redis, settings: Settings, event: dict, text: str) -> list[dict]:
    """The outbound messages answering one command (an empty list when it is not one of ours)."""
    parsed = h.parse(event.get("text") or "")
    if parsed is None or parsed.word != (h.parse(text) or parsed).word:
        parsed = h.parse(text)       # the router's text, mentions already stripped
    if parsed is None:
        return []
    if event.get("source") not in SOURCES:
        if parsed.word == "通知" and event.get("chat_id"):   # a leader's #通知 seen by the archive
            from workers import announce
            return announce.track_from_archive(r, settings, event)
        return []
    chat_id = event.get("chat_id") or ""
    chat_group = settings.group_by_chat(chat_id) if chat_id else None
    if chat_id and chat_group is None:
        return []                    # an unknown chat: the router reports it to the admins
    args, key = h.split_group_key(parsed.args, settings.groups)
    msgid = str(event.get("msgid") or "")
    ctx = Ctx(r, settings, event, parsed, args, key, event.get("userid", ""),
              event.get("name") or event.get("userid", ""), msgid,
              float(event.get("ts") or time.time()), chat_group)
    try:
        answer = HANDLERS[parsed.word](ctx)
    except Refuse as exc:
        answer = exc.text
    if isinstance(answer, str):
        return [_reply(ctx, answer)]
    return answer


HANDLERS: dict[str, Callable[[Ctx], str | list[dict]]] = {
    "帮助": cmd_help, "我的": cmd_me, "目标": cmd_goal, "退阶": cmd_downgrade, "档案": cmd_note,
    "删除档案": cmd_delnote, "补卡": cmd_credit, "请假": cmd_leave, "本周": cmd_week, "导出": cmd_export,
    "加入": cmd_add, "移除": cmd_remove, "暂停": cmd_pause, "恢复": cmd_resume, "撤销": cmd_undo,
    "免打扰": cmd_mute, "不公开": cmd_private, "通知": announce.cmd_notice,
}

