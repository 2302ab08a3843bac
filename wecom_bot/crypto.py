"""WeCom callback crypto: a thin strict layer over wechatpy's ``WeChatCrypto``.

The scheme (``msg_signature``, shared by self-built apps, group robots and the AI bot): SHA1 over the
sorted ``[token, timestamp, nonce, encrypt]``; AES-256-CBC with key = base64decode(EncodingAESKey + "="),
IV = key[:16], PKCS#7 padding to a multiple of 32 bytes; plaintext = 16 random bytes + 4-byte big-endian
length + message + receive id (the corp id for an app, "" for group robots and the AI bot).

wechatpy (``wechatpy.enterprise.crypto.WeChatCrypto``, 1.8.18) does the work: it signs, checks the
signature, decrypts, strips the padding, reads the length prefix, compares the receive id and encrypts.
It is lenient where an endpoint facing the internet must not be, so this layer keeps our guarantees
around it:
- the signature is checked first, in constant time, before any byte of the ciphertext is looked at
  (wechatpy compares with ``!=``; and no padding oracle for unauthenticated callers);
- the base64 and the ciphertext length are checked strictly before wechatpy's lenient decoder sees them;
- on the plaintext wechatpy decrypted (its cipher hands it to us too, see ``_Prp``): the padding (wechatpy
  ignores a bad one), the length prefix (wechatpy truncates to it) and the receive id;
- every failure is a ``CallbackError`` carrying the HTTP status to answer: a wrong receive id (wechatpy's
  ``InvalidCorpIdException``, which is not a signature error there) is a ``BadSignature`` (403) here,
  a bad base64, padding, length prefix or UTF-8 a ``Malformed`` (400); nothing else escapes.

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
from typing import Any

from wechatpy.crypto.base import WeChatCipher
from wechatpy.enterprise.crypto import PrpCrypto, WeChatCrypto
from wechatpy.enterprise.exceptions import InvalidCorpIdException
from wechatpy.exceptions import InvalidSignatureException

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
    """Bad base64, bad padding, wrong length prefix, bad UTF-8, bad XML or JSON, missing fields..."""

    status = 400


def _require_str(value: object, field: str) -> str:
    if not isinstance(value, str):
        raise Malformed(f"missing {field}")
    return value


class _Keeping:
    """A wechatpy cipher that keeps the (padded) plaintext it produced, for the strict checks: one AES
    pass, not two. The wrapped cipher is shared: it holds only the key and IV (each call makes its own
    context), so one per CallbackCrypto serves every thread."""

    __slots__ = ("cipher", "plain")

    def __init__(self, cipher: Any) -> None:
        self.cipher, self.plain = cipher, b""

    def decrypt(self, ciphertext: bytes) -> bytes:
        self.plain = self.cipher.decrypt(ciphertext)
        return self.plain

    def encrypt(self, plaintext: bytes) -> bytes:
        return bytes(self.cipher.encrypt(plaintext))


class _Prp(PrpCrypto):
    """wechatpy's enterprise PrpCrypto (its framing: random prefix, length, message, receive id, PKCS#7
    to 32 bytes), extended the way wechatpy's own tests extend it: it decrypts through a `_Keeping`
    cipher, and takes a given 16-byte random prefix when encrypting (known-answer vectors)."""

    def __init__(self, cipher: Any, random16: bytes | None = None) -> None:
        # BasePrpCrypto.__init__ only builds self.cipher from the key: the shared one is given instead
        self.cipher = _Keeping(cipher)
        self.random16 = random16

    @property
    def plain(self) -> bytes:
        return bytes(self.cipher.plain)

    def get_random_string(self) -> bytes:
        return self.random16 if self.random16 is not None else os.urandom(16)


class CallbackCrypto:
    def __init__(self, token: str, encoding_aes_key: str, receive_id: str) -> None:
        # wechatpy would take a bad key (a lenient base64 decoder, an assert on the length): checked here
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
        self._wechat: Any = WeChatCrypto(token, encoding_aes_key, receive_id)
        self._key: bytes = self._wechat.key
        self._iv = self._key[:16]
        self._cipher = WeChatCipher(self._key)  # wechatpy's AES-256-CBC, IV = key[:16]
        self._rid = receive_id
        self._receive_id = receive_id.encode("utf-8")

    def __repr__(self) -> str:  # never show the token or key
        return f"<CallbackCrypto receive_id={self._rid!r}>"

    # -- signature -------------------------------------------------------------------------------
    def signature(self, timestamp: str, nonce: str, encrypt: str) -> str:
        """The expected msg_signature, for our constant-time comparison (wechatpy's WeChatSigner computes
        the same, then compares with !=; this is half its cost on the hot path)."""
        parts = sorted([self._token, str(timestamp), str(nonce), str(encrypt)])
        return hashlib.sha1("".join(parts).encode("utf-8")).hexdigest()

    def _check_signature(self, msg_signature: object, timestamp: object, nonce: object, encrypt: object) -> None:
        if not isinstance(msg_signature, str) or not _HEX40.fullmatch(msg_signature):
            raise BadSignature("bad signature")
        timestamp = _require_str(timestamp, "timestamp")
        nonce = _require_str(nonce, "nonce")
        encrypt = _require_str(encrypt, "encrypt")
        try:
            expected = self.signature(timestamp, nonce, encrypt)
        except UnicodeError:  # a lone surrogate cannot have been signed
            raise BadSignature("bad signature") from None
        if not hmac.compare_digest(expected.encode("ascii"), msg_signature.lower().encode("ascii")):
            raise BadSignature("bad signature")

    # -- decryption ------------------------------------------------------------------------------
    def verify_url(self, msg_signature: str, timestamp: str, nonce: str, echostr: str) -> str:
        """GET URL verification: check the signature over ``echostr`` and return its plaintext
        (wechatpy's ``check_signature``)."""
        return self._open(msg_signature, timestamp, nonce, echostr, url_check=True)

    def decrypt(self, msg_signature: str, timestamp: str, nonce: str, encrypt: str) -> str:
        """Verify the signature (constant time), then decrypt (wechatpy's ``decrypt_message``);
        returns the inner message text."""
        return self._open(msg_signature, timestamp, nonce, encrypt, url_check=False)

    def _open(self, msg_signature: str, timestamp: str, nonce: str, encrypt: str, url_check: bool) -> str:
        self._check_signature(msg_signature, timestamp, nonce, encrypt)
        _check_ciphertext(encrypt)
        prp = _Prp(self._cipher)

        def through(_key: bytes) -> _Prp:
            return prp

        failure: CallbackError | None = None
        message = ""
        signature = msg_signature.lower()  # checked above; wechatpy compares exactly
        try:  # wechatpy's check_signature / decrypt_message, given our PrpCrypto (their crypto_class hook)
            if url_check:
                message = self._wechat._check_signature(signature, timestamp, nonce, encrypt, through)
            else:
                message = self._wechat._decrypt_message({"Encrypt": encrypt}, signature, timestamp, nonce, through)
        except InvalidSignatureException:
            raise BadSignature("bad signature") from None
        except InvalidCorpIdException:
            failure = BadSignature("wrong receive id")
        except UnicodeDecodeError:
            failure = Malformed("message is not valid UTF-8")
        except (struct.error, ValueError, IndexError, TypeError):
            failure = Malformed("bad plaintext")
        self._check_plaintext(prp.plain)
        if failure is not None:
            raise failure
        return str(message)

    def _check_plaintext(self, plain: bytes) -> None:
        """What wechatpy lets through: a bad padding, a length prefix beyond the plaintext, a receive id
        that is the tail of a longer message (a prefix too short: 400, not a wrong corp id)."""
        pad = plain[-1] if plain else 0
        if not 1 <= pad <= BLOCK or pad > len(plain) or plain[-pad:] != bytes([pad]) * pad:
            raise Malformed("bad padding")
        content = plain[:-pad]
        if len(content) < 20:
            raise Malformed("bad length prefix")
        (length,) = struct.unpack(">I", content[16:20])
        end = 20 + length
        if end > len(content):
            raise Malformed("bad length prefix")
        trailer = content[end:]
        if not hmac.compare_digest(trailer, self._receive_id):
            if self._receive_id and len(trailer) > len(self._receive_id) and trailer.endswith(self._receive_id):
                raise Malformed("bad length prefix")  # message bytes spill into the receive id
            raise BadSignature("wrong receive id")

    # -- encryption (tests, simulator, demo, passive replies): wechatpy's -----------------------------
    def encrypt(self, plaintext: str, nonce: str, timestamp: str, random16: bytes | None = None) -> tuple[str, str]:
        """Encrypt ``plaintext`` as WeCom would; returns ``(encrypt_b64, msg_signature)``."""
        if random16 is not None and (not isinstance(random16, (bytes, bytearray)) or len(random16) != 16):
            raise ValueError("random16 must be 16 bytes")
        prp = _Prp(self._cipher, None if random16 is None else bytes(random16))
        encrypt = prp.encrypt(plaintext, self._rid).decode("ascii")
        return encrypt, self.signature(str(timestamp), str(nonce), encrypt)

    def encrypt_body(self, plaintext: str, nonce: str, timestamp: str) -> tuple[bytes, dict]:
        """A complete XML callback: the POST body and the query arguments WeCom would send with it."""
        encrypt, sig = self.encrypt(plaintext, nonce, timestamp)
        body = f"<xml><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>".encode()
        return body, {"msg_signature": sig, "timestamp": str(timestamp), "nonce": str(nonce)}


def _check_ciphertext(encrypt: str) -> None:
    """Strict base64 of whole AES blocks (wechatpy's decoder skips stray characters)."""
    if not encrypt or len(encrypt) % 4 or not encrypt.isascii():
        raise Malformed("bad base64")
    try:
        raw = base64.b64decode(encrypt, validate=True)
    except (binascii.Error, ValueError):
        raise Malformed("bad base64") from None
    if not raw or len(raw) % 16:
        raise Malformed("bad ciphertext length")
