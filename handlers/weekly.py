"""The camp's weekly cycle: mid-week pace check, weekend review, the leader's weekly register with
suggestions (退阶 / a higher goal), the admins' camp-wide overview and the final camp report.
Pure functions, no I/O: workers/weekly.py reads Redis into `MemberWeek` objects and posts the texts.

Weeks run Monday to Sunday in the group's timezone and are numbered from the camp start (第2周);
without camp dates they are calendar weeks, shown by their dates.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from handlers.calendar import (
    camp_week,
    cn_date,
    cn_weekday,
    day_date,
    days_left,
    week_start,
)
from handlers.streaks import MET, MISSED, OFF, OPEN, WeekResult, beaten_run, missed_run
from handlers.texts import ANONYMOUS, Note, fill, note_line, them

TOP_LIMIT = 3
CHEER_NAMES = 8  # a cheer names at most this many members, else counts them


@dataclass
class MemberWeek:
    """One member's week and what led to it (`history`: every tracked week up to and including
    this one, oldest first)."""

    userid: str
    name: str
    week: WeekResult
    history: list[WeekResult] = field(default_factory=list)
    streak: int = 0
    longest: int = 0
    total: int = 0
    checked_today: bool = False
    next_goal: int = 0  # the goal in force next week, before days off (a pending 退阶 shows here)
    private: bool = False  # 不公开: anonymous in group posts
    muted: bool = False  # 免打扰: no private nudges
    off_today: bool = False
    notes: list[Note] = field(default_factory=list)
    gone: frozenset[int] = frozenset()  # this week's days off (or outside the camp)
    leave: int = 0  # this week's days off (请假) within the camp


def _pick(options: Sequence[str], seed: str) -> str:
    return options[int.from_bytes(hashlib.sha1(seed.encode()).digest()[:4], "big") % len(options)]


# --- weeks and names -------------------------------------------------------------------------------


def week_name(week: int, camp_start: date | None) -> str:
    """`第2周`, or `本周` without camp dates."""
    n = camp_week(week, camp_start)
    return f"第{n}周" if n else "本周"


def week_dates(week: int) -> str:
    return f"{cn_date(day_date(week))}—{cn_date(day_date(week + 6))}"


def week_span(week: int, camp_start: date | None = None) -> str:
    """`第2周（11月23日—11月29日）`, or just the dates without camp dates."""
    n = camp_week(week, camp_start)
    return f"第{n}周（{week_dates(week)}）" if n else week_dates(week)


def display_names(members: Sequence[MemberWeek]) -> dict[str, str]:
    """userid -> the name to show; two members called 小王 are told apart by userid."""
    seen: dict[str, int] = {}
    for m in members:
        seen[m.name] = seen.get(m.name, 0) + 1
    return {m.userid: m.name if seen[m.name] == 1 else f"{m.name}（{m.userid}）" for m in members}


def command_names(members: Sequence[MemberWeek]) -> dict[str, str]:
    """userid -> how a command names the member: the display name when it is unique, else the userid."""
    seen: dict[str, int] = {}
    for m in members:
        seen[m.name] = seen.get(m.name, 0) + 1
    return {m.userid: m.name if seen[m.name] == 1 and m.name else m.userid for m in members}


def public_name(m: MemberWeek, names: dict[str, str]) -> str:
    return ANONYMOUS if m.private else names.get(m.userid, m.name)


def fraction(m: MemberWeek) -> str:
    return f"{m.week.count}/{m.week.goal}"


# --- mid-week: who is behind the pace ---------------------------------------------------------------


def behind(m: MemberWeek, day: int) -> bool:
    """Fewer check-ins than the goal's share of the available days gone by (rounded down), or a
    goal that can no longer be reached. A week fully off is never behind."""
    res = m.week
    if res.status in (MET, OFF):
        return False
    if res.status == MISSED:
        return True
    week = res.week
    available = [d for d in range(week, week + 7) if d not in m.gone]
    if not available:
        return False
    elapsed = sum(1 for d in available if d <= day)
    return res.count < (res.goal * elapsed) // len(available)


def midweek_leader(
    group_name: str,
    day: int,
    members: Sequence[MemberWeek],
    camp_start: date | None = None,
    notes_shown: int = 3,
    nudged: Sequence[str] = (),
) -> str:
    """A leader's private mid-week check: who is behind the pace for their goal, with numbers and
    their profile notes."""
    names = display_names(members)
    late = [m for m in members if behind(m, day)]
    when = f"{cn_date(day_date(day))} {cn_weekday(day)}"
    head = f"📈 {group_name} · {week_name(week_start(day), camp_start)}周中进度（{when}）"
    if not late:
        return head + "\n大家的进度都跟上了👍 继续保持～"
    lines = [head, f"进度落后的伙伴（{len(late)} 位）："]
    for m in late:
        line = f"· {names[m.userid]} {fraction(m)}，本周还剩 {days_left(day, gone=m.gone)} 天"
        extra = []
        if m.leave and m.week.status != OFF:
            extra.append(f"请假 {m.leave} 天，目标已按比例调为 {m.week.goal}")
        if m.week.status == MISSED:
            extra.append("本周已追不上了")
        if m.off_today:
            extra.append("今天请假中")
        if extra:
            line += "（" + "，".join(extra) + "）"
        lines.append(line)
        if m.notes:
            lines.append("  📒 " + "；".join(note_line(n) for n in m.notes[-notes_shown:]))
    told = [names[m.userid] for m in late if m.userid in set(nudged)]
    if told:
        lines.append(
            f"我已私信给 {'、'.join(told)} 打了打气；你也可以私聊关心一下，"
            + fill("帮{who}把目标完成💪", who=them(len(told)))
        )
    else:
        lines.append("可以私聊鼓励一下，" + fill("帮{who}把目标完成💪", who=them(len(late))))
    return "\n".join(lines)


NUDGES = (
    "{name}，这周过半啦～目前 {count}/{goal}，还有 {left} 天，挑个轻松的时间更一篇就好，我们一起加油💪",
    "{name}，周中小提醒🌱 本周进度 {count}/{goal}，剩下 {left} 天完全来得及，完成后 @我 打卡就行～",
    "Hi {name}，本周进度 {count}/{goal}，还有 {left} 天可以追上，不着急，一步一步来✨",
)
NUDGES_LATE = (
    "{name}，这周是不是有点忙？能更一篇就是进步，完成后 @我 打卡～下周我们一起重新出发🌱",
    "{name}，最近辛苦啦🤗 这周不用勉强，能写一点是一点，下周再稳稳地来～",
)


def midweek_nudge(m: MemberWeek, day: int, seed: str) -> str:
    """An encouraging private note for a member behind the pace: never a scolding."""
    res = m.week
    left = days_left(day, gone=m.gone)
    if res.status == MISSED or left == 0:
        return _pick(NUDGES_LATE, seed).format(name=m.name)
    return _pick(NUDGES, seed).format(name=m.name, count=res.count, goal=res.goal, left=left)


# --- the weekend: results, stars, suggestions --------------------------------------------------------


def mark(res: WeekResult) -> str:
    return {MET: "✅", MISSED: "❌", OPEN: "⏳", OFF: "🌴"}[res.status]


def _by_count(m: MemberWeek) -> tuple[int, ...]:
    return (m.week.count,)


def top_performers(
    members: Sequence[MemberWeek], limit: int = TOP_LIMIT, key: Callable[[MemberWeek], tuple[int, ...]] = _by_count
) -> list[MemberWeek]:
    """尖子生: members who met their goal with the highest counts, whole ties included, at most
    `limit`; when the top tie alone is larger, the longer streaks lead."""
    met = [m for m in members if m.week.status == MET and m.week.count > 0]
    tiers: dict[tuple[int, ...], list[MemberWeek]] = {}
    for m in met:
        tiers.setdefault(key(m), []).append(m)
    out: list[MemberWeek] = []
    for k in sorted(tiers, reverse=True):
        tier = sorted(tiers[k], key=lambda m: (-m.streak, -m.total, m.name))
        if not out and len(tier) > limit:
            return tier[:limit]
        if len(out) + len(tier) > limit:
            break
        out += tier
    return out


def _order(members: Sequence[MemberWeek]) -> list[MemberWeek]:
    rank = {MET: 0, OPEN: 1, MISSED: 2, OFF: 3}
    return sorted(members, key=lambda m: (rank[m.week.status], -m.week.count, -m.streak))


CHEERS = (
    "👏 为达成目标的{names}鼓掌，说到做到，真棒！",
    "🎉 {names} 本周目标达成，给你们点赞！",
    "🌟 {names} 这周稳稳完成了目标，太厉害了！",
)


def review(
    day: int,
    members: Sequence[MemberWeek],
    camp_start: date | None = None,
    seed: str = "",
    closing: bool = False,
    top: int = TOP_LIMIT,
) -> str:
    """The weekend review in the group: each member's week ✅/❌ n/goal and streak (不公开 members
    anonymous), praise for those who met their goal, and the week's top performers (at most `top`).
    `closing`: the camp's last week (no "next week")."""
    week = week_start(day)
    head = f"📊 {week_name(week, camp_start)}打卡总结（{week_dates(week)}）"
    if not members:
        return head + "\n本周还没有打卡记录，下周一起开始吧💪"
    names = display_names(members)
    lines = [head]
    for m in _order(members):
        who = ("🙈 " + ANONYMOUS) if m.private else names[m.userid]
        # a streak is worth showing the group from two days on; "连续 0 天" on a Sunday for everyone
        # who writes on Mon/Wed/Fri would only discourage (the leader's register shows every streak)
        run = f" · 连续 {m.streak} 天" if m.streak >= 2 else ""
        if m.week.status == OFF:
            lines.append(f"🌴 {who} 本周请假{run}")
            continue
        leave = f"（请假 {m.leave} 天）" if m.leave else ""
        lines.append(f"{mark(m.week)} {who} {fraction(m)}{leave}{run}")
    met = [m for m in members if m.week.status == MET]
    counted = [m for m in members if m.week.status != OFF]
    stars = top_performers(members, top)
    if stars:
        lines.append("🏆 本周之星：" + "、".join(f"{public_name(m, names)}（{m.week.count} 天）" for m in stars))
    if met:
        shown = [public_name(m, names) for m in met if not m.private]
        hidden = sum(1 for m in met if m.private)
        if hidden:
            shown.append(f"{hidden} 位同学" if hidden > 1 else ANONYMOUS)
        if len(met) > CHEER_NAMES:  # the ✅ lines above name them all already
            shown = [f"这 {len(met)} 位伙伴"]
        lines.append(fill(_pick(CHEERS, seed or str(week)), names="、".join(shown)))
        lines.append(
            f"本周 {len(met)}/{len(counted)} 人达成目标，辛苦大家！"
            + ("训练营圆满收官，感谢每一位的坚持🎓" if closing else "下周继续加油💪")
        )
    else:
        lines.append(
            f"本周 0/{len(counted)} 人达成目标。没关系，每一篇都算数，"
            + ("训练营收官了，写作的习惯我们继续带着走🌱" if closing else "下周我们一起慢慢来🌱")
        )
    return "\n".join(lines)


