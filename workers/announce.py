"""Announcements (`#通知`): posted for a leader, answers tracked from every post the bot sees, and
after BOT_NOTICE_ACK_HOURS the leader is told privately who has not answered.

State (keys.py): the announcement itself in `ann(group)` (field: the command's msgid), the open
ones in `ann_open(group)`, who answered in `ann_acks(group, msgid)`, and one due-index for all
groups (`ANN_DUE`, score = when to follow up). Creating one goes through the command transaction
(exactly once, audited, undone by `撤销`, which stops the follow-up). Answers are set members, so a
replayed batch adds nothing. The follow-up is posted with a fixed id before it is taken off the
index, so a tick that dies in between repeats a post the outbox already has: it goes out once.
"""
from __future__ import annotations

import json
import logging
from datetime import datetime, timezone

import redis

from config.settings import Settings
from handlers import announce as a
from handlers import commands as h
from handlers.checkin import strip_mentions
from handlers.daily import in_quiet_hours
from workers import command_core as c
from workers import keys, outbound
from workers.register import member_ids

log = logging.getLogger(__name__)

FOLLOW_UP_BATCH = 200
SLACK = 120      # seconds: a post stamped just before the announcement (clock skew) still answers it


# --- the command ---------------------------------------------------------------------------------

def cmd_notice(ctx) -> str | list[dict]:
    """`#通知 <文字>` in the group (the leader's post is the announcement; the bot asks for answers)
    or `通知 [群代号] <文字>` in private chat (the bot posts it to the group)."""
    body = a.split_header(strip_mentions(ctx.event.get("text") or "")) or ""
    group = None
    if ctx.chat_group is None:
        words = body.split(maxsplit=1)       # the group key first (`通知 xhs01 …`) or last, as elsewhere
        tail = body.rsplit(maxsplit=1)
        if words and words[0].lower() in ctx.settings.groups:
            group, body = ctx.settings.group(words[0]), (words[1] if len(words) > 1 else "")
        elif len(tail) == 2 and tail[1].lower() in ctx.settings.groups:
            group, body = ctx.settings.group(tail[1]), tail[0]
    ctx.key = group.key if group else None
    group = c._leader_group(ctx)
    body = body.strip()
    if not body:
        raise c.Refuse(a.empty())
    if len(body) > a.MAX_TEXT:
        raise c.Refuse(a.too_long())
    posted = ctx.chat_group is None
    reply = _register(ctx, group, body, posted)
    out = [h.user_msg(f"cmd:{ctx.msgid}", [ctx.uid], reply)]
    text = a.group_post(body) if posted else a.group_ack_request()
    out.insert(0, h.group_msg(f"notice:{ctx.msgid}", group.key, text))
    return out


def track_from_archive(r: redis.Redis, settings: Settings, event: dict) -> list[dict]:
    """A leader's plain `#通知` seen by the message archive (no @): tracked, not re-posted."""
    group = settings.group_by_chat(event.get("chat_id") or "")
    uid = event.get("userid", "")
    if group is None or not (uid in group.leaders or uid in settings.admins):
        return []
    body = (a.split_header(strip_mentions(event.get("text") or "")) or "").strip()
    if not body:
        return []
    parsed = h.parse("通知 " + body[:50]) or h.Parsed("通知", (), "通知")
    ctx = c.Ctx(r, settings, event, parsed, (), None, uid, event.get("name") or uid,
                str(event["msgid"]), float(event.get("ts") or 0), group)
    reply = _register(ctx, group, body[:a.MAX_TEXT], posted=False)
    return [h.user_msg(f"cmd:{ctx.msgid}", [uid], reply)]


def _register(ctx, group, body: str, posted: bool) -> str:
    hours = ctx.settings.notice_ack_hours
    due = ctx.ts + hours * 3600
    record = json.dumps({"by": ctx.uid, "at": ctx.ts, "due": due, "text": body}, ensure_ascii=False)
    open_key = keys.ann_open(group.key)

    def plan(p) -> c.Change:
        ops = [{"op": "hset", "key": keys.ann(group.key), "field": ctx.msgid, "value": record},
               {"op": "sadd", "key": open_key, "member": ctx.msgid},
               {"op": "zadd", "key": keys.ANN_DUE, "member": f"{group.key}|{ctx.msgid}", "score": due}]
        undo = [{"op": "srem", "key": open_key, "member": ctx.msgid, "expect": True}]
        return c.Change("notice", a.preview(body), ops, undo, a.leader_confirm(group.display, hours, posted))

    return c._commit(ctx, group, [open_key], plan)


