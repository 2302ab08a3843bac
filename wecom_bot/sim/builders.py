"""Build WeCom callbacks the way WeCom sends them: robot and app XML, encrypted and signed.

Used by the tests, the demo and the benchmarks, so that every one of them goes through the real
decryption and parsing code instead of pasting XML around.
"""

from __future__ import annotations

import itertools
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
