"""The message archive (会话内容存档): the third inbound source, feeding the same inbox.

WeCom's archive sees every post in every conversation of the company. Its native SDK hands out
records in order of a sequence number: `GetChatData(seq, limit)` returns the records after `seq`,
each with the message encrypted under a random key, and the random key encrypted with the
company's RSA public key. `Puller.pull()`:

1. takes the pull lock (`wb:archive:lock`, a random token, a TTL renewed per batch); a second puller
   finds it taken, leaves a "pull again" flag for the holder and returns at once;
2. reads the records after the cursor `wb:archive:seq`;
3. for each record decrypts the random key (RSA, PKCS#1 v1.5, WECOM_ARCHIVE_PRIVATE_KEY), lets the
   SDK decrypt the message, and reads its JSON. The record says nothing about its conversation, so
   every message is decrypted; one from a conversation that is not a configured group is dropped on
   the spot, in memory: its text, ids and room are never stored or logged;
4. feeds each post of a configured group to `ingest.accept()` (source "archive", deduped on the
   archive msgid for 24 h, like robot and app callbacks), and applies recalls (`recall`);
5. only then advances the cursor, in one Lua call that also checks the lock token is still ours.
   A crash between 4 and 5 re-reads the batch, and every accept is a no-op the second time (the
   msgid dedupe); a puller that lost its lock can no longer move the cursor.

A record that cannot be opened (the random key does not decrypt with the configured key, the SDK
refuses the message, the JSON is unreadable) is parked in `wb:archive:parked` (its seq, msgid, key
version and the kind of error, never any content) and the cursor moves on; `retry_parked()` fetches
parked records again, e.g. after the key was fixed. A failing GetChatData (network, secret) moves
nothing: the next pull starts from the same cursor.

Who pulls: the RQ job `pull_job` (queue "default"), queued through workers.jobs.enqueue by every
minute tick (`schedule_pull`, from workers.schedule.tick) and by a `msgaudit_notify` event on the app
callback (`wake`, from workers.ingest), at most one waiting at a time. Without the archive configured
(`is_configured`) all of these do nothing and nothing is stored.

A recall (`action: recall`, msgtype revoke) un-counts, on the day of the post only, every check-in the
post made: its author's, and for a leader's 接龙 each member it credited, unless another archive post of
that member's day (their own, or a 接龙) still carries it (workers/lua/archive_recall.lua).

The SDK boundary is the two calls of `ArchiveSdk`; `NativeSdk` wraps WeCom's C library through
ctypes and is loaded only when WECOM_ARCHIVE_SDK_PATH is set; the tests use
`wecom_bot.archive_sim.ArchiveSimulator` (`install_sdk`).
"""
from __future__ import annotations

import base64
import binascii
import ctypes
import json
import logging
import re
import secrets
import threading
import time
from typing import Protocol, runtime_checkable

import redis

from config.settings import Group, Settings, get_settings
from handlers.calendar import day_of
from handlers.chain import MAX_TEXT, parse_chain
from workers import ingest, jobs, keys, scripts
from workers.connection import get_redis

log = logging.getLogger(__name__)

LOCK_TTL_MS = 60_000
MARK_TTL = 26 * 3600                  # a recall counts only on the same local day: a day and some slack
RECALLED_TTL = 8 * 24 * 3600          # how long a recall is remembered for a parked post fetched again
PULL_BUDGET = 40.0                    # seconds one pull_if_configured() may spend (the tick runs every minute)
MAX_PARKED = 10_000
SDK_MAX_LIMIT = 1000                  # GetChatData's own maximum

# Senders whose id starts with "wb" are robots (WeCom gives robots ids of that form in the archive):
# the bot's own replies ("✅ 小鹿 打卡成功") must not count as check-ins of the robot.
_ROBOT_ID = re.compile(r"^wb[A-Za-z0-9_\-]{8,}$")
_PEM_BLOCK = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.+?-----END [A-Z ]*PRIVATE KEY-----", re.S)


# --- the SDK boundary ------------------------------------------------------------------------------

class ArchiveSdkError(Exception):
    """The SDK answered with an error code (never carries a secret or message content)."""

    def __init__(self, what: str, code: int | None = None):
        super().__init__(f"{what} failed" + (f" with code {code}" if code is not None else ""))
        self.code = code


