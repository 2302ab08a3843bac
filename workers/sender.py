"""The one client for every outbound WeCom call: gettoken, app messages, appchat, robot webhooks, uploads.

Everything goes through `settings.api_base_url` (the simulator in tests and demos). One
`requests.Session` per process with a connection pool sized for the outbox's thread pool.

The access_token is cached in Redis (`wb:token:<corp_id>:<agent_id>`, TTL expires_in - 300 s) and
shared by every process; a short SET NX lock keeps processes from fetching it at the same moment.
On 40014/42001 the cached token is dropped (only if it is still the one that failed), fetched again
once and the call repeated once: never more.

`send_once(msg)` makes one attempt and classifies it:
  ok       accepted by WeCom
  retry    failed for certain: 45009, -1, HTTP 5xx/429, connection refused, token still rejected
           after the refetch, any failure before the message itself was sent (token, upload)
  unknown  the send call timed out or the connection broke after the request went out
  fatal    any other errcode (93000 revoked robot key, 40058 too long, 60020 IP not allowed, ...)

Secrets (secret, access_token, webhook key) never appear in a log line, an exception message or an
Outcome: URLs are logged with their query values redacted, exception texts are scrubbed, and a
filter on urllib3's logger scrubs its debug lines too. BOT_DRY_RUN sends nothing and logs what
would have gone out.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import redis
import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.util.retry import Retry

from config.settings import Settings, get_settings
from workers import keys
from workers.connection import as_text, get_redis
from workers.redact import SecretMasker
from workers.scripts import script

log = logging.getLogger(__name__)

POOL_SIZE = 64
DEFAULT_TIMEOUT = 10.0  # read timeout of one call; BOT_HTTP_TIMEOUT overrides
CONNECT_TIMEOUT = 3.05
TOKEN_MARGIN = 300
TOKEN_WAIT = 10.0

TEXT_LIMIT = 2048
MARKDOWN_LIMIT = 4096  # robot markdown
APP_MARKDOWN_LIMIT = 2048  # message/send and appchat markdown

RETRY_ERRCODES = {-1, 45009, 45033}  # busy, frequency limit, too many concurrent calls
TOKEN_ERRCODES = {40014, 42001}
CONFIG_ERRCODES = {
    93000: "the robot's webhook key is invalid (robot removed from the group, or a wrong GROUP_<KEY>_WEBHOOK_KEY)",
    40001: "WECOM_SECRET is wrong",
    40013: "WECOM_CORP_ID is wrong",
    40056: "WECOM_AGENT_ID is wrong",
    60020: "this server's IP is not in the app's trusted IPs",
    48002: "the API is not allowed for this app",
    60011: "the app may not message this user (visibility)",
}

_QUERY_SECRET = re.compile(r"((?:access_token|corpsecret|secret|key)=)[^&\s'\"]+", re.I)


def redact_url(url: str) -> str:
    """The URL with the values of access_token, corpsecret and key replaced by ***."""
    return _QUERY_SECRET.sub(r"\1***", url)


def scrub(text: str, extra: list[str] | tuple[str, ...] = ()) -> str:
    """Remove every configured secret and every secret-looking query value from text."""
    text = redact_url(str(text))
    try:
        text = _masker(get_settings()).mask(text)
    except Exception:  # settings may be unloadable while reporting an error
        pass
    for v in [v for v in extra if v] + list(_seen_tokens()):
        if len(v) >= 6 and v in text:
            text = text.replace(v, "***")
    return text


def _masker(settings) -> SecretMasker:
    """The settings' secrets as one masker, built once per Settings object (not once per send)."""
    masker = getattr(settings, "_secret_masker", None)
    if masker is None:
        masker = SecretMasker(settings.secrets())
        object.__setattr__(settings, "_secret_masker", masker)
    return masker


_tokens_seen: set[str] = set()
_tokens_lock = threading.Lock()


def _seen_tokens() -> tuple[str, ...]:
    with _tokens_lock:
        return tuple(_tokens_seen)


def _remember_token(token: str) -> None:
    with _tokens_lock:
        if len(_tokens_seen) > 64:
            _tokens_seen.clear()
        _tokens_seen.add(token)


