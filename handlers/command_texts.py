"""What members and leaders read in answer to a command: help, usage, refusals, questions, and
the confirmation of every change, all zh-CN, warm and short. No I/O and no parsing.

`帮助` and the usage lines are written from handlers.command_table (each command's own lines live
there, next to its words and its role); everything else a command answers is worded here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from handlers.calendar import camp_week, cn_date, cn_weekday, day_date, week_start, weekday
from handlers.command_table import MAX_LEAVE_DAYS, SPECS, TABLE, Help, View, english, for_leaders, for_members
from handlers.commands import Unclear
from handlers.streaks import MAX_GOAL


def label(uid: str, name: str) -> str:
    return f"{name}（{uid}）" if name and name != uid else uid


def week_mark(count: int, goal: int, left: int) -> str:
    """✅ goal reached · ❌ it can no longer be reached this week · ⏳ still possible."""
    if count >= goal:
        return "✅"
    if count + left < goal:
        return "❌"
    return "⏳"


CHECKIN_HELP = Help("打卡", "完成后 @我 说「打卡」或贴笔记链接", (View.MEMBER, View.OWN))  # not a command


def _help_lines(view: View) -> list[str]:
    entries = [CHECKIN_HELP] if view in CHECKIN_HELP.views else []
    entries += [h for spec in TABLE for h in spec.help if view in h.views]
    return [f"· {h.syntax} — {h.what}" for h in entries]


def help_text(leader: bool, example_key: str = "xhs01") -> str:
    lines = []
    if leader:
        lines.append("🙌 组长命令（私聊我，或在群里 @我）：")
        lines += _help_lines(View.LEADER)
        lines.append(f"成员写名字、userid 或 @名字都行；管多个群时末尾加群代号，如「本周 {example_key}」。")
        lines.append("英文也行：" + ", ".join(english(spec) for spec in TABLE if for_leaders(spec)))
        lines.append("")
        lines.append("🙋 学员命令：")
        lines += _help_lines(View.OWN)
    else:
        lines.append("🙋 你可以这样用（私聊我，或在群里 @我）：")
        lines += _help_lines(View.MEMBER)
        lines.append("英文也行：" + ", ".join(english(spec) for spec in TABLE if for_members(spec)))
    return "\n".join(lines)


def usage(word: str) -> str:
    return f"格式不太对哦～用法：{SPECS[word].usage}"


def not_leader(word: str) -> str:
    return f"「{word}」是组长命令，只有本群组长可以用哦🙏 发「帮助」看看你能用的命令～"


def not_leader_of(group_name: str) -> str:
    return f"你不是「{group_name}」的组长，看不了也改不了那边的记录哦🙏"


def only_this_group() -> str:
    return "在群里只能操作本群哦～其他群请私聊我，末尾加上群代号🙂"


def pick_group(word: str, groups: list[tuple[str, str]]) -> str:
    lines = "\n".join(f"· {name}（{key}）" for key, name in groups)
    return f"你在好几个群里，这条「{word}」要对哪个群？请在末尾加上群代号，比如「{word} {groups[0][0]}」：\n{lines}"


def not_member_of(group_name: str) -> str:
    return f"你不在「{group_name}」的名单里哦🙂"


def no_group_member() -> str:
    return "还没找到你所在的打卡群哦～先在群里 @打卡助手 打一次卡，或请组长把你加入名单🙏"


def no_group_leader() -> str:
    return "你还不是哪个群的组长哦～如需开通请联系管理员🙏"


def unknown_group(key: str) -> str:
    return f"没找到群代号「{key}」，再核对一下吧🙂"


def ask_who(u: Unclear, limit: int = 20) -> str:
    shown = u.candidates[:limit]
    more = f"\n…等 {len(u.candidates)} 人" if len(u.candidates) > limit else ""
    lines = "\n".join(f"· {label(uid, name)}" for uid, name in shown)
    q = u.asked
    if u.ambiguous:
        return f"有 {len(u.candidates)} 位都叫「{q}」，你说的是哪一位？请用 userid 再发一次：\n{lines}"
    if not shown:
        return f"没找到「{q}」，本群名单还是空的哦～可以先「加入 userid」🙂"
    return f"没找到「{q}」呢，你说的是下面哪一位？请用名字或 userid 再发一次：\n{lines}{more}"


def ask_who_to_add(u: Unclear) -> str:
    """`加入` naming nobody the group knows and no userid: who is meant, or how to add a newcomer."""
    return ask_who(u) + ("" if u.ambiguous else f"\n新人请写 userid：{SPECS['加入'].usage}")


def removed_hint(name: str) -> str:
    return f"{name} 已经移出名单了，如需继续记录，先发「加入 {name}」🙂"


def goal_set(name: str, goal: int, week_count: int) -> str:
    return f"🎯 好的，{name} 从本周起的目标是每周打卡 {goal} 天（本周已完成 {week_count}/{goal}），一起加油💪"


def goal_notice(name: str, goal: int, week_count: int, confirmed: bool) -> str:
    """To the member, privately, when a leader sets their goal."""
    if confirmed:
        return (
            f"🎯 {name}，组长同意了你的提议：从本周起每周打卡 {goal} 天（本周已完成 {week_count}/{goal}）。"
            "说到做到的你最棒，一起加油💪"
        )
    return (
        f"🎯 {name}，组长和你把每周目标定为 {goal} 天，从本周起算（本周已完成 {week_count}/{goal}）。"
        "按自己的节奏来，有困难随时跟组长说～"
    )


def proposal_sent(goal: int, current: int) -> str:
    return f"🙋 收到！你想把每周目标定为 {goal} 天（现在是每周 {current} 天），我已经告诉组长啦，组长确认后就生效～"


def proposal_same(goal: int) -> str:
    return f"你现在的目标就是每周 {goal} 天哦，保持这个节奏就很好🙂"


def proposal_for_leader(group_name: str, name: str, goal: int, current: int, week_count: int, command: str) -> str:
    """To each leader, privately: a member's own goal proposal and the exact command to confirm it."""
    return (
        f"🙋 「{group_name}」的 {name} 想把每周目标定为 {goal} 天（现在每周 {current} 天，本周已完成 "
        f"{week_count}/{current}）。同意的话回复：\n{command}\n不同意就不用管，目标保持不变。"
    )


