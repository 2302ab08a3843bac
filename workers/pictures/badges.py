"""勋章: a small badge picture after the text of a streak milestone, a new personal best or 本周之星.

At most one badge a member and local day (keys.badge_day, claimed in workers/lua/badge_claim.lua and
keyed by the decision: a check-in's msgid, or the weekly slot's id). The same decision asked again is
granted again and builds the same message id, so a retry re-sends that id and the outbox sends it once.

- A check-in's milestone (workers.replies.PraiseBook): `candidate()` while wording the reply, then
  `claim()` in the batch's one flush round trip; the badge waits in keys.BADGE_PENDING for the next
  minute tick (`send_pending`, from workers.replies.flush_all_replies). It so comes after its text
  reply whichever way that went (on its own, or gathered), and is never drawn on the reply's path.
- The week's stars (workers.weekly): `star()` right after the private word of recognition.

Where it goes: in the group only when the reply was in the group, the member is not 不公开, and the
group's robot (or appchat chat) keeps room beyond what check-in replies and scheduled posts need
(BOT_REPLY_RESERVE plus ROOM, workers/lua/badge_room.lua); else privately to the member, except to a
member with 免打扰 (who gets it in the group, or not at all). A 不公开 member's badge never goes to
the group: their name is never in a picture the group sees.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass

import redis

from config.settings import Group, Settings
from handlers import messages
from handlers.calendar import day_date
from handlers.messages import Message
from workers import keys, outbound, register, scripts
from workers.connection import as_text
from workers.pictures import charts, fonts
from workers.pictures.model import Badge
from workers.pictures.send import render_once

log = logging.getLogger(__name__)

STREAK, BEST, STAR = "streak", "best", "star"  # handlers.praise's STREAK/BEST kinds, and 本周之星
ROOM = 5  # sends of the robot's minute a group badge leaves to check-in replies, beyond the reserve
PER_TICK = 50  # badges drawn and queued by one tick at most (the rest wait a minute)
WINDOW = 61.0  # the robot's minute, as workers.outbound counts it


@dataclass(frozen=True)
class Candidate:
    """A badge a check-in earned (not yet claimed): what the tick needs to draw and route it."""

    group: str
    userid: str
    name: str
    kind: str  # STREAK / BEST
    n: int  # the streak
    prev: int  # the record beaten (BEST)
    day: str  # the member's local day, ISO
    msgid: str  # the check-in's message: the decision
    to: str  # where its text reply went: "group" or "user"

    @property
    def id(self) -> str:
        return message_id(self.group, self.userid, self.msgid)


def message_id(group: str, userid: str, decision: str) -> str:
    """The badge's outbound id (also its picture's render id): fixed by the decision."""
    return f"badge:{group}:{userid}:{decision}"


def enabled(settings: Settings) -> bool:
    return fonts.find_font(settings.font_path) is not None


def words(kind: str, name: str, n: int, prev: int = 0, goal: int = 0) -> Badge:
    """What the badge says (zh-CN, short)."""
    if kind == BEST:
        return Badge(f"新纪录 {n} 天", name, f"超过了之前最好的 {prev} 天，了不起")
    if kind == STAR:
        return Badge("本周之星", name, f"本周打卡 {n}/{goal} 天，说到做到")
    return Badge(f"连续打卡 {n} 天", name, "坚持的样子真好看，继续加油")


def candidate(
    group: str, userid: str, name: str, kind: str, n: int, prev: int, day: int, msgid: str, to: str
) -> Candidate | None:
    """The badge a check-in's milestone of `kind` (handlers.praise) earns, or None for no badge."""
    if kind not in (STREAK, BEST):
        return None
    return Candidate(group, userid, name, kind, n, prev, day_date(day).isoformat(), msgid, to)


def claim(r: redis.Redis, candidates: list[Candidate], client=None) -> None:
    """Claim each candidate's badge day and queue the badge of each new claim for the next tick, on
    `client` (the caller's pipeline) when given: one round trip with the batch's other writes."""
    run = scripts.script("badge_claim", r)
    for c in candidates:
        entry = json.dumps(asdict(c), ensure_ascii=False, separators=(",", ":"))
        run(
            keys=[keys.badge_day(c.group, c.userid, c.day), keys.BADGE_PENDING],
            args=[c.msgid, keys.BADGE_DAY_TTL, entry, keys.BADGE_QUEUE_TTL],
            client=client or r,
        )


