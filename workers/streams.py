"""Durable work queues on Redis streams, drained in batches by RQ jobs.

RQ costs a few milliseconds per job, so one job per message caps a worker at a few hundred
messages a second. Instead each message is one stream entry; an RQ job drains the stream in
batches through a consumer group. An entry is acknowledged (and deleted) only after its
handler returned, so a worker killed mid-batch leaves its entries pending; `reclaim()` (run by
every drain and by the minute tick) takes entries idle for longer than `RECLAIM_IDLE_MS` and
hands them to a live consumer. Handlers must therefore be idempotent, and they are: every effect
is keyed by the entry's own id (msgid, outbound id).
"""

from __future__ import annotations

import json
import logging
import os
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import redis
from redis.connection import ConnectionInterface

from workers import jobs, keys
from workers.connection import get_redis
from workers.scripts import script

log = logging.getLogger(__name__)

RECLAIM_IDLE_MS = 60_000
MAX_DELIVERIES = 5
DEAD_MAX = 10_000  # entries kept in a stream's dead list (the newest); `wecom-bot dead` shows them
GROUP = "workers"


@dataclass(frozen=True)
class Stream:
    key: str
    queue: str
    drain_func: str

    @property
    def wake_key(self) -> str:
        return keys.stream_wake(self.key)

    @property
    def dead_key(self) -> str:
        return keys.stream_dead(self.key)


INBOX = Stream(keys.INBOX, "inbox", "workers.ingest.drain_inbox")
OUTBOX = Stream(keys.OUTBOX, "outbox", "workers.outbound.drain_outbox")


def consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def ensure_group(r: redis.Redis, stream: Stream) -> None:
    try:
        r.xgroup_create(stream.key, GROUP, id="0", mkstream=True)
    except redis.ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


def encode(payload: dict) -> str:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


class StreamWriter:
    """Adds items to a stream durably, each at most once per dedupe key, in one atomic script call
    per `add_many`. It is the web process's hot path (group commit calls it, one thread at a time),
    so it talks over a connection of its own rather than through the client's pool: checking a
    connection out and back in costs as much CPU as the round trip itself."""

    def __init__(self, r: redis.Redis, stream: Stream, dedupe_ttl: int = keys.SEEN_TTL):
        self.r, self.stream, self.dedupe_ttl = r, stream, dedupe_ttl
        self._script = script("stream_add", r)
        self._conn: ConnectionInterface | None = None

    def add_many(self, items: list[tuple[str, str | None, str]]) -> tuple[list[bool], bool]:
        """Items are (encoded payload, dedupe key or None, metrics field to count it in or "").
        Returns whether each was added (False: its dedupe key was seen already) and whether the
        caller must wake a drain job (`wake_drain`): left to the caller, which may hold a lock that
        a drain run inline would need."""
        dedupe = any(key for _, key, _ in items)
        keys_: list = [self.stream.key, self.stream.wake_key, keys.METRICS]
        vals: list = [self.dedupe_ttl if dedupe else 0, keys.STREAM_WAKE_TTL]
        for payload, key, count_as in items:
            if dedupe and not key:
                raise ValueError("add_many: either every item has a dedupe key or none has")
            keys_.append(key or self.stream.key)  # unused without dedupe
            vals += (payload, count_as)
        must_wake, *added = self._call(len(keys_), keys_ + vals)
        return [bool(a) for a in added], bool(must_wake)

    def _call(self, numkeys: int, args: list):
        if self._conn is None:
            self._conn = self.r.connection_pool.make_connection()
        conn = self._conn
        reloaded = reconnected = False
        while True:
            try:
                conn.send_command("EVALSHA", self._script.sha, numkeys, *args)
                return conn.read_response()
            except redis.exceptions.NoScriptError:
                if reloaded:
                    raise
                reloaded = True
                self._script.sha = self.r.script_load(self._script.script)  # Redis restarted empty
            except redis.ConnectionError:
                # A connection that broke while idle (Redis restarted): the pool would have found
                # that out at checkout; here one fresh try does. Should the first try have run
                # after all, its dedupe keys answer the second (the messages are stored).
                conn.disconnect()
                if reconnected:
                    raise
                reconnected = True
            except BaseException:  # a timeout, a script error: never reuse a connection in doubt
                conn.disconnect()
                raise


def wake_drain(stream: Stream) -> None:
    jobs.enqueue(stream.queue, stream.drain_func, timeout=3600)


def drain(
    r: redis.Redis,
    stream: Stream,
    handle: Callable[[list[tuple[str, dict]]], Iterable[str]],
    batch: int = 500,
    max_batches: int | None = None,
) -> int:
    """Process entries until the stream is empty. `handle` gets [(entry_id, payload)] and returns
    the ids it finished; the others stay pending and come back through `reclaim()`."""
    ensure_group(r, stream)
    r.delete(stream.wake_key)
    consumer = consumer_name()
    done = reclaim(r, stream, handle, consumer)
    batches = 0
    while max_batches is None or batches < max_batches:
        found = _read(r.xreadgroup(GROUP, consumer, {stream.key: ">"}, count=batch))
        if not found:
            break
        entries = _decode(found)
        done += _finish(r, stream, entries, handle)
        batches += 1
    return done