def proposal_leader_hint(example: str) -> str:
    return f"组长给自己定目标也要写上名字哦，比如「{example}」🙂"


def goal_bad(n: int | None) -> str:
    if n is not None and n < 1:
        return "目标最少每周 1 天哦，保持一点点节奏就很好🙂"
    return f"目标是每周打卡的天数，请写 1–{MAX_GOAL} 之间的数字哦🙂"


def downgrade_set(name: str, old: int, new: int, start: date) -> str:
    return (
        f"🌱 好的，{name} 从下周（{cn_date(start)}起）的目标由每周 {old} 天调整为 {new} 天。先稳稳做到，再慢慢加回来～"
    )


def downgrade_notice(name: str, new: int, start: date) -> str:
    """To the member, privately and warmly: a goal they can reach, never a punishment."""
    return (
        f"🌱 {name}，组长和你一起把每周目标调整为 {new} 天，从下周一（{cn_date(start)}）开始。"
        "这不是退步，是给自己一个稳稳做得到的节奏；做到了我们再慢慢加回来，一起加油💪"
    )


def downgrade_already(name: str, n: int, start: date) -> str:
    return f"{name} 从下周（{cn_date(start)}起）的目标已经是每周 {n} 天啦，不用再退～"


def downgrade_after_camp(name: str, n: int, last: date) -> str:
    return (
        f"训练营在 {cn_date(last)} 就结束啦，退阶要到下周才生效，用不上了。"
        f"想从本周起就调低，可以用「目标 {name} {n}」🙂"
    )


def downgrade_not_lower(name: str, current: int, n: int) -> str:
    if current <= 1:
        return f"{name} 现在的目标已经是每周 1 天，不能再退啦，保持这一点点节奏就很好🙂"
    return f"{name} 现在的目标是每周 {current} 天，退阶要比它小哦（1–{current - 1}）。想调高的话用「目标 {name} {n}」🙂"


def downgrade_zero(name: str) -> str:
    return f"目标最少每周 1 天哦，不退到 0～给 {name} 留一点点节奏，更容易回到状态🙂"


def note_added(name: str, count: int) -> str:
    return f"📝 已记入 {name} 的档案（共 {count} 条）"


def note_in_group_hint() -> str:
    return "档案只有组长能看到，下次私聊我记录更稳妥，群里大家都看得见哦🙏"


def notes_deleted(name: str, count: int) -> str:
    return f"🗑 已删除 {name} 的 {count} 条档案记录，发「撤销」可以恢复"


def notes_none(name: str) -> str:
    return f"{name} 还没有档案记录哦"


