"""The one seam through which work is handed to RQ.

Every enqueue in the service goes through `enqueue()`. With `set_inline(True)` (tests, the demo)
jobs run at once in the calling process through RQ's own synchronous mode, so the same code path
is exercised without a worker. Job arguments are plain ids and names only: RQ logs them.
"""

from __future__ import annotations

from rq import Queue, Retry

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
    """Every job may be retried: all of them are idempotent (effects keyed by message, slot and
    outbound ids), and RQ also retries a job whose worker died (an abandoned job) when it has
    retries left, so a SIGKILLed batch is done again instead of lost."""
    q = queue(queue_name)
    retry = None if not q.is_async or q.name in _deferred and _inline else Retry(max=3, interval=[5, 30, 120])
    return q.enqueue(
        func, *args, job_id=job_id, job_timeout=timeout, retry=retry, result_ttl=0, failure_ttl=7 * 24 * 3600
    )
