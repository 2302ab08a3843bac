"""The ingest benchmark's floor: a bare WSGI app that does only what any robot callback must do,
with the reference libraries: verify the signature and decrypt with wechatpy, parse the XML with
xmltodict, answer 200. No Flask, no Redis, no logging. Served by gunicorn with the Procfile's flags.

    gunicorn ... 'bench.floor_app:app'

It reads WECOM_ROBOT_TOKEN and WECOM_ROBOT_ENCODING_AES_KEY from the environment (robots use an
empty receive id).
"""

from __future__ import annotations

import os
from urllib.parse import parse_qs

import xmltodict
from wechatpy.enterprise.crypto import WeChatCrypto

_crypto = WeChatCrypto(os.environ["WECOM_ROBOT_TOKEN"], os.environ["WECOM_ROBOT_ENCODING_AES_KEY"], "")
_HEADERS_OK = [("Content-Type", "text/plain"), ("Content-Length", "0")]


def app(environ, start_response):
    try:
        qs = parse_qs(environ.get("QUERY_STRING", ""))
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        xml = _crypto.decrypt_message(body, qs["msg_signature"][0], qs["timestamp"][0], qs["nonce"][0])
        msg = xmltodict.parse(xml)["xml"]
        if not msg.get("MsgId"):
            raise ValueError("no MsgId")
        status = "200 OK"
    except Exception:
        status = "400 Bad Request"
    start_response(status, _HEADERS_OK)
    return [b""]