def note_empty() -> str:
    return "档案内容是空的哦～" + usage("档案")


def credit_done(name: str, d: date, week_count: int, goal: int, closed: bool = False) -> str:
    text = f"✅ 已为 {name} 补上 {cn_date(d)} 的打卡（那一周 {week_count}/{goal}）"
    if goal and week_count == goal:
        text += "，那一周的目标算达成啦🎉" if closed else "，本周目标达成🎉"
    return text


def credit_already(name: str, d: date) -> str:
    return f"{name} 在 {cn_date(d)} 已经有打卡记录啦，不用补～"


def credit_future(d: date) -> str:
    return f"{d.isoformat()} 还没到呢，只能补今天和之前的打卡哦🙂"


def credit_too_old(d: date, first: date) -> str:
    return f"{d.isoformat()} 早于本群的记录起点（{first.isoformat()}），没法补记哦🙏"


def bad_date(token: str) -> str:
    return f"没看懂日期「{token}」，请写成 2024-05-03 这样🙂"


def week_name(week: int, today: int, camp_start: date | None) -> str:
    """How a leave names a week it touches: 本周, the camp's 第N周, or 下周."""
    if week == week_start(today):
        return "本周"
    n = camp_week(week, camp_start)
    return f"第{n}周" if n else "下周"


def leave_done(name: str | None, first: date, last: date, n: int, goals: Sequence[tuple[str, int, int]] = ()) -> str:
    """`goals`: (the week's name, its goal before, after) for each week whose goal the days off lower."""
    span = cn_date(first) if n == 1 else f"{cn_date(first)}—{cn_date(last)}"
    who = f"已为 {name} 请假" if name else "已请假"
    text = f"🌿 {who} {n} 天（{span}），好好休息，连续天数不会断～"
    lowered = [
        f"{week}整周请假，不计目标" if after == 0 else f"{week}目标由 {before} 天调为 {after} 天"
        for week, before, after in goals
        if after < before
    ]
    if lowered:
        text += "\n" + "，".join(lowered) + "（按请假天数折算）"
    return text


def leave_bad() -> str:
    return f"请假天数请写 1–{MAX_LEAVE_DAYS} 之间的数字哦，比如「请假 2」🙂"


def leave_nothing(name: str | None) -> str:
    return f"{name + ' ' if name else ''}这几天已经都请过假啦～"


def roster_added(name: str, new: bool) -> str:
    return f"👋 {'已把' if new else '已恢复'} {name} {'加入名单' if new else '到名单里'}，欢迎一起打卡～"


def roster_already_in(name: str) -> str:
    return f"{name} 已经在名单里啦～"


def roster_removed(name: str) -> str:
    return f"已把 {name} 移出名单，不再提醒和统计。需要时发「加入 {name}」就能恢复🙂"


def roster_already_out(name: str) -> str:
    return f"{name} 已经不在名单里了～"


def paused_text(group_name: str) -> str:
    return f"⏸ 已暂停「{group_name}」的定时提醒和总结，发「恢复」继续"


def resumed_text(group_name: str) -> str:
    return f"▶️ 「{group_name}」的定时提醒恢复啦"


def already_paused(group_name: str) -> str:
    return f"「{group_name}」已经是暂停状态啦，发「恢复」继续～"


def not_paused(group_name: str) -> str:
    return f"「{group_name}」的提醒正在正常进行哦～"


def mute_text(on: bool) -> str:
    return (
        "🔕 已开启免打扰，我不再提醒你了；想恢复时再发一次「免打扰」～"
        if on
        else "🔔 已关闭免打扰，我会照常提醒你打卡～"
    )


def private_text(on: bool) -> str:
    return (
        "🙈 好的，群里的公开名单不再显示你的名字；再发一次「不公开」恢复～"
        if on
        else "👀 好的，群里的公开名单会照常显示你的名字～"
    )


# What an undo names: the kind of change and whom it was about, never the command's own words (a
# 档案 note or any private command's text must not reach a group through an undo reply).
_UNDO_LABELS = {
    "goal": "{name} 的目标设置",
    "downgrade": "{name} 的退阶",
    "note": "给 {name} 的一条档案",
    "delnote": "删除 {name} 档案的操作",
    "credit": "给 {name} 的补卡",
    "leave": "{name} 的请假",
    "add": "把 {name} 加入名单",
    "remove": "把 {name} 移出名单",
    "pause": "暂停提醒",
    "resume": "恢复提醒",
    "notice": "一条群通知",
    "uncheckin": "撤回打卡",
}
PROFILE_CHANGES = frozenset({"note", "delnote"})  # answered privately, wherever the undo was sent


