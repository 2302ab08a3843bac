"""The instant answer to a check-in: its words and praise, and how it reaches the group.

- `PraiseBook` words the replies of one inbox batch with their milestone (handlers.praise) and
  keeps the last template per member (keys.praise_last), read and written in one round trip each;
  `checkin_reply(...)` words one reply on its own.
- `route_replies(...)` posts each group reply on its own or, when the group's robot is close to its
  20 messages a minute (keeping `reserve(settings)` sends for everything else), gathers it
  (keys.reply_buffer) into one message that the next tick posts (`flush_all_replies`). The choice is
  kept per message (keys.reply_route), so a message processed again goes the same way.
- A streak milestone or a new personal best also earns a badge picture (勋章, workers/pictures/badges.py):
  claimed in `PraiseBook.flush`'s round trip, drawn and queued by the next minute tick
  (`flush_all_replies`), after the reply.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time

import redis

from config.settings import Settings
from handlers import messages, praise, texts
from handlers.calendar import week_start
from handlers.router import Checkin
from handlers.streaks import DayBits, leave_goal, unavailable_days
from handlers.texts import ANONYMOUS
from workers import keys, outbound, register, scripts
from workers.connection import as_text
from workers.pictures import badges

log = logging.getLogger(__name__)

WINDOW = 61.0  # the robot's minute, as workers.outbound counts it


def reserve(settings: Settings) -> int:
    """Sends of the robot's minute that check-in replies leave to scheduled posts (BOT_REPLY_RESERVE)."""
    return settings.reply_reserve


# --- wording -----------------------------------------------------------------------------------------


class PraiseBook:
    """The praise of one inbox batch: every member's last template (keys.praise_last) read in one
    round trip, the choices written back in one, so that wording a batch's replies costs no Redis
    call per message. A member with two check-ins in one batch sees the first choice at once."""

    def __init__(self, r: redis.Redis, settings: Settings, members: list[tuple[str, str]]):
        self.r, self.settings = r, settings
        wanted = sorted(set(members))
        groups = sorted({group for group, _ in wanted})
        self.last: dict[tuple[str, str], str] = {}
        self.writes: dict[tuple[str, str], str] = {}
        # the group's last praise (keys.praise_group_last): the next member gets other words
        self.group_last: dict[str, str] = {}
        self.group_writes: dict[str, str] = {}
        if wanted:
            with r.pipeline(transaction=False) as p:
                for group, uid in wanted:
                    p.hget(keys.praise_last(group), uid)
                for group in groups:
                    p.get(keys.praise_group_last(group))
                found = p.execute()
            self.last = {k: as_text(v) for k, v in zip(wanted, found[: len(wanted)], strict=True) if v is not None}
            self.group_last = {g: as_text(v) for g, v in zip(groups, found[len(wanted) :], strict=True) if v}
        # the badges (勋章) this batch's milestones earned, claimed in `flush`
        self.badges: dict[str, badges.Candidate] = {}
        self.with_badges = badges.enabled(settings)

    def reply(self, action: Checkin, res: dict, msgid: str) -> tuple[str, str]:
        """The instant reply to one check-in and the few words a gathered reply gives it. `res` is
        what checkin.lua returned: the member's days and days off as this check-in left them."""
        rec = res["record"]
        if res["status"] == -1:
            return texts.too_early_reply(action.name), ""
        if res["status"] == 0:
            return texts.already_reply(action.name, rec.streak, rec.week_count, res["goal"]), praise.already_short()
        m = self._milestone(action, res)
        idx = self._choice(action, m.kind, msgid)
        if self.with_badges:
            badge = badges.candidate(
                action.group, action.userid, action.name, m.kind, m.n, m.prev, action.day, msgid, action.reply_to
            )
            if badge is not None:
                self.badges[badge.id] = badge
        text = texts.checkin_reply(
            action.name,
            rec.streak,
            rec.week_count,
            m.goal,
            msgid,
            praise.sentence(m, idx),
            mark_goal=m.kind != praise.GOAL,
        )
        return text, praise.short(m, rec.week_count, m.goal)

    def _milestone(self, action: Checkin, res: dict) -> praise.Milestone:
        """What this check-in reached (a streak, the week's goal, ...), against the goal left after
        the week's days off."""
        rec = res["record"]
        group = self.settings.groups.get(action.group)
        camp = register.camp_days(group) if group else (None, None)
        days, off = res.get("days"), res.get("off") or DayBits(None, action.day)
        if days is not None and action.day not in days:  # not what checkin.lua left: nothing special
            days = None
        goal = leave_goal(res["goal"], len(unavailable_days(off, week_start(action.day), camp)))
        if days is None:
            return praise.Milestone(praise.DAILY, rec.streak, goal=goal)
        return praise.milestone(
            days, off, action.day, rec.streak, rec.total, rec.week_count, goal, self.settings.praise_streaks
        )

    def _choice(self, action: Checkin, kind: str, msgid: str) -> int:
        """The template of `kind` for this message: the same one again for the same message, else
        one neither the member nor the group read last time (recorded for `flush`)."""
        key = (action.group, action.userid)
        last_msgid, _, last_choice = self.last.get(key, "").rpartition("|")
        if last_msgid == msgid and last_choice.startswith(kind + ":"):
            try:
                return int(last_choice.split(":", 1)[1])  # the same message again: the same words
            except ValueError:
                pass
        group_choice = self.group_last.get(action.group, "").rpartition("|")[2]
        idx = praise.choose(kind, msgid, last_choice or None, group_choice or None)
        self.last[key] = self.writes[key] = f"{msgid}|{kind}:{idx}"
        self.group_last[action.group] = self.group_writes[action.group] = self.last[key]
        return idx

    def flush(self) -> None:
        """Write the praise chosen and claim the badges earned, in one round trip."""
        if self.writes or self.group_writes or self.badges:
            with self.r.pipeline(transaction=False) as p:
                for (group, uid), value in self.writes.items():
                    p.hset(keys.praise_last(group), uid, value)
                for group, value in self.group_writes.items():
                    p.set(keys.praise_group_last(group), value, ex=keys.PRAISE_GROUP_TTL)
                badges.claim(self.r, list(self.badges.values()), client=p)
                p.execute()
            self.writes.clear()
            self.group_writes.clear()
            self.badges.clear()


