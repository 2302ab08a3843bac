"""The AI bot (智能机器人 in API mode) in the worker: what its posts need before they are routed, and
how the answers find their way back.

The web process puts each AI-bot post in the inbox as it came (`source: "aibot"`, `chat_id`, `userid`,
`msgid`, `text`, `ts`, `aibotid`, `response_url`). Before routing, `prepare()`:

- keeps each post's response_url in Redis (keys.aibot_url: a hash {url}, expiring with the hour WeCom
  gives it) and takes it out of the event, so that it never reaches a job argument, a log line or an
  outbound message: the answers carry only the post's msgid (`msg["aibot"]`), and workers/sender.py
  reads the URL when it sends, marking it `spent` once it answered;
- converts a sender's userid that is no configured or known member of the group: it may be an
  encrypted open userid (the bot's creator is not a super-admin), which batch/openuserid_to_userid
  turns into the userid (up to 1,000 per call, the app's token; cached in keys.openid, refusals for an
  hour). On any error the id stays as it came;
- names the sender (AI-bot posts carry no name) from the roster: a name learnt from posts, the
  configured one, the directory's (workers/directory.py), else the userid; a member the directory has
  not named yet has their group's names fetched in the background (at most once a minute). That name
  is not stored as one learnt from a post (`NAME_FROM_ROSTER`).

`tag()` marks the group messages answering an AI-bot post; workers/outbound.py and workers/sender.py
send them through the response_url when the group has no robot webhook key, else through the robot.
"""

from __future__ import annotations

import logging
import time

import redis

from config.settings import Settings
from workers import directory, keys
from workers.connection import as_text
from workers.sender import Sender, default_sender

log = logging.getLogger(__name__)

SOURCE = "aibot"
BATCH = 1000  # open userids per batch/openuserid_to_userid call
NAME_FROM_ROSTER = "_name_from_roster"  # set on an event whose name the worker gave it (not the post)
ANSWERABLE = "_response_url"  # set on an event that came with a response_url (kept in Redis, not here)


def is_aibot(event: dict) -> bool:
    return event.get("source") == SOURCE


def prepare(r: redis.Redis, settings: Settings, members, entries: list[tuple[str, dict]]) -> None:
    """Before routing a batch: keep the response_urls, convert open userids, name the senders.
    `members`: the batch's member cache (workers.ingest._MemberCache)."""
    events = [e for _, e in entries if isinstance(e, dict) and is_aibot(e) and not e.get("_corrupt")]
    if not events:
        return
    remember_urls(r, events)
    groups = [settings.group_by_chat(e["chat_id"]) if isinstance(e.get("chat_id"), str) else None for e in events]
    members.prefetch(g for g in groups if g is not None)
    strangers: dict[str, list[dict]] = {}
    staff: set[str] = set()
    for event, group in zip(events, groups, strict=True):
        uid = event.get("userid")
        if not isinstance(uid, str) or not uid:
            continue
        if group is None and not staff:
            staff = _configured(settings)
        if not _known(settings, members, group, staff, uid):
            strangers.setdefault(uid, []).append(event)
    if strangers:
        converted = convert_open_userids(r, settings, list(strangers))
        for open_id, userid in converted.items():
            for event in strangers[open_id]:
                event["userid"] = userid
    for event, group in zip(events, groups, strict=True):
        _name(r, settings, members, group, event)


def remember_urls(r: redis.Redis, events: list[dict], now: float | None = None) -> int:
    """Keep each post's response_url (until its hour is over) and take it out of the event. A post
    processed again keeps the URL as it is (spent stays spent)."""
    now = time.time() if now is None else now
    kept = 0
    with r.pipeline(transaction=False) as p:
        for event in events:
            url = event.pop("response_url", None)
            msgid = event.get("msgid")
            if not isinstance(url, str) or not url or not msgid:
                continue
            event[ANSWERABLE] = True  # answered through it, or, once it expired, as an expired one is
            try:
                left = int(float(event.get("ts") or now) + keys.AIBOT_URL_TTL - now)
            except (TypeError, ValueError):
                left = keys.AIBOT_URL_TTL
            if left <= 0:
                continue  # WeCom no longer takes an answer through it
            key = keys.aibot_url(str(msgid))
            p.hsetnx(key, "url", url)
            p.expire(key, min(left, keys.AIBOT_URL_TTL))  # the same deadline however often it is seen
            kept += 1
        if kept:
            p.execute()
    return kept


