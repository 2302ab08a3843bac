"""The outbox: every message the bot sends goes through here, exactly once, within WeCom's limits.

An outbound message is a JSON dict:

    {"id": "reply:<msgid>" | "slot:xhs01:chain:2026-11-24" | ...,   idempotency key
     "to": "group" | "user",
     "group": "xhs01",                         for "group"
     "users": ["zhangsan", ...],               for "user"
     "msgtype": "text" | "markdown" | "file" | "image",
     "content": "...",
     "mentions": [["zhangsan", "张三"], ...],  group posts: who to @
     "file": {"path": "...", "name": "..."},  msgtype file
     "image": {"key": "wb:pic:...", "name": "..."},  msgtype image: PNG bytes cached in Redis (workers.pictures)
     "aibot": "<msgid>",                       answers that AI-bot post (optional)
     "not_before": unix ts (optional), "created": unix ts}

`post(r, msg)` enqueues it once per id (a second post of the same id is a no-op for 7 days).
Content over WeCom's byte limit is split on line boundaries into parts `<id>#1`, `<id>#2`, ...
(mentions on the first). Routing is decided at send time from the settings: a group goes to its
robot's webhook if it has a key, else to appchat/send; a user list to the app's message/send. The
webhook key is never written to Redis or to a job argument. A group post answering an AI-bot post
carries `"aibot": <that post's msgid>`: without a robot it goes through the post's response_url
(workers/aibot.py keeps the URL in Redis apart from the message; its channel `aibot:<group>` has no
rate window, each URL answering once), with one through the robot as any group post.

`drain_outbox()` (the RQ job the stream wakes) moves due delayed messages back into the stream and
sends a batch concurrently (one thread per channel, so sends to one robot keep their order).
Per message, `wb:out:state:<id>` (queued / sending / retry / sent / failed, attempts, unknown)
makes a re-delivered entry that was already sent a no-op.

Rate limits (shared by all processes, Lua sliding windows): 20 a minute per robot (and per appchat
chat), 30 a minute per user for app messages. A message over the limit is delayed, not failed: it
reserves the earliest time it fits and waits in the sorted set `wb:out:delayed`.
`robot_capacity(r, group)` tells callers how many more fit this minute.

Retries: a send that failed for certain (45009, -1, HTTP 5xx, connection refused) backs off 2, 8,
30, 120 s, 5 attempts in all; a timeout (outcome unknown) is retried exactly once and counted
(`sends_unknown`); anything else, or retries exhausted, lands in the failed registry `wb:out:failed`
(`failed_list`, `resend_failed`): never dropped silently. A revoked robot key (93000), another
configuration error, or 10 failures in a row on one channel alert BOT_ADMINS once per problem a day.

Time: every function that looks at the clock takes an optional `now`, so tests and the demo can
run the outbox forward without sleeping. In inline mode (workers.jobs.set_inline) drain_outbox
never sleeps; call pump_delayed()/process_outbox() to move delayed messages along.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import redis

from config.settings import Settings, get_settings
from handlers.messages import RENDER
from workers import jobs, keys, scripts, streams
from workers.connection import get_redis
from workers.sender import (
    CONFIG_ERRCODES,
    MEDIA_TYPES,
    Outcome,
    Sender,
    byte_limit,
    default_sender,
    mention_prefix,
    message_route,
    scrub,
)

log = logging.getLogger(__name__)

FAILED_MAX = 10_000  # the failed registry keeps the newest; older entries are dropped and counted

BACKOFF = (2, 8, 30, 120)
MAX_ATTEMPTS = 5
ROBOT_PER_MINUTE = 20
CHAT_PER_MINUTE = 20
USER_PER_MINUTE = 30
WINDOW = 61.0  # one minute plus a second of safety against clock skew
RESERVATION_GRACE = 5.0  # a reservation used later than this is given up and taken again
THREADS = 32
SLEEP_HORIZON = 15.0
MAX_JOB_SECONDS = 600.0
STALE_SENDING = 45.0  # longer than any one attempt, shorter than streams.RECLAIM_IDLE_MS
FAILURE_RUN = 10
PUMP_BATCH = 1000

MSGTYPES = ("text", "markdown", "file", "image")


def _dumps(obj) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def _s(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


# -- splitting ---------------------------------------------------------------------------------------
def split_text(text: str, limit: int, first_limit: int | None = None) -> list[str]:
    """Split text into chunks of at most `limit` UTF-8 bytes (the first at most `first_limit`),
    on line boundaries; a single line longer than a chunk is cut between characters."""
    first_limit = limit if first_limit is None else first_limit
    if len(text.encode()) <= first_limit:
        return [text]
    chunks: list[str] = []
    current: list[str] = []
    size = 0

    def budget() -> int:
        return first_limit if not chunks else limit

    def flush() -> None:
        nonlocal current, size
        if current:
            chunks.append("\n".join(current))
        current, size = [], 0

    for line in text.split("\n"):
        n = len(line.encode())
        extra = n + (1 if current else 0)
        if current and size + extra <= budget():
            current.append(line)
            size += extra
            continue
        flush()
        # A chunk never starts with a blank line, so no chunk is only whitespace.
        if not line.strip():
            continue
        while n > budget():
            cut, used = 0, 0
            for ch in line:
                b = len(ch.encode())
                if used + b > budget():
                    break
                cut += 1
                used += b
            if line[:cut].strip():
                chunks.append(line[:cut])
            line = line[cut:]
            n = len(line.encode())
        current, size = ([line], n) if line.strip() else ([], 0)
    flush()
    return chunks or [text.strip()[:1] or "-"]


def parts_of(msg: dict, settings: Settings | None = None) -> list[dict]:
    """The message as it will be queued: itself, or parts `<id>#1..n` that each fit the limit
    (room is kept in the first part for the @-prefix whichever route the group takes)."""
    if msg.get("msgtype", "text") in MEDIA_TYPES:
        return [msg]
    settings = settings or get_settings()
    content = msg.get("content") or ""
    msgtype = msg.get("msgtype", "text")
    if msg.get("to") == "user":
        limit, reserve = byte_limit("app", msgtype), 0
    else:
        route, _ = message_route(settings, msg)
        limit = byte_limit(route if route != "none" else "appchat", msgtype)
        reserve = max(len(mention_prefix(rt, msgtype, msg.get("mentions")).encode()) for rt in ("robot", "appchat"))
    if len(content.encode()) + reserve <= limit:
        return [msg]
    chunks = split_text(content, limit, max(64, limit - reserve))
    if len(chunks) == 1:
        return [msg]
    parts = []
    for i, chunk in enumerate(chunks, 1):
        part = dict(msg, id=f"{msg['id']}#{i}", content=chunk, part=i, parts=len(chunks))
        if i > 1:
            part["mentions"] = []
        parts.append(part)
    return parts


# -- posting -----------------------------------------------------------------------------------------
def post(r: redis.Redis | None, msg: dict) -> bool:
    """Queue one outbound message, idempotently: False when its id was posted already."""
    return _post(r or get_redis(), msg, wake=True)


def post_many(r: redis.Redis | None, msgs) -> int:
    """post() many messages in one round trip; returns how many were new. Order is kept, and one
    drain is woken at most. Pictures still to draw (handlers.messages.picture_request) go to a
    low-priority job once the rest are posted: drawing never holds up a reply, and the picture
    comes after its text."""
    r = r or get_redis()
    msgs = list(msgs)
    pictures = [m for m in msgs if m.get("to") == RENDER]
    if pictures:
        msgs = [m for m in msgs if m.get("to") != RENDER]
        posted = post_many(r, msgs)
        for m in pictures:
            jobs.enqueue("default", "workers.pictures.send.render_job", m["render"], m["users"][0], m["args"])
        return posted
    if len(msgs) <= 1:
        return sum(1 for m in msgs if post(r, m))
    now = time.time()
    with r.pipeline(transaction=False) as p:
        for m in msgs:
            _post_call(r, m, wake=True, now=now, client=p)
        results = p.execute()
    if any(int(must_wake) for _, must_wake in results):
        streams.wake_drain(streams.OUTBOX)
    return sum(int(added) for added, _ in results)


def _validate(msg: dict) -> None:
    if not isinstance(msg.get("id"), str) or not msg["id"]:
        raise ValueError("outbound message needs a string id")
    if msg.get("to") not in ("group", "user"):
        raise ValueError(f"outbound {msg['id']}: 'to' must be 'group' or 'user'")
    if msg.get("to") == "group" and not msg.get("group"):
        raise ValueError(f"outbound {msg['id']}: a group post needs 'group'")
    if msg.get("to") == "user" and not msg.get("users"):
        raise ValueError(f"outbound {msg['id']}: a private message needs 'users'")
    if msg.get("msgtype", "text") not in MSGTYPES:
        raise ValueError(f"outbound {msg['id']}: msgtype must be one of {MSGTYPES}")
    if msg.get("msgtype") == "file" and not (msg.get("file") or {}).get("path"):
        raise ValueError(f"outbound {msg['id']}: a file message needs file.path")
    if msg.get("msgtype") == "image" and not (msg.get("image") or {}).get("key"):
        raise ValueError(f"outbound {msg['id']}: an image message needs image.key (its bytes in Redis)")


def _post(r: redis.Redis, msg: dict, wake: bool, remove_failed: str = "", now: float | None = None) -> bool:
    added, must_wake = _post_call(r, msg, wake, remove_failed, now)
    if must_wake and wake:
        streams.wake_drain(streams.OUTBOX)
    return bool(added)


def _post_call(r: redis.Redis, msg: dict, wake: bool, remove_failed: str = "", now: float | None = None, client=None):
    """Run the out_post script for one message (on `client`, a pipeline, when given)."""
    _validate(msg)
    now = time.time() if now is None else now
    msg = dict(msg)
    msg.setdefault("msgtype", "text")
    msg.setdefault("created", now)
    if msg["to"] == "user":
        msg["users"] = list(dict.fromkeys(u for u in msg["users"] if u))
    parts = parts_of(msg)
    not_before = float(msg.get("not_before") or 0)
    args: list[str | int] = [
        keys.OUT_SEEN_TTL,
        keys.STREAM_WAKE_TTL if wake else 0,
        keys.OUT_STATE_TTL,
        repr(now),
        remove_failed,
        len(parts),
    ]
    for part in parts:
        args += [repr(not_before) if not_before > now else "", _dumps(part)]
    log.debug("queueing outbound %s (%d part%s)", msg["id"], len(parts), "" if len(parts) == 1 else "s")
    return scripts.script("out_post", r)(
        keys=[
            streams.OUTBOX.key,
            streams.OUTBOX.wake_key,
            keys.out_seen(msg["id"]),
            keys.OUT_DELAYED,
            keys.OUT_FAILED,
            keys.OUT_SEQ,
        ]
        + [keys.out_state(p["id"]) for p in parts],
        args=args,
        client=client,
    )


def _member(r: redis.Redis, msg: dict) -> str:
    """The delayed set's member: a fresh sequence number first, so that messages due at the same
    moment come back in the order they were put off."""
    return f"{r.incr(keys.OUT_SEQ):012d}:{_dumps(msg)}"


def _delay(r: redis.Redis, msg: dict, due: float) -> None:
    r.zadd(keys.OUT_DELAYED, {_member(r, msg): due})


# -- channels and rate limits ------------------------------------------------------------------------
@dataclass(frozen=True)
class Channel:
    name: str  # groups a batch: one thread, in order
    alert: str  # what an admin alert calls it (no secrets)
    rate_keys: tuple[str, ...]
    limit: int


def channel_of(msg: dict, settings: Settings) -> Channel:
    if msg.get("to") == "user":
        users = sorted(set(msg.get("users") or []))
        return Channel("app:" + ",".join(users), "app", tuple(keys.rate_user(u) for u in users), USER_PER_MINUTE)
    group = (msg.get("group") or "").lower()
    route, target = message_route(settings, msg)
    if route == "aibot":  # each response_url answers once: no shared window to keep
        return Channel(f"aibot:{group}", f"aibot:{group}", (), 0)
    if route == "robot":
        h = hashlib.sha256(target.encode()).hexdigest()[:16]
        return Channel(f"robot:{h}", f"robot:{group}", (keys.rate_robot(h),), ROBOT_PER_MINUTE)
    if route == "appchat":
        return Channel(f"appchat:{target}", f"appchat:{group}", (keys.rate_chat(target),), CHAT_PER_MINUTE)
    return Channel(f"none:{group}", f"none:{group}", (), 0)


def robot_capacity(r: redis.Redis | None, group: str, now: float | None = None) -> int:
    """How many more messages the group's robot (or appchat chat) takes this minute."""
    r = r or get_redis()
    ch = channel_of({"to": "group", "group": group}, get_settings())
    if not ch.rate_keys:
        return 0
    now = time.time() if now is None else now
    used = max(r.zcount(k, now - WINDOW, "+inf") for k in ch.rate_keys)
    return max(0, ch.limit - used)


