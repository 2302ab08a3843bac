"""The outbox sender: a thread of a long-running worker process that sends what is queued as soon as it
is queued, instead of a `drain_outbox` RQ job per wake.

Why (issue 18): one `wecom-bot worker` runs its RQ jobs one at a time, so while a `drain_outbox` job
sent a batch (every channel's messages one after the other, ~100 ms per call, the whole batch
waiting for its slowest channel) the inbox waited, and the next batch of replies waited for the
inbox: at 200 check-ins a second replies took 3-5 s. Here sending runs beside the jobs:

- one reader loop takes new outbox entries (XREADGROUP, consumer `<host>-<pid>-sender`) as they come
  and hands each channel's messages to a pool of threads, one thread per channel at a time, so a
  robot's messages keep their order and every robot's sends go out concurrently, with no batch
  barrier: a message waits only for the messages of its own channel queued before it;
- each message goes through `outbound._run_channel`, the drain job's own path: state claim
  (out_claim), rate window (out_rate), retries and the failed registry, all unchanged; its entry is
  acknowledged only once that returned it finished, so a killed process leaves it pending for
  `streams.reclaim` (the minute tick), exactly as a killed drain job did;
- delayed messages that come due are moved into the stream every POLL seconds (out_pump);
- while it runs it holds the outbox's wake flag (keys.stream_wake, renewed every LEASE_RENEW s,
  expiring after keys.STREAM_WAKE_TTL), so a post enqueues no `drain_outbox` job; when the
  process dies the flag lapses and posts wake drain jobs again (the minute tick also wakes one for a
  stream with unread entries and no flag: workers/maintenance.py).

The default of `wecom-bot worker` (`--no-sender` turns it off): the RQ job `drain_outbox` stays the
path of `--burst`, of `--no-sender`, of tests in inline mode, and the fallback after a sender's death.
Both may run at once: the consumer group gives each entry to one consumer, and the one-step take
(workers/lua/out_take.lua) lets one attempt at a time through. A send cut off by a kill stays
'sending' in its state; the tick reclaims its entry after streams.RECLAIM_IDLE_MS, past
outbound.STALE_SENDING, and the first reclaimer takes the claim ('stale': retried once, counted
`sends_unknown`) while any other finds it busy, so two reclaimers cannot both retry it (which once
sent one reply of 20,000 twice in tests/test_reliability.py's crash test).
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import redis

from config.settings import Settings, get_settings
from workers import keys, outbound, streams
from workers.sender import Sender, default_sender

log = logging.getLogger(__name__)

THREADS = 64  # channels sent to at the same time (the sender's HTTP pool is sized for it)
READ_COUNT = 500
BLOCK_MS = 100
POLL = 0.25  # seconds between looks at the delayed set
LEASE_RENEW = 2.0
MAX_IN_FLIGHT = 5000  # entries taken and not finished: read no more until some are done


class OutboxSender:
    def __init__(
        self,
        r: redis.Redis,
        settings: Settings | None = None,
        sender: Sender | None = None,
        threads: int = THREADS,
    ):
        self.r = r
        self.settings = settings or get_settings()
        self.sender = sender or default_sender()
        self.consumer = streams.consumer_name() + "-sender"
        self.stop_event = threading.Event()
        self._lock = threading.Lock()
        self._queues: dict[str, list[tuple[str, dict]]] = {}
        self._active: set[str] = set()
        self._finished: list[str] = []
        self._in_flight = 0
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="outbox-send")
        self._tls = threading.local()
        self._thread: threading.Thread | None = None

    # -- the reader -------------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="outbox-sender", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop reading, let the sends under way finish (up to `timeout`), acknowledge them and give the
        wake flag back, waking a drain job if entries are left."""
        self.stop_event.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        streams.ensure_group(self.r, streams.OUTBOX)
        next_lease = next_pump = 0.0
        while not self.stop_event.is_set():
            try:
                now = time.monotonic()
                if now >= next_lease:
                    self._hold_lease()
                    next_lease = now + LEASE_RENEW
                if now >= next_pump:
                    outbound._pump(self.r, None, wake=False)
                    next_pump = now + POLL
                self._ack()
                if self._in_flight >= MAX_IN_FLIGHT:
                    time.sleep(0.01)
                    continue
                found = streams._read(
                    self.r.xreadgroup(
                        streams.GROUP, self.consumer, {streams.OUTBOX.key: ">"}, count=READ_COUNT, block=BLOCK_MS
                    )
                )
                if found:
                    self._submit(streams._decode(found))
            except redis.RedisError as exc:
                log.warning("outbox sender: %s: %s; trying again in 1 s", type(exc).__name__, exc)
                self.stop_event.wait(1.0)
            except Exception:
                log.exception("outbox sender: unexpected error; trying again in 1 s")
                self.stop_event.wait(1.0)
        self._drain_pool()

    def _hold_lease(self) -> None:
        self.r.set(streams.OUTBOX.wake_key, "sender", ex=keys.STREAM_WAKE_TTL)

    def _drain_pool(self) -> None:
        self._pool.shutdown(wait=True)
        try:
            self._ack()
            self.r.delete(streams.OUTBOX.wake_key)
            if streams.depth(self.r, streams.OUTBOX)["lag"]:
                streams.wake_drain(streams.OUTBOX)
        except redis.RedisError as exc:
            log.warning("outbox sender stopping: %s (the minute tick takes over)", exc)

    # -- the channels -----------------------------------------------------------------------------
    def _submit(self, entries: list[tuple[str, dict]]) -> None:
        start: list[str] = []
        with self._lock:
            for entry_id, msg in entries:
                try:
                    name = (
                        "corrupt"
                        if msg.get("_corrupt") or not msg.get("id")
                        else outbound.channel_of(msg, self.settings).name
                    )
                except Exception:  # a malformed message must not stop the others
                    name = "corrupt"
                self._queues.setdefault(name, []).append((entry_id, msg))
                self._in_flight += 1
                if name not in self._active:
                    self._active.add(name)
                    start.append(name)
        for name in start:
            self._pool.submit(self._work, name)

    def _work(self, channel: str) -> None:
        """Send the channel's queued messages in order, then whatever was queued for it meanwhile."""
        while True:
            with self._lock:
                items = self._queues.pop(channel, None)
                if not items:
                    self._active.discard(channel)
                    return
            finished: list[str] = []
            try:
                finished = outbound._run_channel(self._thread_redis(), self.settings, self.sender, items, time.time)
            except Exception:  # _run_channel logs and leaves pending what it could not finish
                log.exception("outbox sender: channel %s", channel)
            with self._lock:
                self._finished += finished
                self._in_flight -= len(items)

    def _thread_redis(self) -> redis.Redis:
        """This send thread's own client and connection: with one pool shared by all the threads, its
        lock (held while redis-py records its connection metrics) made the threads queue behind each
        other, and that queueing cost more of the process's CPU than the sends (bench/profile_sending.py)."""
        client = getattr(self._tls, "r", None)
        if client is None:
            pool = self.r.connection_pool
            client = self._tls.r = redis.Redis(
                connection_pool=type(pool)(connection_class=pool.connection_class, **pool.connection_kwargs)
            )
        return client

    def _ack(self) -> None:
        with self._lock:
            done, self._finished = self._finished, []
        if done:
            try:
                with self.r.pipeline(transaction=False) as p:
                    p.xack(streams.OUTBOX.key, streams.GROUP, *done)
                    p.xdel(streams.OUTBOX.key, *done)
                    p.execute()
            except redis.RedisError:
                with self._lock:  # acknowledged next time round (sending them again would be a no-op)
                    self._finished = done + self._finished
                raise
