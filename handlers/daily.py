"""The texts of the daily rhythm: morning 接龙, evening reminder, leader digest, mid-week check,
weekend summary. Pure functions, no I/O: workers/schedule.py gathers the rows and posts the texts.

Rows are the register's MemberRow objects (anything with userid, name, streak, week_count,
week_goal, checked_in and last_day attributes). Days are the integer day indices of
handlers.calendar, in the group's own timezone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import date
from typing import Protocol

from handlers.calendar import cn_date, day_date, day_index, day_label
from handlers.chain import render_chain
from handlers.routine import Kind
from handlers.texts import ANONYMOUS, Note, note_line

CHAIN_TEMPLATE = "名字 已更 笔记链接"  # rendered `例 名字 已更 笔记链接`
CHAIN_TOPIC = "更文打卡 伙伴们加油💪"
STREAK_AT_RISK = 3  # a streak this long that is about to break earns a private nudge

SLOT_CN = {
    "chain": "早间接龙",
    "remind": "晚间提醒",
    "digest": "组长日报",
    "midweek": "周中进度",
    "summary": "周末总结",
}


class RegisterRow(Protocol):
    """What these texts read of a register row (workers.register.MemberRow)."""

    @property
    def userid(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def streak(self) -> int: ...
    @property
    def checked_in(self) -> bool: ...
    @property
    def last_day(self) -> int | None: ...


def split_links(raw: str | None) -> list[str]:
    return [p for p in (raw or "").split() if p]


# --- the morning 接龙 -----------------------------------------------------------------------------


def chain_entries(
    rows: Sequence[RegisterRow], links: Mapping[str, str], hidden: AbstractSet[str] = frozenset()
) -> list[tuple[str, str]]:
    """(name, what follows the name) for everyone checked in on the day: `已更` and their links.
    A member in `hidden` (不公开) is `一位同学 已更`, without the links that would name them."""
    out = []
    for row in rows:
        if not row.checked_in:
            continue
        if row.userid in hidden:
            out.append((ANONYMOUS, "已更"))
        else:
            out.append((row.name, " ".join(["已更", *split_links(links.get(row.userid))])))
    return out


def public_names(rows: Sequence[RegisterRow], hidden: AbstractSet[str]) -> str:
    """`小鹿、阿青、2 位同学`: the names the group may read, 不公开 members counted, never named."""
    shown = [row.name for row in rows if row.userid not in hidden]
    n = sum(1 for row in rows if row.userid in hidden)
    if n:
        shown.append(f"{n} 位同学" if n > 1 else ANONYMOUS)
    return "、".join(shown)


def chain_text(
    day: int, camp_start: date | None, entries: Sequence[tuple[str, str]], template: str = CHAIN_TEMPLATE
) -> str:
    """The chain members know and copy: header, date line, template line, numbered entries, in the
    format handlers.chain owns, so that parse_chain reads it back."""
    topic = f"{cn_date(day_date(day))} {day_label(day, camp_start)} {CHAIN_TOPIC}"
    return render_chain([topic], template, list(entries))


# --- the evening reminder -------------------------------------------------------------------------


@dataclass
class Reminder:
    content: str
    mentions: list[list[str]] = field(default_factory=list)  # [[userid, name], ...] to @
    nudges: list[tuple[str, str, Kind]] = field(default_factory=list)  # (userid, private text, its kind)


def remind(
    rows: Sequence[RegisterRow],
    muted: AbstractSet[str] = frozenset(),
    on_leave: AbstractSet[str] = frozenset(),
    quiet: bool = False,
    hidden: AbstractSet[str] = frozenset(),
) -> Reminder | None:
    """The evening group post. @ exactly the members who have not checked in (never the muted, the
    ones on leave, or anyone already checked in); cheer those who have; when everyone is done,
    celebrate instead. Long streaks about to break get a private nudge, except in quiet hours.
    A member who chose 不公开 (`hidden`) is never named or @-ed in the group: counted among those
    who checked in, reminded privately when not (an @ would tell the group who is behind)."""
    if not rows:
        return None
    done = [row for row in rows if row.checked_in]
    todo = [row for row in rows if not row.checked_in and row.userid not in on_leave]
    reachable = [row for row in todo if row.userid not in muted]
    to_mention = [row for row in reachable if row.userid not in hidden]
    if not todo:
        return Reminder(f"🎉 今天全员打卡完成（{len(done)}/{len(done)}），大家太棒了👏 明天继续一起加油～")
    lines = []
    if done:
        lines.append(f"🌙 今天已有 {len(done)} 位伙伴打卡：{public_names(done, hidden)}，给你们点赞👏")
    else:
        lines.append("🌙 晚上好，今天还没有人打卡哦～")
    if to_mention:
        lines.append("还没打卡的伙伴别忘了，完成后 @我 说「打卡」或贴上笔记链接就行💪")
    else:
        lines.append("还没打卡的伙伴，睡前记得来打个卡哦💪")
    nudges = []
    if not quiet:
        for row in reachable:
            if row.streak >= STREAK_AT_RISK:
                nudges.append((row.userid, nudge_text(row.name, row.streak), Kind.STREAK))
            elif row.userid in hidden:
                nudges.append((row.userid, quiet_nudge_text(row.name), Kind.REMIND))
    return Reminder("\n".join(lines), [[row.userid, row.name] for row in to_mention], nudges)


def quiet_nudge_text(name: str) -> str:
    return f"{name}，今天还没看到你的打卡哦～完成后来群里 @我 说一声「打卡」就好💪"


def nudge_text(name: str, streak: int) -> str:
    return f"{name}，你已经连续打卡 {streak} 天啦🔥 今天还差一次，睡前来群里打个卡，别让连续记录断掉哦～"


# --- the leader digest ----------------------------------------------------------------------------


def silent_for(row: RegisterRow, day: int, since: int | None) -> int | None:
    """Days without a check-in up to and including `day` (0 when checked in today); None when the
    member never checked in and the first day of the group's record (`since`) is unknown."""
    if row.checked_in:
        return 0
    if row.last_day is not None:
        return day - row.last_day
    if since is not None:
        return max(day - since + 1, 0)
    return None