@runtime_checkable
class ArchiveSdk(Protocol):
    def get_chat_data(self, seq: int, limit: int) -> dict:
        """The SDK's JSON: {"errcode": 0, "chatdata": [{"seq", "msgid", "publickey_ver",
        "encrypt_random_key", "encrypt_chat_msg"}, ...]}, the records after `seq`."""

    def decrypt_data(self, random_key: str, encrypt_chat_msg: str) -> str:
        """The message's JSON, given the random key already decrypted with the RSA private key."""


class NativeSdk:
    """WeCom's C SDK (libWeWorkFinanceSdk_C.so) through ctypes, following WeWorkFinanceSdk_C.h:

        WeWorkFinanceSdk_t* NewSdk();
        int  Init(WeWorkFinanceSdk_t* sdk, const char* corpid, const char* secret);
        int  GetChatData(WeWorkFinanceSdk_t* sdk, unsigned long long seq, unsigned int limit,
                         const char* proxy, const char* passwd, int timeout, Slice_t* chatDatas);
        int  DecryptData(const char* encrypt_key, const char* encrypt_msg, Slice_t* msg);
        Slice_t* NewSlice();  char* GetContentFromSlice(Slice_t*);  int GetSliceLen(Slice_t*);
        void FreeSlice(Slice_t*);  void DestroySdk(WeWorkFinanceSdk_t*);

    Not exercised by the tests (the library is not redistributable); keep it this small."""

    def __init__(self, path: str, corp_id: str, secret: str, proxy: str = "", proxy_password: str = "",
                 timeout: int = 10):
        lib = ctypes.CDLL(path)
        vp, cp = ctypes.c_void_p, ctypes.c_char_p
        lib.NewSdk.restype = vp
        lib.Init.argtypes, lib.Init.restype = [vp, cp, cp], ctypes.c_int
        lib.GetChatData.argtypes = [vp, ctypes.c_ulonglong, ctypes.c_uint, cp, cp, ctypes.c_int, vp]
        lib.GetChatData.restype = ctypes.c_int
        lib.DecryptData.argtypes, lib.DecryptData.restype = [cp, cp, vp], ctypes.c_int
        lib.NewSlice.restype = vp
        lib.FreeSlice.argtypes, lib.FreeSlice.restype = [vp], None
        lib.GetContentFromSlice.argtypes, lib.GetContentFromSlice.restype = [vp], vp
        if hasattr(lib, "GetSliceLen"):
            lib.GetSliceLen.argtypes, lib.GetSliceLen.restype = [vp], ctypes.c_int
        lib.DestroySdk.argtypes, lib.DestroySdk.restype = [vp], None
        self._lib, self._lock = lib, threading.Lock()
        self._proxy, self._passwd, self._timeout = proxy.encode(), proxy_password.encode(), int(timeout)
        self._sdk = lib.NewSdk()
        code = lib.Init(self._sdk, corp_id.encode(), secret.encode())
        if code != 0:
            lib.DestroySdk(self._sdk)
            self._sdk = None
            raise ArchiveSdkError("Init", code)

    def _call(self, what: str, fn) -> str:
        lib = self._lib
        out = lib.NewSlice()
        try:
            code = fn(out)
            if code != 0:
                raise ArchiveSdkError(what, code)
            ptr = lib.GetContentFromSlice(out)
            if not ptr:
                return ""
            size = lib.GetSliceLen(out) if hasattr(lib, "GetSliceLen") else -1
            raw = ctypes.string_at(ptr, size) if size >= 0 else ctypes.string_at(ptr)
            return raw.decode("utf-8", errors="replace")
        finally:
            lib.FreeSlice(out)

    def get_chat_data(self, seq: int, limit: int) -> dict:
        with self._lock:
            text = self._call("GetChatData", lambda out: self._lib.GetChatData(
                self._sdk, int(seq), int(limit), self._proxy, self._passwd, self._timeout, out))
        return json.loads(text)

    def decrypt_data(self, random_key: str, encrypt_chat_msg: str) -> str:
        with self._lock:
            return self._call("DecryptData", lambda out: self._lib.DecryptData(
                random_key.encode("latin-1"), encrypt_chat_msg.encode(), out))

    def close(self) -> None:
        if self._sdk:
            self._lib.DestroySdk(self._sdk)
            self._sdk = None


