"""Decide what one inbound event means. No I/O: the worker gathers the context, calls `route()`,
and carries out the actions it returns.

Handlers are tried in order; each says whether it matches and then handles; the first match wins.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from handlers import messages, texts
from handlers.announce import is_ack
from handlers.checkin import Detection, detect, find_note_links, strip_mentions
from handlers.command_table import command_of
from handlers.messages import Mention, Message
from handlers.routine import parse_goal_answer


@dataclass(frozen=True)
class Context:
    event: dict[str, Any]
    group_key: str | None = None  # the group this event belongs to, if known
    group_name: str = ""
    chat_known: bool = True
    members: dict[str, str] = field(default_factory=dict)  # display name / userid -> userid
    shared_names: dict[str, tuple[str, ...]] = field(default_factory=dict)  # a name several members share
    is_leader: bool = False
    day: int = 0
    member_groups: tuple[tuple[str, str], ...] = ()  # (key, name) groups a private sender belongs to
    keywords: tuple[str, ...] | None = None
    link_hosts: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Checkin:
    group: str
    userid: str
    name: str
    day: int
    links: tuple[str, ...] = ()
    reply_to: str = "group"  # "group": reply in the group; "user": privately


@dataclass(frozen=True)
class Send:
    msg: Message


@dataclass(frozen=True)
class Hint:
    """How to check in, for a post @-ing the robot that was not one. Worth less than anything else the
    robot says: the worker sends it only when the member had no hint lately and the robot has room
    beyond what check-in replies and scheduled posts need."""

    group: str
    userid: str
    msg: Message


@dataclass(frozen=True)
class AskIfCheckin:
    """A post that may be a check-in, where detection is unsure: the member is asked (`msg`, gated like
    a hint), and a 「是」 within a day counts the post's day with its links."""

    group: str
    userid: str
    day: int
    links: tuple[str, ...]
    msg: Message


@dataclass(frozen=True)
class ConfirmCheckin:
    """A member's 「是」: counts the post the bot asked about, when one is waiting (else nothing).
    `groups`: where to look (the group it was said in, or a private sender's groups)."""

    groups: tuple[str, ...]
    userid: str
    name: str
    reply_to: str = "group"


@dataclass(frozen=True)
class GoalAnswer:
    """A member's private answer to the question about their weekly goal (`3`, `每周3次`, `三次`):
    workers/goal_ask.py sets it in the groups where the question waits, else says how to propose one."""

    groups: tuple[str, ...]
    userid: str
    name: str
    days: int


@dataclass(frozen=True)
class ReportUnknownChat:
    chat_id: str
    name: str


@dataclass(frozen=True)
class Command:
    text: str


Action = Checkin | Send | Hint | AskIfCheckin | ConfirmCheckin | GoalAnswer | ReportUnknownChat | Command


def group_post(msg_id: str, group: str, content: str, mentions: list[Mention] | None = None) -> Send:
    return Send(messages.to_group(msg_id, group, content, mentions))


def private(msg_id: str, users: list[str], content: str) -> Send:
    return Send(messages.to_users(msg_id, users, content))


# --- handlers: (matches, handle) pairs --------------------------------------------------------


def _robot_joined(ctx: Context) -> bool:
    return ctx.event.get("event") == "add_to_chat" and ctx.chat_known


def _welcome(ctx: Context) -> list[Action]:
    if ctx.group_key is None:  # a known chat always has its group
        return []
    return [group_post(f"welcome:{ctx.event['msgid']}", ctx.group_key, texts.WELCOME)]


def _unknown_chat(ctx: Context) -> bool:
    return bool(ctx.event.get("chat_id")) and not ctx.chat_known


def _report_unknown(ctx: Context) -> list[Action]:
    return [ReportUnknownChat(ctx.event["chat_id"], ctx.event.get("name", ""))]


def _other_event(ctx: Context) -> bool:
    return ctx.event.get("msgtype") == "event"


def _ignore(ctx: Context) -> list[Action]:
    return []


def command_word(text: str) -> str | None:
    """The command a post starts with (its canonical word, handlers.command_table), if any."""
    body = strip_mentions(text).strip()
    if not body:
        return None
    return command_of(body.split()[0])


def _is_command(ctx: Context) -> bool:
    return ctx.event.get("msgtype") == "text" and command_word(ctx.event.get("text", "")) is not None


def _command(ctx: Context) -> list[Action]:
    return [Command(strip_mentions(ctx.event.get("text", "")))]


# a member's yes to "这条算今天的打卡吗？"
CONFIRM_WORDS = frozenset(
    {"是", "是的", "是呀", "是啊", "是哒", "是滴", "算", "算的", "算呀", "对", "对的", "嗯嗯是", "yes", "y"}
)
_CONFIRM_STRIP = " \t\n!！~～。.,，😊🙏👌✅"


def _is_confirm(ctx: Context) -> bool:
    ev = ctx.event
    if ev.get("msgtype") != "text" or not ev.get("userid"):
        return False
    if ev.get("chat_id") and ctx.group_key is None:
        return False
    return strip_mentions(ev.get("text", "")).strip(_CONFIRM_STRIP).lower() in CONFIRM_WORDS


def _confirm(ctx: Context) -> list[Action]:
    ev = ctx.event
    if ctx.group_key is not None:
        return [ConfirmCheckin((ctx.group_key,), ev["userid"], ev.get("name") or ev["userid"])]
    name = _name_of(ctx, ev["userid"], ev.get("name") or ev["userid"])
    return [ConfirmCheckin(tuple(k for k, _ in ctx.member_groups), ev["userid"], name, reply_to="user")]