class _ScrubFilter(logging.Filter):
    """urllib3 logs request lines, query strings included, at DEBUG: scrub them."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a record that cannot even be formatted is left as it is
            return True
        clean = scrub(message)
        if clean != message:
            record.msg, record.args = clean, ()
        return True


for _logger_name in ("urllib3.connectionpool", "urllib3.util.retry", "urllib3.connection", "urllib3"):
    _logger = logging.getLogger(_logger_name)
    if not any(isinstance(f, _ScrubFilter) for f in _logger.filters):
        _logger.addFilter(_ScrubFilter())


@dataclass
class Outcome:
    kind: str  # ok | retry | unknown | fatal
    errcode: int | None = None
    error: str = ""
    http_status: int | None = None
    dry_run: bool = False
    refetched: bool = False
    data: dict = field(default_factory=dict, repr=False)

    @property
    def ok(self) -> bool:
        return self.kind == "ok"


class SendError(Exception):
    """Raised inside Sender for a failure before the message itself went out; carries an Outcome."""

    def __init__(self, outcome: Outcome):
        super().__init__(outcome.error)
        self.outcome = outcome


def http_timeout() -> float:
    try:
        return max(0.05, float(os.environ.get("BOT_HTTP_TIMEOUT", "") or DEFAULT_TIMEOUT))
    except ValueError:
        return DEFAULT_TIMEOUT


def _connect_failure(exc: BaseException) -> bool:
    """True when nothing was sent: the connection was never established."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    seen: set[int] = set()
    stack: list[BaseException | None] = [exc]
    while stack:
        e = stack.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, (NewConnectionError, ConnectTimeoutError, ConnectionRefusedError)):
            return True
        stack.extend([getattr(e, "reason", None), e.__cause__, e.__context__])
        stack.extend(a for a in getattr(e, "args", ()) if isinstance(a, BaseException))
    return False


def group_route(settings: Settings, group_key: str) -> tuple[str, str]:
    """("robot", webhook key) / ("appchat", chat id) / ("none", reason) for a group, read at send time."""
    g = settings.group(group_key or "")
    if g is None:
        return "none", f"unknown group {group_key!r}"
    if g.webhook_key:
        return "robot", g.webhook_key
    if g.chat_id:
        return "appchat", g.chat_id
    return "none", f"group {g.key!r} has neither GROUP_{g.key.upper()}_WEBHOOK_KEY nor _CHAT_ID"


def byte_limit(route: str, msgtype: str) -> int:
    if msgtype == "markdown":
        return MARKDOWN_LIMIT if route == "robot" else APP_MARKDOWN_LIMIT
    return TEXT_LIMIT


def mention_prefix(route: str, msgtype: str, mentions) -> str:
    """What goes before the content to @ people: `<@uid>` in robot markdown, plain `@名字` in appchat
    (which cannot @). Robot text uses mentioned_list instead, so no prefix."""
    mentions = [m for m in (mentions or []) if m]
    if not mentions or msgtype == "file":
        return ""
    if route == "robot" and msgtype == "markdown":
        return " ".join(f"<@{_uid(m)}>" for m in mentions) + "\n"
    if route == "appchat":
        names = " ".join(f"@{_name(m)}" for m in mentions)
        return names + ("\n" if msgtype == "markdown" else " ")
    return ""


def _uid(m) -> str:
    return m[0] if isinstance(m, (list, tuple)) else str(m)


def _name(m) -> str:
    if isinstance(m, (list, tuple)):
        return m[1] if len(m) > 1 and m[1] else m[0]
    return str(m)


