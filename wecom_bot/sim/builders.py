"""Build WeCom callbacks the way WeCom sends them: robot and app XML, the AI bot's JSON, encrypted and signed.

Used by the tests, the demo and the benchmarks, so that every one of them goes through the real
decryption and parsing code instead of pasting XML around.
"""

from __future__ import annotations

import itertools
import json
import secrets
from dataclasses import dataclass
from urllib.parse import urlencode
from xml.sax.saxutils import escape

from wecom_bot.crypto import CallbackCrypto

_counter = itertools.count(1)


def _cdata(text: str) -> str:
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def robot_xml(
    chat_id: str,
    userid: str,
    name: str,
    text: str = "",
    msgid: str | None = None,
    msgtype: str = "text",
    alias: str = "",
    event: str = "",
    chat_type: str = "group",
    webhook_key: str = "robot-key-in-callback",
) -> str:
    msgid = msgid or f"m{next(_counter)}-{secrets.token_hex(4)}"
    if msgtype == "text":
        body = f"<Text><Content>{_cdata(text)}</Content></Text>"
    elif msgtype == "image":
        body = "<Image><ImageUrl><![CDATA[https://example.invalid/img.png]]></ImageUrl></Image>"
    elif msgtype == "mixed":
        body = (
            "<MixedMessage><MsgItem><MsgType>text</MsgType><Text><Content>"
            + _cdata(text)
            + "</Content></Text></MsgItem><MsgItem><MsgType>image</MsgType><Image><ImageUrl>"
            "<![CDATA[https://example.invalid/img.png]]></ImageUrl></Image></MsgItem></MixedMessage>"
        )
    elif msgtype == "event":
        body = f"<Event><EventType>{_cdata(event)}</EventType></Event>"
    else:
        body = ""
    return (
        "<xml>"
        f"<WebhookUrl>{_cdata('https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=' + webhook_key)}</WebhookUrl>"
        f"<ChatId>{_cdata(chat_id)}</ChatId><ChatType>{chat_type}</ChatType>"
        f"<From><UserId>{escape(userid)}</UserId><Name>{_cdata(name)}</Name><Alias>{_cdata(alias)}</Alias></From>"
        f"<MsgType>{msgtype}</MsgType>{body}<MsgId>{escape(msgid)}</MsgId>"
        "</xml>"
    )


def app_xml(
    corp_id: str,
    userid: str,
    text: str = "",
    msgid: str | None = None,
    create_time: int = 0,
    msgtype: str = "text",
    event: str = "",
    agent_id: str = "1000002",
) -> str:
    msgid = msgid or str(7_000_000_000 + next(_counter))
    parts = [
        f"<ToUserName>{_cdata(corp_id)}</ToUserName>",
        f"<FromUserName>{_cdata(userid)}</FromUserName>",
        f"<CreateTime>{create_time}</CreateTime>",
        f"<MsgType>{_cdata(msgtype)}</MsgType>",
    ]
    if msgtype == "text":
        parts.append(f"<Content>{_cdata(text)}</Content><MsgId>{msgid}</MsgId>")
    elif msgtype == "event":
        parts.append(f"<Event>{_cdata(event)}</Event>")
    parts.append(f"<AgentID>{agent_id}</AgentID>")
    return "<xml>" + "".join(parts) + "</xml>"


@dataclass
class Signed:
    path: str  # "/wecom/robot?msg_signature=...&timestamp=...&nonce=..."
    body: bytes


def sign(crypto: CallbackCrypto, endpoint: str, xml: str, timestamp: int, nonce: str | None = None) -> Signed:
    nonce = nonce or secrets.token_hex(6)
    body, query = crypto.encrypt_body(xml, nonce, str(timestamp))
    return Signed(f"{endpoint}?{urlencode(query)}", body)


def aibot_json(
    chat_id: str,
    userid: str,
    text: str = "",
    msgid: str | None = None,
    msgtype: str = "text",
    chat_type: str = "group",
    event: str = "",
    aibotid: str = "aibot-sim",
    response_url: str | None = None,
    create_time: int | None = None,
    api_base: str = "https://example.invalid/cgi-bin/",
) -> str:
    """The 智能机器人's message as WeCom's docs show it (path 100719; events path 101027): a group post
    carries its `@机器人` in `text.content`, as WeCom delivers it. `response_url`: by default a fresh
    one-time URL like WeCom's (`<api_base>aibot/response?response_code=...`); `api_base` defaults to a host
    that never resolves, so that a test cannot answer the real WeCom (the simulator: its base URL)."""
    msgid = msgid or f"ai{next(_counter)}-{secrets.token_hex(6)}"
    if response_url is None:
        response_url = f"{api_base}aibot/response?response_code={secrets.token_urlsafe(24)}"
    msg: dict = {"msgid": msgid, "aibotid": aibotid}
    if chat_type == "group":
        msg["chatid"] = chat_id
    msg["chattype"] = chat_type
    msg["from"] = {"userid": userid}
    if msgtype != "event":
        msg["response_url"] = response_url
    msg["msgtype"] = msgtype
    if msgtype == "text":
        msg["text"] = {"content": text}
    elif msgtype == "image":
        msg["image"] = {"url": "https://example.invalid/img.png"}
    elif msgtype == "mixed":
        msg["mixed"] = {
            "msg_item": [
                {"msgtype": "text", "text": {"content": text}},
                {"msgtype": "image", "image": {"url": "https://example.invalid/img.png"}},
            ]
        }
    elif msgtype == "stream":
        msg["stream"] = {"id": secrets.token_hex(8)}
    elif msgtype == "event":
        msg["event"] = {"eventtype": event}
    if create_time is not None:
        msg["create_time"] = create_time
    return json.dumps(msg, ensure_ascii=False)


def sign_aibot(
    crypto: CallbackCrypto, message: str, timestamp: int, nonce: str | None = None, endpoint: str = "/wecom/aibot"
) -> Signed:
    """The AI bot's POST: `{"encrypt": ...}` (JSON), signed in the query like every callback. `crypto`
    has the AI bot's token and key and receive id ""."""
    nonce = nonce or secrets.token_hex(6)
    encrypt, sig = crypto.encrypt(message, nonce, str(timestamp))
    query = {"msg_signature": sig, "timestamp": str(timestamp), "nonce": nonce}
    return Signed(f"{endpoint}?{urlencode(query)}", json.dumps({"encrypt": encrypt}).encode())


def url_check(crypto: CallbackCrypto, endpoint: str, echo: str, timestamp: int, nonce: str | None = None) -> str:
    """The signed GET with which WeCom checks a callback URL; the endpoint must answer `echo`."""
    nonce = nonce or secrets.token_hex(6)
    encrypt, sig = crypto.encrypt(echo, nonce, str(timestamp))
    query = {"msg_signature": sig, "timestamp": str(timestamp), "nonce": nonce, "echostr": encrypt}
    return f"{endpoint}?{urlencode(query)}"
