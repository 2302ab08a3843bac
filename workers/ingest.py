"""Inbound events: accepted by the web process into the inbox, processed in batches by workers.

`accept()` is all the callback does after decrypting: dedupe on msgid and append to the inbox in
one Lua call, so a 200 always means the message is in Redis. Callbacks of one process that arrive
together share that call (workers/group_commit.py); each still waits for its own outcome.
`drain_inbox()` (an RQ job) reads batches and `process_batch` handles each in named steps: prepare
the AI bot's posts (workers/aibot.py: their response_urls kept apart, open userids converted, senders
named), route every event (`handlers.router`), keep the names it brings, follow announcements, count
the check-ins, answer (commands, hints, check-in replies) and post. Every effect is keyed by the message
id, so a retried, replayed or reclaimed entry changes nothing twice.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import redis

from config.settings import Group, Settings, get_settings
from handlers import praise, texts
from handlers.calendar import day_of, week_start
from handlers.router import (
    AskIfCheckin,
    Checkin,
    Command,
    Context,
    GoalAnswer,
    Hint,
    ReportUnknownChat,
    Send,
    group_post,
    private,
    route,
)
from handlers.sanitize import clean_name, clean_text
from handlers.streaks import DayBits, first_base, goal_for_week, parse_goals, record
from workers import (
    aibot,
    announce,
    commands,
    directory,
    goal_ask,
    jobs,
    keys,
    newcomers,
    outbound,
    prompts,
    replies,
    scripts,
    streams,
)
from workers.connection import get_redis
from workers.group_commit import GroupCommit, PerProcess

log = logging.getLogger(__name__)

LINKS_KEPT = 3  # note links kept per member and day (the digest lists them)
LINK_MAX = 512  # characters of one kept link


def accept(r: redis.Redis, event: dict, count_as: str = "") -> bool:
    """Durably queue one event, at most once per msgid; False for a duplicate."""
    added, must_wake = _INBOX_WRITERS.get(r).submit((streams.encode(event), keys.seen(event["msgid"]), count_as))
    if must_wake:  # after the shared write: a drain run inline (tests) may accept again
        streams.wake_drain(streams.INBOX)
    return added


class _InboxWrite:
    """One shared write; one (added, must_wake) per item, must_wake given to the first item only."""

    def __init__(self, r: redis.Redis):
        self.writer = streams.StreamWriter(r, streams.INBOX)

    def __call__(self, items: list[tuple[str, str | None, str]]) -> list[tuple[bool, bool]]:
        added, must_wake = self.writer.add_many(items)
        return [(a, must_wake and i == 0) for i, a in enumerate(added)]


_INBOX_WRITERS: PerProcess[redis.Redis, tuple[str, str | None, str], tuple[bool, bool]] = PerProcess(
    lambda r: GroupCommit(_InboxWrite(r))
)


def drain_inbox() -> int:
    r = get_redis()
    return streams.drain(r, streams.INBOX, lambda entries: process_batch(r, entries))


def process_batch(r: redis.Redis, entries: list[tuple[str, dict]]) -> list[str]:
    """Handle a batch; returns the entry ids that are finished (the rest stay pending)."""
    settings = get_settings()
    members = _MemberCache(r, settings)
    aibot.prepare(r, settings, members, entries)
    batch = _route(settings, members, entries)
    if any(event.get("event") == "msgaudit_notify" for _, event in entries):
        _wake_archive()
    _store_names(r, settings, batch.learnt)
    announce.track(r, settings, batch.posts)
    counted = _count_checkins(r, settings, batch.planned)
    outgoing = _respond(r, settings, batch, counted)
    if outgoing:
        outbound.post_many(r, outgoing)
    # the `checkins` metric is counted by checkin.lua, atomically with the day it counts: exact after a crash
    return batch.done


@dataclass
class _Batch:
    """What one inbox batch decided, step by step."""

    planned: list[tuple[str, dict, list]] = field(default_factory=list)  # (entry id, event, actions)
    learnt: dict[str, dict[str, str]] = field(default_factory=lambda: defaultdict(dict))  # group -> uid -> name
    posts: list[tuple[str, str, float, str, str]] = field(default_factory=list)  # answers to announcements
    done: list[str] = field(default_factory=list)  # entry ids finished


def _route(settings: Settings, members: _MemberCache, entries: list[tuple[str, dict]]) -> _Batch:
    """Clean each event and let handlers.router decide its actions. An unreadable entry is finished
    at once; one whose routing fails stays pending (logged)."""
    batch = _Batch()
    members.prefetch(settings.group_by_chat(e["chat_id"]) for _, e in entries if isinstance(e.get("chat_id"), str))
    for entry_id, event in entries:
        if event.get("_corrupt") or "msgid" not in event:
            log.error("inbox entry %s is unreadable; skipped", entry_id)
            batch.done.append(entry_id)
            continue
        try:
            _clean(event)
            ctx = _context(settings, members, event)
            batch.planned.append((entry_id, event, route(ctx)))
            _note_post(batch, members, ctx, event)
        except Exception:  # one bad message must not hold up its batch
            log.exception("could not route message %s", event.get("msgid"))
    return batch


def _note_post(batch: _Batch, members: _MemberCache, ctx: Context, event: dict) -> None:
    """What a post tells the batch besides its actions: an answer to announcements (workers.announce)
    and its author's display name."""
    if event.get("msgtype") != "event" and event.get("userid") and (ctx.group_key or not event.get("chat_id")):
        batch.posts.append(
            (
                ctx.group_key or "",
                event["userid"],
                float(event.get("ts") or 0),
                event.get("text") or "",
                str(event["msgid"]),
            )
        )
    if ctx.group_key and event.get("name") and event.get("msgtype") != "event" and not _roster_named(event):
        batch.learnt[ctx.group_key][event["userid"]] = event["name"]
        # later messages of this batch see the name, as they would in a batch of their own:
        # the outcome must not depend on where batches start (a replay sees the name stored)
        members.learn(ctx.group_key, event["userid"], event["name"])


