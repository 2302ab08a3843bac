"""What members and leaders read. zh-CN, warm and short, the way a good group leader writes."""

from __future__ import annotations

import hashlib
import json
import string
from datetime import datetime, timezone, tzinfo
from typing import Any

from handlers.calendar import cn_date, day_date

WELCOME = (
    "大家好，我是打卡助手🙌\n"
    "每天完成后 @我 说一声就算打卡，比如：\n"
    "「@打卡助手 打卡」「@打卡助手 已更 笔记链接」，也可以发接龙。\n"
    "我会记下连续天数和本周进度，一起坚持呀💪\n"
    "发「@打卡助手 帮助」看更多用法。"
)

HINTS = (
    "我没认出这是打卡哦～完成后 @我 发「打卡」或贴上笔记链接就行✨ 发「帮助」看全部用法",
    "收到你的消息啦😊 想打卡的话，@我 说「打卡」或「已更+链接」就好，发「帮助」看用法",
)

# where detection is unsure, the member decides (a 「是」 counts the post)
ASK_CHECKIN = "这条算今天的打卡吗？算的话 @我 回「是」，我就记上～"
ASK_CHECKIN_PRIVATE = "这条算今天的打卡吗？回「是」我就记上～"

ANONYMOUS = "一位同学"  # how a member who chose 不公开 appears in anything the group reads

Note = dict[str, Any] | str | bytes  # a profile note: JSON {text, by, at}, as stored or decoded

CHECKIN_TAILS = ("🔥", "💪", "✨", "🌟", "👏")


