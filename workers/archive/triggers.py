"""Who starts a pull: the RQ job `pull_job` (queue "default") does, queued through
workers.jobs.enqueue by every minute tick (`schedule_pull`, from workers.schedule.tick) and by a
`msgaudit_notify` event on the app callback (`wake_job`, queued by workers.ingest), at most one
waiting at a time. Without the archive configured (`is_configured`) all of these do nothing and
nothing is stored."""

from __future__ import annotations

import logging

import redis

from config.settings import get_settings
from workers import jobs, keys
from workers.archive.puller import Puller
from workers.archive.sdk import ArchiveSdkError, get_sdk, is_configured
from workers.connection import get_redis

log = logging.getLogger(__name__)

PULL_BUDGET = 40.0  # seconds one pull_if_configured() may spend (the tick runs every minute)


def pull_if_configured(max_seconds: float = PULL_BUDGET) -> int:
    """Pull what is new, within `max_seconds`, when the archive is configured; else do nothing.
    What the pull job runs; the tick and msgaudit_notify queue that job (`schedule_pull`, `wake`)."""
    settings = get_settings()
    if not is_configured(settings):
        return 0
    try:
        sdk = get_sdk(settings)
    except (ArchiveSdkError, OSError, AttributeError) as exc:
        _report_once(str(exc) if isinstance(exc, ArchiveSdkError) else type(exc).__name__)
        return 0
    _reported.clear()  # loaded: a later failure is news again
    return Puller(get_redis(), sdk, settings).pull(settings.archive_batch, max_seconds=max_seconds)


_reported: set[str] = set()  # SDK failures this process has logged as errors already


def _report_once(what: str) -> None:
    """An SDK that cannot be loaded fails the same way every minute: said once as an error (with
    `wecom-bot check-config` naming it too), then only at debug level until it loads."""
    if what in _reported:
        log.debug("message archive: the SDK still cannot be loaded (%s)", what)
        return
    _reported.add(what)
    log.error(
        "message archive: the SDK could not be loaded (%s); no pull until that is fixed "
        "(said once; restart the worker after replacing the library)",
        what,
    )


def pull_job() -> int:
    """The RQ job function (queue "default"): one pull."""
    get_redis().delete(keys.ARCHIVE_QUEUED)  # from now on a tick or a notify queues the next pull
    return pull_if_configured()


def schedule_pull(r: redis.Redis | None = None) -> bool:
    """Queue a pull job (through workers.jobs.enqueue) unless one is already queued and not started;
    a pull that is running is not waited for (it holds the lock, a second one returns at once).
    Called by every minute tick (workers.schedule.tick). False when the archive is not configured."""
    if not is_configured():
        return False
    r = r or get_redis()
    if r.set(keys.ARCHIVE_QUEUED, 1, nx=True, ex=keys.ARCHIVE_QUEUED_TTL):
        try:
            jobs.enqueue("default", "workers.archive.pull_job", timeout=300)
        except Exception:
            r.delete(keys.ARCHIVE_QUEUED)
            raise
    return True


def wake(r: redis.Redis | None = None) -> bool:
    """A msgaudit_notify arrived: pull soon. A pull already running is asked to go round once more;
    else a pull job is queued as by the tick."""
    if not is_configured():
        return False
    r = r or get_redis()
    r.set(keys.ARCHIVE_AGAIN, 1, px=keys.ARCHIVE_LOCK_TTL_MS)
    return schedule_pull(r)


def wake_job() -> bool:
    """The RQ job behind a msgaudit_notify (queued by workers.ingest through workers.jobs): `wake`."""
    return wake()
