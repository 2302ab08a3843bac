"""Reading what follows a command word: numbers, dates, switches, the group key and member names.
No I/O.

The command word itself and who may run it are in handlers.command_table; what the bot answers
is in handlers.command_texts; workers.commands reads Redis and carries the command out.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, timedelta

# --- words ---------------------------------------------------------------------------------------

CHECKIN_WORDS = ("打卡", "checkin")  # `撤销 打卡`: a leader undoing their own check-in
ON_WORDS = ("开", "开启", "打开", "on")
OFF_WORDS = ("关", "关闭", "取消", "off")


def skip_words(text: str, n: int) -> str:
    """`text` without its first `n` whitespace-separated words (the rest keeps its own spacing)."""
    for _ in range(n):
        text = text.lstrip()
        m = re.search(r"\s", text)
        text = text[m.start() :] if m else ""
    return text.strip()


def split_group_key(args: tuple[str, ...], keys: Collection[str]) -> tuple[tuple[str, ...], str | None]:
    """A group key as the last word (`本周 xhs01`) -> (the other words, the key)."""
    if args and args[-1].lower() in keys:
        return args[:-1], args[-1].lower()
    return args, None


def switch(args: tuple[str, ...]) -> bool | None:
    """`免打扰 开` -> True, `不公开 关` -> False; None when no on/off word leads (a toggle)."""
    if args and args[0].lower() in ON_WORDS:
        return True
    if args and args[0].lower() in OFF_WORDS:
        return False
    return None


def note_text(rest: str, name_part: str, key: str | None) -> str:
    """The note of `档案 <成员> <文字> [群代号]`: `rest` (after the command word, newlines kept)
    without the member's name and without a trailing group key."""
    text = skip_words(rest, len(name_part.split()))
    if key and text.split() and text.split()[-1].lower() == key:
        text = text[: text.lower().rstrip().rfind(key)].rstrip()
    return text


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
    ambiguous: bool  # True: several match exactly; False: none does

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
    near = [
        (uid, name)
        for uid, name in people.items()
        if ql in (name or "").lower() or (name and name.lower() in ql) or uid.lower().startswith(ql)
    ]
    return Unclear(query, tuple(near or people.items()), False)


def split_name(args: tuple[str, ...], people: dict[str, str]) -> tuple[str, tuple[str, ...]]:
    """For `档案 <成员> <文字>`: the longest leading words that name someone exactly, else the first word."""
    names = {clean_name(n) for n in people.values() if n} | set(people)
    for k in range(len(args) - 1, 1, -1):
        if clean_name(" ".join(args[:k])) in names:
            return " ".join(args[:k]), args[k:]
    return args[0], args[1:]


USERID = re.compile(r"^[A-Za-z0-9_.@\-]{1,64}$")


def newcomer(args: tuple[str, ...], everyone: dict[str, str]) -> tuple[Resolved | Unclear, str | None]:
    """Whom `加入 <成员> [显示名]` names: someone the group knows, or a new userid (its display name
    the second word, else the userid itself). The second value is the new member's name, None
    for someone known."""
    res = resolve(" ".join(args), everyone)
    if isinstance(res, Unclear) and len(args) <= 2:
        uid = clean_name(args[0])
        if uid in everyone:
            return Resolved(uid, everyone[uid]), None
        if USERID.match(uid) and not res.ambiguous:
            name = clean_name(args[1]) if len(args) == 2 else uid
            return Resolved(uid, name), name
    return res, None