def reclaim(
    r: redis.Redis, stream: Stream, handle, consumer: str | None = None, min_idle_ms: int = RECLAIM_IDLE_MS
) -> int:
    """Hand entries that a dead consumer left pending to this one; park poison entries."""
    ensure_group(r, stream)
    consumer = consumer or consumer_name()
    done, start = 0, "0-0"
    while True:
        start, claimed, _deleted = r.xautoclaim(stream.key, GROUP, consumer, min_idle_ms, start, count=500)
        if claimed:
            entries = _decode([c for c in claimed if c[1]])
            entries = _park_poison(r, stream, entries)
            done += _finish(r, stream, entries, handle)
        if start in (b"0-0", "0-0"):
            return done


def _park_poison(r: redis.Redis, stream: Stream, entries):
    """An entry delivered MAX_DELIVERIES times moves to the dead list: kept, shown, never lost."""
    if not entries:
        return entries
    pending = r.xpending_range(stream.key, GROUP, min=entries[0][0], max=entries[-1][0], count=len(entries) + 10)
    counts = {_s(p["message_id"]): int(p["times_delivered"]) for p in pending}
    keep = []
    for entry_id, payload in entries:
        if counts.get(entry_id, 0) > MAX_DELIVERIES:
            log.error(
                "stream %s entry %s failed %d times; moved to %s",
                stream.key,
                entry_id,
                counts[entry_id],
                stream.dead_key,
            )
            with r.pipeline() as p:
                p.rpush(stream.dead_key, json.dumps(payload, ensure_ascii=False))
                p.ltrim(stream.dead_key, -DEAD_MAX, -1)
                p.hincrby(keys.METRICS, stream.key + ":dead", 1)
                p.xack(stream.key, GROUP, entry_id)
                p.xdel(stream.key, entry_id)
                p.execute()
        else:
            keep.append((entry_id, payload))
    return keep


def dead_entries(r: redis.Redis, stream: Stream) -> list[dict]:
    """The entries that failed MAX_DELIVERIES times, oldest first."""
    out = []
    for raw in r.lrange(stream.dead_key, 0, -1):
        try:
            out.append(json.loads(raw))
        except (TypeError, ValueError):
            out.append({"_corrupt": True})
    return out


def requeue_dead(r: redis.Redis, stream: Stream) -> int:
    """Append every dead entry to its stream again (oldest first) and wake the drain. Each entry is
    moved in one transaction, so a crash leaves it in one place or the other, never lost. Processing
    is keyed by msgid, so an entry that did half its work before failing does no part of it twice."""
    moved = 0
    while True:
        with r.pipeline() as p:
            try:
                p.watch(stream.dead_key)
                raw = p.lindex(stream.dead_key, 0)
                if raw is None:
                    break
                p.multi()
                p.xadd(stream.key, {"p": raw})
                p.lpop(stream.dead_key)
                p.execute()
                moved += 1
            except redis.WatchError:
                continue
    if moved:
        wake_drain(stream)
    return moved


def _finish(r: redis.Redis, stream: Stream, entries, handle) -> int:
    if not entries:
        return 0
    finished = list(handle(entries))
    if finished:
        with r.pipeline(transaction=False) as p:
            p.xack(stream.key, GROUP, *finished)
            p.xdel(stream.key, *finished)
            p.execute()
    return len(finished)


def _read(reply) -> list:
    """The entries of an XREADGROUP reply on one stream: [[stream, entries]], or nothing."""
    return reply[0][1] if reply else []


def _decode(raw) -> list[tuple[str, dict]]:
    out = []
    for entry_id, fields in raw:
        data = fields.get(b"p") if isinstance(next(iter(fields), b""), bytes) else fields.get("p")
        try:
            payload = json.loads(data)
        except (TypeError, ValueError):
            payload = {"_corrupt": True}
        out.append((_s(entry_id), payload))
    return out


def _s(value) -> str:
    return value.decode() if isinstance(value, bytes) else value


def depth(r: redis.Redis, stream: Stream) -> dict:
    """Entries waiting, pending (taken but not finished) and dead, for /healthz and /metrics."""
    try:
        ensure_group(r, stream)
        info = {_s(g["name"]): g for g in r.xinfo_groups(stream.key)}
        g = info.get(GROUP, {})
        return {
            "length": r.xlen(stream.key),
            "pending": int(g.get("pending") or 0),
            "lag": int(g.get("lag") or 0),
            "dead": r.llen(stream.dead_key),
        }
    except redis.ResponseError:
        return {"length": 0, "pending": 0, "lag": 0, "dead": 0}


def default_redis() -> redis.Redis:
    return get_redis()