class Sender:
    """One per process is enough (`default_sender()`); thread-safe."""

    def __init__(self, settings: Settings | None = None, r: redis.Redis | None = None, pool_size: int = POOL_SIZE):
        self.settings = settings or get_settings()
        self._r = r
        self.session = requests.Session()
        adapter = HTTPAdapter(
            pool_connections=4,
            pool_maxsize=pool_size,
            pool_block=False,
            max_retries=Retry(total=1, connect=1, read=0, status=0, redirect=0, other=0, raise_on_status=False),
        )
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers["User-Agent"] = "wecom-checkin-bot"

    # -- plumbing ------------------------------------------------------------------------------
    @property
    def r(self) -> redis.Redis:
        return self._r or get_redis()

    @property
    def token_key(self) -> str:
        return keys.token(self.settings.corp_id, self.settings.agent_id)

    def url(self, path: str) -> str:
        return self.settings.api_base_url + path

    def _request(self, method: str, path: str, params: dict, **kwargs) -> requests.Response:
        url = self.url(path)
        started = time.monotonic()
        try:
            resp = self.session.request(method, url, params=params, timeout=(CONNECT_TIMEOUT, http_timeout()), **kwargs)
        finally:
            log.debug("%s %s%s (%.0f ms)", method, redact_url(url), _qs(params), (time.monotonic() - started) * 1000)
        return resp

    # -- access token --------------------------------------------------------------------------
    def access_token(self, force: bool = False, bad: str | None = None) -> str:
        """The shared token; `bad` (a token WeCom rejected) is dropped first if still cached."""
        r = self.r
        if bad:
            script("out_cad", r)(keys=[self.token_key], args=[bad])
        deadline = time.monotonic() + TOKEN_WAIT
        lock_key = keys.token_lock(self.settings.corp_id, self.settings.agent_id)
        while True:
            if not force:
                cached = r.get(self.token_key)
                if cached:
                    token = as_text(cached)
                    _remember_token(token)
                    return token
            me = uuid.uuid4().hex
            if r.set(lock_key, me, nx=True, px=keys.TOKEN_LOCK_MS):
                try:
                    if not force or bad:
                        cached = r.get(self.token_key)
                        if cached:
                            token = as_text(cached)
                            _remember_token(token)
                            return token
                    return self._fetch_token()
                finally:
                    script("out_cad", r)(keys=[lock_key], args=[me])
            if time.monotonic() > deadline:
                # The lock holder is slow or dead and its lock has not expired yet: fetch anyway.
                return self._fetch_token()
            time.sleep(0.05)
            force = False  # someone else is fetching: their token will do

    def _fetch_token(self) -> str:
        s = self.settings
        try:
            resp = self._request("GET", "gettoken", {"corpid": s.corp_id, "corpsecret": s.secret})
        except requests.RequestException as exc:
            raise SendError(Outcome("retry", error=f"gettoken failed: {_exc_text(exc)}")) from None
        if resp.status_code >= 500 or resp.status_code == 429:
            raise SendError(Outcome("retry", http_status=resp.status_code, error=f"gettoken: HTTP {resp.status_code}"))
        data = _json(resp)
        if data is None:
            raise SendError(Outcome("retry", http_status=resp.status_code, error="gettoken: not JSON"))
        code = _errcode(data)
        if code != 0 or not data.get("access_token"):
            kind = "retry" if code in RETRY_ERRCODES else "fatal"
            raise SendError(
                Outcome(
                    kind,
                    errcode=code,
                    http_status=resp.status_code,
                    error=f"gettoken: errcode {code} {scrub(str(data.get('errmsg', '')))[:200]}",
                )
            )
        token = str(data["access_token"])
        _remember_token(token)
        ttl = max(60, int(data.get("expires_in") or 7200) - TOKEN_MARGIN)
        self.r.set(self.token_key, token, ex=ttl)
        log.info("fetched a new access_token (cached %d s)", ttl)
        return token

    # -- sending -------------------------------------------------------------------------------
    def send_once(self, msg: dict) -> Outcome:
        """One attempt at one outbound message (see workers.outbound for its shape)."""
        try:
            return self._send(msg)
        except SendError as exc:
            return exc.outcome
        except redis.RedisError as exc:
            # Only the token cache touches Redis here, before anything is sent.
            return Outcome("retry", error=f"redis unavailable for the token cache: {type(exc).__name__}")

    def _send(self, msg: dict) -> Outcome:
        s = self.settings
        msgtype = msg.get("msgtype", "text")
        if msgtype not in ("text", "markdown", "file"):
            return Outcome("fatal", error=f"unsupported msgtype {msgtype!r}")
        if msg.get("to") == "user":
            users = [u for u in msg.get("users") or [] if u]
            if not users:
                return Outcome("fatal", error="no recipients")
            route, target = "app", "|".join(users)
        else:
            route, target = group_route(s, msg.get("group", ""))
            if route == "none":
                return Outcome("fatal", error=target)
        content = msg.get("content") or ""
        mentions = msg.get("mentions") or []
        if msgtype != "file":
            content = mention_prefix(route, msgtype, mentions) + content
            limit = byte_limit(route, msgtype)
            raw = content.encode()
            if len(raw) > limit:
                # post() splits to fit; this only happens when the route changed in between.
                log.warning(
                    "outbound %s: %d bytes over the %d-byte limit of %s; truncated",
                    msg.get("id"),
                    len(raw),
                    limit,
                    route,
                )
                content = raw[:limit].decode(errors="ignore")
        where = _describe(route, msg)
        if s.dry_run:
            preview = (msg.get("file") or {}).get("name") if msgtype == "file" else content[:200]
            log.info("dry run: would send %s %s to %s: %s", msg.get("id"), msgtype, where, preview)
            return Outcome("ok", dry_run=True)

        if route == "robot":
            return self._robot(msg, msgtype, target, content, mentions)
        if route == "appchat":
            body = {"chatid": target, "msgtype": msgtype, "safe": 0}
            return self._app_call("appchat/send", body, msg, msgtype, content, where)
        body = {
            "touser": target,
            "msgtype": msgtype,
            "agentid": _agentid(s.agent_id),
            "enable_duplicate_check": 1,
            "duplicate_check_interval": 1800,
            "safe": 0,
        }
        return self._app_call("message/send", body, msg, msgtype, content, where)

    def _robot(self, msg, msgtype, key, content, mentions) -> Outcome:
        body: dict = {"msgtype": msgtype}
        if msgtype == "file":
            media_id = self._upload("webhook/upload_media", {"key": key, "type": "file"}, msg)
            body["file"] = {"media_id": media_id}
        elif msgtype == "text":
            body["text"] = {"content": content}
            ids = [_uid(m) for m in mentions if m]
            if ids:
                body["text"]["mentioned_list"] = ids
        else:
            body["markdown"] = {"content": content}
        return self._call("webhook/send", {"key": key}, body, _describe("robot", msg))

    def _app_call(self, path, body, msg, msgtype, content, where) -> Outcome:
        refetched = False
        token = self.access_token()
        if msgtype == "file":
            try:
                media_id = self._upload("media/upload", {"access_token": token, "type": "file"}, msg)
            except SendError as exc:
                if exc.outcome.errcode not in TOKEN_ERRCODES:
                    raise
                token, refetched = self.access_token(force=True, bad=token), True
                media_id = self._upload("media/upload", {"access_token": token, "type": "file"}, msg)
            body["file"] = {"media_id": media_id}
        else:
            body[msgtype] = {"content": content}
        outcome = self._call(path, {"access_token": token}, body, where)
        if outcome.errcode in TOKEN_ERRCODES and not refetched:
            log.info("access_token rejected (errcode %s): fetching a new one and repeating once", outcome.errcode)
            token = self.access_token(force=True, bad=token)
            outcome = self._call(path, {"access_token": token}, body, where)
            outcome.refetched = True
        if outcome.errcode in TOKEN_ERRCODES:
            # Rejected again right after a fresh fetch: give up this attempt; the outbox retries later.
            outcome.kind = "retry"
            outcome.error = f"access_token rejected again after a refetch (errcode {outcome.errcode})"
        return outcome

    def _upload(self, path: str, params: dict, msg: dict) -> str:
        info = msg.get("file") or {}
        file_path = Path(info.get("path") or "")
        name = info.get("name") or file_path.name
        try:
            content = file_path.read_bytes()
        except OSError as exc:
            raise SendError(Outcome("fatal", error=f"cannot read the file to send: {exc.strerror}")) from None
        try:
            resp = self._request("POST", path, params, files={"media": (name, content)})
        except requests.RequestException as exc:
            # Nothing was sent to anyone yet: an upload that failed or timed out is retried.
            raise SendError(Outcome("retry", error=f"upload failed: {_exc_text(exc)}")) from None
        if resp.status_code >= 500 or resp.status_code == 429:
            raise SendError(Outcome("retry", http_status=resp.status_code, error=f"upload: HTTP {resp.status_code}"))
        data = _json(resp) or {}
        code = _errcode(data)
        if code != 0 or not data.get("media_id"):
            kind = "retry" if code in RETRY_ERRCODES else "fatal"
            raise SendError(
                Outcome(
                    kind,
                    errcode=code,
                    http_status=resp.status_code,
                    error=f"upload: errcode {code} {scrub(str(data.get('errmsg', '')))[:200]}",
                )
            )
        return str(data["media_id"])

    def _call(self, path: str, params: dict, body: dict, where: str) -> Outcome:
        try:
            resp = self._request("POST", path, params, json=body)
        except requests.RequestException as exc:
            text = f"{path} to {where}: {_exc_text(exc)}"
            if _connect_failure(exc):
                return Outcome("retry", error=text)
            if isinstance(exc, requests.exceptions.Timeout):
                return Outcome("unknown", error=f"{path} to {where}: timed out; outcome unknown")
            return Outcome("unknown", error=text)
        status = resp.status_code
        if status >= 500 or status == 429:
            return Outcome("retry", http_status=status, error=f"{path} to {where}: HTTP {status}")
        data = _json(resp)
        if data is None:
            if status >= 400:
                return Outcome("fatal", http_status=status, error=f"{path} to {where}: HTTP {status}")
            return Outcome("unknown", http_status=status, error=f"{path} to {where}: HTTP {status}, not JSON")
        code = _errcode(data)
        errmsg = scrub(str(data.get("errmsg", "")))[:200]
        if code == 0:
            return Outcome("ok", errcode=0, http_status=status, data={k: data[k] for k in ("msgid",) if k in data})
        kind = "retry" if code in RETRY_ERRCODES else "fatal"
        return Outcome(kind, errcode=code, http_status=status, error=f"{path} to {where}: errcode {code} {errmsg}")