_installed: ArchiveSdk | None = None
_native: tuple[tuple, NativeSdk] | None = None
_native_lock = threading.Lock()


def install_sdk(sdk: ArchiveSdk | None) -> None:
    """Use this SDK instead of the native one (the tests install the simulator)."""
    global _installed
    _installed = sdk


def get_sdk(settings: Settings) -> ArchiveSdk:
    """The installed SDK, else the native one, loaded once per process and configuration."""
    global _native
    if _installed is not None:
        return _installed
    ident = (settings.archive_sdk_path, settings.corp_id, settings.archive_secret, settings.archive_proxy,
             settings.archive_proxy_password, settings.archive_timeout)
    with _native_lock:
        if _native is None or _native[0] != ident:
            _native = (ident, NativeSdk(settings.archive_sdk_path, settings.corp_id, settings.archive_secret,
                                        settings.archive_proxy, settings.archive_proxy_password,
                                        settings.archive_timeout))
        return _native[1]


def is_configured(settings: Settings | None = None) -> bool:
    s = settings or get_settings()
    if not getattr(s, "archive_private_key", ""):
        return False
    return _installed is not None or bool(getattr(s, "archive_sdk_path", "") and getattr(s, "archive_secret", ""))


def sources_line(settings: Settings) -> str:
    """Which inbound sources are active, for `wecom-bot check-config`."""
    parts = []
    if settings.robot_token and settings.robot_aes_key:
        parts.append("group robot callback")
    if settings.token and settings.aes_key:
        parts.append("app callback")
    if is_configured(settings):
        parts.append("message archive")
    return ", ".join(parts) if parts else "none"


# --- opening a record ------------------------------------------------------------------------------

class RecordError(Exception):
    """A record that cannot be opened; the text names the kind of failure, never content or keys."""


def load_private_keys(pem: str) -> list:
    from cryptography.hazmat.primitives.serialization import load_pem_private_key
    return [load_pem_private_key(block.encode(), password=None) for block in _PEM_BLOCK.findall(pem or "")]


def _usable_key(raw: bytes) -> str | None:
    """The random key goes to DecryptData as a C string: it cannot be empty or hold a NUL. (PKCS#1
    v1.5 decryption with a wrong key does not always raise: implicit rejection returns pseudo-random
    bytes, which then fail here or in DecryptData.) Latin-1 keeps the bytes as they are."""
    if not raw or len(raw) > 512 or b"\0" in raw:
        return None
    return raw.decode("latin-1")


def open_record(sdk: ArchiveSdk, private_keys: list, record: dict) -> dict:
    """Decrypt one record into the message dict; RecordError when it cannot be done."""
    from cryptography.hazmat.primitives.asymmetric import padding
    try:
        blob = base64.b64decode(record.get("encrypt_random_key") or "", validate=True)
        cipher = record["encrypt_chat_msg"]
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise RecordError("the record has no readable encrypt_random_key / encrypt_chat_msg") from None
    candidates = []
    for key in private_keys:
        try:
            raw = key.decrypt(blob, padding.PKCS1v15())
        except ValueError:
            continue
        text = _usable_key(raw)
        if text is not None and text not in candidates:
            candidates.append(text)
    candidates.sort(key=lambda k: not (k.isascii() and k.isprintable()))   # the likely right key first
    if not candidates:
        raise RecordError(f"the random key does not decrypt with WECOM_ARCHIVE_PRIVATE_KEY "
                          f"(publickey_ver {record.get('publickey_ver')!r}: is that key configured?)")
    failure = "DecryptData failed"
    for random_key in candidates:
        try:
            text = sdk.decrypt_data(random_key, cipher)
        except ArchiveSdkError as exc:
            failure = f"DecryptData failed with code {exc.code}"
            continue
        except Exception:
            continue
        try:
            msg = json.loads(text, strict=False)    # the SDK may leave control characters (line breaks) raw
        except (TypeError, ValueError):
            raise RecordError("the decrypted message is not JSON") from None
        if not isinstance(msg, dict):
            raise RecordError("the decrypted message is not a JSON object")
        return msg
    raise RecordError(f"{failure} (does WECOM_ARCHIVE_PRIVATE_KEY hold the key of publickey_ver "
                      f"{record.get('publickey_ver')!r}?)")


