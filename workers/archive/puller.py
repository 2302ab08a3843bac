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
records again, e.g. after the key was fixed. A failing GetChatData (network, secret) moves nothing:
the next pull starts from the same cursor.
"""

from __future__ import annotations

import json
import logging
import secrets
import time

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
SDK_MAX_LIMIT = 1000  # GetChatData's own maximum


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
            for _ in range(max_batches):
                records = self._fetch(limit)
                if records is None:
                    break
                if records:
                    added += self._process(records)
                    if not self._advance(token, records):
                        break
                if len(records) < limit and not self.r.delete(keys.ARCHIVE_AGAIN):
                    break
                if max_seconds is not None and time.monotonic() - started > max_seconds:
                    break
        finally:
            scripts.script("out_cad", self.r)(keys=[keys.ARCHIVE_LOCK], args=[token])
        if added:
            log.info("message archive: %d new post(s) of configured groups queued", added)
        return added

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
        try:
            reply = self.sdk.get_chat_data(cursor, limit)
        except ArchiveSdkError as exc:
            log.error("message archive: GetChatData after seq %d failed (code %s); will retry", cursor, exc.code)
            return None
        except (OSError, ValueError) as exc:
            log.error("message archive: GetChatData after seq %d failed (%s); will retry", cursor, type(exc).__name__)
            return None
        if not isinstance(reply, dict) or reply.get("errcode", 0) != 0:
            code = reply.get("errcode") if isinstance(reply, dict) else None
            msg = str(reply.get("errmsg", ""))[:80] if isinstance(reply, dict) else ""
            log.error("message archive: GetChatData after seq %d answered errcode %s %s; will retry", cursor, code, msg)
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
        group = self.settings.group_by_chat(roomid)
        if group is None:
            return 0  # a conversation that is not a configured group: dropped unread
        head = posts.read_head(msg, group)
        if head is None:
            return 0
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
        event = posts.inbox_event(roomid, head, post, names.get(head.sender, ""))
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


def retry_parked(r: redis.Redis, sdk: ArchiveSdk, settings: Settings | None = None) -> int:
    """Fetch parked records again (e.g. after WECOM_ARCHIVE_PRIVATE_KEY was fixed); the ones that open
    now go to the inbox and leave the parking. Returns how many posts were queued."""
    puller = Puller(r, sdk, settings)
    added = 0
    for entry in parked(r):
        seq = int(entry["seq"])
        try:
            reply = sdk.get_chat_data(seq - 1, 1)
        except (ArchiveSdkError, OSError, ValueError):
            log.error("message archive: could not fetch parked record seq %d again", seq)
            continue
        found = [rec for rec in (reply.get("chatdata") or []) if str(rec.get("seq")) == str(seq)]
        if not found:
            continue  # no longer kept by WeCom: stays parked for the record
        try:
            msg = open_record(sdk, puller.keys, found[0])
        except RecordError:
            continue
        added += puller.handle(msg, late=True)
        r.hdel(keys.ARCHIVE_PARKED, str(seq))
    return added