@dataclass(frozen=True)
class Suggestion:
    userid: str
    name: str  # as the command names the member
    kind: str  # "downgrade" | "upgrade" | "talk"
    n: int  # the goal suggested (0 for "talk")
    current: int  # the goal in force now
    weeks: tuple[tuple[int, int], ...]  # (count, goal) of the weeks behind it, oldest first

    @property
    def command(self) -> str:
        if self.kind == "downgrade":
            return f"退阶 {self.name} {self.n}"
        if self.kind == "upgrade":
            return f"目标 {self.name} {self.n}"
        return ""

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "n": self.n,
            "from": self.current,
            "name": self.name,
            "weeks": [list(w) for w in self.weeks],
        }


def suggest(members: Sequence[MemberWeek], downgrade_after: int = 2, upgrade_after: int = 2) -> list[Suggestion]:
    """退阶 for a member who missed the goal `downgrade_after` weeks in a row (weeks fully off do not
    count), to a goal they can reach: what they actually did at best in those weeks, at least 1;
    a higher goal for one who beat it `upgrade_after` weeks in a row. Nothing when a leader already
    changed next week's goal that way."""
    cmd = command_names(members)
    out = []
    for m in members:
        missed = missed_run(m.history)
        if len(missed) >= downgrade_after:
            current = m.week.base_goal
            weeks = tuple((w.count, w.goal) for w in missed[-downgrade_after:])
            n = max(1, max(w.count for w in missed[-downgrade_after:]))
            if m.next_goal < current:
                continue  # a 退阶 is already planned for next week
            if current <= 1 or n >= current:
                out.append(Suggestion(m.userid, cmd[m.userid], "talk", 0, current, weeks))
            else:
                out.append(Suggestion(m.userid, cmd[m.userid], "downgrade", n, current, weeks))
            continue
        beaten = beaten_run(m.history)
        if len(beaten) >= upgrade_after:
            current = m.week.base_goal
            if current >= 7 or m.next_goal > current:
                continue
            weeks = tuple((w.count, w.goal) for w in beaten[-upgrade_after:])
            out.append(Suggestion(m.userid, cmd[m.userid], "upgrade", current + 1, current, weeks))
    return out


