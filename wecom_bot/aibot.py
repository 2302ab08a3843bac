"""The 智能机器人 (AI bot) in API mode: its JSON callback into the inbox event dict.

WeCom posts ``{"encrypt": "..."}`` to /wecom/aibot, signed like every callback (msg_signature over token,
timestamp, nonce and encrypt) and encrypted with receive id "" (developer docs, path 101033). The decrypted
message (path 100719; events, path 101027) is JSON::

    {"msgid": "...", "aibotid": "...", "chatid": "...", "chattype": "group"|"single",
     "from": {"userid": "..."}, "response_url": "...", "msgtype": "text"|"image"|"mixed"|"stream"|"event",
     "text": {"content": "@bot 打卡"}, "mixed": {"msg_item": [{"msgtype": "text", "text": {...}}, ...]},
     "event": {"eventtype": "enter_chat"}, "create_time": 1700000000}

In a group the AI bot only sees posts that @ it, like a group robot. The event dict is the robot's
(wecom_bot/xmlparse.py) with ``source: "aibot"``, plus ``aibotid`` and ``response_url``.

``response_url`` is a capability (whoever holds it may answer in the chat once, within the hour), kept
like a secret: it is copied only into the inbox entry, for the worker that answers; never into a log line,
an exception, an RQ job argument or a reply. ``from.userid`` is passed through as received: it may be an
encrypted open userid (a bot created by someone who is not a super admin), which the worker converts.

A stream refresh (``msgtype: stream``: WeCom asking for the next piece of a streamed answer; this bot
never streams) is kept as an event (``msgtype: event``, ``event: stream``), which nothing acts on.
"""

from __future__ import annotations

import json
from typing import Any

from .crypto import Malformed
from .xmlparse import body_text, clip_text, event_ts, fallback_msgid

__all__ = ["parse_aibot", "parse_json_envelope"]

MAX_DEPTH = 32  # nesting a WeCom message never reaches; deeper JSON is refused before it is parsed


def _reject_constant(name: str) -> Any:
    raise ValueError(f"not JSON: {name}")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError("duplicate key")
        out[key] = value
    return out


def _depth_ok(text: str) -> bool:
    """Whether brackets nest at most MAX_DEPTH deep (counted over the raw text: a bracket inside a string
    only makes the count larger, so a document passing here is at most that deep). The json module
    recurses per level: this keeps its recursion bounded."""
    depth = 0
    for ch in text:
        if ch in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return False
        elif ch in "]}":
            depth -= 1
    return True


def _loads_object(text: str, what: str) -> dict[str, Any]:
    if not _depth_ok(text):
        raise Malformed(f"{what} is nested too deep")
    try:
        value = json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_reject_constant)
    except (ValueError, RecursionError):  # JSONDecodeError, a duplicate key, NaN, a 5,000-digit number...
        raise Malformed(f"bad JSON in the {what}") from None
    if not isinstance(value, dict):
        raise Malformed(f"the {what} is not a JSON object")
    return value


def parse_json_envelope(body: bytes) -> str:
    """The outer POST body ``{"encrypt": "..."}`` -> the encrypt text."""
    text = body_text(body)
    encrypt = _loads_object(text.lstrip("\ufeff"), "body").get("encrypt")
    if not isinstance(encrypt, str) or not encrypt.strip():
        raise Malformed("missing encrypt")
    return encrypt.strip()


def _field(obj: dict[str, Any], name: str, required: bool = False) -> str:
    """A string field ("" when absent); any other type is a wrong message. Numbers are taken as their
    decimal text (an id sent as a number is still that id)."""
    value = obj.get(name)
    if value is None:
        if required:
            raise Malformed(f"missing {name}")
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise Malformed(f"{name} is not a string")
    text = str(value).strip()
    if required and not text:
        raise Malformed(f"missing {name}")
    return text


def _part(obj: dict[str, Any], name: str) -> dict[str, Any]:
    """A nested object ({} when absent)."""
    value = obj.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Malformed(f"{name} is not an object")
    return value


def _content(obj: dict[str, Any], what: str) -> str:
    return _field(_part(obj, what), "content")


def _mixed(obj: dict[str, Any]) -> tuple[str, bool]:
    items = _part(obj, "mixed").get("msg_item")
    if items is None:
        return "", False
    if not isinstance(items, list):
        raise Malformed("mixed.msg_item is not a list")
    parts, has_image = [], False
    for item in items:
        if not isinstance(item, dict):
            raise Malformed("mixed.msg_item holds a non-object")
        kind = _field(item, "msgtype").lower()
        if kind == "text":
            content = _content(item, "text")
            if content:
                parts.append(content)
        elif kind == "image":
            has_image = True
    return "\n".join(parts), has_image


def parse_aibot(json_text: str, timestamp: int) -> dict:
    """Decrypted AI-bot JSON -> event dict. ``ts`` is ``create_time`` where the message has one, else
    the callback's signed ``timestamp``."""
    fallback_ts = event_ts(timestamp)
    obj = _loads_object(json_text, "message")

    msgtype = _field(obj, "msgtype", required=True).lower()
    chat_id = _field(obj, "chatid")
    chat_type = _field(obj, "chattype").lower() or ("group" if chat_id else "single")
    if chat_type == "group" and not chat_id:
        raise Malformed("missing chatid")
    if chat_type == "single":
        chat_id = ""  # the inbox format keeps chat_id "" for private chats
    userid = _field(_part(obj, "from"), "userid")

    event = ""
    if msgtype == "stream":  # a stream refresh: not a post (see the module docstring)
        msgtype, event = "event", "stream"
    elif msgtype == "event":
        event = _field(_part(obj, "event"), "eventtype", required=True).lower()
    elif not userid:
        raise Malformed("missing from.userid")

    text, has_image = "", False
    if msgtype == "text":
        text = _content(obj, "text")
    elif msgtype == "image":
        has_image = True
    elif msgtype == "mixed":
        text, has_image = _mixed(obj)

    raw_ts = obj.get("create_time")
    ts = fallback_ts
    if raw_ts is not None:
        try:
            ts = event_ts(raw_ts)
        except Malformed:
            raise Malformed("bad create_time") from None
        if ts >= 10**11:  # milliseconds
            ts //= 1000
        if not 0 < ts < 10**10:  # like the signed timestamp: unix seconds, at most 10 digits
            raise Malformed("bad create_time")

    msgid = _field(obj, "msgid") or fallback_msgid(msgtype, chat_id, event, ts, userid, text)
    return {
        "source": "aibot",
        "msgid": msgid,
        "chat_id": chat_id,
        "chat_type": chat_type,
        "userid": userid,
        "name": "",
        "alias": "",
        "msgtype": msgtype,
        "text": clip_text(text),
        "has_image": has_image,
        "event": event,
        "ts": ts,
        "aibotid": _field(obj, "aibotid"),
        "response_url": _field(obj, "response_url"),
    }
