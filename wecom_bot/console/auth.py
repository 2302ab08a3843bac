"""Sign-in to the console by WeCom 网页授权 (OAuth, scope snsapi_base), the session cookie and CSRF.

- A page asked for without a session redirects to WeCom's authorize URL with a random `state`,
  kept in Redis for ten minutes and bound to this browser (a hash of a random cookie of its own), so
  that a state cannot be used twice, nor by another browser, nor forged.
- /console/auth takes the state back (once), turns WeCom's `code` into a userid with
  auth/getuserinfo (through WECOM_API_BASE_URL) and sets the session: a cookie signed with
  BOT_SECRET_KEY (else a key generated once and kept in Redis), HttpOnly, SameSite=Lax, Secure when
  BOT_PUBLIC_URL is https, for twelve hours.
- Every POST carries a CSRF token derived from the session's own random id.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from urllib.parse import quote, urlencode

from flask import abort, redirect, request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from werkzeug.wrappers import Response

from config.settings import SIM_PATH, Settings, get_settings
from workers import console_store, keys
from workers.connection import get_redis

SESSION = "wb_console"
BROWSER = "wb_console_b"
FLASH = "wb_console_f"
COOKIE_PATH = "/console"
AUTHORIZE = "https://open.weixin.qq.com/connect/oauth2/authorize"


@dataclass(frozen=True)
class User:
    userid: str
    sid: str  # the session's random id: what its CSRF token is derived from


def _serializer(salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(console_store.secret_key(get_redis(), get_settings()), salt=salt)


def public_base(settings: Settings) -> str:
    """Where browsers reach this service: BOT_PUBLIC_URL; in simulator mode this request's own host
    (loopback only: the simulator's web listens on 127.0.0.1)."""
    if settings.public_url:
        return settings.public_url
    return request.host_url.rstrip("/") if settings.simulated else ""


def authorize_url(settings: Settings, state: str) -> str:
    """WeCom's authorize page; in simulator mode the simulator's stand-in for it (beside its API)."""
    redirect_uri = public_base(settings) + "/console/auth"
    query = urlencode(
        {
            "appid": settings.corp_id,
            "redirect_uri": redirect_uri,
            "response_type": "code",
            "scope": "snsapi_base",
            "state": state,
            "agentid": settings.agent_id,
        },
        quote_via=quote,
    )
    base = AUTHORIZE
    if settings.simulated and settings.api_base_url.endswith(SIM_PATH):
        base = settings.api_base_url[: -len("cgi-bin/")] + "connect/oauth2/authorize"
    return f"{base}?{query}#wechat_redirect"


def _secure(settings: Settings) -> bool:
    return settings.public_url.startswith("https://")


def _cookie(resp: Response, name: str, value: str, max_age: int | None = keys.CONSOLE_SESSION_TTL) -> None:
    resp.set_cookie(
        name,
        value,
        max_age=max_age,
        path=COOKIE_PATH,
        httponly=True,
        secure=_secure(get_settings()),
        samesite="Lax",
    )


def current_user() -> User | None:
    raw = request.cookies.get(SESSION, "")
    if not raw:
        return None
    try:
        data = _serializer("session").loads(raw, max_age=keys.CONSOLE_SESSION_TTL)
    except BadSignature:
        return None
    if not isinstance(data, dict) or not data.get("u") or not data.get("s"):
        return None
    return User(str(data["u"]), str(data["s"]))


def sign_in_redirect(next_path: str) -> Response:
    """To WeCom's authorize page, with a fresh state bound to this browser."""
    settings = get_settings()
    browser = request.cookies.get(BROWSER) or secrets.token_urlsafe(24)
    state = console_store.new_state(get_redis(), browser, next_path)
    resp = redirect(authorize_url(settings, state))
    _cookie(resp, BROWSER, browser)
    return resp


def finish_sign_in() -> Response:
    """/console/auth: check the state, ask WeCom who the code is, set the session, go back."""
    next_path = console_store.take_state(get_redis(), request.args.get("state", ""), request.cookies.get(BROWSER, ""))
    if next_path is None:
        abort(400, "这个登录链接已经用过或已过期，请从企业微信里重新打开页面。")
    userid = console_store.userid_from_code(request.args.get("code", ""))
    if userid is None:
        abort(403, "企业微信没有确认你的身份，请从企业微信里重新打开页面。")
    if not next_path.startswith(COOKIE_PATH + "/") or next_path.startswith("//"):
        next_path = COOKIE_PATH + "/"
    resp = redirect(next_path)
    token = _serializer("session").dumps({"u": userid, "s": secrets.token_urlsafe(16)})
    _cookie(resp, SESSION, token)
    return resp


def csrf_token(user: User) -> str:
    key = console_store.secret_key(get_redis(), get_settings())
    return hmac.new(key, f"csrf:{user.sid}".encode(), hashlib.sha256).hexdigest()


def check_csrf(user: User) -> None:
    sent = request.form.get("csrf", "")
    if not sent or not hmac.compare_digest(sent, csrf_token(user)):
        abort(400, "页面已过期，请刷新后再试。")


def set_flash(resp: Response, text: str) -> None:
    """The answer to a change, shown once by the next page (signed: a link cannot put words there)."""
    _cookie(resp, FLASH, _serializer("flash").dumps(text[:2000]), max_age=60)


def take_flash(resp: Response) -> None:
    resp.delete_cookie(FLASH, path=COOKIE_PATH)


def read_flash() -> str:
    raw = request.cookies.get(FLASH, "")
    if not raw:
        return ""
    try:
        return str(_serializer("flash").loads(raw, max_age=60))
    except BadSignature:
        return ""
