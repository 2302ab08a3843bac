"""The message archive's settings (会话内容存档, WECOM_ARCHIVE_*).

All three of WECOM_ARCHIVE_SDK_PATH, WECOM_ARCHIVE_SECRET, WECOM_ARCHIVE_PRIVATE_KEY, or none. The
private key is PEM text (literal "\\n" allowed in env files) or the path to a PEM file; it may hold
several keys (key rotation: each is tried). A problem never quotes the key itself.
"""

from __future__ import annotations

import re
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from config.env import Env
from config.model import Settings

# The puller holds a 60 s lock (workers/keys.py ARCHIVE_LOCK_TTL_MS), renewed after each batch: one
# GetChatData call must end well inside it, leaving room for a token fetch inside the call and for the
# batch's decryption and inbox writes. A larger WECOM_ARCHIVE_TIMEOUT is capped here (with a note).
TIMEOUT_CAP = 25

_PEM_BLOCK = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.+?-----END [A-Z ]*PRIVATE KEY-----", re.S)


def load_archive(env: Env, s: Settings) -> None:
    s.archive_sdk_path = env.get("WECOM_ARCHIVE_SDK_PATH")
    s.archive_secret = env.get("WECOM_ARCHIVE_SECRET")
    s.archive_proxy = env.get("WECOM_ARCHIVE_PROXY")
    s.archive_proxy_password = env.get("WECOM_ARCHIVE_PROXY_PASSWORD")
    s.archive_timeout = env.integer("WECOM_ARCHIVE_TIMEOUT", 10, 1, 300)
    if s.archive_timeout > TIMEOUT_CAP:
        s.notes.append(
            f"WECOM_ARCHIVE_TIMEOUT={s.archive_timeout}: capped at {TIMEOUT_CAP} s, so that a GetChatData call "
            "ends inside the puller's 60 s lock"
        )
        s.archive_timeout = TIMEOUT_CAP
    s.archive_batch = env.integer("WECOM_ARCHIVE_BATCH", 1000, 1, 1000)
    raw_key = env.get("WECOM_ARCHIVE_PRIVATE_KEY")
    pem = _pem_text(env, raw_key)
    if pem:
        s.archive_private_key = _rsa_keys(env, pem)
    _check_complete(env, s, raw_key)


def _pem_text(env: Env, raw_key: str) -> str:
    """WECOM_ARCHIVE_PRIVATE_KEY as PEM text: the value itself, or the file it names."""
    if not raw_key:
        return ""
    if "-----BEGIN" in raw_key:
        return raw_key.replace("\\n", "\n")
    try:
        return Path(raw_key).expanduser().read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        env.problem(
            f"WECOM_ARCHIVE_PRIVATE_KEY: neither PEM text nor a readable PEM file "
            f"({type(exc).__name__} reading the path)"
        )
        return ""


def _rsa_keys(env: Env, pem: str) -> str:
    """The unencrypted RSA private keys in `pem`, one after the other ("" and a problem otherwise)."""
    blocks = _PEM_BLOCK.findall(pem)
    try:
        if blocks and all(isinstance(load_pem_private_key(b.encode(), password=None), RSAPrivateKey) for b in blocks):
            return "\n".join(blocks)
    except Exception:  # whatever the key's bytes make the parser raise, it is not a usable key
        pass
    env.problem(
        "WECOM_ARCHIVE_PRIVATE_KEY: not an unencrypted PEM RSA private key (the pair of the "
        "public key set in 管理后台 → 会话内容存档), nor the path to a file holding one"
    )
    return ""


def _check_complete(env: Env, s: Settings, raw_key: str) -> None:
    archive_vars = {
        "WECOM_ARCHIVE_SDK_PATH": s.archive_sdk_path,
        "WECOM_ARCHIVE_SECRET": s.archive_secret,
        "WECOM_ARCHIVE_PRIVATE_KEY": raw_key,
    }
    if not any(archive_vars.values()):
        return
    for name, value in archive_vars.items():
        if not value:
            env.problem(
                f"{name} is missing: the message archive needs WECOM_ARCHIVE_SDK_PATH, "
                "WECOM_ARCHIVE_SECRET and WECOM_ARCHIVE_PRIVATE_KEY (or none of them)"
            )
    if s.archive_sdk_path and not Path(s.archive_sdk_path).expanduser().is_file():
        env.problem(
            f"WECOM_ARCHIVE_SDK_PATH={s.archive_sdk_path!r}: no such file "
            "(the path to WeCom's libWeWorkFinanceSdk_C.so)"
        )
    if s.simulated:
        env.problem("WECOM_CORP_ID is missing: the message archive needs the real corp id")
