"""The morning's private notes, sent with the 接龙 (workers/schedule.py `daily_chain`): the goal
question to members who have not chosen their weekly goal (on the camp's first morning, or the
morning after a member joins) and its one reminder, the tight-day nudge and the Saturday nudge.
handlers/routine.py decides who gets what; workers/initiative.py keeps each member's daily budget.

The goal question's state (keys.goal_ask) is written only for the notes the budget let through, so a
member whose day was full is asked the next morning. A retried slot rebuilds the same notes with the
same ids (the state says `asked:<today>`), which the budget admits again and the outbox sends once.
"""

from __future__ import annotations

from typing import Any

import redis

from config.settings import Group, Settings
from handlers import messages
from handlers import routine as hr
from handlers.calendar import week_start
from handlers.streaks import current_run_start, goal_for_week, longest, streak, week_result
from workers import initiative, keys, register
from workers.connection import as_text
from workers.register import MemberState, camp_days

ASK_STATE = {hr.Kind.GOAL_ASK: hr.ASKED, hr.Kind.GOAL_REMIND: hr.REMINDED}


def morning(
    r: redis.Redis, settings: Settings, group: Group, day: int, now: float, states: list[MemberState], base_id: str
) -> list[dict]:
    """The private notes of this morning that fit the members' budgets (ids `<base_id>:<tag>:<uid>`)."""
    people = [s for s in states if s.userid not in group.leaders]
    if not people:
        return []
    with r.pipeline(transaction=False) as p:
        p.hgetall(keys.goal_ask(group.key))
        p.hgetall(keys.prefs(group.key))
        raw_asks, raw_prefs = p.execute()
    asks = {as_text(k): as_text(v) for k, v in raw_asks.items()}
    muted = register.flagged({as_text(k): as_text(v) for k, v in raw_prefs.items()}, "mute")
    members = [_member(s, group, day, asks.get(s.userid), s.userid in muted) for s in people]
    plan = hr.morning_plan(members, day, group.display, group.weekly_goal, asking=True)
    notes = [
        initiative.Note(p.kind, p.userid, messages.to_user(f"{base_id}:{p.tag}:{p.userid}", p.userid, p.text))
        for p in plan
    ]
    admitted = initiative.admit(r, settings, group, notes, now, muted)
    _remember_questions(r, group, day, plan, {m["id"] for m in admitted}, base_id)
    return admitted


def _member(s: MemberState, group: Group, day: int, ask: str | None, muted: bool) -> hr.MorningMember:
    week = week_result(s.days, s.off, s.goals, week_start(day), group.weekly_goal, day, camp_days(group))
    return hr.MorningMember(
        s.userid,
        s.name,
        week,
        muted=muted,
        off_today=day in s.off,
        checked_today=day in s.days,
        ask=ask,
        has_goal=bool(s.goals),
    )


def _remember_questions(
    r: redis.Redis, group: Group, day: int, plan: list[hr.Planned], sent: set[str], base_id: str
) -> None:
    asked = {
        p.userid: f"{ASK_STATE[p.kind]}:{day}"
        for p in plan
        if p.kind in ASK_STATE and f"{base_id}:{p.tag}:{p.userid}" in sent
    }
    if asked:
        with r.pipeline(transaction=True) as p:
            p.hset(keys.goal_ask(group.key), mapping=dict[Any, str](asked))
            p.expire(keys.goal_ask(group.key), keys.GOAL_ASK_TTL)
            p.execute()


def feats_today(group: Group, states: list[MemberState], day: int, milestones: tuple[int, ...]) -> list[hr.Feat]:
    """Today's personal bests and long-streak milestones among the group's members."""
    out = []
    for s in states:
        if s.userid in group.leaders or day not in s.days:
            continue
        start = current_run_start(s.days, s.off, day)
        previous = longest(s.days, s.off, start - 1) if start is not None else 0
        feat = hr.feat_of_day(s.userid, s.name, streak(s.days, s.off, day), True, previous, milestones)
        if feat is not None:
            out.append(feat)
    return out


def recognize(
    r: redis.Redis,
    settings: Settings,
    group: Group,
    feats: list[hr.Feat],
    base_id: str,
    ts: float,
    muted: set[str] | None = None,
) -> list[dict]:
    """开小灶: the private word for each feat, within the members' budgets (ids `<base_id>:kudos:<uid>`).
    `muted`: the group's 免打扰 members when the caller has them (else they are read)."""
    notes = [
        initiative.Note(
            hr.Kind.RECOGNITION,
            f.userid,
            messages.to_user(f"{base_id}:kudos:{f.userid}", f.userid, hr.recognition(f)),
        )
        for f in feats
    ]
    return initiative.admit(r, settings, group, notes, ts, muted)


def goal_answers(
    r: redis.Redis, group: Group, states: list[MemberState], day: int
) -> tuple[list[tuple[str, int]], list[str]]:
    """For the digest, from one read of the question's state: (name, goal) of the members who chose
    their goal on `day`, and the names of those asked before `day` who have not answered yet (the day
    they were asked gives them the day to answer). Leaders hear of the answers once a day, not once
    per answer: only what asks them to act comes at once."""
    asks = {as_text(k): as_text(v) for k, v in r.hgetall(keys.goal_ask(group.key)).items()}
    week = week_start(day)
    chosen = [
        (s.name, goal_for_week(s.goals, week, group.weekly_goal))
        for s in states
        if hr.ask_state(asks.get(s.userid)) == (hr.DONE, day)
    ]
    waiting = [s.name for s in states if hr.pending(asks.get(s.userid), before=day) and not s.goals]
    return chosen, waiting


def digest_lines(
    r: redis.Redis,
    settings: Settings,
    group: Group,
    day: int,
    states: list[MemberState],
    notes: dict[str, list],
    base_id: str,
    ts: float | None,
) -> tuple[list[str], list[dict]]:
    """The routine's lines in a leader's digest (whom to invite to share, the goals chosen today, who
    has not answered) and the private words of recognition behind the first (`ts` None: none sent,
    as when a slot is forced again)."""
    feats = feats_today(group, states, day, settings.praise_streaks)
    kudos = recognize(r, settings, group, feats, base_id, ts) if ts is not None else []
    lines = []
    if feats:
        told = {m["users"][0] for m in kudos}
        lines += hr.invite_lines(feats, [f.name for f in feats if f.userid in told], notes)
    chosen, waiting = goal_answers(r, group, states, day)
    if chosen:
        lines.append(hr.chosen_line(chosen))
    if waiting:
        lines.append(hr.unanswered_line(waiting))
    return lines, kudos