def _message_body(msg: dict) -> tuple[str, str, bool]:
    """(msgtype for the inbox, text, has_image) of an archive message; no text for other types."""
    msgtype = str(msg.get("msgtype") or "").lower()
    if msgtype == "text":
        body = msg.get("text") if isinstance(msg.get("text"), dict) else {}
        return "text", str(body.get("content") or ""), False
    if msgtype == "image":
        return "image", "", True
    if msgtype == "mixed":
        mixed = msg.get("mixed") if isinstance(msg.get("mixed"), dict) else {}
        parts, has_image = [], False
        for item in mixed.get("item") or []:
            if not isinstance(item, dict):
                continue
            kind = str(item.get("type") or "").lower()
            if kind == "image":
                has_image = True
            elif kind == "text":
                try:
                    content = json.loads(item.get("content") or "{}")
                except (TypeError, ValueError):
                    content = {}
                text = content.get("content") if isinstance(content, dict) else None
                if text:
                    parts.append(str(text))
        return "mixed", "\n".join(parts), has_image
    return msgtype or "unknown", "", False   # voice, file, link, emotion ...: seen, nothing to read


def _checks_in(group: Group, sender: str, kind: str, text: str, has_image: bool) -> bool:
    """Whether the post looks like a check-in of its sender (handlers.checkin, no I/O)."""
    from handlers.checkin import detect
    try:
        found = detect(text, kind if kind != "mixed" or has_image else "text", sender_userid=sender,
                       sender_is_leader=sender in group.leaders)
    except Exception:  # a detection fault must not stop the pull; the worker decides anyway
        return False
    return found.kind != "none"


# --- the puller ------------------------------------------------------------------------------------

