"""The one shape of an outbound message, as workers.outbound posts it and workers.sender sends it.

Every message carries an `id` that names the effect it belongs to (`cmd:<msgid>`, `slot:<group>:...`):
the outbox sends each id once, so a retried job or a replayed callback never speaks twice.
"""

from __future__ import annotations

from typing import Any

Mention = list[str]  # [userid, display name]: the name is what the text shows after the @
Message = dict[str, Any]  # {"id", "to": "group" | "user", "msgtype", ...}, as the functions below build it


def to_group(msg_id: str, group: str, content: str, mentions: list[Mention] | None = None) -> Message:
    """A text in the group chat `group` (a group key), @-mentioning `mentions`."""
    return {
        "id": msg_id,
        "to": "group",
        "group": group,
        "msgtype": "text",
        "content": content,
        "mentions": mentions or [],
    }


def to_users(msg_id: str, users: list[str], content: str) -> Message:
    """A private text to each of `users` (userids)."""
    return {"id": msg_id, "to": "user", "users": list(users), "msgtype": "text", "content": content}


def to_user(msg_id: str, userid: str, content: str) -> Message:
    return to_users(msg_id, [userid], content)


def file_to_users(msg_id: str, users: list[str], path: str, name: str) -> Message:
    """A file (stored at `path`, shown as `name`) sent privately to each of `users`."""
    return {"id": msg_id, "to": "user", "users": list(users), "msgtype": "file", "file": {"path": path, "name": name}}


def image_to_group(msg_id: str, group: str, key: str, name: str) -> Message:
    """A picture in the group chat `group`: its PNG bytes are in Redis under `key` (workers.pictures
    renders them once per slot), named `name` where WeCom shows a file name."""
    return {"id": msg_id, "to": "group", "group": group, "msgtype": "image", "image": {"key": key, "name": name}}


def image_to_users(msg_id: str, users: list[str], key: str, name: str) -> Message:
    """A picture (PNG bytes in Redis under `key`) sent privately to each of `users`."""
    return {"id": msg_id, "to": "user", "users": list(users), "msgtype": "image", "image": {"key": key, "name": name}}


RENDER = "render"  # `to` of a picture still to draw: never posted, handed to a job once its text has gone


def picture_request(msg_id: str, userid: str, kind: str, args: dict[str, Any]) -> Message:
    """A picture to draw for `userid` after the texts posted with it: workers.outbound.post_many hands
    it to a low-priority job (workers.pictures.send.render_job), so that drawing (tens of ms) never
    holds up check-in replies, and the picture arrives after its text. `args`: plain ids."""
    return {"id": msg_id, "to": RENDER, "users": [userid], "render": kind, "args": dict(args)}
