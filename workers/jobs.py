"""The one seam through which work is handed to RQ.

Every enqueue in the service goes through `enqueue()`. With `set_inline(True)` (tests, the demo)
jobs run at once in the calling process through RQ's own synchronous mode, so the same code path
is exercised without a worker. Job arguments are plain ids and names only: RQ logs them.
"""
from __future__ import annotations

from rq import Queue

from workers.connection import get_redis

# Highest priority first: a worker listening on all of them never lets a message backlog delay
# the minute tick.
QUEUES = ("tick", "inbox", "outbox", "default")

_inline = False
_deferred: frozenset[str] = frozenset()


def set_inline(flag: bool, defer: tuple[str, ...] = ()) -> None:
    """Run jobs at once in this process; jobs for the `defer` queues are left in Redis instead
    (the demo drives the outbox itself, on its simulated clock)."""
    global _inline, _deferred
    _inline, _deferred = flag, frozenset(defer)


def is_inline() -> bool:
    return _inline


def queue(name: str) -> Queue:
    return Queue(name, connection=get_redis(), is_async=not _inline or name in _deferred)


def enqueue(queue_name: str, func: str, *args, job_id: str | None = None, timeout: int = 600):
    return queue(queue_name).enqueue(func, *args, job_id=job_id, job_timeout=timeout,
                                     result_ttl=0, failure_ttl=7 * 24 * 3600)
