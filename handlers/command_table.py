"""Every command in one table: its word, its other spellings, who may run it, how it is written and
how `帮助` lists it. Pure data and the small pure functions that read it; no I/O.

- The router knows a command by these words (`command_of`), and `parse` reads one.
- `帮助` is written from the table (handlers.command_texts.help_text), and so is the usage line a
  malformed command gets back (handlers.command_texts.usage).
- workers.commands checks the role once, before the command's handler runs, and hands the handler
  the group(s) the role resolved to. A command several kinds of people may run names a resolver
  (`decide`) that picks the role from the arguments and the sender; the handlers never check it.

Roles, and what a handler is given:
    LEADER      a group the sender leads: the chat's own, the one named by its key, or their only
                one (else a question or a refusal); the handler gets that Group
    MEMBER      a group the sender belongs to, found the same way; the handler gets that Group
    LEADER_ALL  the chat's or the named group when the sender leads it, else every group they lead
                (a leader's 撤销 looks through all of them); the handler gets a list of Groups
    MEMBER_ALL  the chat's group when the sender belongs to it, the named one, else every group
                they belong to (我的); the handler gets a list, possibly empty
    ANYONE      no group at all (帮助); the handler gets None
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

from handlers.announce import HEADERS, named_group
from handlers.commands import CHECKIN_WORDS, parse_number, skip_words
from handlers.streaks import MAX_GOAL

MAX_LEAVE_DAYS = 14


class Role(Enum):
    LEADER = "leader"
    MEMBER = "member"
    LEADER_ALL = "leader of all"
    MEMBER_ALL = "member of all"
    ANYONE = "anyone"


class Sender(Protocol):
    """What a resolver may ask about the sender (workers.commands.core.Ctx answers)."""

    @property
    def in_chat(self) -> bool:
        """Sent in a group chat (else privately, to the app)."""
        ...

    def leads_here(self) -> bool:
        """Leads the group the command is about: the chat's, the one named, or (privately, no group
        named) any group."""
        ...

    def leads_any(self) -> bool: ...

    def belongs_anywhere(self) -> bool:
        """Is on some group's roster."""
        ...


# The role for these arguments from this sender; None: no role fits, the answer is the usage line.
Decide = Callable[[tuple[str, ...], Sender], Role | None]


class View(Enum):
    """The lists of `帮助`: a leader reads LEADER and then OWN (what they may do as a member of a
    group themselves); anyone else reads MEMBER."""

    LEADER = "leader"
    OWN = "own"
    MEMBER = "member"


AS_MEMBER = (View.MEMBER, View.OWN)


@dataclass(frozen=True)
class Help:
    syntax: str
    what: str
    views: tuple[View, ...] = (View.LEADER,)


@dataclass(frozen=True)
class Spec:
    word: str  # the canonical (Chinese) word
    aliases: tuple[str, ...]  # every other accepted spelling, English included
    roles: tuple[Role, ...]  # who may run it; several: `decide` picks one
    decide: Decide | None = None
    usage: str = ""  # the usage line a malformed command gets back
    help: tuple[Help, ...] = ()
    # The group key somewhere other than the last word (通知: first or last, privately only):
    # (the text as sent, the group keys, sent in a chat) -> the key named, if any.
    names_group: Callable[[str, Collection[str], bool], str | None] | None = None
    archive: bool = False  # the message archive's copy counts too (通知: tracked, not answered)


# --- the resolvers --------------------------------------------------------------------------------


def me_role(args: tuple[str, ...], sender: Sender) -> Role:
    """`我的 目标 N`: the member's own goal proposal; anything else: their progress in their groups."""
    if len(args) == 2 and ALIASES.get(args[0].lower()) == "目标" and parse_number(args[1]) is not None:
        return Role.MEMBER
    return Role.MEMBER_ALL


def goal_role(args: tuple[str, ...], sender: Sender) -> Role:
    """`目标 N` (one number) from someone who does not lead the group it is about: their own
    proposal. Anything else is a leader's `目标 <成员> <N>`."""
    if len(args) == 1 and parse_number(args[0]) is not None and not sender.leads_here():
        return Role.MEMBER
    return Role.LEADER


def leave_role(args: tuple[str, ...], sender: Sender) -> Role | None:
    """`请假 <成员> <天数>`: a leader's; `请假 <天数>`: one's own, except from a leader in private
    who is on no roster (they left out the member's name)."""
    if len(args) >= 2:
        return Role.LEADER
    if len(args) == 1:
        if not sender.in_chat and sender.leads_any() and not sender.belongs_anywhere():
            return None
        return Role.MEMBER
    return None


def undo_role(args: tuple[str, ...], sender: Sender) -> Role:
    """`撤销 打卡` (anyone's own check-in today), else a leader's last change where they lead, else
    a member's check-in today."""
    if args and args[0].lower() in CHECKIN_WORDS:
        return Role.MEMBER
    return Role.LEADER_ALL if sender.leads_here() else Role.MEMBER


# --- the table ------------------------------------------------------------------------------------
# In the order `帮助` lists them.

L, M = (Role.LEADER,), (Role.MEMBER,)

