"""Safe parsing of WeCom callback XML into the inbox event dict.

Every document goes through defusedxml with DTDs, entities and external references forbidden; any
of them, like any other parse problem, is a ``Malformed`` (HTTP 400). Bytes are decoded as strict
UTF-8 by us and the parser is given a ``str``, so an ``encoding=`` declaration cannot smuggle in
another charset.

The event dict (the inbox format) is plain JSON::

    {"source": "robot"|"app", "msgid": str, "chat_id": str, "chat_type": "group"|"single"|...,
     "userid": str, "name": str, "alias": str, "msgtype": str, "text": str, "has_image": bool,
     "event": str, "ts": int}

(The AI bot's JSON gives the same dict with source "aibot", plus "aibotid" and "response_url":
wecom_bot/aibot.py.) The robot's WebhookUrl carries the robot's secret key and GetChatInfoUrl a
one-time code: neither is ever copied into the dict.
"""

from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ET

import defusedxml.ElementTree as DET

from .crypto import Malformed

__all__ = ["parse_envelope", "parse_robot", "parse_app", "MAX_TEXT"]

MAX_TEXT = 20_000  # longer text is truncated, not rejected


# A DTD (and so any entity declaration or external reference) can only come with a document type
# declaration, which XML spells exactly "<!DOCTYPE" (expat rejects any other case). A document
# without that string has none of what defusedxml guards against, so it goes to the C parser, which
# costs a fifth of defusedxml's pure-Python one on the hot path; an undefined entity reference is
# still an error there. Anything holding the string, even inside CDATA, takes the defusedxml path.
_DTD_MARK = "<!DOCTYPE"


def _fromstring(text: str) -> ET.Element:
    try:
        if _DTD_MARK in text:
            root = DET.fromstring(text, forbid_dtd=True, forbid_entities=True, forbid_external=True)
        else:
            parser = ET.XMLParser()
            parser.feed(text)  # a str is parsed as UTF-8 whatever its encoding= declaration says
            root = parser.close()
    except Exception:  # ParseError, DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden, ...
        raise Malformed("bad XML") from None
    if root.tag != "xml":
        raise Malformed("bad XML root")
    return root


def _text(root: ET.Element, path: str) -> str:
    """Text of the first element at ``path`` (all its text, CDATA included), stripped; "" if absent."""
    el = root
    for depth, tag in enumerate(path.split("/")):  # a bare tag is looked up in C, a path in Python
        child = el.find(tag)
        if child is None:
            if depth:  # an odd document (a second <From> holding the UserId): ElementPath decides
                found = root.find(path)
                if found is not None:
                    el = found
                    break
            return ""
        el = child
    if len(el):
        return "".join(el.itertext()).strip()
    return el.text.strip() if el.text else ""


def event_ts(value: object) -> int:
    if isinstance(value, bool):
        raise Malformed("bad timestamp")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit() and value.strip().isascii():
        return int(value.strip())
    raise Malformed("bad timestamp")


def _derived_msgid(prefix: str, *parts: object) -> str:
    """A stable id for a message that comes without MsgId (events may lack one)."""
    key = "\x1f".join(str(p) for p in parts).encode("utf-8")
    return prefix + hashlib.sha256(key).hexdigest()[:32]


def fallback_msgid(msgtype: str, chat_id: str, event: str, ts: int, userid: str, text: str) -> str:
    if msgtype == "event":
        return _derived_msgid("evt:", chat_id, event, ts, userid)
    return _derived_msgid("gen:", chat_id, msgtype, ts, userid, text)


def clip_text(text: str) -> str:
    return text[:MAX_TEXT] if len(text) > MAX_TEXT else text


def body_text(body: bytes) -> str:
    """A callback's POST body as text (XML or JSON alike): bytes of UTF-8, or Malformed."""
    if not isinstance(body, (bytes, bytearray)):
        raise Malformed("body is not bytes")
    try:
        return bytes(body).decode("utf-8")
    except UnicodeDecodeError:
        raise Malformed("body is not UTF-8") from None