def _agentid(agent_id: str):
    return int(agent_id) if str(agent_id).isdigit() else agent_id


def _describe(route: str, msg: dict) -> str:
    if route == "app":
        users = msg.get("users") or []
        return f"app:{','.join(users[:3])}{'...' if len(users) > 3 else ''}"
    return f"{route}:{msg.get('group', '')}"


def _qs(params: dict) -> str:
    if not params:
        return ""
    return "?" + "&".join(
        f"{k}={'***' if k in ('access_token', 'corpsecret', 'key', 'secret') else v}" for k, v in params.items()
    )


def _json(resp: requests.Response) -> dict | None:
    try:
        data = resp.json()
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _errcode(data: dict) -> int:
    try:
        return int(data.get("errcode", 0))
    except (TypeError, ValueError):
        return -1


def _exc_text(exc: BaseException) -> str:
    kind = type(exc).__name__
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return f"{kind}: connect timed out"
    if isinstance(exc, requests.exceptions.Timeout):
        return f"{kind}: timed out"
    if _connect_failure(exc):
        return f"{kind}: connection failed"
    return f"{kind}: {scrub(str(exc))[:200]}"


# -- the per-process default ---------------------------------------------------------------------
_default: tuple[int, int, Sender] | None = None
_default_lock = threading.Lock()


def default_sender() -> Sender:
    """The process's Sender, rebuilt after a fork or when settings were reloaded."""
    global _default
    settings = get_settings()
    with _default_lock:
        if _default is None or _default[0] != os.getpid() or _default[1] != id(settings):
            _default = (os.getpid(), id(settings), Sender(settings))
        return _default[2]


def send_once(msg: dict, sender: Sender | None = None) -> Outcome:
    return (sender or default_sender()).send_once(msg)


def token_fingerprint(token: str) -> str:
    """A short, non-reversible tag for a token, for logs that must tell tokens apart."""
    return hashlib.sha256(token.encode()).hexdigest()[:8]
