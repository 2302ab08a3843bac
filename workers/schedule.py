"""The daily rhythm: what is due at an instant, claimed once per group per slot.

`rq cron` enqueues `tick_now()` every minute on the "tick" queue (workers/cron_config.py); the CLI's
`wecom-bot tick --at ISO` calls `tick(ts)` for any instant. A tick:

1. runs the self-healing maintenance (workers.maintenance.run);
2. works out, for every group in its own timezone, which slot instants of the local today and
   yesterday are due: daily slots chain/remind/digest, weekly slots midweek/summary, within the
   camp dates; a slot caught up after midnight still speaks of its own day;
3. claims each (group, slot, local date) once with SET NX on keys.slot(...) — in Lua, a few thousand
   claims per round trip, so 10,000 groups sharing a slot are claimed and enqueued in well under a
   second. A slot whose instant is more than BOT_CATCHUP_GRACE_MINUTES old is claimed as skipped and
   the group's leaders are told once; a paused group's slots are claimed as paused (nothing is sent,
   and nothing fires late when the group resumes);
4. enqueues the won claims in batches (`run_slot_batch`, queue "default"), which read the register
   and post through workers.outbound. Every outbound id is derived from the slot key,
   `slot:<group>:<slot>:<date>`, so a retried batch job posts nothing twice. A won claim is also
   written to `keys.SLOTS_PENDING` in the same Lua step and taken off once its batch has posted: a
   tick that dies between claiming and enqueueing leaves it there, and a tick ten minutes later
   enqueues that batch again (recover_pending), so no slot is lost to a crash.

Catch-up after downtime needs to look further back than the grace window only when the previous
tick is older than the window (or there was none): `wb:tick:last` keeps the latest instant ticked.
On the very first tick, slots already past their window are claimed silently: the service was not
running then, there is nothing to apologise for.

`force=SLOT` re-sends one slot for every group now, with ids suffixed `:force<N>` so the outbound
dedupe does not swallow them.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from enum import IntEnum
from zoneinfo import ZoneInfo

import redis

from config.settings import SLOTS, Group, Settings, Slot, get_settings
from handlers import daily, messages
from handlers.calendar import day_date, day_index, quiet_at
from handlers.links import group_page_url
from handlers.streaks import BACKFILL_DAYS, DayBits
from handlers.texts import local_note
from workers import (
    announce,
    archive,
    directory,
    initiative,
    jobs,
    keys,
    maintenance,
    outbound,
    register,
    replies,
    routine,
    scripts,
    weekly,
)
from workers.connection import as_text, get_redis
from workers.register import MemberRow, MemberState, load_members

log = logging.getLogger(__name__)

BATCH = 250  # groups per run_slot_batch job
GROUP_POSTS_PER_SECOND = 300  # what one worker's outbox sender sends (docs/PERFORMANCE.md, issue 18)
NOTES_LAG_MIN = 2.0  # seconds: a camp whose group posts go out faster sends the private notes with them
CLAIM_CHUNK = 2000  # claims per Lua call
NOTES_SHOWN = 3  # latest profile notes per member in a digest


# --- what is due -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Due:
    group: str
    slot: str
    day: date  # the slot's own local date: a slot caught up after midnight speaks of it
    at: float  # the slot instant (epoch seconds)

    @property
    def key(self) -> str:
        return keys.slot(self.group, self.slot, self.day.isoformat())


def slot_instant(d: date, slot: Slot, tz: ZoneInfo) -> float:
    """The instant of a local wall-clock time. A time skipped by a DST switch (02:30 on the spring
    day in Berlin) resolves through the offset before the switch, so it fires once, at 03:30; a time
    that occurs twice (autumn) fires at its first occurrence, and the claim per local date keeps the
    second from firing again."""
    return datetime(d.year, d.month, d.day, slot.hour, slot.minute, tzinfo=tz).timestamp()


def in_camp(group: Group, d: date) -> bool:
    return (group.camp_start is None or d >= group.camp_start) and (group.camp_end is None or d <= group.camp_end)


def due_slots(settings: Settings, ts: float, since: float | None) -> list[Due]:
    """Slot instants of the local today and yesterday in (since, ts], for every group; `since`
    None means all of them. Groups sharing a timezone and slot times share the arithmetic."""
    today_by_tz: dict[str, date] = {}
    cache: dict[tuple[str, str, Slot], list[tuple[date, float]]] = {}
    out: list[Due] = []
    for group in settings.groups.values():
        tzname = group.timezone
        for name in SLOTS:
            slot = group.slots.get(name)
            if slot is None:
                continue
            ck = (tzname, name, slot)
            hits = cache.get(ck)
            if hits is None:
                today = today_by_tz.get(tzname)
                if today is None:
                    today = today_by_tz[tzname] = (
                        datetime.fromtimestamp(ts, tz=timezone.utc).astimezone(ZoneInfo(tzname)).date()
                    )
                hits = []
                for d in (today - timedelta(days=1), today):
                    if slot.weekday is not None and d.weekday() != slot.weekday:
                        continue
                    at = slot_instant(d, slot, ZoneInfo(tzname))
                    if at <= ts and (since is None or at >= since):
                        hits.append((d, at))
                cache[ck] = hits
            for d, at in hits:
                if in_camp(group, d):
                    out.append(Due(group.key, name, d, at))
    return out


class Claim(IntEnum):
    """What workers/lua/slot_claim.lua answers for each slot it is asked to claim."""

    TAKEN = 0  # claimed before (an earlier tick, another cron process): nothing to do
    WON = 1  # claimed now with its value: `sent:<ts>` (post it) or `skip:<ts>` (too late)
    PAUSED = 2  # claimed now as paused: the group is paused, nothing is sent


def _claim(r: redis.Redis, due: list[Due], values: list[str], ts: float) -> list[Claim]:
    """Claim each slot of `due` with its value, in chunks of CLAIM_CHUNK per Lua call."""
    script = scripts.script("slot_claim", r)
    out: list[Claim] = []
    for i in range(0, len(due), CLAIM_CHUNK):
        part = due[i : i + CLAIM_CHUNK]
        ks: list[str] = []
        args: list[str | int] = [keys.SLOT_CLAIM_TTL, repr(float(ts))]
        for d, value in zip(part, values[i : i + CLAIM_CHUNK], strict=True):
            ks += [d.key, keys.paused(d.group), keys.SLOTS_PENDING]
            args += [value, pending_member(d.slot, d.day.isoformat(), d.group, ts)]
        out += [Claim(int(x)) for x in script(keys=ks, args=args, client=r)]
    return out


# --- claims won but not yet posted ------------------------------------------------------------------

PENDING_AFTER = 10 * 60  # seconds a won claim may wait for its batch before a tick enqueues it again


def pending_member(slot: str, date_iso: str, group: str, ts: float) -> str:
    return f"{slot}|{date_iso}|{group}|{float(ts):.0f}"


def _done_pending(r: redis.Redis, slot: str, date_iso: str, group_keys: list[str], ts: float) -> None:
    members = [pending_member(slot, date_iso, g, ts) for g in group_keys]
    if members:
        r.zrem(keys.SLOTS_PENDING, *members)


def recover_pending(r: redis.Redis, settings: Settings, ts: float, result: dict) -> int:
    """Enqueue again the batches of claims won more than PENDING_AFTER ago whose posts never reached
    the outbox (a tick or a worker that died in between). Their outbound ids are fixed by the slot,
    so a batch that did post, only late, posts nothing twice. Past the catch-up window they are
    given up, loudly."""
    stale = r.zrangebyscore(keys.SLOTS_PENDING, "-inf", ts - PENDING_AFTER, start=0, num=5000)
    if not stale:
        return 0
    grace = settings.catchup_grace_minutes * 60 + PENDING_AFTER
    batches: dict[tuple[str, str, float], list[str]] = defaultdict(list)
    given_up = []
    for raw in stale:
        member = as_text(raw)
        slot, date_iso, group, claimed_at = member.split("|")
        if ts - float(claimed_at) > grace:
            given_up.append(member)
        else:
            batches[(slot, date_iso, float(claimed_at))].append(group)
    if given_up:
        log.error(
            "%d slot post(s) never reached the outbox within the catch-up window; given up: %s",
            len(given_up),
            ", ".join(given_up[:10]),
        )
        r.zrem(keys.SLOTS_PENDING, *given_up)
    with r.pipeline(transaction=False) as p:  # not again before another PENDING_AFTER
        for (slot, date_iso, at), groups in batches.items():
            p.zadd(keys.SLOTS_PENDING, {pending_member(slot, date_iso, g, at): ts for g in groups}, xx=True)
        p.execute()
    n = 0
    for (slot, date_iso, at), groups in sorted(batches.items()):
        for i in range(0, len(groups), BATCH):
            if _enqueue(result, "run_slot_batch", slot, date_iso, groups[i : i + BATCH], at):
                n += len(groups[i : i + BATCH])
        result["lines"].append(f"{slot} {date_iso}: enqueued again for {_names(groups)} (its batch never posted)")
    return n


# --- the tick --------------------------------------------------------------------------------------


def tick_now() -> dict:
    """The cron entry (workers/cron_config.py)."""
    return tick(time.time())


def tick(ts: float, force: str | None = None) -> dict:
    """Enqueue what is due at instant `ts`; repeating a tick adds nothing. Returns counts and the
    `lines` that `wecom-bot tick` prints. Each step's failure is logged and leaves the others to run."""
    started = time.perf_counter()
    settings = get_settings()
    r = get_redis()
    result: dict = {"ts": ts, "queued": 0, "skipped": 0, "paused": 0, "jobs": 0, "lines": []}
    _heal(r, result)
    _queue_archive_pull(r, result)
    if force:
        _force(r, settings, ts, force, result)
    else:
        _scheduled(r, settings, ts, result)
        _recover(r, settings, ts, result)
    _flush_waiting(r, settings, ts, result)
    _follow_up_announcements(r, settings, ts, result)
    if not force:
        _refresh_directory(r, settings, ts, result)
    result["seconds"] = round(time.perf_counter() - started, 4)
    return result


