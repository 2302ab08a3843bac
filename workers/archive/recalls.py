"""Recalls (撤回): a recalled archive post un-counts, on the day of the post only, every check-in it
made: its author's, and for a leader's 接龙 each member it credited, unless another archive post of
that member's day (their own, or a 接龙) still carries it (workers/lua/archive_recall.lua).

The puller files every post it reads (`remember_post`) so that a recall within a day can find
what the post did; `recall` applies one recall, `unrecord` takes back one member's day."""

from __future__ import annotations

import time

import redis

from config.settings import Group, Settings, get_settings
from handlers.calendar import day_of
from workers import keys, scripts
from workers.connection import as_text


def remember_post(p: redis.client.Pipeline, group: str, sender: str, msgid: str, day: int, is_chain: bool) -> None:
    """File an archive post of `sender` on `day` for a later recall (keys.ARCHIVE_MARK_TTL), on the
    pipeline `p`: its author and day, the member's posts of the day, the group's 接龙 of the day."""
    p.set(keys.archive_posted(msgid), f"{group} {sender} {day}", ex=keys.ARCHIVE_MARK_TTL)
    p.sadd(keys.archive_member_day(group, sender, day), msgid)
    p.expire(keys.archive_member_day(group, sender, day), keys.ARCHIVE_MARK_TTL)
    if is_chain:
        p.sadd(keys.archive_day_chains(group, day), msgid)
        p.expire(keys.archive_day_chains(group, day), keys.ARCHIVE_MARK_TTL)


def recalled_on(r: redis.Redis, group: Group, msgid: str, day: int) -> bool:
    """Was the post recalled on `day` (a parked post fetched again after its recall was read)?"""
    gone = r.get(keys.archive_recalled(msgid))
    return gone is not None and day_of(int(gone), group.tz) == day


def recall(
    r: redis.Redis, group: str, msgid: str, now: float | None = None, settings: Settings | None = None
) -> dict[str, int]:
    """A post of `group` was recalled (撤回) at `now`: take back every check-in it made that day, its
    author's and, for a leader's 接龙, each member it credited; a post the worker has not handled yet
    will count nothing. Idempotent. Returns userid -> unrecord's code, for the members it touched."""
    settings = settings or get_settings()
    g = settings.group(group)
    if g is None:
        return {}
    now = time.time() if now is None else now
    # remembered also for a post not read yet (parked): see recalled_on
    r.set(keys.archive_recalled(msgid), int(now), ex=keys.ARCHIVE_RECALLED_TTL)
    found = _mark(r, g, msgid)
    if found is None:
        return {}
    author, day = found
    if day_of(now, g.tz) != day:
        return {}  # recalled on a later day: the day stays counted
    people = sorted({author, *g.members, *(as_text(k) for k in r.hkeys(keys.names(g.key)))})
    effects = r.mget([keys.effect(msgid, g.key, uid) for uid in people])
    credited = [uid for uid, fx in zip(people, effects, strict=True) if fx is not None]
    # Handled by the worker already: only the members it credited. Not yet: none of them may count.
    return {uid: _unrecord_one(r, g, uid, msgid, day) for uid in (credited or people)}


def unrecord(
    r: redis.Redis, group: str, userid: str, msgid: str, now: float | None = None, settings: Settings | None = None
) -> int:
    """Take back the check-in that archive post `msgid` counted for `userid` (its author, or a member
    its 接龙 credited) in `group`, if it counted the day (its effect key holds 1) and `now` (default:
    the current time; the puller passes the recall's time) is still that day in the group's timezone.
    Atomic (workers/lua/archive_recall.lua).

    Returns 1 un-counted; 2 the message was not processed yet and now never counts; 3 it had counted
    the day but another post of the member that day was a check-in too, which now carries the day;
    0 nothing to do (not a check-in of that day, another day, or unknown)."""
    settings = settings or get_settings()
    g = settings.group(group)
    if g is None:
        return 0
    found = _mark(r, g, msgid)
    if found is None:
        return 0
    day = found[1]
    if day_of(time.time() if now is None else now, g.tz) != day:
        return 0  # recalled on a later day: the day stays counted
    return _unrecord_one(r, g, userid, msgid, day)


def _mark(r: redis.Redis, g: Group, msgid: str) -> tuple[str, int] | None:
    """(author, local day) of an archive post of group `g` seen in the last ARCHIVE_MARK_TTL, else None."""
    mark = r.get(keys.archive_posted(msgid))
    if mark is None:
        return None  # not an archive post we know of (or older than a day)
    parts = as_text(mark).split(" ")
    if len(parts) != 3 or parts[0] != g.key:
        return None
    return parts[1], int(parts[2])


def _unrecord_one(r: redis.Redis, g: Group, userid: str, msgid: str, day: int) -> int:
    """The Lua step for one member (the author, or a member the post credited)."""
    others = {as_text(m) for m in r.smembers(keys.archive_member_day(g.key, userid, day))}
    others |= {as_text(m) for m in r.smembers(keys.archive_day_chains(g.key, day))}
    others.discard(msgid)
    carriers = sorted(others)
    if carriers:  # a recalled post, filed again by a crash re-read, never carries a day
        gone = r.mget([keys.archive_recalled(m) for m in carriers])
        carriers = [m for m, x in zip(carriers, gone, strict=True) if x is None]
    candidates = [keys.effect(m, g.key, userid) for m in carriers]
    return int(
        scripts.script("archive_recall", r)(
            keys=[
                keys.effect(msgid, g.key, userid),
                keys.days(g.key, userid),
                keys.base(g.key),
                keys.links(g.key, day),
                keys.archive_member_day(g.key, userid, day),
                *candidates,
            ],
            args=[day, keys.EFFECT_TTL, userid, msgid],
        )
    )
