"""Announcements (群通知要有回应): what a leader's `#通知` says in the group, what counts as an
acknowledgement, and the follow-up the leader gets. No I/O; `workers.announce` does the rest.

A leader announces with `#通知 <文字>` (@-ing the robot in the group, or in private chat with the app,
where a leader of several groups names the group first: `通知 xhs01 <文字>`). Any post a member makes
in the group after the announcement counts as an answer (收到, +1, 👌, or anything else): the bot can
only see some posts, and a member who wrote anything has read the group. In private chat only a
short acknowledgement counts, so that a private check-in is not mistaken for one.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Sequence
from typing import Any

from handlers.chain import strip_mentions
from handlers.texts import fill, note_line, them

HEADERS = ("#通知", "＃通知")
MAX_TEXT = 1500  # the group post stays under WeCom's 2048-byte text limit
PREVIEW = 24  # characters of the announcement quoted back to the leader

_ACK_RE = re.compile(
    r"^(?:收到|收到了|已收到|好的|好滴|好嘞|好|ok|okay|明白|明白了|知道了|了解|get|嗯|嗯嗯|\+1|1|👌|🙋|🙆|👍|✅|[🆗])"
    r"[\s!！。.~～、,，啦呀哈😊🙏👌👍💪❤️]*$",
    re.IGNORECASE,
)


def split_header(text: str) -> str | None:
    """The announcement's text when `text` (mentions already stripped) starts with `#通知`, `通知`
    or `notice`; None otherwise. `#通知明晚直播` needs no space after the header."""
    body = (text or "").strip()
    for head in HEADERS + ("通知",):
        if body.startswith(head):
            return body[len(head) :].lstrip(" \t\u3000:：\n")
    low = body.lower()
    for head in ("notice", "announce"):
        if low.startswith(head) and (len(body) == len(head) or not body[len(head)].isalnum()):
            return body[len(head) :].lstrip(" \t\u3000:：\n")
    return None


def addressed(text: str, keys: Collection[str], in_chat: bool) -> tuple[str | None, str]:
    """The group an announcement names and its text, from the post as sent (`text`, mentions
    included). In private chat the group key may come first (`通知 xhs01 …`) or last, as in every
    other command; in a group chat the group is the chat's own, and a key is just a word."""
    body = split_header(strip_mentions(text)) or ""
    if not in_chat:
        words = body.split(maxsplit=1)
        tail = body.rsplit(maxsplit=1)
        if words and words[0].lower() in keys:
            return words[0].lower(), (words[1] if len(words) > 1 else "").strip()
        if len(tail) == 2 and tail[1].lower() in keys:
            return tail[1].lower(), tail[0].strip()
    return None, body.strip()


def named_group(text: str, keys: Collection[str], in_chat: bool) -> str | None:
    return addressed(text, keys, in_chat)[0]


def is_ack(text: str) -> bool:
    """A short acknowledgement (收到 / 好的 / +1 / 👌 …), as a member would answer a notice."""
    body = unicodedata.normalize("NFKC", (text or "").strip())
    return bool(body) and len(body) <= 12 and bool(_ACK_RE.match(body))


def preview(text: str) -> str:
    one_line = " ".join((text or "").split())
    return one_line if len(one_line) <= PREVIEW else one_line[:PREVIEW] + "…"


# --- wording -------------------------------------------------------------------------------------


# How members answer. With the message archive the bot sees every post in the group; without it only
# posts that @ the robot reach it, so then the prompt asks for an @.
def _answer(archive: bool) -> str:
    return "回个「收到」" if archive else " @我 回个「收到」"


CHASE_LINE = "（{hours} 小时后还没回应的伙伴，我会私信提醒一下哦）"


def group_post(text: str, archive: bool = True, chase_hours: int = 0) -> str:
    """The announcement the bot posts for a leader; `archive`: the message archive is configured;
    `chase_hours`: the silent members are chased privately after that many hours (0: no chase)."""
    chase = CHASE_LINE.format(hours=chase_hours) if chase_hours else ""
    return f"📢 群通知\n{text.strip()}\n\n看到的伙伴{_answer(archive)}🙏{chase}"


def group_ack_request(archive: bool = True, chase_hours: int = 0) -> str:
    """In the group the leader's own post is the announcement: the bot only asks for answers."""
    chase = CHASE_LINE.format(hours=chase_hours) if chase_hours else ""
    return f"📢 这是一条群通知，看到的伙伴{_answer(archive)}就好🙏{chase}"


def leader_confirm(group_name: str, hours: int, posted: bool, chase: bool = False) -> str:
    where = f"已发到「{group_name}」" if posted else f"已在「{group_name}」记下"
    if chase:
        return f"📢 通知{where}，{hours} 小时后我先私信提醒还没回应的伙伴，再告诉你还有谁没回～"
    return f"📢 通知{where}，{hours} 小时后告诉你还有谁没回应～"


def chase(group_name: str, text: str, archive: bool = True) -> str:
    """The private note to a member who has not answered a #通知 (夺命连环call, gently)."""
    where = "在群里" + _answer(archive) + "，或者私聊回我「收到」也算"
    return f"📢「{group_name}」有一条群通知，可能被消息淹没啦：\n{text.strip()}\n\n看到了{where}🙏"


def since(seconds: float) -> str:
    """How long ago, as a leader would say it: `40 分钟`, `4 小时`, `1 天`."""
    minutes = max(int(seconds // 60), 1)
    if minutes < 60:
        return f"{minutes} 分钟"
    hours = round(minutes / 60)
    if hours < 24:
        return f"{hours} 小时"
    return f"{round(hours / 24)} 天"


def follow_up(
    group_name: str,
    text: str,
    elapsed: float,
    silent: Sequence[str],
    total: int,
    notes: dict[str, list[Any]] | None = None,
    chased: int = 0,
) -> str:
    """`elapsed`: seconds since the announcement; `notes`: display name -> that member's latest profile
    notes, so the leader knows whom they ask; `chased`: members the bot reminded privately."""
    head = f"📢「{group_name}」的通知「{preview(text)}」发出 {since(elapsed)}了"
    if chased:
        head += f"（我已私信提醒过 {chased} 位）"
    if not silent:
        return f"{head}，{total} 位伙伴全都回应啦🎉"
    lines = [f"{head}，{total - len(silent)}/{total} 位已回应。", f"还没回应：{'、'.join(silent)}"]
    lines += [
        f"📒 {name} 的档案：" + "；".join(note_line(n) for n in (notes or {})[name])
        for name in silent
        if (notes or {}).get(name)
    ]
    lines.append(fill("可以私聊问一句，确认{who}看到了～", who=them(len(silent), one="ta")))
    return "\n".join(lines)


def empty() -> str:
    return "通知内容是空的哦～用法：#通知 明晚 8 点直播，记得来"


def too_long() -> str:
    return f"通知有点长啦，请控制在 {MAX_TEXT} 字以内🙏"
