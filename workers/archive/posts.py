"""What one decrypted archive message says, read without I/O: its header (`read_head`), whether
its sender is a robot, its body as the inbox knows bodies, whether it looks like a check-in, and
the inbox event it becomes."""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass

from config.settings import Group
from handlers.chain import MAX_TEXT
from handlers.checkin import detect
from handlers.router import command_word

log = logging.getLogger(__name__)

# Senders whose id starts with "wb" are robots (WeCom gives robots ids of that form in the archive):
# the bot's own replies ("✅ 小鹿 打卡成功") must not count as check-ins of the robot.
_ROBOT_ID = re.compile(r"^wb[A-Za-z0-9_\-]{8,}$")


@dataclass(frozen=True)
class Head:
    """The fields of a message that decide what becomes of it."""

    action: str
    msgtype: str
    sender: str
    ms: int  # msgtime: epoch milliseconds
    msgid: str

    @property
    def ts(self) -> int:
        """Epoch seconds."""
        return self.ms // 1000

    @property
    def is_recall(self) -> bool:
        return self.action == "recall" or self.msgtype == "revoke"

    @property
    def is_post(self) -> bool:
        """Something a member said (not an agree/disagree answer, not an event)."""
        return self.action == "send" and bool(self.sender) and self.msgtype not in ("agree", "disagree")


@dataclass(frozen=True)
class Body:
    kind: str  # the msgtype for the inbox: text, image, mixed, or the archive's own
    text: str
    has_image: bool


def read_head(msg: dict, group: Group) -> Head | None:
    """The message's header; None (logged, without content) when it is unreadable."""
    try:
        head = Head(
            action=str(msg.get("action") or "send").lower(),
            msgtype=str(msg.get("msgtype") or "").lower(),
            sender=str(msg.get("from") or ""),
            ms=int(msg.get("msgtime") or 0),
            msgid=str(msg.get("msgid") or ""),
        )
    except (TypeError, ValueError):
        log.error("message archive: a message of group %s has unreadable fields; skipped", group.key)
        return None
    if not head.msgid or not head.ts:
        log.error("message archive: a message of group %s has no msgid or msgtime; skipped", group.key)
        return None
    return head


def is_robot(sender: str, group: Group, names: dict[str, str]) -> bool:
    """A robot's post (the bot itself included), unless the group knows the sender as a person."""
    return (
        bool(_ROBOT_ID.match(sender))
        and sender not in names
        and sender not in group.members
        and sender not in group.leaders
    )


def body(msg: dict) -> Body:
    """The message's body for the inbox; no text for types the bot does not read."""
    msgtype = str(msg.get("msgtype") or "").lower()
    part = msg.get(msgtype)
    if msgtype == "text":
        content = part.get("content") if isinstance(part, dict) else None
        return Body("text", str(content or "")[:MAX_TEXT], False)
    if msgtype == "image":
        return Body("image", "", True)
    if msgtype == "mixed":
        text, has_image = _mixed(part if isinstance(part, dict) else {})
        return Body("mixed", text[:MAX_TEXT], has_image)
    return Body(msgtype or "unknown", "", False)  # voice, file, link, emotion ...: seen, nothing to read


def _mixed(mixed: dict) -> tuple[str, bool]:
    """(text, has_image) of a mixed message: its text parts joined by line breaks."""
    parts, has_image = [], False
    for item in mixed.get("item") or []:
        if not isinstance(item, dict):
            continue
        kind = str(item.get("type") or "").lower()
        if kind == "image":
            has_image = True
        elif kind == "text":
            try:
                content = json.loads(item.get("content") or "{}")
            except (TypeError, ValueError):
                content = {}
            text = content.get("content") if isinstance(content, dict) else None
            if text:
                parts.append(str(text))
    return "\n".join(parts), has_image


def checks_in(group: Group, sender: str, post: Body) -> bool:
    """Whether the post looks like a check-in of its sender (handlers.checkin, no I/O). A command is never
    one, wherever it is posted: the router reads a post's command word before anything else."""
    if post.kind in ("text", "mixed") and command_word(post.text) is not None:
        return False
    try:
        found = detect(
            post.text,
            post.kind if post.kind != "mixed" or post.has_image else "text",
            sender_userid=sender,
            sender_is_leader=sender in group.leaders,
        )
    except Exception:  # a detection fault must not stop the pull; the worker decides anyway
        return False
    return found.kind != "none"


def inbox_event(chat_id: str, head: Head, post: Body, name: str) -> dict:
    """The inbox event of a post (source "archive") of the group whose chat id (as the robot callback
    reports it, which the inbox knows groups by) is `chat_id`; `name`: the sender's display name, if known."""
    return {
        "source": "archive",
        "msgid": head.msgid,
        "chat_id": chat_id,
        "chat_type": "group",
        "userid": head.sender,
        "name": "" if name == head.sender else name,
        "alias": "",
        "msgtype": post.kind,
        "text": post.text,
        "has_image": post.has_image,
        "event": "",
        "ts": head.ts,
    }
