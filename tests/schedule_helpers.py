"""Helpers for tests/test_schedule.py: group configuration, check-ins written the way the ingest
worker writes them (its own Lua script), local instants, and a capture of every outbound post."""

from __future__ import annotations

import json
import threading
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from handlers.calendar import day_index
from workers import keys, scripts, streams

NAMES = {"xiaolu": "小鹿", "aqing": "阿青", "momo": "Momo", "tingting": "婷婷", "aqiang": "阿强"}


def group_env(key: str = "xhs01", chat: str = "chat-xhs01", leaders: str = "lily", members=NAMES, **extra) -> dict:
    p = f"GROUP_{key.upper()}_"
    out = {
        "BOT_GROUPS": key,
        p + "CHAT_ID": chat,
        p + "NAME": "小红书一组",
        p + "LEADERS": leaders,
        p + "MEMBERS": ",".join(members),
    }
    for k, v in extra.items():
        out[p + k.upper()] = v
    return out


def name_members(r, group: str, names: dict[str, str] = NAMES) -> None:
    r.hset(keys.names(group), mapping=names)


def goals_answered(r, group: str, userids) -> None:
    """As if each member had answered the private goal question long ago (workers/routine.py asks
    nothing more): for the tests of other parts of the rhythm."""
    r.hset(keys.goal_ask(group), mapping={uid: "done:0" for uid in userids})


def checkin(r, settings, group: str, userid: str, day: int | date, links: str = "", msgid: str | None = None) -> int:
    """Count one check-in exactly as workers.ingest does (the checkin.lua script). Returns its status."""
    if isinstance(day, date):
        day = day_index(day)
    g = settings.groups[group]
    base = (day_index(g.camp_start) - 7) if g.camp_start else day - 35
    msgid = msgid or f"t-{group}-{userid}-{day}"
    status, *_ = scripts.script("checkin", r)(
        keys=[
            keys.effect(msgid, group, userid),
            keys.days(group, userid),
            keys.base(group),
            keys.names(group),
            keys.off(group, userid),
            keys.links(group, day),
            keys.goals(group, userid),
        ],
        args=[day, base, userid, "", links, 3600],
    )
    return int(status)


def local_ts(tz: str, y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0, fold: int = 0) -> float:
    return datetime(y, mo, d, h, mi, s, tzinfo=ZoneInfo(tz), fold=fold).timestamp()


def minutes(start: float, end: float, step_minutes: int = 1):
    t = start
    while t <= end:
        yield t
        t += step_minutes * 60


class Capture:
    """Every message handed to workers.outbound.post (before its dedupe), in order."""

    def __init__(self):
        self.lock = threading.Lock()
        self.msgs: list[dict] = []

    def add(self, msg: dict) -> None:
        with self.lock:
            self.msgs.append(json.loads(json.dumps(msg)))

    def group_posts(self, slot: str | None = None, group: str | None = None) -> list[dict]:
        return [
            m
            for m in self.msgs
            if m["to"] == "group"
            and (slot is None or f":{slot}:" in m["id"])
            and (group is None or m["group"] == group)
        ]

    def private(self, user: str | None = None, slot: str | None = None) -> list[dict]:
        return [
            m
            for m in self.msgs
            if m["to"] == "user" and (user is None or user in m["users"]) and (slot is None or f":{slot}:" in m["id"])
        ]

    def ids(self) -> list[str]:
        return [m["id"] for m in self.msgs]

    def clear(self) -> None:
        with self.lock:
            self.msgs.clear()


def capture_outbound(monkeypatch) -> Capture:
    """Record every message handed to workers.outbound (before its dedupe), still posting it for
    real; the outbox is not drained (no wake-up of a drain job)."""
    from workers import outbound

    cap = Capture()
    real, real_many = outbound.post, outbound.post_many

    def post(rr, msg):
        cap.add(msg)
        return real(rr, msg)

    def post_many(rr, msgs):  # pipelined: more than one message does not go through post()
        msgs = list(msgs)
        if len(msgs) > 1:
            for m in msgs:
                cap.add(m)
        return real_many(rr, msgs)

    monkeypatch.setattr(outbound, "post", post)
    monkeypatch.setattr(outbound, "post_many", post_many)
    monkeypatch.setattr(streams, "wake_drain", lambda stream: None)
    return cap


def outbox_ids(r) -> list[str]:
    """The ids of the entries waiting in the outbox stream (parts `#n` folded into their message)."""
    out = []
    for _id, fields in r.xrange(streams.OUTBOX.key):
        payload = json.loads(fields[b"p"])
        out.append(payload["id"].split("#")[0])
    return out


def days_between(a: date, b: date):
    d = a
    while d <= b:
        yield d
        d += timedelta(days=1)