def undo_label(what: str, name: str) -> str:
    return _UNDO_LABELS.get(what, "上一条改动").format(name=name or "成员")


def undo_done(label: str) -> str:
    return f"↩️ 已撤销：{label}"


def undo_nothing(leader: bool = False) -> str:
    return "没有找到你可以撤销的操作哦～" + ("想撤回自己今天的打卡，发「撤销 打卡」🙂" if leader else "")


def undo_conflict(label: str) -> str:
    return f"「{label}」之后这条记录又被改过了，为免弄乱就不撤销了，请直接重新设置🙏"


def undo_checkin_done(name: str) -> str:
    return f"↩️ 已撤回 {name} 今天的打卡，准备好了再打卡就行～"


def undo_checkin_nothing() -> str:
    return "你今天还没有打卡记录哦，不用撤销～"


def unknown_command() -> str:
    return "没看懂这条命令🤔 发「帮助」看看怎么用～"


def export_sent_in_group(name: str) -> str:
    return f"📎 {name}，登记表已私信发给你啦"


@dataclass
class WeekLine:
    userid: str
    name: str
    count: int
    goal: int
    streak: int
    left: int
    off_today: bool = False
    hidden: bool = False  # 不公开, in a public list


def week_register(
    group_name: str, today: int, lines: list[WeekLine], paused: bool = False, week_label: str = "本周"
) -> str:
    start = today - weekday(today)
    head = (
        f"📋 {group_name} {week_label}登记（{cn_date(day_date(start))}—{cn_date(day_date(start + 6))}，"
        f"今天{cn_weekday(today)}）"
    )
    if not lines:
        return head + "\n名单还是空的，大家打卡后就会出现在这里～"
    out = [head]
    seen: dict[str, int] = {}
    for ln in lines:
        seen[ln.name] = seen.get(ln.name, 0) + 1
    for ln in lines:
        mark = week_mark(ln.count, ln.goal, ln.left)
        name = ln.name if seen[ln.name] == 1 else label(ln.userid, ln.name)  # two 小王: say which
        if ln.hidden:
            name = "🙈 一位同学"
        tail = "｜请假中" if ln.off_today else ""
        out.append(f"{mark} {name} {ln.count}/{ln.goal}｜连续 {ln.streak} 天{tail}")
    done = sum(1 for ln in lines if ln.count >= ln.goal)
    out.append(f"本周已达标 {done}/{len(lines)} 人 · ✅达标 ⏳还来得及 ❌本周难达标")
    if paused:
        out.append("（本群定时提醒已暂停）")
    return "\n".join(out)


@dataclass
class MyGroup:
    group_name: str
    name: str
    count: int
    goal: int
    next_goal: int
    streak: int
    longest: int
    total: int
    left: int
    muted: bool = False
    private: bool = False
    off_until: date | None = None


def my_text(items: list[MyGroup]) -> str:
    parts = []
    for it in items:
        mark = week_mark(it.count, it.goal, it.left)
        if it.count >= it.goal:
            cheer = "本周目标达成🎉"
        elif mark == "❌":
            cheer = "这周差一点，下周再来💪"
        else:
            cheer = f"还差 {it.goal - it.count} 天，加油💪"
        goal = f"每周 {it.goal} 天" + (f"（下周起 {it.next_goal} 天）" if it.next_goal != it.goal else "")
        lines = [
            f"「{it.group_name}」{it.name}：",
            f"{mark} 本周 {it.count}/{it.goal}，{cheer}",
            (f"🔥 连续 {it.streak} 天" if it.streak else "🌱 今天打卡就开始新的连续")
            + f"｜最长 {it.longest} 天｜累计 {it.total} 天",
            f"🎯 目标：{goal}",
        ]
        flags = []
        if it.off_until:
            flags.append(f"请假到 {cn_date(it.off_until)}")
        if it.muted:
            flags.append("免打扰已开")
        if it.private:
            flags.append("不公开已开")
        if flags:
            lines.append("· " + "，".join(flags))
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


def my_none_here() -> str:
    """`我的` in a group chat from someone with no record there."""
    return "还没有你的打卡记录哦～完成后 @我 说「打卡」就开始记录啦✨"


def my_none(is_leader: bool) -> str:
    if is_leader:
        return "你还没有自己的打卡记录哦～想看全组进度发「本周」🙂"
    return no_group_member()