def _roster_named(event: dict) -> bool:
    """The event's name was given by the worker from the roster (an AI-bot post brings none): not a
    name learnt from a post, so never stored as one."""
    return bool(event.get(aibot.NAME_FROM_ROSTER))


def _wake_archive() -> None:
    """msgaudit_notify (the app callback): the message archive has new records. Its wake job
    (workers.archive.wake_job, queued through the one enqueue seam) asks a running pull to go round
    once more, or queues one."""
    try:
        jobs.enqueue("inbox", "workers.archive.wake_job")
    except Exception:  # the minute tick queues a pull anyway
        log.exception("could not queue a message-archive pull after msgaudit_notify")


def _store_names(r: redis.Redis, settings: Settings, learnt: dict[str, dict[str, str]]) -> None:
    """Keep the display names the batch's posts brought; tell the leaders about new members."""
    if not learnt:
        return
    newcomers.confirm(r, settings, learnt)
    with r.pipeline(transaction=False) as p:
        for group_key, people in learnt.items():
            p.hset(keys.names(group_key), mapping=dict(people.items()))
        p.execute()


def _count_checkins(
    r: redis.Redis, settings: Settings, planned: list[tuple[str, dict, list]]
) -> list[tuple[dict, Checkin, dict]]:
    """Count every check-in of the batch (checkin.lua): (event, check-in, result), in order. A 「是」
    first becomes the check-in of the post it confirms (workers.prompts)."""
    confirmed = prompts.resolve_confirms(r, planned)
    checkins = [(event, a) for _, event, actions in planned for a in actions if isinstance(a, Checkin)]
    unnamed = {e["msgid"] for e, _ in checkins if _roster_named(e)}  # no name of their own to keep
    todo = [(e["msgid"], a) for e, a in checkins]
    results = _apply_checkins(r, settings, todo, unnamed) if checkins else []
    if confirmed:  # only once counted: a crash before this line replays the confirmation whole
        r.delete(*confirmed)
    return [(event, a, res) for (event, a), res in zip(checkins, results, strict=True)]


