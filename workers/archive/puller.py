"""The puller: archive records after the cursor, into the inbox, exactly once.

`Puller.pull()`:

1. takes the pull lock (keys.ARCHIVE_LOCK, a random token, a TTL renewed per batch); a second
   puller finds it taken, leaves a "pull again" flag for the holder and returns at once;
2. reads the records after the cursor (keys.ARCHIVE_SEQ);
3. opens each record (workers/archive/crypto.py). The record says nothing about its conversation,
   so every message is decrypted; one from a conversation that is not a configured group is dropped
   on the spot, in memory: its text, ids and room are never stored or logged;
4. feeds each post of a configured group to `ingest.accept()` (source "archive", deduped on the
   archive msgid like robot and app callbacks), files it for recalls and applies recalls
   (workers/archive/recalls.py);
5. only then advances the cursor, in one Lua call that also checks the lock token is still ours.
   A crash between 4 and 5 re-reads the batch, and every accept is a no-op the second time (the
   msgid dedupe); a puller that lost its lock can no longer move the cursor.

A record that cannot be opened is parked in keys.ARCHIVE_PARKED (its seq, msgid, key version and
the kind of error, never any content) and the cursor moves on; `retry_parked()` fetches parked
records again, e.g. after the key was fixed. A failing GetChatData (network, secret, an errcode in
its JSON such as a server IP missing from the trusted IPs) moves nothing: the next pull starts from
the same cursor, and a retry of parked records stops, keeping them parked, with the reason.

Which group a record belongs to: its `roomid` equals a group's GROUP_<KEY>_ROOM_ID (by default the
group's chat id, as the robot callback reports it). So that a room id that differs can be found, the
puller counts, per room id, the posts of configured members and leaders (keys.ARCHIVE_ROOMS: counts
and the time of the latest, never content; `wecom-bot archive --rooms` lists them).

A missing cursor (the first pull, or a lost one) would start at the oldest record WeCom still keeps
and credit past days: the puller then notes when (keys.ARCHIVE_FROM) and, until it has caught up,
skips each group's posts from before the camp's start (GROUP_<KEY>_CAMP_START / BOT_CAMP_START, in
the group's timezone), or without camp dates from before the last 24 hours, while the cursor moves on.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

import redis

from config.settings import Group, Settings, get_settings
from handlers.calendar import day_of
from handlers.chain import parse_chain
from workers import ingest, keys, scripts
from workers.archive import posts, recalls
from workers.archive.crypto import RecordError, load_private_keys, open_record
from workers.archive.sdk import ArchiveSdk, ArchiveSdkError
from workers.connection import as_text

log = logging.getLogger(__name__)

MAX_PARKED = 10_000
MAX_ROOMS = 1000  # room ids in the tally (keys.ARCHIVE_ROOMS); a new one beyond them is not counted
SDK_MAX_LIMIT = 1000  # GetChatData's own maximum
CATCH_UP_WINDOW_MS = 24 * 3600 * 1000  # without camp dates, a missing cursor reads the last 24 hours


def wall_clock() -> float:
    """The time a missing cursor is noticed at (the tests set it)."""
    return time.time()


class Puller:
    """One pulling process's view; everything that must survive a restart lives in Redis."""

    def __init__(
        self,
        r: redis.Redis,
        sdk: ArchiveSdk,
        settings: Settings | None = None,
        private_keys: list | None = None,
        lock_ttl_ms: int = keys.ARCHIVE_LOCK_TTL_MS,
    ):
        self.r, self.sdk = r, sdk
        self.settings = settings or get_settings()
        self.keys = private_keys if private_keys is not None else load_private_keys(self.settings.archive_private_key)
        self.lock_ttl_ms = lock_ttl_ms
        self._names: dict[str, dict[str, str]] = {}
        groups = self.settings.groups.values()
        self._rooms = {g.room_id or g.chat_id: g for g in groups if g.room_id or g.chat_id}
        self._people = {uid for g in groups for uid in (*g.members, *g.leaders)}
        self._room_posts: Counter[str] = Counter()  # this batch's tally, written once the cursor moved
        self._room_last: dict[str, int] = {}
        self._from_ms: int | None = None  # keys.ARCHIVE_FROM while catching up after a missing cursor
        self._floors: dict[str, int] = {}
        self.skipped = 0  # posts skipped as older than the catch-up's start

    # -- the loop ---------------------------------------------------------------------------------
    def pull(self, limit: int = 1000, max_seconds: float | None = None, max_batches: int = 1000) -> int:
        """Pull until caught up (or out of time); returns how many posts went into the inbox."""
        limit = max(1, min(int(limit), SDK_MAX_LIMIT))
        if not self.keys:
            log.error("message archive: WECOM_ARCHIVE_PRIVATE_KEY holds no usable key; not pulling")
            return 0
        token = self._lock()
        if token is None:
            return 0
        started = time.monotonic()
        added = 0
        try:
            self._start_catch_up()
            for _ in range(max_batches):
                records = self._fetch(limit)
                if records is None:
                    break
                if records:
                    added += self._process(records)
                    if not self._advance(token, records):
                        break
                    self._flush_rooms()
                if len(records) < limit:
                    self._end_catch_up()
                    if not self.r.delete(keys.ARCHIVE_AGAIN):
                        break
                if max_seconds is not None and time.monotonic() - started > max_seconds:
                    break
        finally:
            scripts.script("out_cad", self.r)(keys=[keys.ARCHIVE_LOCK], args=[token])
        if added:
            log.info("message archive: %d new post(s) of configured groups queued", added)
        if self.skipped:
            log.info("message archive: catching up, %d record(s) from before the start skipped", self.skipped)
        return added

    # -- a missing cursor: catching up from the camp's start (or the last 24 hours) ------------------
    def _start_catch_up(self) -> None:
        if self.r.get(keys.ARCHIVE_SEQ) is None and self.r.set(keys.ARCHIVE_FROM, int(wall_clock() * 1000), nx=True):
            log.info(
                "message archive: no cursor (the first pull, or it was lost): posts from before each camp's "
                "start, or without camp dates from before the last 24 hours, are skipped"
            )
        self._load_catch_up()

    def _load_catch_up(self) -> None:
        raw = self.r.get(keys.ARCHIVE_FROM)
        self._from_ms = int(raw) if raw is not None else None
        self._floors.clear()

    def _end_catch_up(self) -> None:
        """Caught up: from now on every post counts (the cursor exists, so it is no longer missing)."""
        if self._from_ms is not None and self.r.get(keys.ARCHIVE_SEQ) is not None:
            self.r.delete(keys.ARCHIVE_FROM)
            self._from_ms = None
            self._floors.clear()

    def _floor_ms(self, group: Group) -> int | None:
        """While catching up: the earliest msgtime (ms) of `group` that counts; else None."""
        if self._from_ms is None:
            return None
        if group.key not in self._floors:
            if group.camp_start is not None:
                start = group.camp_start
                floor = datetime(start.year, start.month, start.day, tzinfo=group.tz).timestamp()
                self._floors[group.key] = int(floor * 1000)
            else:
                self._floors[group.key] = self._from_ms - CATCH_UP_WINDOW_MS
        return self._floors[group.key]

    # -- the room tally ---------------------------------------------------------------------------
    def _tally(self, roomid: str, msg: dict) -> None:
        """Count a post of a configured member or leader in `roomid` (any room: also one that maps to
        no group, which is how a room id that differs from the chat id is found). Counts only."""
        sender = msg.get("from")
        if str(msg.get("action") or "send").lower() != "send" or not isinstance(sender, str):
            return
        if sender not in self._people:
            return
        self._room_posts[roomid] += 1
        try:
            ts = int(msg.get("msgtime") or 0) // 1000
        except (TypeError, ValueError):
            ts = 0
        self._room_last[roomid] = max(self._room_last.get(roomid, 0), ts)

    def _flush_rooms(self) -> None:
        """Write the tally of the records just done (at most MAX_ROOMS room ids are kept)."""
        rooms = list(self._room_posts)
        if not rooms:
            return
        with self.r.pipeline(transaction=False) as p:
            p.hlen(keys.ARCHIVE_ROOMS)
            for room in rooms:
                p.hexists(keys.ARCHIVE_ROOMS, room)
            size, *present = p.execute()
        space = MAX_ROOMS - int(size)
        with self.r.pipeline(transaction=False) as p:
            for room, known in zip(rooms, present, strict=True):
                if not known:
                    if space <= 0:
                        continue
                    space -= 1
                p.hincrby(keys.ARCHIVE_ROOMS, room, self._room_posts[room])
                p.hset(keys.ARCHIVE_ROOMS_LAST, room, self._room_last.get(room, 0))
            p.expire(keys.ARCHIVE_ROOMS, keys.ARCHIVE_ROOMS_TTL)
            p.expire(keys.ARCHIVE_ROOMS_LAST, keys.ARCHIVE_ROOMS_TTL)
            p.execute()
        self._room_posts.clear()
        self._room_last.clear()

    def _lock(self) -> str | None:
        """The pull lock's token; None when another pull holds it (asked to go round once more)."""
        token = secrets.token_hex(16)
        if self.r.set(keys.ARCHIVE_LOCK, token, nx=True, px=self.lock_ttl_ms):
            return token
        self.r.set(keys.ARCHIVE_AGAIN, 1, px=self.lock_ttl_ms)
        log.debug("archive pull already running elsewhere; asked it to pull once more")
        return None

    def _fetch(self, limit: int) -> list[dict] | None:
        """The records after the cursor, in order; None when GetChatData failed (logged)."""
        cursor = int(self.r.get(keys.ARCHIVE_SEQ) or 0)
        reply, failure = fetch(self.sdk, cursor, limit)
        if reply is None:
            log.error("message archive: GetChatData after seq %d %s; will retry", cursor, failure)
            return None
        return _after(reply.get("chatdata"), cursor)

    def _advance(self, token: str, records: list[dict]) -> bool:
        """Move the cursor past `records` if the lock is still ours; False (logged) when it is not."""
        last = max(int(rec["seq"]) for rec in records)
        if not scripts.script("archive_advance", self.r)(
            keys=[keys.ARCHIVE_LOCK, keys.ARCHIVE_SEQ], args=[token, str(last), self.lock_ttl_ms]
        ):
            log.warning(
                "message archive: lost the pull lock (a pull took over %d s); stopping", self.lock_ttl_ms // 1000
            )
            return False
        self.r.hincrby(keys.METRICS, "archive:records", len(records))
        return True

    def _process(self, records: list[dict]) -> int:
        added = 0
        self._names.clear()
        self._room_posts.clear()  # a batch whose cursor did not move is counted by the one that re-reads it
        self._room_last.clear()
        for rec in records:
            try:
                msg = open_record(self.sdk, self.keys, rec)
            except RecordError as exc:
                park(self.r, rec, str(exc))
                continue
            added += self.handle(msg)
        return added

    # -- one decrypted message --------------------------------------------------------------------
    def handle(self, msg: dict, late: bool = False) -> int:
        """Queue one message of a configured group (1) or apply its recall; anything else is dropped
        unread (0). `late`: a parked record fetched again, possibly after its recall was read."""
        roomid = msg.get("roomid")
        if not roomid or not isinstance(roomid, str):
            return 0  # a private conversation: never ours to read
        self._tally(roomid, msg)
        group = self._rooms.get(roomid)
        if group is None:
            return 0  # a conversation that is not a configured group: dropped unread (counted, see _tally)
        head = posts.read_head(msg, group)
        if head is None:
            return 0
        floor = self._floor_ms(group)
        if floor is not None and head.ms < floor:
            self.skipped += 1
            return 0  # catching up after a missing cursor: a day before the start is not credited
        if head.is_recall:
            self._recall(group, msg, head.ts)
            return 0
        if not head.is_post:
            return 0
        names = self._group_names(group)
        if posts.is_robot(head.sender, group, names):
            return 0  # a robot, the bot itself included
        day = day_of(head.ts, group.tz)
        if late and recalls.recalled_on(self.r, group, head.msgid, day):
            return 0  # recalled the same day while it was parked: never counts
        post = posts.body(msg)
        self._file(group, head, post, day, names)
        event = posts.inbox_event(group.chat_id or roomid, head, post, names.get(head.sender, ""))
        return 1 if ingest.accept(self.r, event) else 0

    def _file(self, group: Group, head: posts.Head, post: posts.Body, day: int, names: dict[str, str]) -> None:
        """What a post leaves besides its inbox event, written as is again after a crash: a new member
        who checks in under their userid, and the marks a recall reads."""
        sender = head.sender
        with self.r.pipeline(transaction=False) as p:
            if sender not in names and sender not in group.members and posts.checks_in(group, sender, post):
                # The archive carries no display names, and the register lists only configured members
                # and named ones: learn a new member who checks in under their userid (a robot post
                # or a command brings the name later). Someone who only chats is not made a member.
                p.hsetnx(keys.names(group.key), sender, sender)
                names[sender] = sender
            is_chain = post.kind in ("text", "mixed") and parse_chain(post.text) is not None
            recalls.remember_post(p, group.key, sender, head.msgid, day, is_chain)
            p.execute()

    def _group_names(self, group: Group) -> dict[str, str]:
        if group.key not in self._names:
            raw = self.r.hgetall(keys.names(group.key))
            self._names[group.key] = {as_text(k): as_text(v) for k, v in raw.items() if v}
        return self._names[group.key]

    def _recall(self, group: Group, msg: dict, ts: int) -> None:
        revoke = msg.get("revoke")
        pre = str(revoke.get("pre_msgid") or "") if isinstance(revoke, dict) else ""
        if not pre:
            return
        results = recalls.recall(self.r, group.key, pre, now=ts, settings=self.settings)
        undone = sum(1 for v in results.values() if v == 1)
        if undone:
            log.info("message archive: a recalled post un-counted %d check-in(s) in group %s", undone, group.key)


