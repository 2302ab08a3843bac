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


def set_inline(flag: bool) -> None:
    global _inline
    _inline = flag


def is_inline() -> bool:
    return _inline


def queue(name: str) -> Queue:
    return Queue(name, connection=get_redis(), is_async=not _inline)


def enqueue(queue_name: str, func: str, *args, job_id: str | None = None, timeout: int = 600):
    return queue(queue_name).enqueue(func, *args, job_id=job_id, job_timeout=timeout,
                                     result_ttl=0, failure_ttl=7 * 24 * 3600)