def _respond(
    r: redis.Redis, settings: Settings, batch: _Batch, counted: list[tuple[dict, Checkin, dict]]
) -> list[dict]:
    """Every message the batch sends: commands' and hints' answers and the check-in replies with
    their praise (workers.replies). Marks each event whose effects are done as finished."""
    by_message: dict[str, list] = defaultdict(list)
    for event, action, result in counted:
        by_message[event["msgid"]].append((action, result))
    answered = _already_answered(r, by_message)
    book = replies.PraiseBook(r, settings, [(a.group, a.userid) for _, a, res in counted if res["status"] == 1])
    to_route: list[tuple[dict, str, str, str, str]] = []  # group replies, routed in one round trip below
    hints: list[Hint] = []
    outgoing: list[dict] = []
    for entry_id, event, actions in batch.planned:
        try:
            marks = (len(outgoing), len(hints), len(to_route))
            outgoing += _other_effects(r, settings, event, actions, hints)
            if event["msgid"] not in answered:
                outgoing += _checkin_replies(event, by_message.get(event["msgid"], []), book, to_route)
            if aibot.is_aibot(event):
                outgoing += _answer_aibot(settings, event, outgoing, hints, to_route, marks)
        except Exception:
            log.exception("could not finish message %s", event.get("msgid"))
            continue
        batch.done.append(entry_id)
    outgoing += prompts.allowed_hints(r, settings, hints)
    outgoing += replies.route_replies(r, settings, to_route)
    book.flush()
    return outgoing


def _answer_aibot(
    settings: Settings,
    event: dict,
    outgoing: list[dict],
    hints: list[Hint],
    to_route: list,
    marks: tuple[int, int, int],
) -> list[dict]:
    """The group messages answering an AI-bot post (those added since `marks`) carry its msgid, so
    that they go through its response_url when the group has no robot. Such a check-in reply is
    not gathered with others (it has a URL of its own): it is returned, to be posted at once."""
    chat_id = event.get("chat_id")
    group = settings.group_by_chat(chat_id) if isinstance(chat_id, str) and chat_id else None
    if group is None:
        return []
    out, hint_at, route_at = marks
    aibot.tag(event, group.key, outgoing[out:] + [h.msg for h in hints[hint_at:]] + [i[0] for i in to_route[route_at:]])
    own = [i for i in to_route[route_at:] if outbound.message_route(settings, i[0])[0] == "aibot"]
    if own:
        to_route[route_at:] = [i for i in to_route[route_at:] if i not in own]
    return [i[0] for i in own]


def _clean(event: dict) -> None:
    """Names clipped and cleaned, bidi and control characters out of the text, before anything is
    stored or echoed (handlers/sanitize.py)."""
    if isinstance(event.get("name"), str):
        event["name"] = clean_name(event["name"])
    if isinstance(event.get("text"), str):
        event["text"] = clean_text(event["text"])


def _already_answered(r: redis.Redis, by_message: dict[str, list]) -> set[str]:
    """Messages processed before (every check-in replayed) whose reply was already queued or gathered.
    Their reply is not worded again: the wording reads the member's state *now* (a 补卡 or a later
    check-in changes the milestone) and records the praise chosen (keys.praise_last), so wording it
    again would change state, while the outbox would drop the reply anyway (same id)."""
    replayed = [
        (msgid, results)
        for msgid, results in by_message.items()
        if results and all(res["replayed"] for _, res in results)
    ]
    if not replayed:
        return set()
    with r.pipeline(transaction=False) as p:
        for msgid, results in replayed:
            first = results[0][0]
            names = [keys.out_seen(f"reply:{msgid}")]
            if first.reply_to != "user":
                names.append(keys.reply_route(first.group, msgid))
            p.exists(*names)
        found = p.execute()
    return {msgid for (msgid, _), n in zip(replayed, found, strict=True) if n}


