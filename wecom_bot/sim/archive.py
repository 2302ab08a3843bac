"""A stand-in for WeCom's message archive SDK (会话内容存档), for the tests.

It implements the two calls of `workers.archive.ArchiveSdk` with the archive's documented JSON:

    get_chat_data(seq, limit) -> {"errcode": 0, "errmsg": "ok", "chatdata": [
        {"seq": 1, "msgid": "...", "publickey_ver": 1, "encrypt_random_key": "<base64>",
         "encrypt_chat_msg": "<base64>"}, ...]}
    decrypt_data(random_key, encrypt_chat_msg) -> the message JSON, e.g.
        {"msgid": "...", "action": "send", "from": "xiaolu", "tolist": ["aqing"], "roomid": "wrchat01",
         "msgtime": 1764122400000, "msgtype": "text", "text": {"content": "打卡"}}

The random key is encrypted for real, with RSA PKCS#1 v1.5 and a key pair generated here (or the
public key you pass), as WeCom does with the public key set in the admin console. The message is
encrypted with AES-256-GCM under a key derived from the random key: not WeCom's own scheme, but a
real cipher that only the right random key opens (a wrong one makes decrypt_data fail, as the SDK does).
Thread-safe; records get increasing seqs in the order they are posted.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from workers.archive import ArchiveSdkError

# error codes of the SDK (会话内容存档 → 错误码)
ERR_PARAM = 10000
ERR_NETWORK = 10001
ERR_DECRYPT = 10006  # the message could not be decrypted with the key given
ERR_IP_NOT_ALLOWED = 60020  # WeCom's "not allow to access from your ip": the server is not a trusted IP


def generate_private_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def pem_of(key: rsa.RSAPrivateKey) -> str:
    """PKCS#1 PEM ("BEGIN RSA PRIVATE KEY"), the form WeCom's docs generate with openssl genrsa."""
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    ).decode()


def _aes_key(random_key: str) -> bytes:
    return hashlib.sha256(random_key.encode("utf-8")).digest()