def _after(chatdata: list | None, cursor: int) -> list[dict]:
    """The records of a GetChatData answer after `cursor`, in seq order (one without a seq: logged, skipped)."""
    out = []
    for rec in chatdata or []:
        try:
            seq = int(rec["seq"])
        except (KeyError, TypeError, ValueError):
            log.error("message archive: a record without a seq was skipped")
            continue
        if seq > cursor:
            out.append(rec)
    out.sort(key=lambda rec: int(rec["seq"]))
    return out


def pull(r: redis.Redis, sdk: ArchiveSdk, limit: int = 1000, **options) -> int:
    """Pull new archive records into the inbox (see Puller.pull); returns how many posts were queued."""
    return Puller(r, sdk, options.pop("settings", None), options.pop("private_keys", None)).pull(limit, **options)


# --- parked records --------------------------------------------------------------------------------


def park(r: redis.Redis, rec: dict, error: str) -> None:
    """Keep a record that cannot be opened (never its content), the newest MAX_PARKED."""
    seq = int(rec["seq"])
    entry = {
        "seq": seq,
        "msgid": str(rec.get("msgid") or "")[:128],
        "publickey_ver": rec.get("publickey_ver"),
        "error": error,
        "at": int(time.time()),
    }
    log.error(
        "message archive: record seq %d (msgid %s, publickey_ver %s) parked: %s",
        seq,
        entry["msgid"],
        entry["publickey_ver"],
        error,
    )
    with r.pipeline(transaction=False) as p:
        p.hset(keys.ARCHIVE_PARKED, str(seq), json.dumps(entry, ensure_ascii=False))
        p.hincrby(keys.METRICS, "archive:parked", 1)
        p.execute()
    if r.hlen(keys.ARCHIVE_PARKED) > MAX_PARKED:  # never grow without bound: drop the oldest
        oldest = sorted(int(s) for s in r.hkeys(keys.ARCHIVE_PARKED))[:-MAX_PARKED]
        if oldest:
            r.hdel(keys.ARCHIVE_PARKED, *[str(s) for s in oldest])


