"""Instant praise (即时反馈的夸奖): which milestone a check-in reaches and what to say. No I/O.

Milestones, most special first: the first check-in ever, a new personal best (the longest streak
beaten), a streak of 3/7/14/21/30 days, the weekly goal reached. An ordinary day gets a short cheer.
The wording is chosen deterministically from the message id (a re-processed message says the same
thing), and never repeats the sentence a member read last time, nor the one the group read last
(for another member): workers.replies keeps the last choice per member and per group, and `choose`
steps past both.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from handlers.streaks import DayBits, current_run_start, longest

STREAK_MILESTONES = (3, 7, 14, 21, 30)
BEST_FROM = 3  # a personal best is news once the record it beats was at least this long

FIRST, BEST, STREAK, GOAL, DAILY = "first", "best", "streak", "goal", "daily"

TEMPLATES: dict[str, tuple[str, ...]] = {
    FIRST: (
        "🎉 第一次打卡，欢迎加入！好的开始是成功的一半～",
        "🌱 第一次打卡成功！迈出第一步最难，你已经做到啦",
        "✨ 打卡初体验达成！以后的每一篇都会被记下来哦",
        "👋 欢迎开启打卡之旅，第一天就很棒！",
    ),
    BEST: (
        "🚀 连续 {n} 天，刷新了你的个人最长纪录！",
        "📈 新纪录！连续 {n} 天，超过了之前最好的 {prev} 天",
        "🏆 个人最佳：连续 {n} 天，又一次超越了自己～",
        "🌈 连续 {n} 天，比以前任何时候都久，真了不起！",
    ),
    STREAK: (
        "🔥 连续 {n} 天啦，节奏稳稳的！",
        "🏅 连续打卡 {n} 天达成，坚持的样子真好看～",
        "💪 {n} 天不间断，习惯正在养成！",
        "🌟 连续 {n} 天！给自己鼓个掌👏",
        "🎈 已经连续 {n} 天了，继续保持这份热爱～",
    ),
    GOAL: (
        "🎯 本周目标 {goal} 天达成，太棒了！",
        "🥳 本周目标完成！接下来的每一天都是加分项～",
        "🎉 {goal}/{goal}，这周的目标搞定啦，给自己一个大大的赞！",
        "👏 本周目标达成，说到做到，真靠谱！",
    ),
    DAILY: (
        "今天也完成啦，为你点赞👍",
        "稳稳的一天✨",
        "又前进了一小步💪",
        "认真的你最闪亮🌟",
        "坚持就是力量，继续加油～",
        "每一篇都算数，棒棒的👏",
    ),
}

SHORT = {
    FIRST: "第一次打卡🎉",
    BEST: "新纪录 连续{n}天🚀",
    STREAK: "连续{n}天🔥",
    GOAL: "本周达标🎉",
    DAILY: "连续{n}天",
}


@dataclass(frozen=True)
class Milestone:
    kind: str
    n: int = 0  # the streak
    prev: int = 0  # the record beaten (BEST)
    goal: int = 0  # the week's goal (GOAL)
    also_goal: bool = False  # the weekly goal was reached as well (a higher milestone leads)


def milestone(
    days: DayBits,
    off: DayBits,
    day: int,
    streak: int,
    total: int,
    week_count: int,
    goal: int,
    streaks: tuple[int, ...] = STREAK_MILESTONES,
) -> Milestone:
    """What a newly counted check-in on `day` reaches. `days` already holds it."""
    goal_now = goal > 0 and week_count == goal
    if total == 1:
        return Milestone(FIRST, streak, goal=goal, also_goal=goal_now)
    start = current_run_start(days, off, day)
    prev = longest(days, off, start - 1) if start is not None and start - 1 >= days.base else 0
    if prev >= BEST_FROM and streak == prev + 1:
        return Milestone(BEST, streak, prev, goal, goal_now)
    if streak in streaks:
        return Milestone(STREAK, streak, goal=goal, also_goal=goal_now)
    if goal_now:
        return Milestone(GOAL, streak, goal=goal)
    return Milestone(DAILY, streak, goal=goal)


def _index(seed: str, n: int) -> int:
    return int.from_bytes(hashlib.sha1(seed.encode()).digest()[:4], "big") % n


def choose(kind: str, seed: str, last: str | None, group_last: str | None = None) -> int:
    """The template index for `kind`: stable for a seed, never the member's `last` nor the group's
    `group_last` (each "kind:index": the sentence this member, and the group, read last)."""
    n = len(TEMPLATES[kind])
    idx = _index(f"{kind}|{seed}", n)
    avoid = {last, group_last}
    for _ in range(n):
        if f"{kind}:{idx}" not in avoid:
            break
        idx = (idx + 1) % n
    return idx


def sentence(m: Milestone, idx: int) -> str:
    return TEMPLATES[m.kind][idx % len(TEMPLATES[m.kind])].format(n=m.n, prev=m.prev, goal=m.goal)


def short(m: Milestone | None, week_count: int = 0, goal: int = 0) -> str:
    """The few words a gathered reply gives each member: `连续5天`, `本周达标🎉`…"""
    if m is None:
        return f"本周 {week_count}/{goal}" if goal else ""
    text = SHORT[m.kind].format(n=m.n)
    if m.also_goal and m.kind != GOAL:
        text += "·本周达标🎉"
    return text


def gathered(entries: list[tuple[str, str]]) -> str:
    """One message acknowledging many check-ins at once (when the robot is near its minute limit):
    entries are (name, short words)."""
    parts = [f"{name}（{words}）" if words else name for name, words in entries]
    return "✅ 打卡成功：" + "、".join(parts) + "\n大家都很棒，继续加油👏"


def already_short() -> str:
    return "今天已打过卡"


def chain_short() -> str:
    return "接龙已记录"