def _heal(r: redis.Redis, result: dict) -> None:
    try:
        result["maintenance"] = maintenance.run(r)
    except Exception:  # self-healing must never stop the schedule
        log.exception("maintenance failed during the tick")


def _queue_archive_pull(r: redis.Redis, result: dict) -> None:
    """The message archive: queue a pull job when configured; a no-op otherwise."""
    try:
        if archive.schedule_pull(r):
            result["archive"] = "pull queued"
    except Exception:
        log.exception("could not queue the message-archive pull; the next tick tries again")


def _recover(r: redis.Redis, settings: Settings, ts: float, result: dict) -> None:
    try:
        recover_pending(r, settings, ts, result)
    except Exception:  # tried again next minute
        log.exception("could not recover pending slot claims")


def _flush_waiting(r: redis.Redis, settings: Settings, ts: float, result: dict) -> None:
    """Post the private notices that waited for the end of quiet hours and the gathered check-in replies."""
    try:
        done = {"notices": weekly.flush_notices(r, settings, ts), "gathered": replies.flush_all_replies(r, settings)}
        result["weekly"] = done
        if done["notices"]:
            result["lines"].append(f"notices: {done['notices']} private notice(s) sent")
        if done["gathered"]:
            result["lines"].append(f"replies: {done['gathered']} gathered check-in reply(ies) posted as one message")
    except Exception:  # the slots went out; waiting notices and replies are tried again next minute
        log.exception("could not post the waiting notices or gathered replies")


