"""Announcements (`#通知`): answers tracked from every post the bot sees, and after
BOT_NOTICE_ACK_HOURS the leader is told privately who has not answered. The command that makes one
(posted for the leader, or tracked from the archive) is workers.commands.notice.

State (keys.py): the announcement itself in `ann(group)` (field: the command's msgid), the open
ones in `ann_open(group)`, who answered in `ann_acks(group, msgid)`, and one due-index for all
groups (`ANN_DUE`, score = when to follow up). Creating one goes through the command transaction
(exactly once, audited, undone by `撤销`, which stops the follow-up). Answers are set members, so a
replayed batch adds nothing. The follow-up is posted with a fixed id before it is taken off the
index, so a tick that dies in between repeats a post the outbox already has: it goes out once.

With the chase on (BOT_NOTICE_CHASE / GROUP_<KEY>_NOTICE_CHASE, 夺命连环call), the due time first
reminds each silent member privately (a private 收到 counts as an answer), records it in
`ann_chased(group)` and comes back CHASE_WAIT later to tell the announcer who is still silent.
"""

from __future__ import annotations

import json
import logging

import redis

from config.settings import Settings
from handlers import announce as a
from handlers import messages
from handlers.calendar import quiet_at
from handlers.routine import Kind
from workers import initiative, keys, outbound
from workers.connection import as_text
from workers.register import member_ids

log = logging.getLogger(__name__)

FOLLOW_UP_BATCH = 200
CHASE_WAIT = 2 * 3600  # seconds from the chase to the announcer's follow-up
SLACK = 120  # seconds: a post stamped just before the announcement (clock skew) still answers it


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
        opened = dict(zip(groups, p.execute(), strict=True))
    opened = {g: sorted(m.decode() for m in ids) for g, ids in opened.items() if ids}
    if not opened:
        return 0
    with r.pipeline(transaction=False) as p:
        for g, ids in opened.items():
            p.hmget(keys.ann(g), ids)
        raw = p.execute()
    started: dict[str, list[tuple[str, float]]] = {}
    for (g, ids), values in zip(opened.items(), raw, strict=True):
        for mid, value in zip(ids, values, strict=True):
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
    """For each announcement due (out of quiet hours): with the chase on and someone silent, remind
    the silent members privately first and come back CHASE_WAIT later; then tell the announcer who
    has not answered."""
    due = r.zrangebyscore(keys.ANN_DUE, "-inf", ts, start=0, num=FOLLOW_UP_BATCH)
    sent = 0
    for raw in due:
        member = raw.decode() if isinstance(raw, bytes) else str(raw)
        gkey, _, mid = member.partition("|")
        group = settings.groups.get(gkey)
        stored = r.hget(keys.ann(gkey), mid)
        if group is None or not r.sismember(keys.ann_open(gkey), mid) or stored is None:
            _close(r, gkey, mid, member)
            continue
        if quiet_at(ts, group.tz, settings.quiet_hours):
            continue  # stays due: the leader hears about it when the quiet hours end
        ann = json.loads(stored)
        silent, total = _silent(r, group, mid, ann)
        chased = r.hget(keys.ann_chased(gkey), mid)
        if silent and settings.chases(group) and chased is None:
            _chase(r, settings, group, mid, ann, silent, ts)
            sent += 1
            continue
        _tell_announcer(r, group, mid, ann, silent, total, ts, int(chased or 0))
        _close(r, gkey, mid, member)
        sent += 1
    return sent


def _silent(r: redis.Redis, group, mid: str, ann: dict) -> tuple[list[tuple[str, str]], int]:
    """(userid, name) of the members who have not answered, and how many were asked."""
    people = {uid: name for uid, name in member_ids(r, group).items() if uid not in group.leaders and uid != ann["by"]}
    acks = {as_text(m) for m in r.smembers(keys.ann_acks(group.key, mid))}
    return [(uid, name) for uid, name in people.items() if uid not in acks], len(people)


def _chase(r: redis.Redis, settings: Settings, group, mid: str, ann: dict, silent, ts: float) -> None:
    """Each silent member privately (within their daily budget), then the announcer's follow-up
    CHASE_WAIT later. Posted before the state moves on: a tick that dies in between chases again
    with the same ids, which the outbox sends once."""
    text = a.chase(group.display, ann["text"], archive=settings.archive_configured())
    notes = [
        initiative.Note(Kind.CHASE, uid, messages.to_user(f"notice-chase:{group.key}:{mid}:{uid}", uid, text))
        for uid, _ in silent
    ]
    msgs = initiative.admit(r, settings, group, notes, ts)
    if msgs:
        outbound.post_many(r, msgs)
    with r.pipeline(transaction=True) as p:
        p.hset(keys.ann_chased(group.key), mid, len(msgs))
        p.expire(keys.ann_chased(group.key), 7 * 24 * 3600)
        p.zadd(keys.ANN_DUE, {f"{group.key}|{mid}": ts + CHASE_WAIT})
        p.execute()


def _tell_announcer(r: redis.Redis, group, mid: str, ann: dict, silent, total: int, ts: float, chased: int) -> None:
    with r.pipeline(transaction=False) as p:
        for uid, _ in silent:
            p.lrange(keys.notes(group.key, uid), -2, -1)
        notes = {name: [json.loads(n) for n in raw] for (_, name), raw in zip(silent, p.execute(), strict=True) if raw}
    text = a.follow_up(
        group.display, ann["text"], ts - float(ann["at"]), [n for _, n in silent], total, notes, chased=chased
    )
    outbound.post(r, messages.to_users(f"notice-followup:{group.key}:{mid}", [ann["by"]], text))


def _close(r: redis.Redis, gkey: str, mid: str, member: str) -> None:
    with r.pipeline(transaction=True) as p:
        p.srem(keys.ann_open(gkey), mid)
        p.zrem(keys.ANN_DUE, member)
        p.expire(keys.ann_acks(gkey, mid), 7 * 24 * 3600)
        p.execute()