class Puller:
    """One pulling process's view; everything that must survive a restart lives in Redis."""

    def __init__(self, r: redis.Redis, sdk: ArchiveSdk, settings: Settings | None = None,
                 private_keys: list | None = None, lock_ttl_ms: int = LOCK_TTL_MS):
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
        token = secrets.token_hex(16)
        if not self.r.set(keys.ARCHIVE_LOCK, token, nx=True, px=self.lock_ttl_ms):
            self.r.set(keys.ARCHIVE_AGAIN, 1, px=self.lock_ttl_ms)
            log.debug("archive pull already running elsewhere; asked it to pull once more")
            return 0
        started = time.monotonic()
        added = 0
        try:
            for _ in range(max_batches):
                cursor = int(self.r.get(keys.ARCHIVE_SEQ) or 0)
                try:
                    reply = self.sdk.get_chat_data(cursor, limit)
                except ArchiveSdkError as exc:
                    log.error("message archive: GetChatData after seq %d failed (code %s); will retry",
                              cursor, exc.code)
                    break
                except (OSError, ValueError) as exc:
                    log.error("message archive: GetChatData after seq %d failed (%s); will retry",
                              cursor, type(exc).__name__)
                    break
                if not isinstance(reply, dict) or reply.get("errcode", 0) != 0:
                    code = reply.get("errcode") if isinstance(reply, dict) else None
                    msg = str(reply.get("errmsg", ""))[:80] if isinstance(reply, dict) else ""
                    log.error("message archive: GetChatData after seq %d answered errcode %s %s; will retry",
                              cursor, code, msg)
                    break
                records = self._valid(reply.get("chatdata"), cursor)
                if records:
                    added += self._process(records)
                    last = max(int(rec["seq"]) for rec in records)
                    if not scripts.script("archive_advance", self.r)(keys=[keys.ARCHIVE_LOCK, keys.ARCHIVE_SEQ],
                                                                   args=[token, str(last), self.lock_ttl_ms]):
                        log.warning("message archive: lost the pull lock (a pull took over %d s); stopping",
                                    self.lock_ttl_ms // 1000)
                        break
                    self.r.hincrby(keys.METRICS, "archive:records", len(records))
                full = len(records) >= limit
                if not full and not self.r.delete(keys.ARCHIVE_AGAIN):
                    break
                if max_seconds is not None and time.monotonic() - started > max_seconds:
                    break
        finally:
            scripts.script("out_cad", self.r)(keys=[keys.ARCHIVE_LOCK], args=[token])
        if added:
            log.info("message archive: %d new post(s) of configured groups queued", added)
        return added

    @staticmethod
    def _valid(chatdata, cursor: int) -> list[dict]:
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

    def _process(self, records: list[dict]) -> int:
        added = 0
        self._names.clear()
        for rec in records:
            try:
                msg = open_record(self.sdk, self.keys, rec)
            except RecordError as exc:
                self._park(rec, str(exc))
                continue
            added += self._handle(msg)
        return added

    def _park(self, rec: dict, error: str) -> None:
        seq = int(rec["seq"])
        entry = {"seq": seq, "msgid": str(rec.get("msgid") or "")[:128], "publickey_ver": rec.get("publickey_ver"),
                 "error": error, "at": int(time.time())}
        log.error("message archive: record seq %d (msgid %s, publickey_ver %s) parked: %s",
                  seq, entry["msgid"], entry["publickey_ver"], error)
        with self.r.pipeline(transaction=False) as p:
            p.hset(keys.ARCHIVE_PARKED, str(seq), json.dumps(entry, ensure_ascii=False))
            p.hincrby(keys.METRICS, "archive:parked", 1)
            p.execute()
        if self.r.hlen(keys.ARCHIVE_PARKED) > MAX_PARKED:   # never grow without bound: drop the oldest
            oldest = sorted(int(s) for s in self.r.hkeys(keys.ARCHIVE_PARKED))[: -MAX_PARKED]
            if oldest:
                self.r.hdel(keys.ARCHIVE_PARKED, *[str(s) for s in oldest])

    # -- one decrypted message --------------------------------------------------------------------
    def _handle(self, msg: dict, late: bool = False) -> int:
        """`late`: a parked record fetched again, possibly after its recall was read."""
        roomid = msg.get("roomid")
        if not roomid or not isinstance(roomid, str):
            return 0                         # a private conversation: never ours to read
        group = self.settings.group_by_chat(roomid)
        if group is None:
            return 0                         # a conversation that is not a configured group: dropped unread
        try:
            action = str(msg.get("action") or "send").lower()
            msgtype = str(msg.get("msgtype") or "").lower()
            sender = str(msg.get("from") or "")
            ts = int(msg.get("msgtime") or 0) // 1000
            msgid = str(msg.get("msgid") or "")
        except (TypeError, ValueError):
            log.error("message archive: a message of group %s has unreadable fields; skipped", group.key)
            return 0
        if not msgid or not ts:
            log.error("message archive: a message of group %s has no msgid or msgtime; skipped", group.key)
            return 0
        if action == "recall" or msgtype == "revoke":
            self._recall(group, msg, sender, ts)
            return 0
        if action != "send" or not sender or msgtype in ("agree", "disagree"):
            return 0
        names = self._group_names(group)
        if _ROBOT_ID.match(sender) and sender not in names and sender not in group.members \
                and sender not in group.leaders:
            return 0                         # a robot, the bot itself included
        day = day_of(ts, group.tz)
        if late:
            gone = self.r.get(keys.archive_recalled(msgid))
            if gone is not None and day_of(int(gone), group.tz) == day:
                return 0                     # recalled the same day while it was parked: never counts
        kind, text, has_image = _message_body(msg)
        text = text[:MAX_TEXT]
        name = names.get(sender, "")
        event = {"source": "archive", "msgid": msgid, "chat_id": roomid, "chat_type": "group",
                 "userid": sender, "name": "" if name == sender else name, "alias": "", "msgtype": kind,
                 "text": text, "has_image": has_image, "event": "", "ts": ts}
        with self.r.pipeline(transaction=False) as p:   # rewritten as is after a crash
            if sender not in names and sender not in group.members and _checks_in(group, sender, kind, text, has_image):
                # The archive carries no display names, and the register lists only configured members
                # and named ones: learn a new member who checks in under their userid (a robot post
                # or a command brings the name later). Someone who only chats is not made a member.
                p.hsetnx(keys.names(group.key), sender, sender)
                names[sender] = sender
            p.set(keys.archive_posted(msgid), f"{group.key} {sender} {day}", ex=MARK_TTL)   # for recalls
            p.sadd(keys.archive_member_day(group.key, sender, day), msgid)
            p.expire(keys.archive_member_day(group.key, sender, day), MARK_TTL)
            if kind in ("text", "mixed") and parse_chain(text) is not None:
                p.sadd(keys.archive_day_chains(group.key, day), msgid)
                p.expire(keys.archive_day_chains(group.key, day), MARK_TTL)
            p.execute()
        return 1 if ingest.accept(self.r, event) else 0

    def _group_names(self, group: Group) -> dict[str, str]:
        if group.key not in self._names:
            raw = self.r.hgetall(keys.names(group.key))
            self._names[group.key] = {k.decode(): v.decode() for k, v in raw.items() if v}
        return self._names[group.key]

    def _recall(self, group: Group, msg: dict, sender: str, ts: int) -> None:
        revoke = msg.get("revoke") if isinstance(msg.get("revoke"), dict) else {}
        pre = str(revoke.get("pre_msgid") or "")
        if not pre:
            return
        results = recall(self.r, group.key, pre, now=ts, settings=self.settings)
        undone = sum(1 for v in results.values() if v == 1)
        if undone:
            log.info("message archive: a recalled post un-counted %d check-in(s) in group %s", undone, group.key)


def pull(r: redis.Redis, sdk: ArchiveSdk, limit: int = 1000, **options) -> int:
    """Pull new archive records into the inbox (see Puller.pull); returns how many posts were queued."""
    return Puller(r, sdk, options.pop("settings", None), options.pop("private_keys", None)).pull(limit, **options)


# --- recalls ---------------------------------------------------------------------------------------

def _mark(r: redis.Redis, g: Group, msgid: str) -> tuple[str, int] | None:
    """(author, local day) of an archive post of group `g` seen in the last MARK_TTL, else None."""
    mark = r.get(keys.archive_posted(msgid))
    if mark is None:
        return None                          # not an archive post we know of (or older than a day)
    parts = mark.decode().split(" ")
    if len(parts) != 3 or parts[0] != g.key:
        return None
    return parts[1], int(parts[2])


def _unrecord_one(r: redis.Redis, g: Group, userid: str, msgid: str, day: int) -> int:
    """The Lua step for one member (the author, or a member the post credited)."""
    others = {m.decode() for m in r.smembers(keys.archive_member_day(g.key, userid, day))}
    others |= {m.decode() for m in r.smembers(keys.archive_day_chains(g.key, day))}
    others.discard(msgid)
    others = sorted(others)
    if others:   # a recalled post, filed again by a crash re-read, never carries a day
        gone = r.mget([keys.archive_recalled(m) for m in others])
        others = [m for m, x in zip(others, gone) if x is None]
    candidates = [keys.effect(m, g.key, userid) for m in others]
    return int(scripts.script("archive_recall", r)(
        keys=[keys.effect(msgid, g.key, userid), keys.days(g.key, userid), keys.base(g.key),
              keys.links(g.key, day), keys.archive_member_day(g.key, userid, day), *candidates],
        args=[day, ingest.EFFECT_TTL, userid, msgid]))


def unrecord(r: redis.Redis, group: str, userid: str, msgid: str, now: float | None = None,
             settings: Settings | None = None) -> int:
    """Take back the check-in that archive post `msgid` counted for `userid` (its author, or a member
    its 接龙 credited) in `group`, if it counted the day (its effect key holds 1) and `now` (default:
    the current time; the puller passes the recall's time) is still that day in the group's timezone.
    Atomic (workers/lua/archive_recall.lua).

    Returns 1 un-counted; 2 the message was not processed yet and now never counts; 3 it had counted
    the day but another post of the member that day was a check-in too, which now carries the day;
    0 nothing to do (not a check-in of that day, another day, or unknown)."""
    settings = settings or get_settings()
    g = settings.group(group)
    if g is None:
        return 0
    found = _mark(r, g, msgid)
    if found is None:
        return 0
    day = found[1]
    if day_of(time.time() if now is None else now, g.tz) != day:
        return 0                             # recalled on a later day: the day stays counted
    return _unrecord_one(r, g, userid, msgid, day)


def recall(r: redis.Redis, group: str, msgid: str, now: float | None = None,
           settings: Settings | None = None) -> dict[str, int]:
    """A post of `group` was recalled (撤回) at `now`: take back every check-in it made that day, its
    author's and, for a leader's 接龙, each member it credited; a post the worker has not handled yet
    will count nothing. Idempotent. Returns userid -> unrecord's code, for the members it touched."""
    settings = settings or get_settings()
    g = settings.group(group)
    if g is None:
        return {}
    now = time.time() if now is None else now
    r.set(keys.archive_recalled(msgid), int(now), ex=RECALLED_TTL)   # also for a post not read yet (parked): see _handle
    found = _mark(r, g, msgid)
    if found is None:
        return {}
    author, day = found
    if day_of(now, g.tz) != day:
        return {}                            # recalled on a later day: the day stays counted
    people = {author, *g.members, *(k.decode() for k in r.hkeys(keys.names(g.key)))}
    people = sorted(people)
    effects = r.mget([keys.effect(msgid, g.key, uid) for uid in people])
    credited = [uid for uid, fx in zip(people, effects) if fx is not None]
    # Handled by the worker already: only the members it credited. Not yet: none of them may count.
    return {uid: _unrecord_one(r, g, uid, msgid, day) for uid in (credited or people)}


# --- parked records --------------------------------------------------------------------------------

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
            continue                         # no longer kept by WeCom: stays parked for the record
        try:
            msg = open_record(sdk, puller.keys, found[0])
        except RecordError:
            continue
        added += puller._handle(msg, late=True)
        r.hdel(keys.ARCHIVE_PARKED, str(seq))
    return added


# --- entry points for the tick, the job queue and msgaudit_notify --------------------------------------

def pull_if_configured(max_seconds: float = PULL_BUDGET) -> int:
    """Pull what is new, within `max_seconds`, when the archive is configured; else do nothing.
    What the pull job runs; the tick and msgaudit_notify queue that job (`schedule_pull`, `wake`)."""
    settings = get_settings()
    if not is_configured(settings):
        return 0
    try:
        sdk = get_sdk(settings)
    except (ArchiveSdkError, OSError) as exc:
        log.error("message archive: the SDK could not be loaded (%s)", exc if isinstance(exc, ArchiveSdkError)
                  else type(exc).__name__)
        return 0
    return Puller(get_redis(), sdk, settings).pull(settings.archive_batch, max_seconds=max_seconds)


def pull_job() -> int:
    """The RQ job function (queue "default"): one pull."""
    get_redis().delete(keys.ARCHIVE_QUEUED)       # from now on a tick or a notify queues the next pull
    return pull_if_configured()


QUEUED_TTL = 120                      # a queued pull that never starts (workers down) is queued again after this


def schedule_pull(r: redis.Redis | None = None) -> bool:
    """Queue a pull job (through workers.jobs.enqueue) unless one is already queued and not started;
    a pull that is running is not waited for (it holds the lock, a second one returns at once).
    Called by every minute tick (workers.schedule.tick). False when the archive is not configured."""
    if not is_configured():
        return False
    r = r or get_redis()
    if r.set(keys.ARCHIVE_QUEUED, 1, nx=True, ex=QUEUED_TTL):
        try:
            jobs.enqueue("default", "workers.archive.pull_job", timeout=300)
        except Exception:
            r.delete(keys.ARCHIVE_QUEUED)
            raise
    return True


def wake(r: redis.Redis | None = None) -> bool:
    """A msgaudit_notify arrived (the app callback; workers.ingest): pull soon. A pull already
    running is asked to go round once more; else a pull job is queued as by the tick."""
    if not is_configured():
        return False
    r = r or get_redis()
    r.set(keys.ARCHIVE_AGAIN, 1, px=LOCK_TTL_MS)
    return schedule_pull(r)