# -- sending a batch ---------------------------------------------------------------------------------
def _handle_batch(r: redis.Redis, settings: Settings, sender: Sender, entries, clock) -> list[str]:
    channels: dict[str, list] = {}
    for entry_id, msg in entries:
        try:
            name = "corrupt" if msg.get("_corrupt") or not msg.get("id") else channel_of(msg, settings).name
        except Exception:  # a malformed message must not stop the batch
            name = "corrupt"
        channels.setdefault(name, []).append((entry_id, msg))
    groups = list(channels.values())
    if len(groups) == 1:
        return _run_channel(r, settings, sender, groups[0], clock)
    finished: list[str] = []
    with ThreadPoolExecutor(max_workers=min(THREADS, len(groups)), thread_name_prefix="outbox") as pool:
        for done in pool.map(lambda items: _run_channel(r, settings, sender, items, clock), groups):
            finished += done
    return finished


def _run_channel(r, settings, sender, items, clock) -> list[str]:
    """One channel's messages in order. A message that must wait for a retry holds the rest of
    this channel's batch behind it, so that they keep their order."""
    finished: list[str] = []
    hold: float | None = None
    for entry_id, msg in items:
        try:
            if hold is not None and not _done(r, msg):
                _delay(r, msg, hold)
            else:
                due = _handle_one(r, settings, sender, msg, clock)
                if due is not None:
                    hold = due
        except Exception as exc:  # leave this and the rest pending: reclaimed later
            log.error("outbound %s: %s: %s; left pending", msg.get("id"), type(exc).__name__, scrub(str(exc))[:300])
            break
        finished.append(entry_id)
    return finished