def suggestion_lines(s: Suggestion, display: str) -> list[str]:
    weeks = "、".join(f"{c}/{g}" for c, g in s.weeks)
    n = len(s.weeks)
    if s.kind == "downgrade":
        return [
            f"· {display} 连续 {n} 周没达标（{weeks}），建议把目标降到 TA 做得到的 {s.n} 天，下周起生效，回复：",
            f"  {s.command}",
        ]
    if s.kind == "upgrade":
        return [f"· {display} 连续 {n} 周超额完成（{weeks}），可以挑战高一点的目标，回复：", f"  {s.command}"]
    return [f"· {display} 连续 {n} 周没达标（{weeks}），目标已是每周 {s.current} 天，建议约时间私聊，了解一下近况"]


def leader_report(
    group_name: str,
    day: int,
    members: Sequence[MemberWeek],
    suggestions: Sequence[Suggestion],
    camp_start: date | None = None,
    notes_shown: int = 3,
    top: int = TOP_LIMIT,
    congratulated: Sequence[str] = (),
) -> str:
    """The leader's private weekly register (学员目标/监督登记) with suggestions and exact commands, and
    its top performers (at most `top`) to praise and invite to share; `congratulated`: the userids
    the bot congratulated privately (开小灶)."""
    week = week_start(day)
    names = display_names(members)
    head = f"📋 {group_name} · {week_name(week, camp_start)}周报（{week_dates(week)}）"
    if not members:
        return head + "\n名单还是空的，大家打卡后就会出现在这里～"
    counted = [m for m in members if m.week.status != OFF]
    met = [m for m in counted if m.week.status == MET]
    rate = f"{round(100 * len(met) / len(counted))}%" if counted else "—"
    lines = [head, f"完成率 {rate}（{len(met)}/{len(counted)} 人达标）"]
    for m in _order(members):
        parts = [
            f"{mark(m.week)} {names[m.userid]} " + ("本周请假" if m.week.status == OFF else fraction(m)),
            f"连续 {m.streak} 天",
        ]
        if m.leave and m.week.status != OFF:
            parts.append(f"请假 {m.leave} 天")
        run = len(missed_run(m.history))
        if run >= 2:
            parts.append(f"已连续 {run} 周未达标")
        if m.next_goal and m.next_goal != m.week.base_goal:
            parts.append(f"下周起目标 {m.next_goal} 天")
        lines.append("｜".join(parts))
    stars = top_performers(members, top)
    if stars:
        who = "TA" if len(stars) == 1 else "他们"
        lines.append(
            "🏆 尖子生："
            + "、".join(f"{names[m.userid]}（{m.week.count} 天）" for m in stars)
            + f"，可以在群里点名表扬，再请{who}分享一下心得（邀请分享）～"
        )
        told = [names[m.userid] for m in stars if m.userid in set(congratulated)]
        if told:
            lines.append(f"🌟 我已私信为{'、'.join(told)}送上本周之星的祝贺")
    if suggestions:
        lines.append("💡 建议：")
        for s in suggestions:
            lines += suggestion_lines(s, names.get(s.userid, s.name))
    noted = [
        m
        for m in members
        if m.notes
        and (
            m.week.status in (MISSED, OPEN)
            or any(s.userid == m.userid for s in suggestions)
            or any(x.userid == m.userid for x in stars)
        )
    ]
    for m in noted:
        lines.append(f"📒 {names[m.userid]} 的档案：" + "；".join(note_line(n) for n in m.notes[-notes_shown:]))
    return "\n".join(lines)


