"""Display names from the WeCom directory (user/get) for configured members who never posted.

A leader names members by display name, but a configured member who never posted is known only by
userid. The self-built app still gets each visible member's name from user/get (after WeCom's 2022
privacy change it no longer gets avatar, mobile or email), so the worker fetches them:

- daily, from the minute tick (`schedule_daily`: the first tick in the hour from DAILY_AT local time
  claims the day and queues `refresh_job` through workers/jobs.py);
- on a miss: a command that cannot resolve a name fetches that group's names at once
  (`refresh_on_miss`), an AI-bot post from a member without a name queues it (`queue_refresh`);
  either at most once a minute per group (keys.DIR_MISSES).

What is fetched: the group's configured members and leaders whose name would come from the directory
(neither learnt from a post nor configured); the names found are kept in one corp-wide hash
(keys.DIR_NAMES; a userid WeCom no longer knows, 60111, is dropped from it). Any error leaves the
names as they were, and a member without one is shown by userid. BOT_DRY_RUN, or an app that is not
configured, fetches nothing.

Which name a member is shown by, everywhere (`pick_name`): the name learnt from their posts (what the
group sees, and the newest), else the name configured in GROUP_<KEY>_MEMBERS (`uid:名字`), else the
directory's, else the userid. Posts keep updating the learnt names as before.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import redis

from config.settings import Group, Settings, get_settings
from handlers.sanitize import clean_name
from workers import jobs, keys
from workers.connection import as_text, get_redis
from workers.sender import Sender, default_sender

log = logging.getLogger(__name__)

DAILY_AT = (3, 30)  # local time (BOT_TIMEZONE) of the daily refresh; a tick within the next hour claims it
DAILY_WINDOW = timedelta(hours=1)
THREADS = 8  # user/get calls in flight
MISS_BUDGET = 5.0  # seconds a refresh on a miss may take (it runs inside a command)
GIVE_UP_AFTER = 3  # transport failures in one refresh before it stops: WeCom is down, try another day
UNKNOWN_USER = 60111  # user/get: no such userid
NOT_VISIBLE = 60011  # user/get: a member outside the app's visibility (可见范围): no name, no error


def api_enabled(settings: Settings) -> bool:
    """May the worker call the app API to read (names, open userids): an app is configured, no dry run."""
    return bool(settings.corp_id and settings.secret) and not settings.dry_run


# --- which name ------------------------------------------------------------------------------------


def pick_name(uid: str, learnt: dict[str, str], configured: dict[str, str], directory: dict[str, str]) -> str:
    """The name a member is shown by: learnt from posts > configured > the directory's > the userid."""
    return learnt.get(uid) or configured.get(uid) or directory.get(uid) or uid


def read(raw: list) -> list[str]:
    """HMGET answers as text ("" for none)."""
    return [as_text(v) if v is not None else "" for v in raw]


def names_of(r: redis.Redis, userids) -> dict[str, str]:
    """The directory's names of these userids (those it has)."""
    userids = list(userids)
    if not userids:
        return {}
    return {uid: name for uid, name in zip(userids, read(r.hmget(keys.DIR_NAMES, userids)), strict=True) if name}


def wanted(group: Group, learnt: dict[str, str]) -> list[str]:
    """The group's configured userids whose name would come from the directory."""
    people = dict.fromkeys(list(group.members) + list(group.leaders))
    return [uid for uid in people if not learnt.get(uid) and not group.display_names.get(uid)]


def _learnt(r: redis.Redis, group: Group) -> dict[str, str]:
    return {as_text(k): as_text(v) for k, v in r.hgetall(keys.names(group.key)).items()}


# --- fetching -------------------------------------------------------------------------------------


def fetch(
    r: redis.Redis,
    settings: Settings,
    userids,
    sender: Sender | None = None,
    budget: float | None = None,
) -> dict[str, str]:
    """user/get for each userid (a few at a time); keeps the names found (keys.DIR_NAMES) and returns
    them. A userid WeCom does not know loses its kept name; an error changes nothing (the member keeps
    whatever name they had, else their userid). `budget`: seconds, after which the rest is left."""
    userids = list(dict.fromkeys(u for u in userids if u))
    if not userids or not api_enabled(settings):
        return {}
    sender = sender or default_sender()
    deadline = time.monotonic() + budget if budget else None
    found: dict[str, str] = {}
    gone: list[str] = []
    errors: list[str] = []
    lock = threading.Lock()
    failures = [0]
    asked = [0]

    def one(uid: str) -> None:
        if failures[0] >= GIVE_UP_AFTER or (deadline is not None and time.monotonic() > deadline):
            return
        out = sender.user_get(uid)
        with lock:
            asked[0] += 1
            if out.ok:
                name = clean_name(str(out.data.get("name") or ""))
                if name and name != uid:
                    found[uid] = name
            elif out.errcode == UNKNOWN_USER:
                gone.append(uid)
            elif out.errcode != NOT_VISIBLE:
                errors.append(out.error)
                failures[0] += 1  # WeCom down, a wrong secret, a server IP not trusted: the same for all

    with ThreadPoolExecutor(max_workers=min(THREADS, len(userids)), thread_name_prefix="directory") as pool:
        list(pool.map(one, userids))
    now = repr(time.time())
    with r.pipeline(transaction=False) as p:
        if found:
            p.hset(keys.DIR_NAMES, mapping=dict[Any, str](found))
        if gone:
            p.hdel(keys.DIR_NAMES, *gone)
        answered = list(found) + gone
        if answered:
            p.hset(keys.DIR_CHECKED, mapping=dict.fromkeys(answered, now))
        p.execute()
    skipped = len(userids) - asked[0]
    log.info(
        "directory: %d name(s) of %d userid(s), %d unknown to WeCom, %d error(s)%s%s",
        len(found),
        len(userids),
        len(gone),
        len(errors),
        f", {skipped} left for later" if skipped > 0 else "",
        f" (first: {errors[0]})" if errors else "",
    )
    return found