class _MemberCache:
    """Known members per group (configured and learnt from posts), read once per batch."""

    def __init__(self, r: redis.Redis, settings: Settings):
        self.r, self.settings = r, settings
        self._names: dict[str, dict[str, str]] = {}
        self._lookups: dict[str, tuple[dict[str, str], dict[str, tuple[str, ...]]]] = {}

    def names(self, group: Group) -> dict[str, str]:
        """userid -> display name (directory.pick_name: learnt from posts, configured, the directory's)."""
        if group.key not in self._names:
            self.prefetch([group])
        return self._names[group.key]

    def prefetch(self, groups) -> None:
        """Read the names of all the groups of a batch in one round trip instead of one per group
        (a batch of 500 posts from a 1,000-group camp touches ~400 groups)."""
        todo: dict[str, Group] = {}
        for g in groups:
            if g is not None and g.key not in self._names:
                todo.setdefault(g.key, g)
        if not todo:
            return
        with self.r.pipeline(transaction=False) as p:
            for key, g in todo.items():
                p.hgetall(keys.names(key))
                p.hmget(keys.DIR_NAMES, list(g.members) or [""])
            raws = p.execute()
        for i, g in enumerate(todo.values()):
            self._store(g, raws[2 * i], raws[2 * i + 1])

    def _store(self, group: Group, raw: dict, dir_raw: list) -> None:
        learnt = {k.decode(): v.decode() for k, v in raw.items()}
        found = dict(zip(group.members, directory.read(dir_raw), strict=False))
        for uid in group.members:
            if not learnt.get(uid):
                learnt[uid] = directory.pick_name(uid, learnt, group.display_names, found)
        self._names[group.key] = learnt

    def learn(self, group_key: str, userid: str, name: str) -> None:
        """A display name seen earlier in this batch (stored with the batch's other names)."""
        known = self._names.get(group_key)
        if known is not None and known.get(userid) != name:
            known[userid] = name
            self._lookups.pop(group_key, None)

    def lookup(self, group: Group) -> tuple[dict[str, str], dict[str, tuple[str, ...]]]:
        """(display name and userid -> userid, name several members share -> their userids), for
        matching names in chains. A configured display name (GROUP_<KEY>_MEMBERS=uid:name) belongs to
        its member: a name learnt from another member's posts never takes it over."""
        found = self._lookups.get(group.key)
        if found is None:
            found = self._lookups[group.key] = _lookup(self.names(group), group.display_names)
        return found

    def groups_of(self, userid: str) -> list[Group]:
        return [g for g in self.settings.groups.values() if userid in self.names(g) or userid in g.members]


def _lookup(names: dict[str, str], configured: dict[str, str]) -> tuple[dict[str, str], dict[str, tuple[str, ...]]]:
    owners: dict[str, set[str]] = defaultdict(set)
    for uid, name in configured.items():
        if name:
            owners[name].add(uid)
    taken = set(owners)
    for uid, name in names.items():
        if name and (name not in taken or uid in owners[name]):
            owners[name].add(uid)
    out = {uid: uid for uid in names}
    shared: dict[str, tuple[str, ...]] = {}
    for name, found in owners.items():
        uids = sorted(found)
        if len(uids) == 1:
            out.setdefault(name, uids[0])
        elif name not in out:
            shared[name] = tuple(uids)
    return out, shared


def _context(settings: Settings, members: _MemberCache, event: dict) -> Context:
    chat_id = event.get("chat_id") or ""
    group = settings.group_by_chat(chat_id) if chat_id else None
    userid = event.get("userid", "")
    if group is not None:
        known, shared = members.lookup(group)
        return Context(
            event=event,
            group_key=group.key,
            group_name=group.display,
            chat_known=True,
            members=known,
            shared_names=shared,
            is_leader=settings.leads(userid, group),
            day=day_of(event["ts"], group.tz),
            keywords=group.keywords,
            link_hosts=group.link_hosts,
        )
    if chat_id:
        return Context(event=event, chat_known=False)
    groups = members.groups_of(userid)
    if len(groups) == 1:
        tz = groups[0].tz
    else:
        tz = settings.groups[next(iter(settings.groups))].tz if settings.groups else ZoneInfo(settings.timezone)
    return Context(
        event=event,
        chat_known=True,
        is_leader=bool(settings.groups_led_by(userid)),
        members={userid: userid},
        member_groups=tuple((g.key, g.display) for g in groups),
        day=day_of(event["ts"], tz),
    )