def checkin_reply(r: redis.Redis, settings: Settings, action: Checkin, res: dict, msgid: str) -> tuple[str, str]:
    """One reply on its own (PraiseBook does a batch's): reads the member's days when `res` lacks them."""
    if res.get("status") == 1 and res.get("days") is None:
        with r.pipeline(transaction=False) as p:
            p.get(keys.base(action.group))
            p.get(keys.days(action.group, action.userid))
            p.get(keys.off(action.group, action.userid))
            raw_base, raw_days, raw_off = p.execute()
        base = int(raw_base) if raw_base is not None else action.day
        res = {**res, "days": DayBits(raw_days, base), "off": DayBits(raw_off, base)}
    book = PraiseBook(r, settings, [(action.group, action.userid)])
    out = book.reply(action, res, msgid)
    book.flush()
    return out


# --- routing: on its own, or gathered -----------------------------------------------------------------


def route_replies(r: redis.Redis, settings: Settings, items: list[tuple[dict, str, str, str, str]]) -> list[dict]:
    """Group replies to post now, or gathered while the group's robot is near its limit; `items`:
    (msg, msgid, name, words, userid) in the batch's order ("" userid: a leader's chain naming several),
    routed in one pipelined round trip. The choice is kept per message, so a message processed again
    goes the same way."""
    if not items:
        return []
    route = scripts.script("reply_route", r)
    now = time.time()
    routed: list[bool] = []  # per item: does its fate hang on the script (else: post it)
    with r.pipeline(transaction=False) as p:
        for msg, msgid, name, words, uid in items:
            group = msg["group"]
            ch = outbound.channel_of({"to": "group", "group": group}, settings)
            routed.append(bool(ch.rate_keys))
            if not ch.rate_keys:
                continue
            limit = max(ch.limit - reserve(settings), 1)
            entry = json.dumps(
                {"id": msg["id"], "name": name, "uid": uid, "words": words, "at": round(now, 3)},
                ensure_ascii=False,
                separators=(",", ":"),
            )
            route(
                keys=[
                    keys.reply_route(group, msgid),
                    keys.replies_recent(group),
                    keys.reply_buffer(group),
                    keys.REPLY_GROUPS,
                    *ch.rate_keys,
                ],
                args=[repr(now), WINDOW, limit, msg["id"], entry, keys.REPLY_ROUTE_TTL, group],
                client=p,
            )
        answers = iter(p.execute() if any(routed) else [])
    out = []
    for (msg, *_), via_script in zip(items, routed, strict=True):
        how = next(answers) if via_script else b"post"
        if as_text(how) == "post":
            out.append(msg)
    return out


def gathered_id(group: str, items: list[dict]) -> str:
    digest = hashlib.sha1("|".join(sorted(i["id"] for i in items)).encode()).hexdigest()[:16]
    return f"replies:{group}:{digest}"


def flush_replies(r: redis.Redis, settings: Settings, group: str) -> int:
    """Post the gathered replies of one group as ONE message (ids from the gathered message ids, so
    a retried flush posts nothing twice)."""
    take = scripts.script("reply_take", r)
    batch_key, buf_key = keys.reply_flushing(group), keys.reply_buffer(group)
    raw = take(keys=[batch_key, buf_key, keys.REPLY_GROUPS], args=[group], client=r)
    if not raw:
        return 0
    try:
        items = json.loads(raw)
    except (TypeError, ValueError):
        r.delete(batch_key)
        return 0
    if items and settings.group(group) is not None:
        hidden = register.hidden(r, group)
        # a member who chose 不公开 is not named in a list the group reads, even one answering her own post
        text = praise.gathered(
            [(ANONYMOUS if i.get("uid") in hidden else i.get("name", ""), i.get("words", "")) for i in items]
        )
        outbound.post_many(r, [messages.to_group(gathered_id(group, items), group, text)])
    scripts.script("reply_done", r)(keys=[batch_key, buf_key, keys.REPLY_GROUPS], args=[raw, group], client=r)
    return len(items)


def flush_all_replies(r: redis.Redis, settings: Settings) -> int:
    """The minute tick: post every group's gathered replies (the robot's minute has passed, or it has
    room again; either way it is one message), then the badges the last minute's milestones earned
    (after their replies). Returns the gathered replies posted."""
    n = 0
    for raw in r.smembers(keys.REPLY_GROUPS):
        group = as_text(raw)
        try:
            n += flush_replies(r, settings, group)
        except Exception:
            log.exception("could not post the gathered replies of group %s", group)
    try:
        sent = badges.send_pending(r, settings, time.time())  # the robot's minute, as route_replies counts it
        if sent:
            log.info("%d badge picture(s) queued", sent)
    except Exception:  # the batch stays taken: the next tick queues it (same ids)
        log.exception("could not queue the waiting badges")
    return n
