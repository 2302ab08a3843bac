"""Read-only commands: a member's `我的` (their progress in each group), a leader's `本周` (the week's
register) and `导出` (the register as an Excel file sent privately, with the clean-up of old
exports), and `帮助`. Kept apart because none of them changes state or needs the transaction;
`我的 目标 <N>` is handed to the goal proposal in workers.cmd_goals.
"""
from __future__ import annotations

import hashlib
import time
from pathlib import Path

from config.settings import Group, Settings
from handlers import commands as h
from handlers.calendar import day_date, week_start
from handlers.daily import camp_week
from handlers.streaks import goal_for_week, record, week_goal
from workers import keys, register
from workers.cmd_goals import _propose
from workers.command_core import Ctx, _camp, _groups_of_member, _leader_group, _leads, _member_group, _reply
from workers.register import load_members, member_ids


def cmd_me(ctx: Ctx) -> str | list[dict]:
    if len(ctx.args) == 2 and ctx.args[0].lower() in ("目标", "goal") and h.parse_number(ctx.args[1]) is not None:
        from dataclasses import replace
        return _propose(replace(ctx, args=(ctx.args[1],)))      # `我的 目标 4`: a goal proposal
    if ctx.chat_group is not None:
        groups = [ctx.chat_group] if ctx.uid in member_ids(ctx.r, ctx.chat_group) else []
    else:
        groups = [_member_group(ctx)] if ctx.key else _groups_of_member(ctx)
    if not groups:
        if ctx.chat_group is not None:
            return "还没有你的打卡记录哦～完成后 @我 说「打卡」就开始记录啦✨"
        return h.my_none(bool(ctx.settings.groups_led_by(ctx.uid)))
    items = []
    for g in groups:
        today = ctx.today(g)
        state = next((m for m in load_members(ctx.r, g) if m.userid == ctx.uid), None)
        if state is None:
            continue
        rec = record(state.days, state.off, today)
        prefs = ctx.r.hmget(keys.prefs(g.key), f"{ctx.uid}:mute", f"{ctx.uid}:private")
        off_days = [d for d in state.off.days() if d >= today]
        off_until = None
        if off_days and off_days[0] == today:
            last = today
            while last + 1 in state.off:
                last += 1
            off_until = day_date(last)
        week = week_start(today)
        items.append(h.MyGroup(g.display, state.name, rec.week_count,
                               week_goal(state.goals, state.off, week, g.weekly_goal, _camp(g)),
                               goal_for_week(state.goals, week + 7, g.weekly_goal), rec.streak, rec.longest_streak,
                               rec.total, h.days_left(today, rec.checked_in), bool(prefs[0]), bool(prefs[1]),
                               off_until))
    return h.my_text(items)


def cmd_week(ctx: Ctx) -> str:
    group = _leader_group(ctx)
    today = ctx.today(group)
    public = ctx.chat_group is not None
    hidden = register.hidden(ctx.r, group.key) if public else set()
    lines = []
    for m in load_members(ctx.r, group):
        rec = record(m.days, m.off, today)
        lines.append(h.WeekLine(m.userid, m.name, rec.week_count,
                                week_goal(m.goals, m.off, week_start(today), group.weekly_goal, _camp(group)),
                                rec.streak, h.days_left(today, rec.checked_in), today in m.off,
                                hidden=m.userid in hidden))
    n = camp_week(today, group.camp_start)
    return h.week_register(group.display, today, lines, paused=bool(ctx.r.exists(keys.paused(group.key))),
                           week_label=f"第{n}周" if n else "本周")


def export_path(settings: Settings, group: Group, msgid: str, fmt: str = "xlsx") -> Path:
    digest = hashlib.sha1(msgid.encode()).hexdigest()[:12]
    return (Path(settings.data_dir) / "exports" / f"{group.key}-{digest}.{fmt}").resolve()


EXPORT_KEEP_SECONDS = 7 * 24 * 3600


def _clean_exports(directory: Path) -> None:
    """Spreadsheets sent more than a week ago are not needed any more (the outbox has long sent them)."""
    if not directory.is_dir():
        return
    cutoff = time.time() - EXPORT_KEEP_SECONDS
    for item in directory.iterdir():
        try:
            if item.is_file() and item.stat().st_mtime < cutoff:
                item.unlink()
        except OSError:
            continue


def cmd_export(ctx: Ctx) -> list[dict]:
    from workers import export
    group = _leader_group(ctx)
    today = ctx.today(group)
    path = export_path(ctx.settings, group, ctx.msgid)
    _clean_exports(path.parent)
    export.write(ctx.r, group, "xlsx", path, today=today)
    name = f"{group.display}-打卡登记-{day_date(today).isoformat()}.xlsx"
    out = [h.file_msg(f"cmd:{ctx.msgid}", [ctx.uid], str(path), name)]
    if ctx.chat_group is not None:
        out.append(_reply(ctx, h.export_sent_in_group(ctx.name), ":group"))
    return out


def cmd_help(ctx: Ctx) -> str:
    if ctx.chat_group is not None:
        leader = _leads(ctx, ctx.chat_group)
        example = ctx.chat_group.key
    else:
        led = ctx.settings.groups_led_by(ctx.uid)
        leader = bool(led)
        example = led[0].key if led else "xhs01"
    return h.help_text(leader, example)

