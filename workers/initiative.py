"""One budget for the private notes the bot sends a member on its own initiative.

Members of a camp dread being bombarded. The goal question, its reminder, the tight-day and weekend
nudges, the evening streak reminder, the mid-week nudge, the #通知 chase and a word of recognition all
ask `admit` for a place; answers to what a member said or did (a check-in reply, a command's answer,
the kind word after a leader changed their goal) are not initiatives and never count.

The rules, per member and local day of the group:
- at most handlers.routine.DAILY notes, the most useful first (`Kind`: lower is more useful). The
  kinds in FIRST_PLACE_ONLY only take the day's first place, so a later, more useful note (an evening
  streak reminder after a weekend nudge) still has room;
- none in quiet hours, none to a member with 免打扰;
- what does not fit is dropped, not queued for later: a nudge that comes late is noise.

The places are taken in workers/lua/initiative.lua, keyed by the note's outbound id: a retried slot
asks again with the same ids, is admitted again, and the outbox sends each id once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import datetime, timezone

import redis

from config.settings import Group, Settings
from handlers.calendar import quiet_at
from handlers.routine import Kind, ceiling
from workers import keys, register, scripts

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Note:
    kind: Kind
    userid: str
    msg: dict  # the outbound message (handlers.messages), to this member only


def local_day(group: Group, ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).astimezone(group.tz).date().isoformat()


def admit(
    r: redis.Redis,
    settings: Settings,
    group: Group,
    notes: Iterable[Note],
    ts: float,
    muted: AbstractSet[str] | None = None,
) -> list[dict]:
    """The messages of `notes` that fit their members' budgets at instant `ts`, the most useful
    first; the rest are dropped (logged). `muted`: the group's 免打扰 members, when the caller has
    read them already."""
    notes = sorted(notes, key=lambda n: (n.kind, n.userid, n.msg["id"]))
    if not notes:
        return []
    if quiet_at(ts, group.tz, settings.quiet_hours):
        log.info("%s: %d private note(s) of the bot's own dropped in quiet hours", group.key, len(notes))
        return []
    if muted is None:
        muted = register.flagged(register.prefs(r, group.key), "mute")
    wanted = [n for n in notes if n.userid not in muted]
    if not wanted:
        return []
    day = local_day(group, ts)
    take = scripts.script("initiative", r)
    with r.pipeline(transaction=False) as p:
        for n in wanted:
            take(
                keys=[keys.initiative(n.userid, day)],
                args=[n.msg["id"], ceiling(n.kind), keys.INITIATIVE_TTL],
                client=p,
            )
        answers = p.execute()
    admitted = [n.msg for n, ok in zip(wanted, answers, strict=True) if int(ok)]
    if len(admitted) < len(wanted):
        log.info(
            "%s: %d private note(s) over the members' daily budget dropped", group.key, len(wanted) - len(admitted)
        )
    return admitted


def spent(r: redis.Redis, userid: str, day_iso: str) -> list[str]:
    """The ids of the notes `userid` got on `day_iso` (for `wecom-bot` and the tests)."""
    return sorted(k.decode() if isinstance(k, bytes) else str(k) for k in r.hkeys(keys.initiative(userid, day_iso)))