def _configured(settings: Settings) -> set[str]:
    """Every configured userid: members, leaders and admins of all groups."""
    out = set(settings.admins)
    for g in settings.groups.values():
        out.update(g.members, g.leaders)
    return out


def _known(settings: Settings, members, group, staff: set[str], uid: str) -> bool:
    """Is `uid` someone the service knows: in the group (configured, leading, learnt from posts) or an
    admin; for a post outside any group (a private chat with the bot), configured anywhere (`staff`)."""
    if uid in settings.admins:
        return True
    if group is None:
        return uid in staff
    return uid in group.members or uid in group.leaders or uid in members.names(group)


def convert_open_userids(
    r: redis.Redis, settings: Settings, open_ids: list[str], sender: Sender | None = None
) -> dict[str, str]:
    """open userid -> userid, for those WeCom converts (cached); an id it refuses, or any error,
    leaves the id as it is (absent from the answer)."""
    open_ids = list(dict.fromkeys(i for i in open_ids if i))
    if not open_ids:
        return {}
    out: dict[str, str] = {}
    todo: list[str] = []
    for open_id, raw in zip(open_ids, r.mget([keys.openid(i) for i in open_ids]), strict=True):
        if raw is None:
            todo.append(open_id)
        elif raw:
            out[open_id] = as_text(raw)
    if not todo or not directory.api_enabled(settings):
        return out
    sender = sender or default_sender()
    for i in range(0, len(todo), BATCH):
        chunk = todo[i : i + BATCH]
        res = sender.openuserid_to_userid(chunk)
        if not res.ok:
            log.warning("could not convert %d open userid(s) (%s); kept as they came", len(chunk), res.error)
            continue
        pairs = {
            str(p["open_userid"]): str(p["userid"])
            for p in res.data.get("userid_list") or []
            if isinstance(p, dict) and p.get("open_userid") in chunk and p.get("userid")
        }
        with r.pipeline(transaction=False) as p:
            for open_id in chunk:
                if open_id in pairs:
                    p.set(keys.openid(open_id), pairs[open_id], ex=keys.OPENID_TTL)
                else:  # in invalid_open_userid_list (or left out): a userid already, or not ours
                    p.set(keys.openid(open_id), "", ex=keys.OPENID_MISS_TTL)
            p.execute()
        out.update(pairs)
        refused = len(chunk) - len(pairs)
        if pairs or refused:
            log.info("open userids: %d converted, %d kept as they came", len(pairs), refused)
    return out


def _name(r: redis.Redis, settings: Settings, members, group, event: dict) -> None:
    """The sender's display name from the roster (the post brings none)."""
    if event.get("name") or group is None or not event.get("userid"):
        return
    uid = event["userid"]
    name = members.names(group).get(uid) or ""
    if name and name != uid:
        event["name"] = name
        event[NAME_FROM_ROSTER] = True
    elif uid in group.members or uid in group.leaders:
        directory.queue_refresh(r, settings, group)  # named next time


def tag(event: dict, group_key: str | None, msgs: list[dict]) -> None:
    """Mark the group messages answering an AI-bot post that came with a response_url with the post's
    msgid (`msg["aibot"]`)."""
    if not is_aibot(event) or not group_key or not event.get(ANSWERABLE):
        return
    for msg in msgs:
        if msg.get("to") == "group" and msg.get("group") == group_key:
            msg["aibot"] = str(event["msgid"])