# --- the admins' camp-wide overview ------------------------------------------------------------------


@dataclass
class GroupWeek:
    key: str
    name: str
    week_label: str  # 第2周 / 本周
    met: int
    counted: int
    at_risk: list[tuple[str, int, str]]  # (name, weeks missed in a row, n/goal)
    followed: list[tuple[str, bool | None]]  # last week's suggestions: (the command, applied?), None
    # when it no longer stands (a 补卡 changed those weeks)


def overview(week: int, groups: Sequence[GroupWeek]) -> str:
    """One camp-wide message for the admins: each group's completion rate, its members at risk, and
    whether its leader acted on last week's suggestions."""
    lines = [f"🗂 训练营周报（{week_dates(week)}）"]
    if not groups:
        return lines[0] + "\n这周没有进行中的训练营小组。"
    total_met = total = 0
    for g in groups:
        total_met += g.met
        total += g.counted
        rate = f"{round(100 * g.met / g.counted)}%" if g.counted else "—"
        lines.append(f"【{g.name}】{g.week_label} 完成率 {rate}（{g.met}/{g.counted}）")
        if g.at_risk:
            risk = "、".join(
                f"{name}（{frac}" + (f"，连续 {run} 周未达标）" if run >= 2 else "）") for name, run, frac in g.at_risk
            )
            lines.append(f"  需关注：{risk}")
        else:
            lines.append("  需关注：无")
        if g.followed:
            done = sum(1 for _, ok in g.followed if ok)
            moot = sum(1 for _, ok in g.followed if ok is None)
            detail = "；".join(
                f"{'✔' if ok else '✘'} {cmd}" if ok is not None else f"– {cmd}（已不需要）" for cmd, ok in g.followed
            )
            extra = f"，{moot} 条因补卡已不需要" if moot else ""
            lines.append(f"  组长跟进：上周建议 {len(g.followed)} 条，已采纳 {done} 条{extra}（{detail}）")
        else:
            lines.append("  组长跟进：上周没有需要调整的目标")
    rate = f"{round(100 * total_met / total)}%" if total else "—"
    lines.append(f"全营完成率 {rate}（{total_met}/{total}）")
    return "\n".join(lines)


