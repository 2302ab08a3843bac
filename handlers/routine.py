"""The camp's routine between the slots: the private question about each member's weekly goal (私聊定
目标), the morning's tight-day and weekend nudges, and the kinds of note the bot sends on its own
initiative, the most useful first. Pure decisions and texts; workers/routine.py and
workers/goal_ask.py read Redis and post, workers/initiative.py keeps every member's daily budget.

A good group leader's first step is a private chat with each member: "how many days a week will you
post?", then "好，那我就按这个频率监督你哈". The member chose the number, so they take it seriously.
Reminders come when they help: early in the week, on the day the goal needs every day left (the
tight day), and on Saturday morning when people have time; never to a member who is on leave, has
met the goal, or can no longer reach it (that is the leader's 退阶 conversation, not a nudge).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum

from handlers.calendar import weekday
from handlers.streaks import MAX_GOAL, MIN_GOAL, OPEN, WeekResult
from handlers.texts import Note, note_line

GOAL_REMIND_AFTER = 2  # days without an answer before the one gentle reminder
SATURDAY = 5


class Kind(IntEnum):
    """What a note of the bot's own initiative is, the most useful first (workers/initiative.py)."""

    CHASE = 0  # a #通知 the member has not answered: their leader asked for answers
    GOAL_ASK = 1  # the first question about their weekly goal
    TIGHT_DAY = 2  # from today on every day counts for this week's goal
    STREAK = 3  # a long streak about to break tonight
    REMIND = 4  # a 不公开 member's evening reminder (the group's @ would name them)
    GOAL_REMIND = 5  # the one gentle reminder of the goal question
    MIDWEEK = 6  # behind the pace at mid-week
    WEEKEND = 7  # Saturday morning, the goal still within reach
    RECOGNITION = 8  # 开小灶: a star of the week, a long streak, a personal best


DAILY = 2  # notes a member gets from the bot's own initiative in one day
# The kinds worth less only take a day's first place: a later, more useful note still has room.
FIRST_PLACE_ONLY = frozenset({Kind.WEEKEND, Kind.RECOGNITION})


def ceiling(kind: Kind) -> int:
    """How many notes a member's day may hold once a note of `kind` is added."""
    return 1 if kind in FIRST_PLACE_ONLY else DAILY


# --- the goal question -------------------------------------------------------------------------------

ASKED, REMINDED, DONE = "asked", "reminded", "done"

_CN_DIGITS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7}
_GOAL_ANSWER = re.compile(
    r"^(?:好的?|嗯+|ok|那就|就|我|我想|我打算|打算|可以)?[,，\s]*"
    r"(?:每周|一周|每星期|一星期|每个星期|一个星期|每礼拜|一礼拜|周)?\s*"
    r"(?P<n>[0-9]|[一二两三四五六七])\s*(?:天|次|篇|日|回)?(?:吧|哈|呀|啦|好了)?$",
    re.IGNORECASE,
)
_ANSWER_TAIL = " \t\n!！~～。.,，😊🙏👌💪✅🙂😄"
_EVERY_DAY = ("每天", "天天", "每日", "每天都打", "七天都打")


def parse_goal_answer(text: str) -> int | None:
    """The weekly goal in a member's private answer (`3`, `3天`, `每周3次`, `三次`, `一周四篇`, `每天`),
    None when the message is anything else. A number outside 1–7 is None too: the caller asks again."""
    body = unicodedata.normalize("NFKC", text or "").strip().strip(_ANSWER_TAIL).lower()
    if not body or len(body) > 16:
        return None
    if body in _EVERY_DAY:
        return MAX_GOAL
    m = _GOAL_ANSWER.match(body)
    if m is None:
        return None
    raw = m.group("n")
    n = _CN_DIGITS[raw] if raw in _CN_DIGITS else int(raw)
    return n if MIN_GOAL <= n <= MAX_GOAL else None


def ask_state(raw: str | None) -> tuple[str, int] | None:
    """(state, day) from a stored `asked:<day>` / `reminded:<day>` / `done:<day>`."""
    if not raw or ":" not in raw:
        return None
    state, _, day = raw.partition(":")
    try:
        return state, int(day)
    except ValueError:
        return None