def _day_or_none(d: date | None) -> int | None:
    return day_index(d) if d is not None else None


def silent_members(
    todo: Sequence[RegisterRow], day: int, since: int | None, silent_days: int
) -> list[tuple[RegisterRow, int]]:
    """(row, days silent) of the members silent for BOT_SILENT_DAYS or more, the longest first. One
    who never checked in counts from `since`; unknown, they are not flagged (nobody knows for how long)."""
    found = [(row, silent_for(row, day, since)) for row in todo]
    out = [(row, n) for row, n in found if n is not None and n >= silent_days]
    return sorted(out, key=lambda x: -x[1])


def silent_lines(silent: Sequence[tuple[RegisterRow, int]], in_camp: bool) -> list[str]:
    """The digest's lines on silence (💤; 🔕 is 免打扰): who checked in before, with their days, and who
    never did, once each, then one suggestion."""
    if not silent:
        return []
    lapsed = [f"{row.name}（{n} 天）" for row, n in silent if row.last_day is not None]
    never = [row for row, _ in silent if row.last_day is None]
    lines = []
    if lapsed:
        lines.append("💤 好几天没打卡：" + "、".join(lapsed))
    if never:
        n = max(x for row, x in silent if row.last_day is None)
        since = f"开营 {n} 天" if in_camp else f"{n} 天来"
        lines.append(f"💤 {since}还没打过卡：" + "、".join(row.name for row in never))
    lines.append("   建议约时间私聊，了解一下近况")
    return lines


def digest(
    group_name: str,
    day: int,
    rows: Sequence[RegisterRow],
    links: Mapping[str, str],
    notes: Mapping[str, Sequence[Note]] | None = None,
    silent_days: int = 3,
    on_leave: AbstractSet[str] = frozenset(),
    camp_start: date | None = None,
    since: int | None = None,
) -> str:
    """The leader's private end-of-day report. `since`: the first day of the group's record (the
    camp's start, else its first check-in), from which silence is counted."""
    notes = notes or {}
    done = [row for row in rows if row.checked_in]
    leave = [row for row in rows if not row.checked_in and row.userid in on_leave]
    todo = [row for row in rows if not row.checked_in and row.userid not in on_leave]
    lines = [
        f"📋 {group_name} · {cn_date(day_date(day))}（{day_label(day, camp_start)}）打卡日报",
        f"✅ 已打卡 {len(done)}/{len(rows)}",
    ]
    for i, row in enumerate(done, 1):
        extra = " ".join(split_links(links.get(row.userid)))
        lines.append(f"{i}. {row.name}（连续 {row.streak} 天）" + (f" {extra}" if extra else ""))
    if todo:
        lines.append(f"⏳ 未打卡 {len(todo)}：" + "、".join(row.name for row in todo))
    else:
        lines.append("🎉 今天全员打卡完成")
    if leave:
        lines.append("🌴 请假：" + "、".join(row.name for row in leave))
    risk = [row for row in todo if row.streak >= STREAK_AT_RISK]
    if risk:
        lines.append("🔥 连续记录快断了：" + "、".join(f"{row.name}（已连续 {row.streak} 天）" for row in risk))
    silent = silent_members(todo, day, since if since is not None else _day_or_none(camp_start), silent_days)
    lines += silent_lines(silent, camp_start is not None)
    shown = [row for row in [*risk, *(row for row, _ in silent)] if notes.get(row.userid)]
    seen = set()
    for row in shown:
        if row.userid in seen:
            continue
        seen.add(row.userid)
        lines.append(f"📒 {row.name} 的档案：" + "；".join(note_line(n) for n in notes[row.userid]))
    return "\n".join(lines)


# --- after downtime -------------------------------------------------------------------------------


def skipped(group_name: str, items: Iterable[tuple[str, int, str]]) -> str:
    """Tell a leader which scheduled posts were skipped: items are (slot, day, "HH:MM")."""
    lines = [f"⚠️ 打卡助手中断了一段时间，{group_name} 有些定时消息错过了时间，已跳过没有补发："]
    for slot, day, hhmm in items:
        lines.append(f"· {cn_date(day_date(day))} {hhmm} {SLOT_CN.get(slot, slot)}")
    lines.append("之后的消息会照常发送。需要补发的话请联系管理员🙏")
    return "\n".join(lines)