def _in_group(r: redis.Redis, settings: Settings, group: str, badge_id: str, now: float) -> bool:
    ch = outbound.channel_of({"to": "group", "group": group}, settings)
    if not ch.rate_keys:  # no robot nor appchat chat of its own: nowhere to count the room
        return False
    allowed = ch.limit - settings.reply_reserve - ROOM
    if allowed <= 0:
        return False
    room = scripts.script("badge_room", r)
    return bool(
        room(keys=[keys.replies_recent(group), *ch.rate_keys], args=[repr(now), WINDOW, allowed, badge_id], client=r)
    )


def _message(
    r: redis.Redis, settings: Settings, c: Candidate, font: str, hidden: set[str], muted: set[str], now: float
) -> Message | None:
    group = settings.group(c.group)
    if group is None:
        return None
    public = c.to == "group" and c.userid not in hidden
    if public and _in_group(r, settings, c.group, c.id, now):
        key = render_once(r, c.id, lambda: charts.render_badge(words(c.kind, c.name, c.n, c.prev), font))
        return messages.image_to_group(c.id, c.group, key, "badge.png") if key else None
    if c.userid in muted:
        log.info("%s: %s's badge stays out of the group and they chose 免打扰: not sent", c.group, c.userid)
        return None
    key = render_once(r, c.id, lambda: charts.render_badge(words(c.kind, c.name, c.n, c.prev), font))
    return messages.image_to_users(c.id, [c.userid], key, "badge.png") if key else None


def send_pending(r: redis.Redis, settings: Settings, now: float | None = None) -> int:
    """The minute tick: draw and queue the badges claimed since the last one (at most PER_TICK).
    A retried tick takes the same batch again and queues the same ids (sent once)."""
    raw = scripts.script("badge_take", r)(
        keys=[keys.BADGE_SENDING, keys.BADGE_PENDING], args=[PER_TICK, keys.BADGE_QUEUE_TTL], client=r
    )
    if not raw:
        return 0
    now = time.time() if now is None else now  # the robot's minute is kept in real time (workers.outbound)
    try:
        items = [Candidate(**i) for i in json.loads(raw)]
    except (TypeError, ValueError):
        log.error("unreadable waiting badges dropped")
        items = []
    font = fonts.font_or_log(settings.font_path)
    out: list[Message] = []
    prefs: dict[str, dict[str, str]] = {}
    for c in items:
        if font is None:  # pictures turned off since the claim: the batch is dropped
            break
        try:
            if c.group not in prefs:
                prefs[c.group] = register.prefs(r, c.group)
            flags = prefs[c.group]
            msg = _message(
                r, settings, c, font, register.flagged(flags, "private"), register.flagged(flags, "mute"), now
            )
        except Exception:  # a badge is a bonus: never holds the others back
            log.exception("could not draw the badge %s", c.id)
            continue
        if msg:
            out.append(msg)
    if out:
        outbound.post_many(r, out)
    scripts.script("out_cad", r)(keys=[keys.BADGE_SENDING], args=[as_text(raw)], client=r)
    return len(out)


def star(
    r: redis.Redis, settings: Settings, group: Group, userid: str, name: str, n: int, goal: int, base_id: str, day: int
) -> list[Message]:
    """本周之星's badge, privately, after the word of recognition of the weekly slot `base_id`; within
    the member's one badge of the local day `day`."""
    font = fonts.font_or_log(settings.font_path)
    if font is None:
        return []
    msg_id = message_id(group.key, userid, base_id)
    run = scripts.script("badge_claim", r)
    mine = run(
        keys=[keys.badge_day(group.key, userid, day_date(day).isoformat()), keys.BADGE_PENDING],
        args=[base_id, keys.BADGE_DAY_TTL, "", keys.BADGE_QUEUE_TTL],
        client=r,
    )
    if not int(mine):
        return []
    try:
        key = render_once(r, msg_id, lambda: charts.render_badge(words(STAR, name, n, goal=goal), font))
    except Exception:
        log.exception("could not draw the badge %s", msg_id)
        return []
    return [messages.image_to_users(msg_id, [userid], key, "badge.png")] if key else []