def parse_envelope(body: bytes) -> str:
    """The outer POST body ``<xml><Encrypt>..</Encrypt>..</xml>`` -> the Encrypt text."""
    text = body_text(body)
    root = _fromstring(text)
    found = root.findall("Encrypt")
    if len(found) > 1:
        raise Malformed("duplicate Encrypt")
    encrypt = "".join(found[0].itertext()).strip() if found else ""
    if not encrypt:
        raise Malformed("missing Encrypt")
    return encrypt


def parse_robot(xml_text: str, timestamp: int) -> dict:
    """Decrypted group-robot XML -> event dict. Robots send no CreateTime: ``ts`` is ``timestamp``."""
    ts = event_ts(timestamp)
    root = _fromstring(xml_text)

    msgtype = _text(root, "MsgType").lower()
    if not msgtype:
        raise Malformed("missing MsgType")
    chat_id = _text(root, "ChatId")
    raw_chat_type = _text(root, "ChatType").lower()
    # ChatType is always present in WeCom's samples; without it, a message with a ChatId is
    # taken as a group post (robots are added to groups), one without as private.
    chat_type = raw_chat_type or ("group" if chat_id else "single")
    if chat_type == "group" and not chat_id:
        raise Malformed("missing ChatId")
    if chat_type == "single":
        chat_id = ""  # the inbox format keeps chat_id "" for private chats

    userid = _text(root, "From/UserId")
    event = _text(root, "Event/EventType").lower() if msgtype == "event" else ""
    if msgtype == "event":
        if not event:
            raise Malformed("missing EventType")
    elif not userid:
        raise Malformed("missing From/UserId")

    text = ""
    has_image = False
    if msgtype == "text":
        text = _text(root, "Text/Content")
    elif msgtype == "image":
        has_image = True
    elif msgtype == "mixed":
        parts = []
        for item in root.findall("MixedMessage/MsgItem"):
            item_type = _text(item, "MsgType").lower()
            if item_type == "text":
                content = _text(item, "Text/Content")
                if content:
                    parts.append(content)
            elif item_type == "image":
                has_image = True
        text = "\n".join(parts)

    msgid = _text(root, "MsgId") or fallback_msgid(msgtype, chat_id, event, ts, userid, text)

    return {
        "source": "robot",
        "msgid": msgid,
        "chat_id": chat_id,
        "chat_type": chat_type,
        "userid": userid,
        "name": _text(root, "From/Name"),
        "alias": _text(root, "From/Alias"),
        "msgtype": msgtype,
        "text": clip_text(text),
        "has_image": has_image,
        "event": event,
        "ts": ts,
    }


def parse_app(xml_text: str, timestamp: int) -> dict:
    """Decrypted self-built-app XML -> event dict (always a private chat with the app)."""
    fallback_ts = event_ts(timestamp)
    root = _fromstring(xml_text)

    msgtype = _text(root, "MsgType").lower()
    if not msgtype:
        raise Malformed("missing MsgType")
    create_time = _text(root, "CreateTime")
    ts = int(create_time) if create_time.isascii() and create_time.isdigit() else fallback_ts

    userid = _text(root, "FromUserName")
    event = _text(root, "Event").lower() if msgtype == "event" else ""
    if msgtype == "event":
        if not event:
            raise Malformed("missing Event")
    elif not userid:
        raise Malformed("missing FromUserName")

    text = _text(root, "Content") if msgtype == "text" else ""
    has_image = msgtype == "image"

    msgid = _text(root, "MsgId") or fallback_msgid(msgtype, "", event, ts, userid, text)

    return {
        "source": "app",
        "msgid": msgid,
        "chat_id": "",
        "chat_type": "single",
        "userid": userid,
        "name": "",
        "alias": "",
        "msgtype": msgtype,
        "text": clip_text(text),
        "has_image": has_image,
        "event": event,
        "ts": ts,
    }