def _follow_up_announcements(r: redis.Redis, settings: Settings, ts: float, result: dict) -> None:
    try:
        followed = announce.follow_up(r, settings, ts)
        if followed:
            result["lines"].append(f"announcements: {followed} follow-up(s) sent to the leaders")
    except Exception:  # tried again next minute: a follow-up leaves the due index only once posted
        log.exception("could not follow up announcements")


def _refresh_directory(r: redis.Redis, settings: Settings, ts: float, result: dict) -> None:
    """Once a day (workers.directory.DAILY_AT): queue the refresh of members' names from the directory."""
    try:
        if directory.schedule_daily(r, settings, ts):
            result["directory"] = "names refresh queued"
    except Exception:  # the next tick of the hour tries again
        log.exception("could not queue the daily refresh of names from the directory")


# --- the scheduled slots of a tick ------------------------------------------------------------------


@dataclass
class _Claimed:
    """The claims a tick won, by what becomes of them."""

    send: dict[tuple[str, date], list[Due]] = field(default_factory=lambda: defaultdict(list))  # (slot, day)
    skipped: dict[str, list[Due]] = field(default_factory=lambda: defaultdict(list))  # group
    paused: dict[tuple[str, date], list[str]] = field(default_factory=lambda: defaultdict(list))  # (slot, day)


