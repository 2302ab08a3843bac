"""Read-only commands: a member's `我的` (their progress in each group), a leader's `本周` (the week's
register) and `导出` (the register as an Excel file sent privately, with the clean-up of old
exports), and `帮助`. Kept apart because none of them changes state or needs the transaction.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

from config.settings import Group, Settings
from handlers import command_texts as t
from handlers import messages
from handlers.calendar import camp_week, day_date, days_left, week_start
from handlers.command_plans import off_until
from handlers.messages import Message
from handlers.streaks import goal_for_week, record, week_goal
from workers import export as spreadsheet
from workers import keys, register
from workers.commands.core import Answer, Ctx, reply
from workers.pictures import send as pictures
from workers.register import camp_days, load_members

EXPORT_KEEP_SECONDS = 7 * 24 * 3600


def me(ctx: Ctx, groups: list[Group]) -> Answer:
    """`我的`: the sender's week, streak and goal in each of `groups` (those they belong to)."""
    if not groups:
        if ctx.chat_group is not None:
            return t.my_none_here()
        return t.my_none(bool(ctx.settings.groups_led_by(ctx.uid)))
    items = []
    for g in groups:
        today = ctx.today(g)
        state = next((m for m in load_members(ctx.r, g) if m.userid == ctx.uid), None)
        if state is None:
            continue
        rec = record(state.days, state.off, today)
        prefs = ctx.r.hmget(keys.prefs(g.key), f"{ctx.uid}:mute", f"{ctx.uid}:private")
        week = week_start(today)
        items.append(
            t.MyGroup(
                g.display,
                state.name,
                rec.week_count,
                week_goal(state.goals, state.off, week, g.weekly_goal, camp_days(g)),
                goal_for_week(state.goals, week + 7, g.weekly_goal),
                rec.streak,
                rec.longest_streak,
                rec.total,
                days_left(today, today_open=not rec.checked_in),
                bool(prefs[0]),
                bool(prefs[1]),
                off_until(state.off, today),
            )
        )
    # the month as a calendar comes privately after the text (none without a CJK font)
    return [reply(ctx, t.my_text(items)), *pictures.month(ctx.r, ctx.settings, ctx.uid, ctx.msgid, groups, ctx.ts)]


def week(ctx: Ctx, group: Group) -> str:
    """`本周`: the week's register; in the group chat, 不公开 members are not named."""
    today = ctx.today(group)
    public = ctx.chat_group is not None
    hidden = register.hidden(ctx.r, group.key) if public else set()
    lines = []
    for m in load_members(ctx.r, group):
        rec = record(m.days, m.off, today)
        lines.append(
            t.WeekLine(
                m.userid,
                m.name,
                rec.week_count,
                week_goal(m.goals, m.off, week_start(today), group.weekly_goal, camp_days(group)),
                rec.streak,
                days_left(today, today_open=not rec.checked_in),
                today in m.off,
                hidden=m.userid in hidden,
            )
        )
    n = camp_week(today, group.camp_start)
    return t.week_register(
        group.display,
        today,
        lines,
        paused=bool(ctx.r.exists(keys.paused(group.key))),
        week_label=f"第{n}周" if n else "本周",
    )


def export_path(settings: Settings, group: Group, msgid: str, fmt: str = "xlsx") -> Path:
    digest = hashlib.sha1(msgid.encode()).hexdigest()[:12]
    return (Path(settings.data_dir) / "exports" / f"{group.key}-{digest}.{fmt}").resolve()


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


def export(ctx: Ctx, group: Group) -> list[Message]:
    """`导出`: the register as a spreadsheet, privately to the leader wherever they asked."""
    today = ctx.today(group)
    path = export_path(ctx.settings, group, ctx.msgid)
    _clean_exports(path.parent)
    spreadsheet.write(ctx.r, group, "xlsx", path, today=today)
    name = f"{group.display}-打卡登记-{day_date(today).isoformat()}.xlsx"
    out = [messages.file_to_users(f"cmd:{ctx.msgid}", [ctx.uid], str(path), name)]
    if ctx.chat_group is not None:
        out.append(reply(ctx, t.export_sent_in_group(ctx.name), ":group"))
    return out


def show_help(ctx: Ctx, _: None) -> str:
    """`帮助`: the leader's list where the sender leads (the chat's group; privately, any group),
    else the member's."""
    if ctx.chat_group is not None:
        leader = ctx.leads(ctx.chat_group)
        example = ctx.chat_group.key
    else:
        led = ctx.settings.groups_led_by(ctx.uid)
        leader = bool(led)
        example = led[0].key if led else "xhs01"
    return t.help_text(leader, example)