def parked(r: redis.Redis) -> list[dict]:
    return sorted((json.loads(v) for v in r.hvals(keys.ARCHIVE_PARKED)), key=lambda e: e["seq"])


@dataclass
class RetryReport:
    """What `retry_parked` did, for `wecom-bot archive --retry-parked` (seqs and reasons, no content)."""

    added: int = 0  # posts queued into the inbox
    opened: list[int] = field(default_factory=list)  # opened now: no longer parked
    closed: list[tuple[int, str]] = field(default_factory=list)  # still do not open (the error now)
    gone: list[int] = field(default_factory=list)  # no longer kept by WeCom: stay parked for the record
    failed: str = ""  # why fetching stopped (an SDK error or errcode): the rest stay parked for later


def retry_parked(r: redis.Redis, sdk: ArchiveSdk, settings: Settings | None = None) -> int:
    """Fetch parked records again (e.g. after WECOM_ARCHIVE_PRIVATE_KEY was fixed); the ones that open
    now go to the inbox and leave the parking. Returns how many posts were queued."""
    return retry_parked_report(r, sdk, settings).added


def retry_parked_report(r: redis.Redis, sdk: ArchiveSdk, settings: Settings | None = None) -> RetryReport:
    """`retry_parked`, saying what became of each record. A fetch that fails (an SDK error, or an
    errcode in the answer, e.g. the server's IP not trusted) stops the retry: every record stays
    parked, to be retried later, and `failed` says why."""
    puller = Puller(r, sdk, settings)
    puller._load_catch_up()
    report = RetryReport()
    for entry in parked(r):
        seq = int(entry["seq"])
        reply, failure = fetch(sdk, seq - 1, 1)
        if reply is None:
            report.failed = f"fetching seq {seq} again: GetChatData {failure}"
            log.error("message archive: %s; the parked records stay parked, run the retry again later", report.failed)
            break
        found = [rec for rec in (reply.get("chatdata") or []) if str(rec.get("seq")) == str(seq)]
        if not found:
            report.gone.append(seq)
            continue  # no longer kept by WeCom: stays parked for the record
        try:
            msg = open_record(sdk, puller.keys, found[0])
        except RecordError as exc:
            report.closed.append((seq, str(exc)))
            if str(exc) != entry.get("error"):
                r.hset(keys.ARCHIVE_PARKED, str(seq), json.dumps({**entry, "error": str(exc)}, ensure_ascii=False))
            continue
        report.added += puller.handle(msg, late=True)
        r.hdel(keys.ARCHIVE_PARKED, str(seq))
        report.opened.append(seq)
    puller._flush_rooms()
    return report