def _scheduled(r: redis.Redis, settings: Settings, ts: float, result: dict) -> None:
    """Claim what is due at `ts` once, enqueue the posts of the claims won, tell the leaders what was
    skipped after downtime, and remember `ts` as the last tick."""
    raw = r.get(keys.LAST_TICK)
    prev = float(raw) if raw is not None else None
    due, values = _due_now(settings, ts, prev)
    claimed = _sort_claims(due, values, _claim(r, due, values, ts) if due else [])
    _enqueue_sends(r, ts, claimed.send, result)
    _overview(r, settings, ts, sorted({d for slot, d in claimed.send if slot == "summary"}), result)
    _report_skipped(settings, claimed.skipped, first=prev is None, result=result)
    _report_paused(claimed.paused, result)
    if not result["lines"]:
        result["lines"].append("nothing due")
    scripts.script("tick_advance", r)(keys=[keys.LAST_TICK], args=[repr(float(ts))], client=r)


def _due_now(settings: Settings, ts: float, prev: float | None) -> tuple[list[Due], list[str]]:
    """The slots due at `ts` since the last tick `prev` and the value each is claimed with: `sent:<ts>`
    within the catch-up grace, `skip:<ts>` past it. The camp's final reports come last, never skipped
    as late (within their week). Without a recent last tick, every slot of today and yesterday."""
    grace = settings.catchup_grace_minutes * 60 + 59  # the slot's own minute always counts
    lookback = prev is None or ts - prev > grace
    due = due_slots(settings, ts, None if lookback else ts - grace)
    values = [f"sent:{ts:.0f}" if ts - d.at <= grace else f"skip:{ts:.0f}" for d in due]
    finals = [Due(g, "final", end, at) for g, end, at in weekly.final_due(settings, ts)]
    return due + finals, values + [f"sent:{ts:.0f}"] * len(finals)


def _sort_claims(due: list[Due], values: list[str], claims: list[Claim]) -> _Claimed:
    out = _Claimed()
    for d, value, claim in zip(due, values, claims, strict=True):
        if claim == Claim.PAUSED:
            out.paused[(d.slot, d.day)].append(d.group)
        elif claim == Claim.WON and value.startswith("sent"):
            out.send[(d.slot, d.day)].append(d)
        elif claim == Claim.WON:
            out.skipped[d.group].append(d)
    return out


# Slots due in the same tick go out in the order of their instants; in the same minute (two slots set
# to one time), in this order: the weekly review before the evening reminder, the leaders' digest last.
POST_ORDER = ("chain", "midweek", "summary", "remind", "digest", "final")


