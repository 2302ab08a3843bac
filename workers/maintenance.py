"""Self-healing, run by every minute tick: entries a dead worker left pending are reclaimed, and a
stream with undelivered entries but no drain job in sight gets one."""

from __future__ import annotations

import logging

import redis

from workers import ingest, keys, outbound, streams

log = logging.getLogger(__name__)


def run(r: redis.Redis) -> dict:
    report = {}
    report["inbox_reclaimed"] = streams.reclaim(r, streams.INBOX, lambda e: ingest.process_batch(r, e))
    report["outbox_reclaimed"] = streams.reclaim(r, streams.OUTBOX, outbound.handle_entries)
    report["outbox_due"] = outbound.pump_delayed(r)
    for stream in (streams.INBOX, streams.OUTBOX):
        if streams.depth(r, stream)["lag"] and not r.exists(stream.wake_key):
            log.info("%s has undelivered entries and no drain pending; waking one", stream.key)
            r.set(stream.wake_key, 1, ex=keys.STREAM_WAKE_TTL)
            streams.wake_drain(stream)
    return report