def _take(r: redis.Redis, settings: Settings, ch: Channel, msg: dict, now: float) -> tuple[str, int, int, str, str]:
    """One round trip (workers/lua/out_take.lua): the message's state, the channel's rate window
    (none in dry-run) and the claim. (verdict, attempts, unknown, due, reservation)."""
    mid = msg["id"]
    rate_keys = list(ch.rate_keys) if not settings.dry_run else []
    verdict, attempts, unknown, due, member = scripts.script("out_take", r)(
        keys=[keys.out_state(mid), *rate_keys],
        args=[
            repr(now),
            STALE_SENDING,
            keys.OUT_STATE_TTL,
            WINDOW,
            ch.limit,
            msg.get("_rsv") or "",
            f"{mid}|{uuid.uuid4().hex[:8]}",
            RESERVATION_GRACE,
        ],
    )
    return _s(verdict), int(attempts), int(unknown), _s(due), _s(member)


def _done(r: redis.Redis, msg: dict) -> bool:
    status = r.hget(keys.out_state(msg.get("id") or ""), "status")
    return status in (b"sent", b"failed")


def _handle_one(r, settings: Settings, sender: Sender, msg: dict, clock) -> float | None:
    """Send one message (or delay it). Returns a due time when it waits for a retry."""
    mid = msg.get("id")
    if msg.get("_corrupt") or not isinstance(mid, str) or not mid:
        _register_failed(
            r,
            {"id": f"corrupt:{uuid.uuid4().hex[:12]}", "raw": msg},
            Outcome("fatal", error="corrupt outbox entry"),
            0,
            clock(),
        )
        return None
    now = clock()
    not_before = float(msg.get("not_before") or 0)
    if not_before > now:
        if _done(r, msg):
            return None
        _delay(r, msg, not_before)
        return None
    ch = channel_of(msg, settings)
    verdict, attempts, unknown, due, member = _take(r, settings, ch, msg, now)
    if verdict in ("sent", "failed", "busy"):
        log.debug("outbound %s %s; skipped", mid, verdict)
        return None
    if verdict == "wait":
        due_at = float(due)
        _delay(r, dict(msg, _rsv=member), due_at)
        r.hincrby(keys.METRICS, "sends_delayed", 1)
        log.info("outbound %s: %s is at its limit; delayed %.0f s", mid, ch.alert, due_at - now)
        return None
    if verdict == "stale":
        outcome = Outcome("unknown", error="a worker stopped while sending it; outcome unknown")
    else:
        outcome = sender.send_once(msg)
    return _record(r, settings, msg, ch, outcome, attempts, unknown, clock(), cut_off=verdict == "stale")