# --- the end of the camp -----------------------------------------------------------------------------


@dataclass
class CampRecord:
    userid: str
    name: str
    weeks_met: int
    weeks: int  # weeks counted (fully-off weeks left out)
    total: int  # check-in days in the camp
    longest: int  # longest streak in the camp


def final_report(
    group_name: str, camp_start: date | None, camp_end: date, records: Sequence[CampRecord], limit: int = TOP_LIMIT
) -> str:
    """The leader's report at the end of the camp: each member's whole-camp record and the camp's
    top performers."""
    span = f"{cn_date(camp_start)}—{cn_date(camp_end)}" if camp_start else f"至 {cn_date(camp_end)}"
    lines = [f"🎓 {group_name} 训练营结营报告（{span}）"]
    if not records:
        return lines[0] + "\n这一期没有打卡记录。感谢你的带领🙏"
    ordered = sorted(records, key=lambda c: (-c.weeks_met, -c.total, -c.longest, c.name))
    for c in ordered:
        lines.append(f"· {c.name}：达标 {c.weeks_met}/{c.weeks} 周｜累计 {c.total} 天｜最长连续 {c.longest} 天")
    tiers: dict[tuple[int, int], list[CampRecord]] = {}
    for c in records:
        if c.total > 0:
            tiers.setdefault((c.weeks_met, c.total), []).append(c)
    tops: list[CampRecord] = []
    for k in sorted(tiers, reverse=True):
        tier = sorted(tiers[k], key=lambda c: (-c.longest, c.name))
        if not tops and len(tier) > limit:
            tops = tier[:limit]
            break
        if len(tops) + len(tier) > limit:
            break
        tops += tier
    if tops:
        lines.append("🏆 全程尖子生：" + "、".join(f"{c.name}（达标 {c.weeks_met} 周，{c.total} 天）" for c in tops))
    met_all = sum(1 for c in records if c.weeks and c.weeks_met == c.weeks)
    if met_all:
        lines.append(f"🌟 {met_all} 位伙伴每周都达成了目标")
    lines.append("一路带领辛苦啦🙏 可以在群里为大家做个结营总结，给每个人一句鼓励～")
    return "\n".join(lines)
