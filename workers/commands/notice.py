"""`通知`: a leader's announcement, as a command. `#通知 <文字>` @-ing the robot in the group (the
leader's post is the announcement; the bot asks for answers) or `通知 [群代号] <文字>` in private
chat (the bot posts it to the group); a leader's plain `#通知` that only the message archive sees is
tracked without a post. Registering one goes through the command transaction (exactly once,
audited, undone by `撤销`, which stops the follow-up). The answers and the follow-up to the leader
are workers.announce.
"""

from __future__ import annotations

import json

import redis

from config.settings import Group, Settings
from handlers import announce as a
from handlers import messages
from handlers.checkin import strip_mentions
from handlers.command_plans import Op
from handlers.command_table import Parsed, parse
from handlers.messages import Message
from workers import keys
from workers.commands.core import Change, Ctx, Refuse, commit


def announce(ctx: Ctx, group: Group) -> list[Message]:
    """The group is the one the text names (handlers.announce.addressed, resolved before this runs)."""
    _, body = a.addressed(ctx.event.get("text") or "", ctx.settings.groups, ctx.chat_group is not None)
    if not body:
        raise Refuse(a.empty())
    if len(body) > a.MAX_TEXT:
        raise Refuse(a.too_long())
    posted = ctx.chat_group is None
    answer = _register(ctx, group, body, posted)
    sees_all = ctx.settings.archive_configured()
    chase_hours = ctx.settings.notice_ack_hours if ctx.settings.chases(group) else 0
    text = a.group_post(body, sees_all, chase_hours) if posted else a.group_ack_request(sees_all, chase_hours)
    return [
        messages.to_group(f"notice:{ctx.msgid}", group.key, text),
        messages.to_user(f"cmd:{ctx.msgid}", ctx.uid, answer),
    ]


def track_from_archive(r: redis.Redis, settings: Settings, event: dict, group: Group) -> list[Message]:
    """A leader's plain `#通知` in `group`, seen by the message archive (no @): tracked, not re-posted."""
    body = (a.split_header(strip_mentions(event.get("text") or "")) or "").strip()
    if not body:
        return []
    uid = event.get("userid", "")
    parsed = parse("通知 " + body[:50]) or Parsed("通知", (), "通知")
    ctx = Ctx(
        r,
        settings,
        event,
        parsed,
        (),
        None,
        uid,
        event.get("name") or uid,
        str(event["msgid"]),
        float(event.get("ts") or 0),
        group,
    )
    answer = _register(ctx, group, body[: a.MAX_TEXT], posted=False)
    return [messages.to_user(f"cmd:{ctx.msgid}", uid, answer)]


def _register(ctx: Ctx, group: Group, body: str, posted: bool) -> str:
    hours = ctx.settings.notice_ack_hours
    due = ctx.ts + hours * 3600
    record = json.dumps({"by": ctx.uid, "at": ctx.ts, "due": due, "text": body}, ensure_ascii=False)
    open_key = keys.ann_open(group.key)

    def plan(p) -> Change:
        ops: list[Op] = [
            {"op": "hset", "key": keys.ann(group.key), "field": ctx.msgid, "value": record},
            {"op": "sadd", "key": open_key, "member": ctx.msgid},
            {"op": "zadd", "key": keys.ANN_DUE, "member": f"{group.key}|{ctx.msgid}", "score": due},
        ]
        undo: list[Op] = [{"op": "srem", "key": open_key, "member": ctx.msgid, "expect": True}]
        return Change(
            "notice",
            a.preview(body),
            ops,
            undo,
            a.leader_confirm(group.display, hours, posted, ctx.settings.chases(group)),
        )

    return commit(ctx, group, [open_key], plan)