class ArchiveSimulator:
    """The archive of one company: post messages, then pull them through the SDK calls."""

    def __init__(self, private_key: rsa.RSAPrivateKey | None = None, publickey_ver: int = 1) -> None:
        self.private_key = private_key or generate_private_key()
        self.publickey_ver = publickey_ver
        self.lock = threading.Lock()
        self.records: list[dict[str, Any]] = []
        self.decrypted: Counter[str] = Counter()  # msgid -> how many times decrypt_data opened it
        self.get_calls: list[tuple[int, int]] = []
        self._faults: list[int] = []  # errcodes the next get_chat_data calls answer
        self._by_cipher: dict[str, str] = {}  # encrypt_chat_msg -> msgid (for `decrypted`)
        self.on_get: Callable[[int, int], object] | None = None  # called as on_get(seq, limit) before answering
        self.delay = 0.0  # seconds each get_chat_data takes

    @property
    def private_key_pem(self) -> str:
        return pem_of(self.private_key)

    # -- posting ------------------------------------------------------------------------------------
    def post(
        self, message: dict[str, Any], public_key: rsa.RSAPublicKey | None = None, publickey_ver: int | None = None
    ) -> str:
        """Store one message (the decrypted JSON dict) as an encrypted record; returns its msgid."""
        message = dict(message)
        message.setdefault("msgid", f"{secrets.randbelow(10**19):019d}_{int(time.time() * 1000)}")
        random_key = secrets.token_urlsafe(24)  # 32 printable characters
        nonce = os.urandom(12)
        plain = json.dumps(message, ensure_ascii=False).encode("utf-8")
        cipher = base64.b64encode(nonce + AESGCM(_aes_key(random_key)).encrypt(nonce, plain, None)).decode()
        public = public_key or self.private_key.public_key()
        enc_key = base64.b64encode(public.encrypt(random_key.encode(), padding.PKCS1v15())).decode()
        with self.lock:
            record = {
                "seq": len(self.records) + 1,
                "msgid": message["msgid"],
                "publickey_ver": publickey_ver or self.publickey_ver,
                "encrypt_random_key": enc_key,
                "encrypt_chat_msg": cipher,
            }
            self.records.append(record)
            self._by_cipher[cipher] = message["msgid"]
        return message["msgid"]

    @staticmethod
    def _base(
        roomid: str, sender: str, ts: float, msgid: str | None, tolist: list[str] | None = None, action: str = "send"
    ) -> dict[str, Any]:
        msg: dict[str, Any] = {
            "action": action,
            "from": sender,
            "tolist": list(tolist or []),
            "roomid": roomid,
            "msgtime": int(round(ts * 1000)),
        }
        if msgid:
            msg["msgid"] = msgid
        return msg

    def text(self, roomid: str, sender: str, content: str, ts: float, msgid: str | None = None, **kw: Any) -> str:
        msg = self._base(roomid, sender, ts, msgid, kw.pop("tolist", None))
        msg.update(msgtype="text", text={"content": content})
        return self.post(msg, **kw)

    def image(self, roomid: str, sender: str, ts: float, msgid: str | None = None, **kw: Any) -> str:
        msg = self._base(roomid, sender, ts, msgid, kw.pop("tolist", None))
        msg.update(
            msgtype="image",
            image={
                "md5sum": secrets.token_hex(16),
                "filesize": 48213,
                "sdkfileid": base64.b64encode(os.urandom(48)).decode(),
            },
        )
        return self.post(msg, **kw)

    def mixed(
        self, roomid: str, sender: str, content: str, ts: float, image: bool = True, msgid: str | None = None, **kw: Any
    ) -> str:
        items = [{"type": "text", "content": json.dumps({"content": content}, ensure_ascii=False)}]
        if image:
            items.append(
                {
                    "type": "image",
                    "content": json.dumps(
                        {
                            "md5sum": secrets.token_hex(16),
                            "filesize": 30211,
                            "sdkfileid": base64.b64encode(os.urandom(48)).decode(),
                        }
                    ),
                }
            )
        msg = self._base(roomid, sender, ts, msgid, kw.pop("tolist", None))
        msg.update(msgtype="mixed", mixed={"item": items})
        return self.post(msg, **kw)

    def recall(self, roomid: str, sender: str, pre_msgid: str, ts: float, msgid: str | None = None) -> str:
        msg = self._base(roomid, sender, ts, msgid, action="recall")
        msg.update(msgtype="revoke", revoke={"pre_msgid": pre_msgid})
        return self.post(msg)

    def agree(self, sender: str, external_userid: str, ts: float, agree: bool = True) -> str:
        """An external contact agreeing (or not) to have the conversation archived: no room."""
        kind = "agree" if agree else "disagree"
        msg = self._base("", external_userid, ts, None, tolist=[sender])
        msg.update(msgtype=kind, **{kind: {"userid": external_userid, f"{kind}_time": int(ts * 1000)}})
        return self.post(msg)

    def other(
        self, roomid: str, sender: str, msgtype: str, body: dict[str, Any], ts: float, msgid: str | None = None
    ) -> str:
        """Any other type (voice, file, link, emotion ...): `body` goes under the msgtype's name."""
        msg = self._base(roomid, sender, ts, msgid)
        msg.update(msgtype=msgtype, **{msgtype: body})
        return self.post(msg)

    # -- faults -------------------------------------------------------------------------------------
    def fail_next(self, errcode: int = ERR_NETWORK, times: int = 1) -> None:
        with self.lock:
            self._faults += [errcode] * times

    # -- the SDK calls --------------------------------------------------------------------------------
    def get_chat_data(self, seq: int, limit: int) -> dict[str, Any]:
        if self.on_get:
            self.on_get(seq, limit)
        if self.delay:
            time.sleep(self.delay)
        with self.lock:
            self.get_calls.append((int(seq), int(limit)))
            if self._faults:
                code = self._faults.pop(0)
                return {"errcode": code, "errmsg": "simulated failure", "chatdata": []}
            if not 0 < int(limit) <= 1000 or int(seq) < 0:
                return {"errcode": ERR_PARAM, "errmsg": "invalid limit or seq", "chatdata": []}
            out = [dict(rec) for rec in self.records if rec["seq"] > int(seq)][: int(limit)]
        return {"errcode": 0, "errmsg": "ok", "chatdata": out}

    def decrypt_data(self, random_key: str, encrypt_chat_msg: str) -> str:
        try:
            blob = base64.b64decode(encrypt_chat_msg, validate=True)
            plain = AESGCM(_aes_key(random_key)).decrypt(blob[:12], blob[12:], None)
        except (InvalidTag, ValueError, TypeError):
            raise ArchiveSdkError("DecryptData", ERR_DECRYPT) from None
        with self.lock:
            msgid = self._by_cipher.get(encrypt_chat_msg)
            if msgid:
                self.decrypted[msgid] += 1
        return plain.decode("utf-8")