def _record(
    r,
    settings: Settings,
    msg: dict,
    ch: Channel,
    outcome: Outcome,
    attempts: int,
    unknown: int,
    now: float,
    cut_off: bool = False,
) -> float | None:
    """The outcome of an attempt: sent, retried later, or failed. `cut_off`: no attempt was made here, a
    dead worker's was found unfinished - which says nothing of the channel (no failure-run alert)."""
    mid = msg["id"]
    key = keys.out_state(mid)
    msg = {k: v for k, v in msg.items() if k != "_rsv"}
    if outcome.kind == "ok":
        scripts.script("out_sent", r)(
            keys=[key, keys.METRICS, keys.out_streak(ch.alert)],
            args=[
                repr(now),
                keys.OUT_STATE_TTL,
                "sends_dry_run" if outcome.dry_run else "sends_ok",
                int(outcome.dry_run),
            ],
        )
        if not outcome.dry_run:
            log.info("sent %s via %s", mid, ch.alert)
        return None

    if not cut_off:
        _failure_streak(r, settings, msg, ch, now)
    if outcome.errcode in CONFIG_ERRCODES:
        _alert(
            r,
            settings,
            msg,
            ch,
            f"{outcome.errcode}:{ch.alert}",
            f"{ch.alert}: {CONFIG_ERRCODES[outcome.errcode]} (errcode {outcome.errcode}); "
            f"messages to it go to the failed list (wecom-bot failed --resend once fixed)",
            now,
        )

    if outcome.kind == "retry":
        r.hincrby(keys.METRICS, "sends_retry", 1)
        if attempts >= MAX_ATTEMPTS:
            _fail(r, msg, outcome, attempts, now, exhausted=True)
            return None
        due = now + BACKOFF[min(attempts, len(BACKOFF)) - 1]
        _retry_later(r, key, msg, outcome, due, now)
        log.warning("outbound %s attempt %d failed (%s); retry in %.0f s", mid, attempts, outcome.error, due - now)
        return due
    if outcome.kind == "unknown":
        r.hincrby(keys.METRICS, "sends_unknown", 1)
        if unknown >= 1 or attempts >= MAX_ATTEMPTS:
            _fail(r, msg, outcome, attempts, now, exhausted=True)
            return None
        r.hset(key, "unknown", unknown + 1)
        due = now + BACKOFF[0]
        _retry_later(r, key, msg, outcome, due, now)
        log.warning("outbound %s attempt %d: %s; retrying once (it may arrive twice)", mid, attempts, outcome.error)
        return due
    _fail(r, msg, outcome, attempts, now)
    return None