def _apply_checkins(
    r: redis.Redis, settings: Settings, actions: list[tuple[str, Checkin]], unnamed: AbstractSet[str] = frozenset()
) -> list[dict]:
    """Count each check-in (checkin.lua); the name it carries is kept as learnt, except for the
    messages in `unnamed` (their name came from the roster)."""
    checkin = scripts.script("checkin", r)
    with r.pipeline(transaction=False) as p:
        for msgid, a in actions:
            group = settings.groups[a.group]
            default_base = first_base(group.camp_start, a.day)
            checkin(
                keys=[
                    keys.effect(msgid, a.group, a.userid),
                    keys.days(a.group, a.userid),
                    keys.base(a.group),
                    keys.names(a.group),
                    keys.off(a.group, a.userid),
                    keys.links(a.group, a.day),
                    keys.goals(a.group, a.userid),
                    keys.METRICS,
                ],
                args=[
                    a.day,
                    default_base,
                    a.userid,
                    a.name if a.name != a.userid and msgid not in unnamed else "",
                    " ".join(_kept_links(a.links)),
                    keys.EFFECT_TTL,
                    LINKS_KEPT,
                ],
                client=p,
            )
        raw = p.execute()
    out = []
    for (_, a), (status, replayed, days, off, base, goals) in zip(actions, raw, strict=True):
        base = int(base)
        days, off = DayBits(days, base), DayBits(off, base)
        rec = record(days, off, a.day)
        goal = goal_for_week(parse_goals(goals), week_start(a.day), settings.groups[a.group].weekly_goal)
        out.append(
            {"status": int(status), "replayed": bool(replayed), "record": rec, "goal": goal, "days": days, "off": off}
        )
    return out


def _kept_links(links) -> list[str]:
    """The first LINKS_KEPT distinct links of a post, each at most LINK_MAX characters
    (checkin.lua keeps LINKS_KEPT per member and day across posts)."""
    out: list[str] = []
    for link in links:
        link = link[:LINK_MAX]
        if link and link not in out:
            out.append(link)
            if len(out) == LINKS_KEPT:
                break
    return out


def _other_effects(r: redis.Redis, settings: Settings, event: dict, actions: list, hints: list[Hint]) -> list[dict]:
    """Messages to send for one event's actions but check-ins; hints (and questions to members) are
    collected in `hints`, decided for the whole batch by workers.prompts.allowed_hints."""
    out = []
    for a in actions:
        if isinstance(a, Send):
            out.append(a.msg)
        elif isinstance(a, Hint):
            hints.append(a)
        elif isinstance(a, AskIfCheckin):
            prompts.remember_question(r, a)
            if a.msg["to"] == "user":
                out.append(a.msg)
            else:
                hints.append(Hint(a.group, a.userid, a.msg))
        elif isinstance(a, ReportUnknownChat):
            if r.sadd(keys.UNKNOWN_CHATS, a.chat_id) and settings.admins:
                log.warning("message from an unconfigured chat; reported to the admins")
                out.append(
                    private(
                        f"unknown:{a.chat_id}", list(settings.admins), texts.unknown_chat_report(a.chat_id, a.name)
                    ).msg
                )
        elif isinstance(a, Command):
            out += commands.execute(r, settings, event, a.text)
        elif isinstance(a, GoalAnswer):
            out += goal_ask.answer(r, settings, event, a)
    return out


def _checkin_replies(event: dict, results: list, book: replies.PraiseBook, to_route: list) -> list[dict]:
    """The instant replies to one message's check-ins, with their praise (`book`). A private reply is
    returned; a group reply is appended to `to_route`, to go out on its own or be gathered into one
    message while the robot is near its limit (workers.replies.route_replies)."""
    if not results:
        return []
    msgid = event["msgid"]
    first, _ = results[0]
    if first.reply_to == "user":
        action, res = results[0]
        return [private(f"reply:{msgid}", [action.userid], book.reply(action, res, msgid)[0]).msg]
    credited_others = any(a.userid != event.get("userid") for a, _ in results)
    if credited_others:  # a leader's chain: one line naming everyone it credited
        names = [a.name for a, res in results if res["status"] == 1]
        if names:
            msg = group_post(f"reply:{msgid}", first.group, texts.chain_credit_reply(names)).msg
            to_route.append((msg, msgid, "、".join(names), praise.chain_short(), ""))
        return []
    action, res = results[0]
    if res["status"] == 0 and event.get("source") not in ("robot", aibot.SOURCE):
        return []  # the archive sees every re-post of a chain: only the first one deserves an answer
    text, words = book.reply(action, res, msgid)
    msg = group_post(f"reply:{msgid}", action.group, text).msg
    if res["status"] == -1:
        return [msg]
    to_route.append((msg, msgid, action.name, words, action.userid))
    return []