# --- answers ---------------------------------------------------------------------------------------

def track(r: redis.Redis, settings: Settings, posts: list[tuple[str, str, float, str, str]]) -> int:
    """Record answers. `posts`: (group key, userid, ts, text, msgid) for group posts, and
    ("", userid, ts, text, msgid) for private ones (counted only when they read as 收到/好的/+1).
    One round trip when no group has an open announcement."""
    if not posts:
        return 0
    groups = sorted({g for g, *_ in posts if g} | _groups_of_private(settings, posts))
    with r.pipeline(transaction=False) as p:
        for g in groups:
            p.smembers(keys.ann_open(g))
        opened = dict(zip(groups, p.execute()))
    opened = {g: sorted(m.decode() for m in ids) for g, ids in opened.items() if ids}
    if not opened:
        return 0
    with r.pipeline(transaction=False) as p:
        for g, ids in opened.items():
            p.hmget(keys.ann(g), ids)
        raw = p.execute()
    started: dict[str, list[tuple[str, float]]] = {}
    for (g, ids), values in zip(opened.items(), raw):
        for mid, value in zip(ids, values):
            if value is not None:
                started.setdefault(g, []).append((mid, float(json.loads(value)["at"])))
    added = 0
    with r.pipeline(transaction=False) as p:
        for g, uid, ts, text, msgid in posts:
            targets = [g] if g else [k for k in _private_groups(settings, uid) if a.is_ack(text)]
            for key in targets:
                for mid, at in started.get(key, ()):
                    if msgid != mid and ts >= at - SLACK:
                        p.sadd(keys.ann_acks(key, mid), uid)
                        added += 1
        if added:
            p.execute()
    return added


def _groups_of_private(settings: Settings, posts) -> set[str]:
    return {k for g, uid, _, text, _ in posts if not g and a.is_ack(text) for k in _private_groups(settings, uid)}


def _private_groups(settings: Settings, uid: str) -> list[str]:
    return [g.key for g in settings.groups.values() if uid in g.members]


# --- the follow-up ---------------------------------------------------------------------------------

def follow_up(r: redis.Redis, settings: Settings, ts: float) -> int:
    """Tell each announcer whose announcement is due who has not answered (out of quiet hours)."""
    due = r.zrangebyscore(keys.ANN_DUE, "-inf", ts, start=0, num=FOLLOW_UP_BATCH)
    sent = 0
    for raw in due:
        member = raw.decode()
        gkey, _, mid = member.partition("|")
        group = settings.groups.get(gkey)
        if group is None or not r.sismember(keys.ann_open(gkey), mid) or r.hget(keys.ann(gkey), mid) is None:
            _close(r, gkey, mid, member)
            continue
        local = datetime.fromtimestamp(ts, timezone.utc).astimezone(group.tz)
        if in_quiet_hours(local.hour, local.minute, settings.quiet_hours):
            continue    # stays due: the leader hears about it when the quiet hours end
        ann = json.loads(r.hget(keys.ann(gkey), mid))
        people = {uid: name for uid, name in member_ids(r, group).items()
                  if uid not in group.leaders and uid != ann["by"]}
        acks = {m.decode() for m in r.smembers(keys.ann_acks(gkey, mid))}
        silent = [(uid, name) for uid, name in people.items() if uid not in acks]
        with r.pipeline(transaction=False) as p:
            for uid, _ in silent:
                p.lrange(keys.notes(gkey, uid), -2, -1)
            notes = {name: [json.loads(n) for n in raw] for (_, name), raw in zip(silent, p.execute()) if raw}
        text = a.follow_up(group.display, ann["text"], settings.notice_ack_hours, [n for _, n in silent],
                           len(people), notes)
        outbound.post(r, h.user_msg(f"notice-followup:{gkey}:{mid}", [ann["by"]], text))
        _close(r, gkey, mid, member)
        sent += 1
    return sent


def _close(r: redis.Redis, gkey: str, mid: str, member: str) -> None:
    with r.pipeline(transaction=True) as p:
        p.srem(keys.ann_open(gkey), mid)
        p.zrem(keys.ANN_DUE, member)
        p.expire(keys.ann_acks(gkey, mid), 7 * 24 * 3600)
        p.execute()