def _is_goal_answer(ctx: Context) -> bool:
    ev = ctx.event
    return (
        _private_message(ctx)
        and ev.get("msgtype") == "text"
        and bool(ctx.member_groups)
        and parse_goal_answer(strip_mentions(ev.get("text", ""))) is not None
    )


def _goal_answer(ctx: Context) -> list[Action]:
    ev = ctx.event
    days = parse_goal_answer(strip_mentions(ev.get("text", ""))) or 0
    name = _name_of(ctx, ev["userid"], ev.get("name") or ev["userid"])
    return [GoalAnswer(tuple(k for k, _ in ctx.member_groups), ev["userid"], name, days)]


def _ask(ctx: Context, group: str, private_reply: bool) -> AskIfCheckin:
    ev = ctx.event
    links = find_note_links(ev.get("text", ""), ctx.link_hosts)
    if private_reply:
        msg = private(f"ask:{ev['msgid']}", [ev["userid"]], texts.ASK_CHECKIN_PRIVATE).msg
    else:
        msg = group_post(f"ask:{ev['msgid']}", group, texts.ASK_CHECKIN, [[ev["userid"], ev.get("name", "")]]).msg
    return AskIfCheckin(group, ev["userid"], ctx.day, tuple(links), msg)


def _detection(ctx: Context) -> Detection:
    ev = ctx.event
    msgtype = ev.get("msgtype", "text")
    if msgtype == "mixed" and not ev.get("has_image"):
        msgtype = "text"
    return detect(
        ev.get("text", ""),
        msgtype,
        sender_userid=ev.get("userid", ""),
        sender_name=ev.get("name", ""),
        sender_is_leader=ctx.is_leader,
        members=ctx.members,
        keywords=ctx.keywords,
        link_hosts=ctx.link_hosts,
        shared_names=ctx.shared_names,
    )


AT_ONLY = ("robot", "aibot")  # the sources that see a group post only when it @-s them (robot, AI bot)


def _group_post(ctx: Context) -> bool:
    return ctx.group_key is not None and bool(ctx.event.get("chat_id"))


def _group_checkin(ctx: Context) -> list[Action]:
    ev, group = ctx.event, ctx.group_key
    if group is None:  # see _group_post
        return []
    found = _detection(ctx)
    actions: list[Action] = []
    if found.kind in ("checkin", "chain"):
        for credit in found.credits:
            uid = credit.userid or (ev["userid"] if credit.name is None else None)
            if not uid:
                continue
            name = ev.get("name") or uid if uid == ev["userid"] else _name_of(ctx, uid, credit.name)
            actions.append(Checkin(group, uid, name, ctx.day, tuple(credit.note_links)))
        if found.unclear:  # a name two members share: nobody credited by guess, the leader asked
            actions.append(
                private(f"unclear:{ev['msgid']}", [ev["userid"]], texts.chain_unclear(found.unclear, ctx.day))
            )
        if actions:
            return actions
    if found.kind == "none" and found.unsure:  # may be one: ask rather than guess either way
        return [_ask(ctx, group, private_reply=False)]
    # Robot and AI-bot callbacks only arrive when the bot was @-ed: an unrecognised post deserves a hint,
    # except a 收到 / +1 answering an announcement (workers.announce counts it).
    if ev.get("source") in AT_ONLY and found.kind == "none" and not is_ack(strip_mentions(ev.get("text", ""))):
        hint = group_post(
            f"hint:{ev['msgid']}", group, texts.pick(texts.HINTS, ev["msgid"]), [[ev["userid"], ev.get("name", "")]]
        )
        actions.append(Hint(group, ev["userid"], hint.msg))
    return actions


def _name_of(ctx: Context, uid: str, fallback: str | None) -> str:
    for name, member in ctx.members.items():
        if member == uid and name != uid:
            return name
    return fallback or uid


def _private_message(ctx: Context) -> bool:
    return not ctx.event.get("chat_id") and ctx.event.get("source") in ("app", "aibot")


def _private_checkin(ctx: Context) -> list[Action]:
    ev = ctx.event
    found = _detection(ctx)
    if found.kind == "none" and not (found.unsure and len(ctx.member_groups) == 1):
        return []
    groups = list(ctx.member_groups)
    words = strip_mentions(ev.get("text", "")).split()
    named = [g for g in groups if g[0] in (w.lower() for w in words)]
    if named:
        groups = named
    if not groups:
        return [private(f"nogroup:{ev['msgid']}", [ev["userid"]], texts.private_no_group())]
    if len(groups) > 1:
        return [private(f"pick:{ev['msgid']}", [ev["userid"]], texts.private_pick_group(groups))]
    if found.kind == "none":
        return [_ask(ctx, groups[0][0], private_reply=True)]
    name = _name_of(ctx, ev["userid"], ev.get("name") or ev["userid"])
    links = tuple(link for c in found.credits for link in c.note_links)
    return [Checkin(groups[0][0], ev["userid"], name, ctx.day, links, reply_to="user")]


HANDLERS: list[tuple[Callable[[Context], bool], Callable[[Context], list[Action]]]] = [
    (_unknown_chat, _report_unknown),
    (_robot_joined, _welcome),
    (_other_event, _ignore),
    (_is_command, _command),
    (_is_confirm, _confirm),
    (_is_goal_answer, _goal_answer),
    (_group_post, _group_checkin),
    (_private_message, _private_checkin),
]


def route(ctx: Context) -> list[Action]:
    for matches, handle in HANDLERS:
        if matches(ctx):
            return handle(ctx)
    return []
