"""The one builder of an inbound text event as the callbacks put it in the inbox (the dict that
workers.ingest.process_batch reads), for tests that skip the HTTP and crypto layers. Each test module
keeps its own short `ev(...)` with its defaults and msgid counter, and builds through this."""

from __future__ import annotations


def text_event(
    text: str, uid: str, *, chat: str = "", ts: float, msgid: str, name: str | None = None, source: str | None = None
) -> dict:
    """A text post by `uid`: in the group chat `chat` (the robot's callback), or privately to the app."""
    return {
        "source": source or ("robot" if chat else "app"),
        "msgid": msgid,
        "chat_id": chat,
        "chat_type": "group" if chat else "single",
        "userid": uid,
        "name": name or uid,
        "alias": "",
        "msgtype": "text",
        "text": text,
        "has_image": False,
        "event": "",
        "ts": ts,
    }