def refresh_group(r: redis.Redis, settings: Settings, group: Group, budget: float | None = None) -> dict[str, str]:
    """Fetch the group's directory names now (no rate limit: see refresh_on_miss / queue_refresh)."""
    return fetch(r, settings, wanted(group, _learnt(r, group)), budget=budget)


def may_refresh(r: redis.Redis, group_key: str, now: float | None = None) -> bool:
    """Take the group's turn to fetch names on a miss: True at most once per DIR_MISS_EVERY seconds
    (keys.DIR_MISSES, shared by every process)."""
    now = time.time() if now is None else now
    with r.pipeline() as p:
        try:
            p.watch(keys.DIR_MISSES)
            last = p.zscore(keys.DIR_MISSES, group_key)
            if last is not None and float(last) > now - keys.DIR_MISS_EVERY:
                return False
            p.multi()
            p.zadd(keys.DIR_MISSES, {group_key: now})
            p.execute()
            return True
        except redis.WatchError:  # another process took the turn this very moment
            return False


def refresh_on_miss(r: redis.Redis, settings: Settings, group: Group) -> bool:
    """A command named someone the group does not know: fetch the group's directory names now, at most
    once a minute per group. True when names were fetched (the caller resolves again)."""
    if not api_enabled(settings):
        return False
    ids = wanted(group, _learnt(r, group))
    if not ids or not may_refresh(r, group.key):
        return False
    return bool(fetch(r, settings, ids, budget=MISS_BUDGET))


def queue_refresh(r: redis.Redis, settings: Settings, group: Group) -> bool:
    """Like refresh_on_miss, in the background (a job): for a post whose sender has no name yet."""
    if not api_enabled(settings) or not may_refresh(r, group.key):
        return False
    try:
        jobs.enqueue("default", "workers.directory.refresh_group_job", group.key)
    except Exception:  # the daily refresh or the next miss fetches them
        log.exception("could not queue the directory names of group %s", group.key)
        return False
    return True


# --- the jobs -------------------------------------------------------------------------------------


def refresh_group_job(group_key: str) -> int:
    settings = get_settings()
    group = settings.group(group_key)
    if group is None:
        return 0
    return len(refresh_group(get_redis(), settings, group))


def refresh_job() -> int:
    """The daily refresh: every group's configured userids whose name comes from the directory."""
    settings = get_settings()
    r = get_redis()
    userids: list[str] = []
    groups = list(settings.groups.values())
    with r.pipeline(transaction=False) as p:
        for g in groups:
            p.hgetall(keys.names(g.key))
        learnt_all = p.execute()
    for g, raw in zip(groups, learnt_all, strict=True):
        userids += wanted(g, {as_text(k): as_text(v) for k, v in raw.items()})
    return len(fetch(r, settings, userids))


def schedule_daily(r: redis.Redis, settings: Settings, ts: float) -> bool:
    """The minute tick's hook: in the hour from DAILY_AT (BOT_TIMEZONE), claim the day once and queue
    the refresh. True when this tick queued it."""
    if not api_enabled(settings) or not settings.groups:
        return False
    local = datetime.fromtimestamp(ts, ZoneInfo(settings.timezone))
    start = local.replace(hour=DAILY_AT[0], minute=DAILY_AT[1], second=0, microsecond=0)
    if not start <= local < start + DAILY_WINDOW:
        return False
    claim = keys.dir_daily(local.date().isoformat())
    if not r.set(claim, repr(ts), nx=True, ex=keys.SLOT_CLAIM_TTL):
        return False
    try:
        jobs.enqueue("default", "workers.directory.refresh_job")
    except Exception:
        r.delete(claim)  # the next tick of the hour tries again
        raise
    return True
