"""Opening one archive record: its random key decrypted with the company's RSA private key
(PKCS#1 v1.5, WECOM_ARCHIVE_PRIVATE_KEY, several keys tried in turn), then the message decrypted
by the SDK and read as JSON. A record that cannot be opened raises `RecordError`, whose text names
the kind of failure and never any content or key."""

from __future__ import annotations

import base64
import binascii
import json
import re

from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from workers.archive.sdk import ArchiveSdk, ArchiveSdkError

_PEM_BLOCK = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.+?-----END [A-Z ]*PRIVATE KEY-----", re.S)


class RecordError(Exception):
    """A record that cannot be opened; the text names the kind of failure, never content or keys."""


def load_private_keys(pem: str) -> list:
    return [load_pem_private_key(block.encode(), password=None) for block in _PEM_BLOCK.findall(pem or "")]


def open_record(sdk: ArchiveSdk, private_keys: list, record: dict) -> dict:
    """Decrypt one record into the message dict; RecordError when it cannot be done."""
    try:
        blob = base64.b64decode(record.get("encrypt_random_key") or "", validate=True)
        cipher = record["encrypt_chat_msg"]
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise RecordError("the record has no readable encrypt_random_key / encrypt_chat_msg") from None
    candidates = _random_keys(private_keys, blob)
    if not candidates:
        raise RecordError(wrong_key(record.get("publickey_ver")))
    return _decrypt_message(sdk, candidates, cipher, record.get("publickey_ver"))


def wrong_key(key_version: object) -> str:
    return (
        "the private key does not decrypt this record (check WECOM_ARCHIVE_PRIVATE_KEY / its version); "
        f"the record's publickey_ver is {key_version!r}"
    )


def _random_keys(private_keys: list, blob: bytes) -> list[str]:
    """The random keys `blob` decrypts to under each private key, the likely right one first."""
    candidates: list[str] = []
    for key in private_keys:
        try:
            raw = key.decrypt(blob, padding.PKCS1v15())
        except ValueError:
            continue
        text = _usable_key(raw)
        if text is not None and text not in candidates:
            candidates.append(text)
    candidates.sort(key=lambda k: not _plausible(k))
    return candidates


def _plausible(random_key: str) -> bool:
    """WeCom's random keys are short printable ASCII. What a wrong private key yields under PKCS#1
    v1.5 implicit rejection (OpenSSL 3.2 and later: no error, pseudo-random bytes) is not."""
    return random_key.isascii() and random_key.isprintable()


def _usable_key(raw: bytes) -> str | None:
    """The random key goes to DecryptData as a C string: it cannot be empty or hold a NUL. (PKCS#1
    v1.5 decryption with a wrong key does not always raise: implicit rejection returns pseudo-random
    bytes, which then fail here or in DecryptData.) Latin-1 keeps the bytes as they are."""
    if not raw or len(raw) > 512 or b"\0" in raw:
        return None
    return raw.decode("latin-1")


def _decrypt_message(sdk: ArchiveSdk, candidates: list[str], cipher: str, key_version: object) -> dict:
    """The message under the first random key the SDK accepts, read as a JSON object. When every
    candidate fails and none looked like a random key, the private key is what is wrong."""
    failure = ""
    for random_key in candidates:
        try:
            text = sdk.decrypt_data(random_key, cipher)
        except ArchiveSdkError as exc:
            if _plausible(random_key) and not failure:
                failure = f"DecryptData failed with code {exc.code}"
            continue
        except Exception:
            if _plausible(random_key) and not failure:
                failure = "DecryptData failed"
            continue
        try:
            msg = json.loads(text, strict=False)  # the SDK may leave control characters (line breaks) raw
        except (TypeError, ValueError):
            raise RecordError("the decrypted message is not JSON") from None
        if not isinstance(msg, dict):
            raise RecordError("the decrypted message is not a JSON object")
        return msg
    if not failure:
        raise RecordError(wrong_key(key_version))
    raise RecordError(f"{failure}: the SDK refused the message under the random key that the private key gave")
