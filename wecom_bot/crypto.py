"""WeCom callback crypto: the ``msg_signature`` scheme shared by self-built apps and group robots.

Signature: SHA1 over the lexicographically sorted ``[token, timestamp, nonce, encrypt]``, lowercase hex.
Cipher: AES-256-CBC, key = base64decode(EncodingAESKey + "="), IV = key[:16], PKCS#7 padding to a
multiple of 32 bytes. Plaintext = 16 random bytes + 4-byte big-endian length + message + receive id
(the corp id for an app, "" for group robots).

This module is deliberately stricter than wechatpy / the official samples:
- the signature is checked first, in constant time, before any byte of the ciphertext is looked at
  (no padding oracle for unauthenticated callers);
- base64, padding, length prefix and UTF-8 are all validated, and every failure is a ``CallbackError``
  carrying the HTTP status to answer (403 or 400);
- a wrong receive id is a ``BadSignature`` (403), like a wrong signature.

Exception messages are short fixed English reasons: they never contain the token, the key, the
ciphertext or the plaintext, so they are safe to log and to return.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

__all__ = ["CallbackError", "BadSignature", "Malformed", "CallbackCrypto"]

BLOCK = 32  # WeCom's PKCS#7 block size (not AES's 16)
_HEX40 = re.compile(r"[0-9a-fA-F]{40}")


class CallbackError(Exception):
    """A callback that must be refused; ``status`` is the HTTP status to answer."""

    status: int = 400

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class BadSignature(CallbackError):
    """Wrong or malformed signature, or wrong receive id (corp id)."""

    status = 403


class Malformed(CallbackError):
    """Bad base64, bad padding, wrong length prefix, bad UTF-8, bad XML, missing fields..."""

    status = 400


def _require_str(value: object, field: str) -> str:
    if not isinstance(value, str):
        raise Malformed(f"missing {field}")
    return value


class CallbackCrypto:
    def __init__(self, token: str, encoding_aes_key: str, receive_id: str) -> None:
        if not isinstance(token, str) or not token:
            raise ValueError("callback token must be a non-empty string")
        if not isinstance(receive_id, str):
            raise ValueError("receive id must be a string")
        if not isinstance(encoding_aes_key, str) or len(encoding_aes_key) != 43:
            raise ValueError("EncodingAESKey must be 43 characters")
        try:
            key = base64.b64decode(encoding_aes_key + "=", validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("EncodingAESKey is not valid base64") from None
        if len(key) != 32:
            raise ValueError("EncodingAESKey must decode to 32 bytes")
        self._token = token
        self._key = key
        self._iv = key[:16]
        self._receive_id = receive_id.encode("utf-8")

    def __repr__(self) -> str:  # never show the token or key
        return f"<CallbackCrypto receive_id={self._receive_id.decode('utf-8')!r}>"

    # -- signature -------------------------------------------------------------------------------
    def signature(self, timestamp: str, nonce: str, encrypt: str) -> str:
        parts = sorted([self._token, str(timestamp), str(nonce), str(encrypt)])
        return hashlib.sha1("".join(parts).encode("utf-8")).hexdigest()

    def _check_signature(self, msg_signature: object, timestamp: object, nonce: object, encrypt: object) -> None:
        if not isinstance(msg_signature, str) or not _HEX40.fullmatch(msg_signature):
            raise BadSignature("bad signature")
        timestamp = _require_str(timestamp, "timestamp")
        nonce = _require_str(nonce, "nonce")
        encrypt = _require_str(encrypt, "encrypt")
        expected = self.signature(timestamp, nonce, encrypt)
        if not hmac.compare_digest(expected.encode("ascii"), msg_signature.lower().encode("ascii")):
            raise BadSignature("bad signature")

    # -- decryption ------------------------------------------------------------------------------
    def verify_url(self, msg_signature: str, timestamp: str, nonce: str, echostr: str) -> str:
        """GET URL verification: check the signature over ``echostr`` and return its plaintext."""
        return self.decrypt(msg_signature, timestamp, nonce, echostr)

    def decrypt(self, msg_signature: str, timestamp: str, nonce: str, encrypt: str) -> str:
        """Verify the signature (constant time), then decrypt; returns the inner message text."""
        self._check_signature(msg_signature, timestamp, nonce, encrypt)
        return self._open(encrypt)

    def _open(self, encrypt: str) -> str:
        if not encrypt or len(encrypt) % 4 or not encrypt.isascii():
            raise Malformed("bad base64")
        try:
            raw = base64.b64decode(encrypt, validate=True)
        except (binascii.Error, ValueError):
            raise Malformed("bad base64") from None
        if not raw or len(raw) % 16:
            raise Malformed("bad ciphertext length")
        decryptor = Cipher(algorithms.AES(self._key), modes.CBC(self._iv)).decryptor()
        plain = decryptor.update(raw) + decryptor.finalize()

        pad = plain[-1]
        if not 1 <= pad <= BLOCK or pad > len(plain) or plain[-pad:] != bytes([pad]) * pad:
            raise Malformed("bad padding")
        content = plain[:-pad]
        if len(content) < 20:
            raise Malformed("bad length prefix")
        (length,) = struct.unpack(">I", content[16:20])
        end = 20 + length
        if end > len(content):
            raise Malformed("bad length prefix")
        try:
            message = content[20:end].decode("utf-8")
        except UnicodeDecodeError:
            raise Malformed("message is not valid UTF-8") from None
        trailer = content[end:]
        if not hmac.compare_digest(trailer, self._receive_id):
            if self._receive_id and len(trailer) > len(self._receive_id) and trailer.endswith(self._receive_id):
                # message bytes spill into the receive id: the prefix is too short
                raise Malformed("bad length prefix")
            raise BadSignature("wrong receive id")
        return message

    # -- encryption (tests, simulator, demo, passive replies) -------------------------------------
    def encrypt(self, plaintext: str, nonce: str, timestamp: str, random16: bytes | None = None) -> tuple[str, str]:
        """Encrypt ``plaintext`` as WeCom would; returns ``(encrypt_b64, msg_signature)``."""
        if random16 is None:
            random16 = os.urandom(16)
        if not isinstance(random16, (bytes, bytearray)) or len(random16) != 16:
            raise ValueError("random16 must be 16 bytes")
        body = plaintext.encode("utf-8")
        data = bytes(random16) + struct.pack(">I", len(body)) + body + self._receive_id
        pad = BLOCK - len(data) % BLOCK
        data += bytes([pad]) * pad
        encryptor = Cipher(algorithms.AES(self._key), modes.CBC(self._iv)).encryptor()
        encrypt = base64.b64encode(encryptor.update(data) + encryptor.finalize()).decode("ascii")
        return encrypt, self.signature(str(timestamp), str(nonce), encrypt)

    def encrypt_body(self, plaintext: str, nonce: str, timestamp: str) -> tuple[bytes, dict]:
        """A complete callback: the POST body and the query arguments WeCom would send with it."""
        encrypt, sig = self.encrypt(plaintext, nonce, timestamp)
        body = f"<xml><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>".encode()
        return body, {"msg_signature": sig, "timestamp": str(timestamp), "nonce": str(nonce)}