def pending(raw: str | None, before: int | None = None) -> bool:
    """Is a goal question waiting for this member's answer (`before`: asked before that day)."""
    found = ask_state(raw)
    if found is None or found[0] not in (ASKED, REMINDED):
        return False
    return before is None or found[0] == REMINDED or found[1] < before


def goal_question(name: str, group_name: str, default_goal: int) -> str:
    return (
        f"{name}，你好呀👋 我是「{group_name}」的打卡助手，先问你一个小问题：\n"
        f"这一期你打算每周打卡几天？1–7 天都可以，按自己的节奏来（组里默认每周 {default_goal} 天）。\n"
        "直接回我一个数字就好，比如「3」😊"
    )


def goal_reminder(name: str, default_goal: int) -> str:
    return (
        f"{name}，前两天问你每周想打卡几天，还没收到回复哦～\n"
        f"回我一个 1–7 的数字就好，比如「3」；不回的话我先按每周 {default_goal} 天陪你走😊"
    )


def goal_answered(n: int) -> str:
    return f"好，那我就按每周 {n} 天监督你哈💪 本周就开始，想调整随时跟我或组长说～"


def chosen_line(chosen: Sequence[tuple[str, int]]) -> str:
    """The digest's line on the goals members chose today."""
    return "🎯 今天定下每周目标：" + "、".join(f"{name} {n} 天" for name, n in chosen) + "，之后按这个频率监督～"


def goal_not_asked(n: int) -> str:
    return f"想把每周目标改成 {n} 天的话，发「目标 {n}」给我，我转给组长确认～"


def goal_out_of_range() -> str:
    return "每周打卡天数要在 1–7 天之间哦，回我一个数字就好，比如「3」😊"


def unanswered_line(names: Sequence[str]) -> str:
    """The digest's line on members who have not chosen their weekly goal yet."""
    return "🎯 还没回复每周目标：" + "、".join(names) + "（已私信问过，方便时可以私聊问问）"


# --- the morning: tight day and weekend ---------------------------------------------------------------


@dataclass(frozen=True)
class MorningMember:
    """What the morning decides on for one member (workers/routine.py reads it)."""

    userid: str
    name: str
    week: WeekResult  # this week as it stands this morning
    muted: bool = False
    off_today: bool = False
    checked_today: bool = False
    ask: str | None = None  # the goal question's stored state
    has_goal: bool = False  # a goal of their own (chosen, set by a leader or proposed and confirmed)


@dataclass(frozen=True)
class Planned:
    kind: Kind
    userid: str
    text: str
    tag: str  # the message id's last part: one note of a kind per member and morning


def still_needed(week: WeekResult) -> int:
    return max(week.goal - week.count, 0)


def tight_day(m: MorningMember) -> bool:
    """Today the days left (today included) equal the check-ins still needed."""
    return m.week.status == OPEN and still_needed(m.week) > 0 and m.week.left == still_needed(m.week)


def reachable(m: MorningMember) -> bool:
    return m.week.status == OPEN and 0 < still_needed(m.week) <= m.week.left


def tight_day_text(m: MorningMember, consecutive: bool) -> str:
    need = still_needed(m.week)
    head = f"{m.name}，早上好☀️ 本周目标 {m.week.goal} 天，已打卡 {m.week.count} 天。\n"
    if need == 1:
        return head + "今天打一次卡，本周目标就稳了💪"
    if need == 2 and consecutive:
        return head + "今天和明天各打一次卡，本周目标就稳了💪"
    return head + f"接下来每个能打卡的日子都打一次（还差 {need} 次），本周目标就稳了💪"


def weekend_text(m: MorningMember) -> str:
    need = still_needed(m.week)
    return f"{m.name}，周末愉快🌿 本周还差 {need} 次就达成目标啦，趁周末有空更一篇，完成后 @我 打卡就好～"


def morning_plan(
    members: Sequence[MorningMember], day: int, group_name: str, default_goal: int, asking: bool
) -> list[Planned]:
    """At most one nudge per member this morning (the tight day before the weekend), and the goal
    question or its one reminder. `asking`: goals are asked in this group (the camp has started)."""
    out: list[Planned] = []
    for m in members:
        if m.muted or m.off_today:
            continue
        if asking:
            out += _goal_notes(m, day, group_name, default_goal)
        if m.checked_today:
            continue
        if tight_day(m):
            consecutive = m.week.left == 7 - weekday(day) or m.week.left <= 1
            out.append(Planned(Kind.TIGHT_DAY, m.userid, tight_day_text(m, consecutive), "tight"))
        elif weekday(day) == SATURDAY and reachable(m):
            out.append(Planned(Kind.WEEKEND, m.userid, weekend_text(m), "weekend"))
    return out


