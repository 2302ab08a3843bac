"""Leader and member commands: parsing, name resolution and the shape of outbound messages. No I/O.

`workers.commands` reads Redis, decides with the helpers here, applies the change and sends what
the wording functions write. The wording (zh-CN, warm and short) lives in handlers.command_texts and
is re-exported here, so `h.goal_set(...)`, `h.USAGE`, `h.MAX_GOAL`, `h.week_mark` and the rest
keep working.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from handlers.calendar import weekday
from handlers.command_texts import *  # noqa: F401,F403  (the wording, re-exported: see its __all__)

# --- words ---------------------------------------------------------------------------------------

# Every accepted spelling -> the canonical (Chinese) command word.
ALIASES: dict[str, str] = {
    "帮助": "帮助", "help": "帮助",
    "我的": "我的", "me": "我的",
    "目标": "目标", "goal": "目标",
    "退阶": "退阶", "downgrade": "退阶",
    "档案": "档案", "note": "档案",
    "删除档案": "删除档案", "delnote": "删除档案",
    "补卡": "补卡", "makeup": "补卡",
    "请假": "请假", "leave": "请假",
    "本周": "本周", "week": "本周",
    "导出": "导出", "export": "导出",
    "加入": "加入", "add": "加入",
    "移除": "移除", "remove": "移除",
    "暂停": "暂停", "pause": "暂停",
    "恢复": "恢复", "resume": "恢复",
    "撤销": "撤销", "undo": "撤销",
    "免打扰": "免打扰", "mute": "免打扰",
    "不公开": "不公开", "private": "不公开",
    "通知": "通知", "#通知": "通知", "＃通知": "通知", "notice": "通知", "announce": "通知",
}
ENGLISH = {canon: word for word, canon in ALIASES.items() if word.isascii()}

LEADER_WORDS = frozenset({"目标", "退阶", "档案", "删除档案", "补卡", "本周", "导出", "加入", "移除", "暂停", "恢复",
                          "通知"})
MEMBER_WORDS = frozenset({"我的", "免打扰", "不公开"})
# 请假 and 撤销 are both: the arguments (or who sends them) decide; 帮助 is for everyone.

CHECKIN_WORDS = ("打卡", "checkin")       # `撤销 打卡`: a leader undoing their own check-in
ON_WORDS = ("开", "开启", "打开", "on")
OFF_WORDS = ("关", "关闭", "取消", "off")


@dataclass(frozen=True)
class Parsed:
    word: str                  # canonical command word
    args: tuple[str, ...]      # the words after it
    text: str                  # the command as sent, leading mentions of the robot dropped
    rest: str = ""             # the raw text after the command word (newlines kept)


def _is_mention(token: str) -> bool:
    return token.startswith(("@", "＠"))


def skip_words(text: str, n: int) -> str:
    """`text` without its first `n` whitespace-separated words (the rest keeps its own spacing)."""
    for _ in range(n):
        text = text.lstrip()
        m = re.search(r"\s", text)
        text = text[m.start():] if m else ""
    return text.strip()


def parse(text: str) -> Parsed | None:
    """`@打卡助手 目标 @小鹿 4` -> Parsed("目标", ("@小鹿", "4")); None when no command word leads."""
    tokens = (text or "").split()     # str.split() also splits on WeCom's U+2005 after a mention
    dropped = 0
    while tokens and _is_mention(tokens[0]):
        tokens.pop(0)
        dropped += 1
    if not tokens:
        return None
    word = ALIASES.get(tokens[0].lower())
    if word is None and tokens[0].startswith(("#通知", "＃通知")):   # `#通知明晚直播`: no space needed
        word, tokens = "通知", [tokens[0][:3], tokens[0][3:], *tokens[1:]]
    if word is None:
        return None
    return Parsed(word, tuple(tokens[1:]), " ".join(tokens), skip_words(text, dropped + 1))


def split_group_key(args: tuple[str, ...], keys) -> tuple[tuple[str, ...], str | None]:
    """A group key as the last word (`本周 xhs01`) -> (the other words, the key)."""
    if args and args[-1].lower() in keys:
        return args[:-1], args[-1].lower()
    return args, None


# --- values --------------------------------------------------------------------------------------

_CN_DIGITS = {"零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_NUMBER = re.compile(r"^([0-9０-９]+|[零一二两三四五六七八九十]+)(?:天|次|日|篇)?$")


def parse_number(token: str) -> int | None:
    """`3`, `３`, `3天`, `三`, `十四` -> int; None for anything else."""
    m = _NUMBER.match(token.strip())
    if not m:
        return None
    raw = m.group(1)
    if raw[0] in _CN_DIGITS or raw[0] == "十":
        if "十" in raw:
            tens, _, ones = raw.partition("十")
            if len(tens) > 1 or len(ones) > 1 or "十" in ones:
                return None
            return _CN_DIGITS.get(tens, 1 if not tens else -100) * 10 + (_CN_DIGITS.get(ones, 0) if ones else 0)
        if len(raw) != 1:
            return None
        return _CN_DIGITS[raw]
    return int(raw)


_ISO = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?号?$")
_SHORT = re.compile(r"^(\d{1,2})[-/.月](\d{1,2})[日号]?$")


def parse_day(token: str, today: date) -> date | None:
    """`2024-05-03`, `2024/5/3`, `5-3`, `5月3日`, `今天`, `昨天`, `前天` -> date; None if unreadable.
    A date without a year is the latest such date not after today."""
    token = token.strip()
    rel = {"今天": 0, "today": 0, "昨天": 1, "yesterday": 1, "前天": 2}
    if token.lower() in rel:
        return today - timedelta(days=rel[token.lower()])
    try:
        m = _ISO.match(token)
        if m:
            return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        m = _SHORT.match(token)
        if m:
            d = date(today.year, int(m.group(1)), int(m.group(2)))
            return d if d <= today else date(today.year - 1, d.month, d.day)
    except ValueError:
        return None
    return None


# --- people --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Resolved:
    userid: str
    name: str


@dataclass(frozen=True)
class Unclear:
    """No single member matches: ask back, listing these candidates (userid, name)."""
    query: str
    candidates: tuple[tuple[str, str], ...]
    ambiguous: bool           # True: several match exactly; False: none does

    @property
    def asked(self) -> str:
        """The name asked for, as the question repeats it (`@小鹿 ` -> `小鹿`)."""
        return clean_name(self.query)


def clean_name(token: str) -> str:
    return token.strip().lstrip("@＠").strip()


def resolve(query: str, people: dict[str, str]) -> Resolved | Unclear:
    """A member named by userid, display name or @name (`people`: userid -> display name).
    Never guesses: a partial or repeated match is a question."""
    q = clean_name(query)
    if not q:
        return Unclear(query, tuple(people.items()), False)
    for uid, name in people.items():
        if uid == q:
            return Resolved(uid, name or uid)
    by_uid = [(uid, name) for uid, name in people.items() if uid.lower() == q.lower()]
    exact = [(uid, name) for uid, name in people.items() if name == q]
    if not exact:
        exact = by_uid or [(uid, name) for uid, name in people.items() if name and name.lower() == q.lower()]
    if len(exact) == 1:
        uid, name = exact[0]
        return Resolved(uid, name or uid)
    if exact:
        return Unclear(query, tuple(exact), True)
    ql = q.lower()
    near = [(uid, name) for uid, name in people.items()
            if ql in (name or "").lower() or (name and name.lower() in ql) or uid.lower().startswith(ql)]
    return Unclear(query, tuple(near or people.items()), False)


def split_name(args: tuple[str, ...], people: dict[str, str]) -> tuple[str, tuple[str, ...]]:
    """For `档案 <成员> <文字>`: the longest leading words that name someone exactly, else the first word."""
    names = {clean_name(n) for n in people.values() if n} | set(people)
    for k in range(len(args) - 1, 1, -1):
        if clean_name(" ".join(args[:k])) in names:
            return " ".join(args[:k]), args[k:]
    return args[0], args[1:]


# --- outbound messages (the shape of handlers.router.group_post / private) ------------------------

def group_msg(msg_id: str, group: str, content: str, mentions: list | None = None) -> dict:
    return {"id": msg_id, "to": "group", "group": group, "msgtype": "text", "content": content,
            "mentions": mentions or []}


def user_msg(msg_id: str, users: list[str], content: str) -> dict:
    return {"id": msg_id, "to": "user", "users": users, "msgtype": "text", "content": content}


def file_msg(msg_id: str, users: list[str], path: str, name: str) -> dict:
    return {"id": msg_id, "to": "user", "users": users, "msgtype": "file", "file": {"path": path, "name": name}}


# --- weeks ---------------------------------------------------------------------------------------

def days_left(today: int, checked_today: bool) -> int:
    """Days of this week on which one can still check in, today included while it is open."""
    return 6 - weekday(today) + (0 if checked_today else 1)
