"""The leader console's state and effects (wecom_bot/console/ is its web face): the key that signs
its cookies, the single-use OAuth states bound to one browser, the 网页授权 code -> userid exchange
with WeCom (auth/getuserinfo, through WECOM_API_BASE_URL like every app call), and a change made on
the page, run as a command through the one command core (workers.commands.execute).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import time

import redis

from config.settings import Settings
from workers import commands, keys, outbound
from workers.connection import as_text
from workers.sender import default_sender

log = logging.getLogger(__name__)

STATE_MAX = 64  # a state longer than any we issue is not looked up at all


def secret_key(r: redis.Redis, settings: Settings) -> bytes:
    """BOT_SECRET_KEY, else a random key generated once and kept in Redis (every web process shares it)."""
    if settings.secret_key:
        return settings.secret_key.encode()
    r.set(keys.CONSOLE_SECRET, secrets.token_urlsafe(48), nx=True)
    return as_text(r.get(keys.CONSOLE_SECRET)).encode()


def _bind(browser: str) -> str:
    # only a hash of the browser's cookie is stored: the Redis value alone cannot be replayed as one
    return hashlib.sha256(browser.encode()).hexdigest()


def new_state(r: redis.Redis, browser: str, next_path: str) -> str:
    """A random OAuth state for this browser, remembering the page first asked for."""
    state = secrets.token_urlsafe(24)
    value = json.dumps({"browser": _bind(browser), "next": next_path})
    r.set(keys.console_state(state), value, ex=keys.CONSOLE_STATE_TTL)
    return state


def take_state(r: redis.Redis, state: str, browser: str) -> str | None:
    """The page to return to, when `state` is one we issued to this very browser, used now for the
    first time (GETDEL: a state read once is gone, whoever presented it); else None."""
    if not state or len(state) > STATE_MAX or not browser:
        return None
    raw = r.getdel(keys.console_state(state))
    if raw is None:
        return None
    data = json.loads(raw)
    if not hmac.compare_digest(str(data.get("browser", "")), _bind(browser)):
        return None
    return str(data.get("next") or "")


def userid_from_code(code: str) -> str | None:
    """WeCom's auth/getuserinfo: the userid a 网页授权 code stands for (None: refused, or not a member
    of the corp). The code itself is never logged."""
    if not code or len(code) > 512:
        return None
    out = default_sender().read("auth/getuserinfo", lambda c: c.get("auth/getuserinfo", params={"code": code}), "oauth")
    if not out.ok:
        log.warning("console sign-in refused by WeCom: errcode %s", out.errcode)
        return None
    userid = out.data.get("userid") or out.data.get("UserId")
    return str(userid) if userid else None


def run_change(r: redis.Redis, settings: Settings, userid: str, name: str, text: str, op: str) -> str:
    """One change from the page, as the command `text` sent privately by `userid`: the same parsing,
    permission check (workers/commands/roles.py), transaction and audit entry (via "console") as a
    command sent in WeCom. `op` is the form's own random id: a form posted twice changes once. The
    reply is returned for the page; anything else the command says (a notice to others) is sent."""
    msgid = f"console:{op}"
    event = {"source": "console", "userid": userid, "name": name, "msgid": msgid, "ts": time.time(), "text": text}
    out = commands.execute(r, settings, event, text)
    mine = f"cmd:{msgid}"
    replies = [m for m in out if m.get("id") == mine and m.get("msgtype") == "text"]
    others = [m for m in out if m not in replies]
    if others:
        outbound.post_many(r, others)
    return "\n".join(str(m.get("content", "")) for m in replies)