def _goal_notes(m: MorningMember, day: int, group_name: str, default_goal: int) -> list[Planned]:
    found = ask_state(m.ask)
    if found is None:
        if m.has_goal:
            return []
        return [Planned(Kind.GOAL_ASK, m.userid, goal_question(m.name, group_name, default_goal), "goal")]
    state, since = found
    if state == ASKED and since == day:  # the same morning again (a retried slot): the same question
        return [Planned(Kind.GOAL_ASK, m.userid, goal_question(m.name, group_name, default_goal), "goal")]
    if m.has_goal:
        return []
    if (state == ASKED and day - since >= GOAL_REMIND_AFTER) or (state == REMINDED and since == day):
        return [Planned(Kind.GOAL_REMIND, m.userid, goal_reminder(m.name, default_goal), "goal-remind")]
    return []


# --- 开小灶: being seen ----------------------------------------------------------------------------------

LONG_STREAK = 7  # a streak milestone from this length on earns a private word and an invitation to share
BEST_FROM = 3  # a personal best counts once the record it beats was at least this long


@dataclass(frozen=True)
class Feat:
    """Something a member achieved today or this week that the leader would single out."""

    userid: str
    name: str
    what: str  # "star", "streak", "best"
    n: int  # the week's count, the streak, the new record
    before: int = 0  # the record it beats (best), the week's goal (star)


def feat_of_day(
    userid: str, name: str, streak: int, checked_today: bool, previous_best: int, milestones: Sequence[int]
) -> Feat | None:
    """Today's feat of a member: a new personal best (a record of at least BEST_FROM beaten today),
    else a streak milestone of at least LONG_STREAK days reached today."""
    if not checked_today:
        return None
    if previous_best >= BEST_FROM and streak == previous_best + 1:
        return Feat(userid, name, "best", streak, previous_best)
    if streak >= LONG_STREAK and streak in milestones:
        return Feat(userid, name, "streak", streak)
    return None


def recognition(f: Feat) -> str:
    """The private word in the leader's voice."""
    if f.what == "star":
        return (
            f"{f.name}，这周你是我们组的本周之星🌟 {f.n}/{f.before} 天，说到做到！"
            "我都看在眼里，特别为你骄傲～下周继续按自己的节奏来💪"
        )
    if f.what == "best":
        return (
            f"{f.name}，今天你刷新了自己的最长连续打卡纪录：{f.n} 天🎉 "
            f"比之前的 {f.before} 天又进了一步，这份坚持真的很珍贵，为你鼓掌👏"
        )
    return f"{f.name}，今天是你连续打卡的第 {f.n} 天🔥 能坚持到这里真的不容易，我一直看着呢，继续保持～"


def feat_label(f: Feat) -> str:
    if f.what == "best":
        return f"刷新纪录 {f.n} 天"
    if f.what == "star":
        return f"本周之星 {f.n} 天"
    return f"连续 {f.n} 天"


def invite_lines(
    feats: Sequence[Feat], told: Sequence[str] = (), notes: Mapping[str, Sequence[Note]] | None = None
) -> list[str]:
    """The leader's suggestion: invite them to share in the group (邀请分享), with what their profile
    says (the leader knows best what they could share); `told`: the names the bot congratulated
    privately; `notes`: userid -> profile notes."""
    named = "、".join(f"{f.name}（{feat_label(f)}）" for f in feats)
    who = "TA" if len(feats) == 1 else "他们"
    line = f"🌟 可以请{who}在群里分享一下心得（邀请分享）：{named}"
    if told:
        line += f"；我已私信为{'、'.join(told)}送上鼓励"
    out = [line]
    for f in feats:
        if (notes or {}).get(f.userid):
            out.append(f"📒 {f.name} 的档案：" + "；".join(note_line(n) for n in (notes or {})[f.userid]))
    return out
