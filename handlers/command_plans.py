"""The decisions inside commands that need no Redis: what a leave does to the weeks' goals, the
operations that rewrite a goal history, whether a downgrade makes sense, what a leader is asked
to send to confirm a proposal. No I/O: workers.commands reads the state, calls these, and writes
the change in its transaction.

An operation (`Op`) is the dict workers.audit applies and undoes: {"op", "key", ...}.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any

from handlers.calendar import day_date, week_start
from handlers.command_texts import downgrade_already, downgrade_not_lower, downgrade_zero, week_name
from handlers.streaks import DayBits, goal_for_week, leave_goal, unavailable_days

Op = dict[str, Any]


def set_goal_from(key: str, week: int, n: int, current: dict[int, str]) -> tuple[list[Op], list[Op]]:
    """Ops making `n` the goal from `week` on (later changes dropped), and their undo. `current`:
    the goal history as stored (week -> value)."""
    ops: list[Op] = [{"op": "hset", "key": key, "field": str(week), "value": str(n)}]
    prev = current.get(week)
    undo: list[Op] = [
        {"op": "hset", "key": key, "field": str(week), "value": prev, "expect": str(n)}
        if prev is not None
        else {"op": "hdel", "key": key, "field": str(week), "expect": str(n)}
    ]
    for later, value in sorted(current.items()):
        if later > week:
            ops.append({"op": "hdel", "key": key, "field": str(later)})
            undo.append({"op": "hset", "key": key, "field": str(later), "value": value, "expect": None})
    return ops, undo


@dataclass(frozen=True)
class Leave:
    days: list[int]  # the days that become days off (those not off already)
    goals: list[tuple[str, int, int]]  # for each week they fall in: its name, its goal before, after


def plan_leave(
    today: int,
    n: int,
    base: int,
    off: DayBits,
    goals: dict[int, int],
    default: int,
    camp: tuple[int | None, int | None],
    camp_start: date | None,
) -> Leave:
    """`n` days off from `today` (none before the group's `base` day). Each week they touch asks
    for a goal lowered in proportion (handlers.streaks.leave_goal)."""
    added = [day for day in range(max(today, base), today + n) if day not in off]
    lowered = []
    for week in sorted({week_start(d) for d in added}):
        gone = unavailable_days(off, week, camp)
        goal = goal_for_week(goals, week, default)
        was = leave_goal(goal, len(gone))
        now = leave_goal(goal, len(gone | {d for d in added if week <= d <= week + 6}))
        lowered.append((week_name(week, today, camp_start), was, now))
    return Leave(added, lowered)


def downgrade_refusal(name: str, n: int, current: int, next_goal: int, start: date) -> str | None:
    """Why `退阶 <name> <n>` changes nothing (the goal is `current` now and `next_goal` from next
    week, starting on `start`), or None when it lowers the goal."""
    if n < 1:
        return downgrade_zero(name)
    if n >= current:
        return downgrade_not_lower(name, current, n)
    if next_goal == n:
        return downgrade_already(name, n, start)
    return None


def toggled(want: bool | None, on_now: bool) -> bool | None:
    """The new state of a member's switch (免打扰, 不公开): `want` when said (`开` / `关`), else the
    other one; None when that is the state already."""
    on = (not on_now) if want is None else want
    return None if on == on_now else on


def confirm_command(name: str, uid: str, people: dict[str, str], n: int, key: str | None) -> str:
    """The exact command a leader sends to confirm a member's proposal: the member by name when
    the name is theirs alone, else by userid; the group key when the leader has several groups."""
    named = name != "" and sum(1 for v in people.values() if v == name) == 1
    command = f"目标 {name if named else uid} {n}"
    return f"{command} {key}" if key else command


def proposal_confirmed(raw: bytes | None, n: int) -> bool:
    """A leader's `目标 <成员> <n>` confirms the member's pending proposal (as stored) of `n`."""
    if raw is None:
        return False
    try:
        return int(json.loads(raw).get("n", 0)) == n
    except (TypeError, ValueError, AttributeError):
        return False


def off_until(off: DayBits, today: int) -> date | None:
    """The last day of the leave the member is on today, if they are."""
    if today not in off:
        return None
    last = today
    while last + 1 in off:
        last += 1
    return day_date(last)