def fetch(sdk: ArchiveSdk, seq: int, limit: int) -> tuple[dict | None, str]:
    """GetChatData's answer after `seq`, or (None, why it failed): the call raised, or its JSON is
    not an object or carries an errcode other than 0 (errmsg shortened; never content or secrets)."""
    try:
        reply = sdk.get_chat_data(seq, limit)
    except ArchiveSdkError as exc:
        return None, f"failed (code {exc.code})" if exc.code is not None else f"failed ({exc})"
    except (OSError, ValueError) as exc:
        return None, f"failed ({type(exc).__name__})"
    if not isinstance(reply, dict):
        return None, "answered something that is not a JSON object"
    code = reply.get("errcode", 0)
    if code is not None and str(code) != "0":
        return None, f"answered errcode {code} {str(reply.get('errmsg', ''))[:80]}".rstrip()
    return reply, ""


# --- the room tally ----------------------------------------------------------------------------------


def rooms(r: redis.Redis, settings: Settings | None = None) -> list[dict]:
    """The room ids where configured members and leaders posted, most posts first: {"room", "posts",
    "last" (epoch seconds of the latest), "group" (the key it maps to, "" when unmapped)}."""
    settings = settings or get_settings()
    mapped = {g.room_id or g.chat_id: g.key for g in settings.groups.values()}
    with r.pipeline(transaction=False) as p:
        p.hgetall(keys.ARCHIVE_ROOMS)
        p.hgetall(keys.ARCHIVE_ROOMS_LAST)
        counts, lasts = p.execute()
    out = []
    for raw, n in counts.items():
        room = as_text(raw)
        out.append({"room": room, "posts": int(n), "last": int(lasts.get(raw) or 0), "group": mapped.get(room, "")})
    return sorted(out, key=lambda e: (-e["posts"], e["room"]))