def _post_order(slot: str, d: date, items: list[Due]) -> tuple[date, float, int, str]:
    rank = POST_ORDER.index(slot) if slot in POST_ORDER else len(POST_ORDER)
    return (d, min(x.at for x in items) // 60 * 60, rank, slot)


def _enqueue_sends(r: redis.Redis, ts: float, send: dict[tuple[str, date], list[Due]], result: dict) -> None:
    """One run_slot_batch job per BATCH groups of a slot and day; a batch that cannot be enqueued
    gives its claims back, so that the next tick tries again."""
    for (slot, d), items in sorted(send.items(), key=lambda kv: _post_order(kv[0][0], kv[0][1], kv[1])):
        groups = [x.group for x in items]
        for i in range(0, len(groups), BATCH):
            batch = groups[i : i + BATCH]
            if not _enqueue(result, "run_slot_batch", slot, d.isoformat(), batch, ts):
                # Whatever this batch did post carries the same outbound ids, which the outbox drops
                # the second time.
                _release(r, [keys.slot(g, slot, d.isoformat()) for g in batch])
                _done_pending(r, slot, d.isoformat(), batch, ts)
        result["queued"] += len(groups)
        late = max(int(ts - min(x.at for x in items)) // 60, 0)
        how = f"caught up {late} min late" if late >= 1 else "queued"
        result["lines"].append(f"{slot} {d.isoformat()}: {how} for {_names(groups)}")


def _report_skipped(settings: Settings, skipped: dict[str, list[Due]], first: bool, result: dict) -> None:
    """Slots claimed as too late: the leaders are told (not on the very first tick: the service was
    not running then, there is nothing to apologise for), and the tick says so."""
    if not skipped:
        return
    result["skipped"] = sum(len(v) for v in skipped.values())
    if not first:
        items = [
            [g, [[x.slot, x.day.isoformat(), _hhmm(settings, x)] for x in sorted(v, key=lambda x: x.at)]]
            for g, v in skipped.items()
        ]
        for i in range(0, len(items), BATCH):
            _enqueue(result, "notify_skipped_batch", items[i : i + BATCH])
    by_slot: dict[tuple[str, date], list[str]] = defaultdict(list)
    for g, v in skipped.items():
        for x in v:
            by_slot[(x.slot, x.day)].append(g)
    why = (
        "before the first tick"
        if first
        else f"older than the {settings.catchup_grace_minutes} min catch-up window; leaders told"
    )
    for (slot, d), groups in sorted(by_slot.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        result["lines"].append(f"{slot} {d.isoformat()}: skipped for {_names(groups)} ({why})")


def _report_paused(paused: dict[tuple[str, date], list[str]], result: dict) -> None:
    for (slot, d), groups in sorted(paused.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        result["paused"] += len(groups)
        result["lines"].append(f"{slot} {d.isoformat()}: paused, nothing sent for {_names(groups)}")


def _overview(r: redis.Redis, settings: Settings, ts: float, days: list[date], result: dict) -> None:
    """The admins' camp-wide overview: once a week, with the first weekend summary that goes out
    (enqueued after the summaries, so that it sees the suggestions they record)."""
    if not settings.admins:
        return
    for week_iso in sorted({(d - timedelta(days=d.weekday())).isoformat() for d in days}):
        claim = keys.slot("_camp", "overview", week_iso)
        if not r.set(claim, f"sent:{ts:.0f}", nx=True, ex=keys.SLOT_CLAIM_TTL):
            continue
        try:
            jobs.enqueue("default", "workers.weekly.camp_overview", week_iso, ts)
        except Exception:
            log.exception("could not run or enqueue the camp overview of %s", week_iso)
            result["errors"] = result.get("errors", 0) + 1
            _release(r, [claim])
            continue
        result["jobs"] += 1
        result["lines"].append(f"overview {week_iso}: queued for the admins")


def _force(r: redis.Redis, settings: Settings, ts: float, slot: str, result: dict) -> None:
    if slot not in SLOTS:
        raise ValueError(f"unknown slot {slot!r}: one of {', '.join(SLOTS)}")
    n = r.incr(keys.FORCE_COUNTER)
    suffix = f"force{n}"
    groups = list(settings.groups.values())
    with r.pipeline(transaction=False) as p:
        for g in groups:
            p.exists(keys.paused(g.key))
        paused_flags = p.execute() if groups else []
    by_day: dict[date, list[str]] = defaultdict(list)
    for g, is_paused in zip(groups, paused_flags, strict=True):
        d = datetime.fromtimestamp(ts, tz=timezone.utc).astimezone(g.tz).date()
        if is_paused:
            result["paused"] += 1
            result["lines"].append(f"{slot}: {g.key} is paused, not re-sent")
        elif not in_camp(g, d):
            result["lines"].append(f"{slot}: {g.key} is outside its camp dates on {d.isoformat()}, not re-sent")
        else:
            by_day[d].append(g.key)
    for d, keys_ in sorted(by_day.items()):
        for i in range(0, len(keys_), BATCH):
            _enqueue(result, "run_slot_batch", slot, d.isoformat(), keys_[i : i + BATCH], ts, suffix)
        result["queued"] += len(keys_)
        result["lines"].append(f"{slot} {d.isoformat()}: re-sent ({suffix}) for {_names(keys_)}")
    if not result["lines"]:
        result["lines"].append("no groups configured")


def _enqueue(result: dict, func: str, *args) -> bool:
    """One batch job on "default". A failure (Redis gone, or in inline mode the batch itself) is
    logged and counted, never allowed to stop the rest of the tick."""
    try:
        jobs.enqueue("default", f"workers.schedule.{func}", *args)
    except Exception:
        log.exception("could not run or enqueue %s %s", func, args[:2])
        result["errors"] = result.get("errors", 0) + 1
        return False
    result["jobs"] += 1
    return True


def _release(r: redis.Redis, claim_keys: list[str]) -> None:
    try:
        r.delete(*claim_keys)
    except redis.RedisError:
        log.exception("could not release %d slot claim(s); those posts are lost", len(claim_keys))


def _names(groups: list[str], limit: int = 10) -> str:
    shown = ", ".join(groups[:limit])
    return shown + (f" (+{len(groups) - limit} more)" if len(groups) > limit else "")


def _hhmm(settings: Settings, due: Due) -> str:
    group = settings.groups[due.group]
    local = datetime.fromtimestamp(due.at, tz=timezone.utc).astimezone(group.tz)
    return local.strftime("%H:%M")


# --- batches (RQ jobs on "default") --------------------------------------------------------------


def slot_id(group_key: str, slot: str, day: date | str) -> str:
    """The outbound id of a slot's post, derived from its claim key."""
    return f"slot:{group_key}:{slot}:{day if isinstance(day, str) else day.isoformat()}"


def run_slot_batch(slot: str, date_iso: str, group_keys: list[str], ts: float | None = None, suffix: str = "") -> int:
    """Build and post one slot's messages for a batch of groups whose claims this tick won.
    Idempotent: a retry posts the same ids, which workers.outbound drops. A group whose posts could
    not be built gets its claim back (the next tick retries it) and the job fails, visibly."""
    r = get_redis()
    settings = get_settings()
    day = day_index(date.fromisoformat(date_iso))
    now = time.time() if ts is None else float(ts)
    msgs: list[dict] = []
    failed = []
    for key in group_keys:
        group = settings.group(key)
        if group is None:
            log.warning("slot %s %s: group %s is no longer configured", slot, date_iso, key)
            continue
        try:
            built = build_slot(r, settings, group, slot, day, now, forced=bool(suffix))
        except Exception:
            log.exception("slot %s %s: could not build the posts of group %s", slot, date_iso, key)
            failed.append(key)
            continue
        if suffix:
            base = slot_id(group.key, slot, date_iso)
            for m in built:
                m["id"] = base + ":" + suffix + m["id"][len(base) :]
        msgs += built
    post(r, _groups_first(msgs, settings))
    if not suffix and ts is not None:
        _done_pending(r, slot, date_iso, group_keys, ts)  # posted (or given back just below)
    if failed:
        if not suffix:
            # Give these claims back: the next tick within the catch-up window tries them again.
            _release(r, [keys.slot(k, slot, date_iso) for k in failed])
        raise RuntimeError(f"slot {slot} {date_iso}: {len(failed)} group(s) failed: {', '.join(failed[:10])}")
    return len(msgs)


def _groups_first(msgs: list[dict], settings: Settings) -> list[dict]:
    """A slot's group posts before its private notes (the goal question, the morning nudges). With
    thousands of groups the slot is posted by many batch jobs, each with both kinds, and the outbox
    sends in the order posted: the last groups' mornings waited behind the first groups' notes (10,000
    groups: 145 s, bench/fanout.py). So when the camp's group posts take more than a few seconds to
    send, the notes wait that long (not_before, on the real clock: it is the outbox's time, not the
    slot's, which a catch-up tick or `tick --at` may have in the past); a smaller camp's go at once."""
    lag = len(settings.groups) / GROUP_POSTS_PER_SECOND
    ordered = sorted(msgs, key=lambda m: m.get("to") != "group")
    if lag < NOTES_LAG_MIN:
        return ordered
    return [
        m if m.get("to") == "group" else dict(m, not_before=max(float(m.get("not_before") or 0), time.time() + lag))
        for m in ordered
    ]


def notify_skipped_batch(items: list) -> int:
    """Tell each group's leaders once which slots were skipped after downtime.
    items: [[group key, [[slot, date_iso, "HH:MM"], ...]], ...]."""
    r = get_redis()
    settings = get_settings()
    msgs = []
    for key, slots in items:
        group = settings.group(key)
        if group is None:
            continue
        listed = [(slot, day_index(date.fromisoformat(d)), hhmm) for slot, d, hhmm in slots]
        digest_id = hashlib.sha1("|".join(f"{s}:{d}" for s, d, _ in slots).encode()).hexdigest()[:12]
        text = daily.skipped(group.display, listed)
        for uid in settings.leaders_of(group):
            msgs.append(messages.to_user(f"slot:{group.key}:skipped:{digest_id}:{uid}", uid, text))
    post(r, msgs)
    return len(msgs)


def post(r: redis.Redis, msgs: list[dict]) -> None:
    if msgs:
        outbound.post_many(r, msgs)


# --- what each slot says ---------------------------------------------------------------------------


def build_slot(
    r: redis.Redis, settings: Settings, group: Group, slot: str, day: int, now: float, forced: bool = False
) -> list[dict]:
    """A slot's posts. `forced` (`tick --force`): the posts again, without the private notes of the
    bot's own initiative (a goal question or a word of recognition is never sent twice)."""
    if slot == "chain":
        return daily_chain(r, group, day, now, own_notes=not forced)
    if slot == "remind":
        return daily_remind(r, group, day, now)
    if slot == "digest":
        return daily_digest(r, group, day, now, own_notes=not forced)
    if slot == "midweek":
        return weekly_midweek(r, group, day, now)
    if slot == "summary":
        return weekly_summary(r, group, day, now, own_notes=not forced)
    if slot == "final":
        return weekly_final(r, group, day)
    raise ValueError(f"unknown slot {slot!r}")


def _rows(r: redis.Redis, group: Group, day: int) -> tuple[list[MemberState], list[MemberRow], set[str]]:
    states = load_members(r, group)
    for s in states:
        # No check-in day yet (and, on a camp's first morning, no group base day: base 0, 2020): the
        # record maths would walk every day since then, ~2,500 per member, most of a 10,000-group
        # tick's CPU. An empty bitmap gives the same record from any base, so start it at `day`.
        if s.days.first is None and s.days.base < day:
            s.days = DayBits(None, day)
    rows = [s.row(day, group.weekly_goal, register.camp_days(group)) for s in states]
    on_leave = {s.userid for s in states if day in s.off}
    return states, rows, on_leave


def _links(r: redis.Redis, group: Group, day: int) -> dict[str, str]:
    return {as_text(k): as_text(v) for k, v in r.hgetall(keys.links(group.key, day)).items()}


def daily_chain(r: redis.Redis, group: Group, day: int, now: float | None = None, own_notes: bool = True) -> list[dict]:
    """The morning 接龙 in the group, with whoever has checked in so far, and the morning's private
    notes (workers/routine.py: the goal question, the tight-day and weekend nudges)."""
    states, rows, _ = _rows(r, group, day)
    entries = daily.chain_entries(rows, _links(r, group, day), register.hidden(r, group.key))
    text = daily.chain_text(day, group.camp_start, entries, group.chain_template or daily.CHAIN_TEMPLATE)
    base = slot_id(group.key, "chain", day_date(day))
    now = time.time() if now is None else now
    notes = routine.morning(r, get_settings(), group, day, now, states, base) if own_notes else []
    return [messages.to_group(base, group.key, text), *notes]


def daily_remind(r: redis.Redis, group: Group, day: int, now: float) -> list[dict]:
    """The evening reminder in the group, @-ing exactly who is missing, plus private nudges for long
    streaks about to break (not in quiet hours)."""
    settings = get_settings()
    _, rows, on_leave = _rows(r, group, day)
    prefs = register.prefs(r, group.key)
    quiet = quiet_at(now, group.tz, settings.quiet_hours)
    rem = daily.remind(
        rows,
        muted=register.flagged(prefs, "mute"),
        on_leave=on_leave,
        quiet=quiet,
        hidden=register.flagged(prefs, "private"),
    )
    if rem is None:
        return []
    base = slot_id(group.key, "remind", day_date(day))
    out = [messages.to_group(base, group.key, rem.content, rem.mentions)]
    notes = [
        initiative.Note(kind, uid, messages.to_user(f"{base}:nudge:{uid}", uid, text)) for uid, text, kind in rem.nudges
    ]
    return out + initiative.admit(r, settings, group, notes, now, register.flagged(prefs, "mute"))


def daily_digest(
    r: redis.Redis, group: Group, day: int, now: float | None = None, own_notes: bool = True
) -> list[dict]:
    """Each leader's private end-of-day report, with who has not answered the goal question and whom
    to invite to share (today's personal bests and long streaks, who also get a private word)."""
    settings = get_settings()
    states, rows, on_leave = _rows(r, group, day)
    links = _links(r, group, day)
    with r.pipeline(transaction=False) as p:
        for row in rows:
            p.lrange(keys.notes(group.key, row.userid), -NOTES_SHOWN, -1)
        raw = p.execute() if rows else []
    notes = {
        row.userid: [local_note(n, group.tz) for n in items] for row, items in zip(rows, raw, strict=True) if items
    }
    text = daily.digest(
        group.display, day, rows, links, notes, settings.silent_days, on_leave, group.camp_start, _since(r, group)
    )
    base = slot_id(group.key, "digest", day_date(day))
    now = time.time() if now is None else now
    extra, kudos = routine.digest_lines(r, settings, group, day, states, notes, base, now if own_notes else None)
    page = group_page_url(settings.public_url, group.key)
    if page:
        extra.append(f"🔗 本组登记表：{page}")
    text = "\n".join([text, *extra])
    return [messages.to_user(f"{base}:{uid}", uid, text) for uid in settings.leaders_of(group)] + kudos


def _since(r: redis.Redis, group: Group) -> int | None:
    """The first day of the group's record: the camp's start, else the day of its first check-in
    (its base day is BACKFILL_DAYS before it: handlers.streaks.first_base); None before any."""
    if group.camp_start is not None:
        return day_index(group.camp_start)
    raw = r.get(keys.base(group.key))
    return int(raw) + BACKFILL_DAYS if raw is not None else None


def weekly_midweek(r: redis.Redis, group: Group, day: int, now: float | None = None) -> list[dict]:
    """The mid-week slot: each leader privately learns who is behind the pace for their goal (with
    numbers and profile notes); each member behind gets an encouraging private nudge."""
    now = time.time() if now is None else now
    return weekly.midweek(r, get_settings(), group, day, now, slot_id(group.key, "midweek", day_date(day)))


def weekly_summary(
    r: redis.Redis, group: Group, day: int, now: float | None = None, own_notes: bool = True
) -> list[dict]:
    """The weekend slot: the review in the group (✅/❌ n/goal, streaks, praise, 尖子生) and each
    leader's weekly register with its 退阶 / 目标 suggestions."""
    return weekly.summary(r, get_settings(), group, day, slot_id(group.key, "summary", day_date(day)), now, own_notes)


def weekly_final(r: redis.Redis, group: Group, day: int) -> list[dict]:
    """The day after the camp: each leader's final report (`day` is the camp's last day)."""
    return weekly.final(r, get_settings(), group, day, slot_id(group.key, "final", day_date(day)))


__all__ = [
    "tick",
    "tick_now",
    "run_slot_batch",
    "notify_skipped_batch",
    "due_slots",
    "slot_instant",
    "slot_id",
    "daily_chain",
    "daily_remind",
    "daily_digest",
    "weekly_midweek",
    "weekly_summary",
    "weekly_final",
]