TABLE: tuple[Spec, ...] = (
    Spec(
        "我的",
        ("me",),
        (Role.MEMBER_ALL, Role.MEMBER),
        me_role,
        help=(Help("我的", "本周进度、连续天数和目标", AS_MEMBER),),
    ),
    Spec(
        "目标",
        ("goal",),
        (Role.LEADER, Role.MEMBER),
        goal_role,
        usage=f"目标 成员 N，比如「目标 小鹿 4」（N 为每周打卡天数，1–{MAX_GOAL}）",
        help=(
            Help("目标 成员 N", "从本周起每周打卡 N 天"),
            Help("目标 N", "向组长提议自己的每周目标（N 天），组长确认后生效", AS_MEMBER),
        ),
    ),
    Spec(
        "退阶",
        ("downgrade",),
        L,
        usage="退阶 成员 N，比如「退阶 小鹿 2」（从下周起生效）",
        help=(Help("退阶 成员 N", "从下周起把目标降到 N 天"),),
    ),
    Spec(
        "档案",
        ("note",),
        L,
        usage="档案 成员 文字，比如「档案 小鹿 本周出差，周末补更」",
        help=(Help("档案 成员 文字", "记一条学员档案"),),
    ),
    Spec("删除档案", ("delnote",), L, usage="删除档案 成员", help=(Help("删除档案 成员", "清空这位学员的档案"),)),
    Spec(
        "补卡",
        ("makeup",),
        L,
        usage="补卡 成员 日期，比如「补卡 小鹿 2024-05-03」",
        help=(Help("补卡 成员 YYYY-MM-DD", "补记漏掉的一天"),),
    ),
    Spec(
        "请假",
        ("leave",),
        (Role.LEADER, Role.MEMBER),
        leave_role,
        usage=f"请假 天数（组长给成员请假：请假 成员 天数），1–{MAX_LEAVE_DAYS} 天",
        help=(
            Help("请假 成员 天数", f"从今天起请假（1–{MAX_LEAVE_DAYS} 天）"),
            Help("请假 天数", "从今天起请假，连续天数不断", AS_MEMBER),
        ),
    ),
    Spec("本周", ("week",), L, help=(Help("本周", "本周打卡登记"),)),
    Spec("导出", ("export",), L, help=(Help("导出", "登记表 Excel，私信发给你"),)),
    Spec(
        "加入",
        ("add",),
        L,
        usage="加入 成员（新人写 userid，可再加显示名：加入 lulu 小鹿）",
        help=(Help("加入 成员", "加进名单（新人写 userid）"),),
    ),
    Spec("移除", ("remove",), L, usage="移除 成员", help=(Help("移除 成员", "移出名单"),)),
    Spec("暂停", ("pause",), L, help=(Help("暂停 / 恢复", "暂停或恢复本群的定时提醒"),)),
    Spec("恢复", ("resume",), L),  # listed with 暂停
    Spec(
        "通知",
        (*HEADERS, "notice", "announce"),
        L,
        names_group=named_group,
        archive=True,
        help=(Help("#通知 文字", "发群通知，过几小时私信告诉你谁还没回应"),),
    ),
    Spec("免打扰", ("mute",), M, help=(Help("免打扰", "关掉提醒，再发一次打开", AS_MEMBER),)),
    Spec("不公开", ("private",), M, help=(Help("不公开", "公开名单里不显示你的名字，再发一次恢复", AS_MEMBER),)),
    Spec(
        "撤销",
        ("undo",),
        (Role.LEADER_ALL, Role.MEMBER),
        undo_role,
        help=(
            Help("撤销", "撤回你上一条改动"),
            Help("撤销", "撤回今天的打卡", (View.MEMBER,)),
            Help("撤销 打卡", "撤回你今天的打卡", (View.OWN,)),
        ),
    ),
    Spec("帮助", ("help",), (Role.ANYONE,), help=(Help("帮助", "看这份说明", (View.MEMBER,)),)),
)

SPECS: dict[str, Spec] = {spec.word: spec for spec in TABLE}

# Every accepted spelling (lower case) -> the canonical word.
ALIASES: dict[str, str] = {alias.lower(): spec.word for spec in TABLE for alias in (spec.word, *spec.aliases)}


def english(spec: Spec) -> str:
    """The English word `帮助` shows for a command."""
    return next((a for a in spec.aliases if a.isascii()), spec.word)


def for_leaders(spec: Spec) -> bool:
    return any(role in (Role.LEADER, Role.LEADER_ALL) for role in spec.roles)


def for_members(spec: Spec) -> bool:
    return any(role in (Role.MEMBER, Role.MEMBER_ALL, Role.ANYONE) for role in spec.roles)


# --- reading the command word ---------------------------------------------------------------------


@dataclass(frozen=True)
class Parsed:
    word: str  # canonical command word
    args: tuple[str, ...]  # the words after it
    text: str  # the command as sent, leading mentions of the robot dropped
    rest: str = ""  # the raw text after the command word (newlines kept)


def command_of(token: str) -> str | None:
    """The command a post's first word spells (`GOAL` -> 目标); `#通知明晚直播` needs no space."""
    word = ALIASES.get(token.lower())
    if word is None and token.startswith(HEADERS):
        return "通知"
    return word


def _is_mention(token: str) -> bool:
    return token.startswith(("@", "＠"))


def parse(text: str) -> Parsed | None:
    """`@打卡助手 目标 @小鹿 4` -> Parsed("目标", ("@小鹿", "4")); None when no command word leads."""
    tokens = (text or "").split()  # str.split() also splits on WeCom's U+2005 after a mention
    dropped = 0
    while tokens and _is_mention(tokens[0]):
        tokens.pop(0)
        dropped += 1
    if not tokens:
        return None
    word = command_of(tokens[0])
    if word is None:
        return None
    if tokens[0].lower() not in ALIASES:  # a glued header: `#通知明晚直播`
        head = next(h for h in HEADERS if tokens[0].startswith(h))
        tokens = [head, tokens[0][len(head) :], *tokens[1:]]
    return Parsed(word, tuple(tokens[1:]), " ".join(tokens), skip_words(text, dropped + 1))
