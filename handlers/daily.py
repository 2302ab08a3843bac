"""The texts of the daily rhythm: morning 接龙, evening reminder, leader digest, mid-week check,
weekend summary. Pure functions, no I/O: workers/schedule.py gathers the rows and posts the texts.

Rows are the register's MemberRow objects (anything with userid, name, streak, week_count,
week_goal, checked_in and last_day attributes). Days are the integer day indices of
handlers.calendar, in the group's own timezone.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Iterable, Sequence

from handlers.chain import render_chain
from handlers.calendar import cn_date, cn_weekday, day_date, day_index, week_start, weekday

CHAIN_TEMPLATE = "名字 已更 笔记链接"         # rendered `例 名字 已更 笔记链接`
CHAIN_TOPIC = "更文打卡 伙伴们加油💪"
STREAK_AT_RISK = 3            # a streak this long that is about to break earns a private nudge

SLOT_CN = {
    "chain": "早间接龙",
    "remind": "晚间提醒",
    "digest": "组长日报",
    "midweek": "周中进度",
    "summary": "周末总结",
}


# --- calendar words -------------------------------------------------------------------------------

def camp_week(day: int, camp_start: date | None) -> int | None:
    """The camp week (1-based, Monday to Sunday weeks) holding `day`, or None without camp dates."""
    if camp_start is None:
        return None
    n = (week_start(day) - week_start(day_index(camp_start))) // 7 + 1
    return n if n >= 1 else None


def day_label(day: int, camp_start: date | None = None) -> str:
    """`周二`, or `第2周 周二` when the camp start is known."""
    week = camp_week(day, camp_start)
    return f"第{week}周 {cn_weekday(day)}" if week else cn_weekday(day)


def in_quiet_hours(hour: int, minute: int, quiet: tuple[int, int, int, int] | None) -> bool:
    """Whether a local time of day falls in quiet hours `(h1, m1, h2, m2)`, which may span midnight."""
    if not quiet:
        return False
    t, start, end = hour * 60 + minute, quiet[0] * 60 + quiet[1], quiet[2] * 60 + quiet[3]
    if start == end:
        return False
    if start < end:
        return start <= t < end
    return t >= start or t < end


def split_links(raw: str | None) -> list[str]:
    return [p for p in (raw or "").split() if p]


# --- the morning 接龙 -----------------------------------------------------------------------------

ANONYMOUS = "一位同学"      # how a member who chose 不公开 appears in anything the group reads


def chain_entries(rows: Sequence, links: dict[str, str], hidden: set[str] = frozenset()) -> list[tuple[str, str]]:
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


def public_names(rows: Sequence, hidden: set[str]) -> str:
    """`小鹿、阿青、2 位同学`: the names the group may read, 不公开 members counted, never named."""
    shown = [row.name for row in rows if row.userid not in hidden]
    n = sum(1 for row in rows if row.userid in hidden)
    if n:
        shown.append(f"{n} 位同学" if n > 1 else ANONYMOUS)
    return "、".join(shown)


def chain_text(day: int, camp_start: date | None, entries: Sequence[tuple[str, str]],
               template: str = CHAIN_TEMPLATE) -> str:
    """The chain members know and copy: header, date line, template line, numbered entries, in the
    format handlers.chain owns, so that parse_chain reads it back."""
    topic = f"{cn_date(day_date(day))} {day_label(day, camp_start)} {CHAIN_TOPIC}"
    return render_chain([topic], template, list(entries))


# --- the evening reminder -------------------------------------------------------------------------

@dataclass
class Reminder:
    content: str
    mentions: list[list[str]] = field(default_factory=list)     # [[userid, name], ...] to @
    nudges: list[tuple[str, str]] = field(default_factory=list)  # (userid, private text)


def remind(rows: Sequence, muted: set[str] = frozenset(), on_leave: set[str] = frozenset(),
           quiet: bool = False, hidden: set[str] = frozenset()) -> Reminder | None:
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
                nudges.append((row.userid, nudge_text(row.name, row.streak)))
            elif row.userid in hidden:
                nudges.append((row.userid, quiet_nudge_text(row.name)))
    return Reminder("\n".join(lines), [[row.userid, row.name] for row in to_mention], nudges)


def quiet_nudge_text(name: str) -> str:
    return f"{name}，今天还没看到你的打卡哦～完成后来群里 @我 说一声「打卡」就好💪"


def nudge_text(name: str, streak: int) -> str:
    return (f"{name}，你已经连续打卡 {streak} 天啦🔥 今天还差一次，"
            "睡前来群里打个卡，别让连续记录断掉哦～")


# --- the leader digest ----------------------------------------------------------------------------

def silent_for(row, day: int, camp_start: date | None) -> int | None:
    """Days without a check-in up to and including `day` (0 when checked in today); None when the
    member never checked in and the camp start is unknown."""
    if row.checked_in:
        return 0
    if row.last_day is not None:
        return day - row.last_day
    if camp_start is not None:
        return max(day - day_index(camp_start) + 1, 0)
    return None


def note_line(note: dict | str) -> str:
    """One profile note, `文字（11月20日 lily）`; notes are JSON {text, by, at}."""
    if isinstance(note, (str, bytes)):
        try:
            note = json.loads(note)
        except (TypeError, ValueError):
            return str(note if isinstance(note, str) else note.decode(errors="replace"))
    if not isinstance(note, dict):
        return str(note)
    text = str(note.get("text", "")).strip()
    meta = [m for m in (_short_date(note.get("at")), str(note.get("by") or "").strip()) if m]
    return f"{text}（{' '.join(meta)}）" if meta else text


def _short_date(at) -> str:
    if at in (None, ""):
        return ""
    try:
        if isinstance(at, (int, float)) or str(at).replace(".", "", 1).isdigit():
            return cn_date(datetime.fromtimestamp(float(at), tz=timezone.utc).date())
        return cn_date(datetime.fromisoformat(str(at).replace("Z", "+00:00")).date())
    except (ValueError, OverflowError, OSError):
        return ""


def digest(group_name: str, day: int, rows: Sequence, links: dict[str, str],
           notes: dict[str, list] | None = None, silent_days: int = 3,
           on_leave: set[str] = frozenset(), camp_start: date | None = None) -> str:
    """The leader's private end-of-day report."""
    notes = notes or {}
    done = [row for row in rows if row.checked_in]
    leave = [row for row in rows if not row.checked_in and row.userid in on_leave]
    todo = [row for row in rows if not row.checked_in and row.userid not in on_leave]
    lines = [f"📋 {group_name} · {cn_date(day_date(day))}（{day_label(day, camp_start)}）打卡日报",
             f"✅ 已打卡 {len(done)}/{len(rows)}"]
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
    silent = []
    for row in todo:
        n = silent_for(row, day, camp_start)
        if n is None:
            silent.append((row, "还没打过卡"))
        elif n >= silent_days:
            silent.append((row, f"已 {n} 天没打卡" if row.last_day is not None else f"开营 {n} 天还没打卡"))
    if silent:
        lines.append("🔕 " + "；".join(f"{row.name} {why}" for row, why in silent) + "，建议约时间私聊，了解一下近况")
    shown = [row for row in [*risk, *(row for row, _ in silent)] if notes.get(row.userid)]
    seen = set()
    for row in shown:
        if row.userid in seen:
            continue
        seen.add(row.userid)
        lines.append(f"📒 {row.name} 的档案：" + "；".join(note_line(n) for n in notes[row.userid]))
    return "\n".join(lines)