def _retry_later(r, key: str, msg: dict, outcome: Outcome, due: float, now: float) -> None:
    member = _member(r, msg)
    with r.pipeline() as p:
        p.hset(
            key,
            mapping={
                "status": "retry",
                "updated": repr(now),
                "last_error": outcome.error[:300],
                "errcode": "" if outcome.errcode is None else outcome.errcode,
            },
        )
        p.expire(key, keys.OUT_STATE_TTL)
        p.zadd(keys.OUT_DELAYED, {member: due})
        p.execute()


def _fail(r, msg: dict, outcome: Outcome, attempts: int, now: float, exhausted: bool = False) -> None:
    _register_failed(r, msg, outcome, attempts, now)
    with r.pipeline() as p:
        p.hset(
            keys.out_state(msg["id"]),
            mapping={"status": "failed", "updated": repr(now), "last_error": outcome.error[:300]},
        )
        p.expire(keys.out_state(msg["id"]), keys.OUT_STATE_TTL)
        p.execute()
    log.error(
        "outbound %s failed after %d attempt%s%s: %s",
        msg["id"],
        attempts,
        "" if attempts == 1 else "s",
        " (retries exhausted)" if exhausted else "",
        outcome.error,
    )
    return None


def _register_failed(r, msg: dict, outcome: Outcome, attempts: int, now: float) -> None:
    entry = {
        "id": msg["id"],
        "msg": msg,
        "kind": outcome.kind,
        "errcode": outcome.errcode,
        "http_status": outcome.http_status,
        "error": scrub(outcome.error)[:500],
        "attempts": attempts,
        "time": now,
    }
    with r.pipeline() as p:
        p.hset(keys.OUT_FAILED, msg["id"], _dumps(entry))
        p.hincrby(keys.METRICS, "sends_failed", 1)
        p.hlen(keys.OUT_FAILED)
        size = p.execute()[-1]
    if size > FAILED_MAX:
        _trim_failed(r, size - FAILED_MAX + FAILED_MAX // 10)


def _trim_failed(r, drop: int) -> None:
    """Drop the `drop` oldest entries of the failed registry (a tenth more than needed, so this
    whole-registry read happens once per thousand failures, not on each)."""
    oldest = failed_list(r)[:drop]
    if oldest:
        with r.pipeline() as p:
            p.hdel(keys.OUT_FAILED, *[e.get("id") or "" for e in oldest])
            p.hincrby(keys.METRICS, "sends_failed_dropped", len(oldest))
            p.execute()


def _failure_streak(r, settings, msg, ch: Channel, now: float) -> None:
    key = keys.out_streak(ch.alert)
    with r.pipeline() as p:
        p.incr(key)
        p.expire(key, 24 * 3600)
        run, _ = p.execute()
    if run >= FAILURE_RUN:
        _alert(
            r,
            settings,
            msg,
            ch,
            f"run:{ch.alert}",
            f"{ch.alert}: {run} sends failed in a row; see `wecom-bot failed`",
            now,
            generic=True,
        )


def _alert(
    r, settings: Settings, msg: dict, ch: Channel, problem: str, text: str, now: float, generic: bool = False
) -> None:
    """Tell the admins once per problem per day, by private app message through the outbox.
    A generic alert (a run of failures) is left out when the channel had a specific one today."""
    day = datetime.fromtimestamp(now, ZoneInfo(settings.timezone)).strftime("%Y-%m-%d")
    alerted = keys.out_alerted(day)
    if generic and r.sismember(alerted, ch.alert):
        return
    if str(msg.get("id", "")).startswith("alert:"):
        log.error("admin alert %s could not be sent: %s", msg.get("id"), text)
        return
    if not settings.admins:
        log.error("outbound problem (no BOT_ADMINS to tell): %s", text)
        return
    alert = {
        "id": f"alert:{problem}:{day}",
        "to": "user",
        "users": list(settings.admins),
        "msgtype": "text",
        "content": f"【wecom-bot 发送告警】{text}",
        "created": now,
    }
    # No wake: we are inside a drain, whose loop picks the alert up.
    with r.pipeline() as p:
        p.sadd(alerted, ch.alert)
        p.expire(alerted, 2 * 24 * 3600)
        p.execute()
    if _post(r, alert, wake=False, now=now):
        log.error("outbound problem, admins alerted: %s", text)


# -- the jobs ----------------------------------------------------------------------------------------
def pump_delayed(r: redis.Redis | None = None, now: float | None = None) -> int:
    """Move delayed messages that are due into the stream and wake a drain. The minute tick calls it."""
    r = r or get_redis()
    moved = _pump(r, now, wake=True)
    return moved


def _pump(r: redis.Redis, now: float | None, wake: bool) -> int:
    now = time.time() if now is None else now
    total = 0
    while True:
        moved, must_wake = scripts.script("out_pump", r)(
            keys=[keys.OUT_DELAYED, streams.OUTBOX.key, streams.OUTBOX.wake_key],
            args=[repr(now), PUMP_BATCH, keys.STREAM_WAKE_TTL if wake else 0],
        )
        total += int(moved)
        if int(must_wake) and wake:
            streams.wake_drain(streams.OUTBOX)
        if int(moved) < PUMP_BATCH:
            return total


def next_due(r: redis.Redis) -> float | None:
    first = r.zrange(keys.OUT_DELAYED, 0, 0, withscores=True)
    return float(first[0][1]) if first else None


def handle_entries(entries: list[tuple[str, dict]]) -> list[str]:
    """The outbox's stream handler (for streams.drain / streams.reclaim): sends or delays each
    entry and returns the ids that are finished."""
    r = get_redis()
    return _handle_batch(r, get_settings(), default_sender(), entries, time.time)


def process_outbox(r: redis.Redis | None = None, now: float | None = None, sender: Sender | None = None) -> int:
    """One pass without sleeping: pump what is due, then drain the stream. Returns entries finished.
    `now` fixes the clock for the pass (tests, demo); default the real time."""
    r = r or get_redis()
    settings = get_settings()
    sender = sender or default_sender()
    _pump(r, now, wake=False)
    clock = (lambda: now) if now is not None else time.time
    return streams.drain(r, streams.OUTBOX, lambda entries: _handle_batch(r, settings, sender, entries, clock))


def drain_outbox() -> None:
    """The RQ job: send what is queued; wait for delayed messages due within 15 s, else leave them
    to the minute tick's pump_delayed()."""
    r = get_redis()
    started = time.monotonic()
    while True:
        process_outbox(r)
        if jobs.is_inline():
            return
        due = next_due(r)
        if due is None:
            return
        wait = due - time.time()
        if wait > SLEEP_HORIZON or time.monotonic() - started + wait > MAX_JOB_SECONDS:
            return
        time.sleep(max(0.0, wait) + 0.01)


# -- the failed registry and metrics -----------------------------------------------------------------
def failed_list(r: redis.Redis | None = None) -> list[dict]:
    """Sends that failed for good, oldest first: {id, msg, kind, errcode, error, attempts, time}."""
    r = r or get_redis()
    out = []
    for _field, raw in r.hgetall(keys.OUT_FAILED).items():
        try:
            out.append(json.loads(raw))
        except ValueError:
            out.append({"id": _s(_field), "error": "unreadable registry entry"})
    return sorted(out, key=lambda e: (e.get("time") or 0, e.get("id") or ""))


def resend_failed(r: redis.Redis | None = None, ids: list[str] | None = None) -> int:
    """Queue failed messages again under a new attempt id (`<id>~r<n>`), removing each from the
    registry as it is re-queued. Returns how many were re-queued."""
    r = r or get_redis()
    count = 0
    for entry in failed_list(r):
        fid = str(entry.get("id") or "")
        if ids is not None and fid not in ids:
            continue
        msg = entry.get("msg")
        if not isinstance(msg, dict) or not msg.get("to"):
            continue
        origin = msg.get("_origin") or msg["id"]
        n = r.hincrby(keys.OUT_RESENDS, origin, 1)
        again = {k: v for k, v in msg.items() if not k.startswith("_") and k != "not_before"}
        again["id"] = f"{origin}~r{n}"
        again["_origin"] = origin
        if _post(r, again, wake=True, remove_failed=fid):
            count += 1
    return count


def metrics(r: redis.Redis | None = None) -> dict[str, int]:
    r = r or get_redis()
    return {_s(k): int(v) for k, v in r.hgetall(keys.METRICS).items()}


def state_of(r: redis.Redis, msg_id: str) -> dict[str, str]:
    return {_s(k): _s(v) for k, v in r.hgetall(keys.out_state(msg_id)).items()}