def _latin(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


def _chinese(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff"


def spaced(left: str, right: str) -> str:
    """`left + right`, with a space where a Latin letter or digit meets a Chinese character
    (`Momo` + `鼓掌` -> `Momo 鼓掌`, `小鹿` + `鼓掌` -> `小鹿鼓掌`)."""
    if left and right and ((_latin(left[-1]) and _chinese(right[0])) or (_chinese(left[-1]) and _latin(right[0]))):
        return f"{left} {right}"
    return left + right


def fill(template: str, **values: object) -> str:
    """`template.format(**values)` for templates that put names into Chinese text: each value is
    joined to the text around it with `spaced` (`为达成目标的{names}鼓掌`, names `小鹿、Momo` ->
    `为达成目标的小鹿、Momo 鼓掌`). The template's own text is left as written."""
    out, after_value = "", False
    for literal, field, spec, _conversion in string.Formatter().parse(template):
        out = spaced(out, literal) if after_value else out + literal
        after_value = False
        if field is not None:
            out = spaced(out, format(values[field], spec or ""))
            after_value = True
    return out


def them(count: int, one: str = "TA") -> str:
    """How a leader's text points back at the members it named: `TA` (or `ta`) for one, 他们 for more."""
    return one if count == 1 else "他们"


def pick(options: tuple[str, ...], seed: str) -> str:
    """A stable choice: the same message always gets the same wording (retries stay identical)."""
    digest = hashlib.sha1(seed.encode()).digest()
    return options[digest[0] % len(options)]


def checkin_reply(
    name: str, streak: int, week_count: int, week_goal: int, seed: str, praise: str = "", mark_goal: bool = True
) -> str:
    """`✅ 小鹿 打卡成功｜连续 5 天🔥｜本周 2/3`, and on a second line the praise of the day
    (handlers.praise: a milestone, or a short cheer)."""
    tail = pick(CHECKIN_TAILS, seed)
    text = f"✅ {name} 打卡成功｜连续 {streak} 天{tail}｜本周 {week_count}/{week_goal}"
    if mark_goal and week_goal and week_count == week_goal:
        text += "｜本周目标达成🎉"
    if praise:
        text += "\n" + praise
    return text


def already_reply(name: str, streak: int, week_count: int, week_goal: int) -> str:
    return f"👌 {name} 今天已经打过卡啦｜连续 {streak} 天｜本周 {week_count}/{week_goal}"


def chain_credit_reply(names: list[str]) -> str:
    return "✅ 接龙已记录：" + "、".join(names) + " 今日打卡成功👏"


def chain_unclear(names: tuple[tuple[str, tuple[str, ...]], ...], day: int) -> str:
    """To the leader whose 接龙 named someone two members could be: which one? (`names`: the name as
    written and the userids it fits)."""
    when = day_date(day).isoformat()
    lines = ["🤔 接龙里有名字对应了不止一位成员，我先没有记上："]
    for name, uids in names:
        lines.append(f"·「{name}」可能是 " + " 或 ".join(uids))
    first = names[0][1][0]
    lines.append(f"请告诉我是哪一位，例如发「补卡 {first} {when}」🙏")
    return "\n".join(lines)


def too_early_reply(name: str) -> str:
    return f"{name}，这一天早于本群的记录起点，没法记上哦，请找组长处理🙏"


def unknown_chat_report(chat_id: str, name: str) -> str:
    return (
        f"有一个未配置的群在 @打卡助手（发消息的人：{name or '未知'}）。\n"
        f"群 ChatId：{chat_id}\n"
        "如需启用，请在配置里加上 GROUP_<KEY>_CHAT_ID，并把 <KEY> 加入 BOT_GROUPS。"
    )


def private_pick_group(groups: list[tuple[str, str]]) -> str:
    lines = "\n".join(f"· {name}（{key}）" for key, name in groups)
    return f"你在好几个群里呢，这次打卡记到哪个群？请在打卡后加上群代号，比如「打卡 {groups[0][0]}」：\n{lines}"


def private_no_group() -> str:
    return "还没找到你所在的打卡群哦～请先在群里 @打卡助手 打一次卡，或请组长把你加入名单🙏"


def note_line(note: Note, tz: tzinfo | None = None) -> str:
    """One profile note, `文字（11月20日 lily）`; notes are JSON {text, by, at}. The date is the one the
    group lived: in `tz` when given, else the offset `at` carries (`local_note` writes it), else UTC."""
    data = _note_data(note)
    if not isinstance(data, dict):
        return data if isinstance(data, str) else str(data)
    text = str(data.get("text", "")).strip()
    meta = [m for m in (_short_date(data.get("at"), tz), str(data.get("by") or "").strip()) if m]
    return f"{text}（{' '.join(meta)}）" if meta else text


def local_note(note: Note, tz: tzinfo) -> Note:
    """A stored note with its `at` (epoch seconds) as an ISO 8601 time in the group's timezone `tz`,
    so that every text that shows it (note_line) shows the group's date, whoever renders it."""
    data = _note_data(note)
    if not isinstance(data, dict):
        return data if isinstance(data, str) else str(data)
    when = _instant(data.get("at"))
    if when is None or when.tzinfo is None:
        return data
    return {**data, "at": when.astimezone(tz).isoformat(timespec="seconds")}


def _note_data(note: Note) -> object:
    """A note as a dict when it is JSON, else its text."""
    if isinstance(note, (str, bytes)):
        try:
            return json.loads(note)
        except (TypeError, ValueError):
            return note if isinstance(note, str) else note.decode(errors="replace")
    return note


def _instant(at: object) -> datetime | None:
    """A note's `at` (epoch seconds, as a number or digits, or ISO 8601) as a datetime: aware, except
    an ISO time written without an offset, which is already the group's wall clock. None when unreadable."""
    if at in (None, "") or isinstance(at, bool):
        return None
    try:
        if isinstance(at, (int, float)):
            return datetime.fromtimestamp(float(at), tz=timezone.utc)
        raw = str(at).strip()
        if raw.replace(".", "", 1).isdigit():
            return datetime.fromtimestamp(float(raw), tz=timezone.utc)
        return datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        return None


def _short_date(at: object, tz: tzinfo | None = None) -> str:
    """A note's `at` as `11月20日`, in `tz` (else in the offset it carries); "" when unreadable."""
    when = _instant(at)
    if when is None:
        return ""
    return cn_date((when.astimezone(tz) if tz is not None and when.tzinfo is not None else when).date())