# --- weekly ---------------------------------------------------------------------------------------

def days_left_in_week(day: int) -> int:
    """Days after `day` up to Sunday."""
    return 6 - weekday(day)


def _as_weeks(rows: Sequence, day: int, on_leave: set[str] = frozenset()) -> list:
    """Register rows (MemberRow) as handlers.weekly.MemberWeek objects, for callers that only have
    rows: the week is judged from week_count / week_goal as of `day`, without days off."""
    from handlers.streaks import MET, MISSED, OPEN, WeekResult
    from handlers.weekly import MemberWeek
    out = []
    for row in rows:
        left = days_left_in_week(day) + (0 if row.checked_in else 1)
        if row.week_count >= row.week_goal:
            status = MET
        elif row.week_count + left < row.week_goal:
            status = MISSED
        else:
            status = OPEN
        res = WeekResult(week_start(day), row.week_count, row.week_goal, row.week_goal, 0, left, status)
        out.append(MemberWeek(row.userid, row.name, res, [res], row.streak, row.longest_streak, row.total,
                              row.checked_in, row.week_goal, off_today=row.userid in on_leave))
    return out


def behind_pace(row, day: int) -> bool:
    """Fewer check-ins than the goal's share of the days gone by (rounded down), or out of reach."""
    from handlers.weekly import behind
    return behind(_as_weeks([row], day)[0], day)


def can_reach(row, day: int) -> bool:
    left = days_left_in_week(day) + (0 if row.checked_in else 1)
    return row.week_count + left >= row.week_goal


def midweek(group_name: str, day: int, rows: Sequence, on_leave: set[str] = frozenset(),
            camp_start: date | None = None) -> str:
    """A leader's private mid-week check: who is behind pace for their weekly goal (members on leave
    today left out). The scheduled slot uses handlers.weekly.midweek_leader with days off and notes."""
    from handlers.weekly import midweek_leader
    weeks = [m for m in _as_weeks(rows, day, on_leave) if not m.off_today]
    return midweek_leader(group_name, day, weeks, camp_start)


def summary(day: int, rows: Sequence, camp_start: date | None = None) -> str:
    """The weekend review in the group: each member's week ✅/❌ n/goal and streak, the week's stars.
    The scheduled slot uses handlers.weekly.review with days off and 不公开."""
    from handlers.weekly import review
    return review(day, _as_weeks(rows, day), camp_start)


# --- after downtime -------------------------------------------------------------------------------

def skipped(group_name: str, items: Iterable[tuple[str, int, str]]) -> str:
    """Tell a leader which scheduled posts were skipped: items are (slot, day, "HH:MM")."""
    lines = [f"⚠️ 打卡助手中断了一段时间，{group_name} 有些定时消息错过了时间，已跳过没有补发："]
    for slot, day, hhmm in items:
        lines.append(f"· {cn_date(day_date(day))} {hhmm} {SLOT_CN.get(slot, slot)}")
    lines.append("之后的消息会照常发送。需要补发的话请联系管理员🙏")
    return "\n".join(lines)
