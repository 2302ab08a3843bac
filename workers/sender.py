"""The one client for every outbound WeCom call: gettoken, app messages, appchat, uploads, the
directory (user/get), open userids, robot webhooks and the AI bot's response_url.

Everything goes through `settings.api_base_url` (the simulator in tests and demos). One
`requests.Session` per process with a connection pool sized for the outbox's thread pool.

App API calls (gettoken, message/send, appchat/send, media/upload, user/get,
batch/openuserid_to_userid) go through wechatpy's enterprise `WeChatClient` (`WeComClient` below),
subclassed where wechatpy 1.8.18 falls short: its gettoken URL ignores the API base, its retry on a
rejected token recurses without bound, its token would live in one process, and its requests have
no timeout. Robot webhooks (wechatpy has no webhook API) and the AI bot's response_url are posted by
this module directly, on the same session.

The access_token is cached in Redis (`wb:token:<corp_id>:<agent_id>`, TTL expires_in - 300 s; the
client's wechatpy session storage) and shared by every process; a short SET NX lock keeps processes
from fetching it at the same moment. On 40014/42001 the cached token is dropped (only if it is still
the one that failed), fetched again once and the call repeated once: never more.

`send_once(msg)` makes one attempt and classifies it:
  ok       accepted by WeCom
  retry    failed for certain: 45009, -1, HTTP 5xx/429, connection refused, token still rejected
           after the refetch, any failure before the message itself was sent (token, upload)
  unknown  the send call timed out or the connection broke after the request went out
  fatal    any other errcode (93000 revoked robot key, 40058 too long, 60020 IP not allowed, ...)

A group post answering an AI-bot post (`msg["aibot"]` = that post's msgid) goes through the post's
response_url (workers/aibot.py keeps it in Redis, never in a job or a log) when the group has no
robot webhook key: markdown, usable once within an hour. A response_url that WeCom refuses (expired,
used) falls back to the group's robot if it has one by then, else the send is fatal with the reason.
One that answered is deleted at once (spent); after a timed-out attempt a refusal is not sent again
elsewhere (the first attempt may have arrived).

Secrets (secret, access_token, webhook key, response_code) never appear in a log line, an exception
message or an Outcome: URLs are logged with their query values redacted, exception texts are
scrubbed, and a filter on urllib3's and wechatpy's loggers scrubs their lines too. BOT_DRY_RUN
sends nothing and logs what would have gone out.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import certifi
import redis
import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError, HTTPError, NewConnectionError
from urllib3.util.retry import Retry
from wechatpy.enterprise import WeChatClient
from wechatpy.exceptions import WeChatClientException
from wechatpy.session import SessionStorage

from config.model import DEFAULT_API_BASE_URL
from config.settings import Settings, get_settings
from workers import keys
from workers.connection import as_text, get_redis
from workers.redact import SecretMasker
from workers.scripts import script

log = logging.getLogger(__name__)

POOL_SIZE = 64
USER_AGENT = "wecom-checkin-bot"
# one more try of a connection never made (nothing was sent); a request that went out is never repeated here
RETRIES = Retry(total=1, connect=1, read=0, status=0, redirect=0, other=0, raise_on_status=False)
_JSON_HEADERS = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
DEFAULT_TIMEOUT = 10.0  # read timeout of one call; BOT_HTTP_TIMEOUT overrides
CONNECT_TIMEOUT = 3.05
TOKEN_MARGIN = 300
TOKEN_WAIT = 10.0

TEXT_LIMIT = 2048
MARKDOWN_LIMIT = 4096  # robot markdown, and the AI bot's response_url (markdown only)
APP_MARKDOWN_LIMIT = 2048  # message/send and appchat markdown
IMAGE_LIMIT = 2 * 1024 * 1024  # a robot's image message (base64 of at most 2 MB of JPG/PNG), and ours everywhere
MEDIA_TYPES = ("file", "image")  # carry no text: no @-prefix, no splitting, never through a response_url

RETRY_ERRCODES = {-1, 45009, 45033}  # busy, frequency limit, too many concurrent calls
TOKEN_ERRCODES = {40014, 42001}
# wechatpy 1.8.18 retries these (and 40001) itself, without bound: WeComClient takes them over
_WECHATPY_RETRIED = TOKEN_ERRCODES | {40001}
SECRET_PARAMS = ("access_token", "corpsecret", "secret", "key", "response_code")
CONFIG_ERRCODES = {
    93000: "the robot's webhook key is invalid (robot removed from the group, or a wrong GROUP_<KEY>_WEBHOOK_KEY)",
    40001: "WECOM_SECRET is wrong",
    40013: "WECOM_CORP_ID is wrong",
    40056: "WECOM_AGENT_ID is wrong",
    60020: "this server's IP is not in the app's trusted IPs",
    48002: "the API is not allowed for this app",
    60011: "the app may not message this user (visibility)",
}

_QUERY_SECRET = re.compile(r"((?:access_token|corpsecret|secret|key|response_code)=)[^&\s'\"]+", re.I)


def redact_url(url: str) -> str:
    """The URL with the values of access_token, corpsecret, key and response_code replaced by ***."""
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
    """urllib3 logs request lines, query strings included, at DEBUG (wechatpy may log what it
    cannot decode): scrub them."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a record that cannot even be formatted is left as it is
            return True
        clean = scrub(message)
        if clean != message:
            record.msg, record.args = clean, ()
        return True


for _logger_name in (
    "urllib3.connectionpool",
    "urllib3.util.retry",
    "urllib3.connection",
    "urllib3",
    "requests",
    "wechatpy",
    "wechatpy.client.base",
):
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


def message_route(settings: Settings, msg: dict) -> tuple[str, str]:
    """How a group post goes out: its group's route, except a text answering an AI-bot post
    (`msg["aibot"]`) in a group without a robot: ("aibot", that post's msgid)."""
    route, target = group_route(settings, msg.get("group", ""))
    if route == "appchat" and msg.get("aibot") and msg.get("msgtype", "text") not in MEDIA_TYPES:
        return "aibot", str(msg["aibot"])
    return route, target


def byte_limit(route: str, msgtype: str) -> int:
    if route == "aibot":
        return MARKDOWN_LIMIT  # sent as markdown whatever the msgtype
    if msgtype == "markdown":
        return MARKDOWN_LIMIT if route == "robot" else APP_MARKDOWN_LIMIT
    return TEXT_LIMIT


def mention_prefix(route: str, msgtype: str, mentions) -> str:
    """What goes before the content to @ people: `<@uid>` in robot markdown, plain `@名字` in appchat
    and AI-bot replies (which cannot @). Robot text uses mentioned_list instead, so no prefix."""
    mentions = [m for m in (mentions or []) if m]
    if not mentions or msgtype in MEDIA_TYPES:
        return ""
    if route == "robot" and msgtype == "markdown":
        return " ".join(f"<@{_uid(m)}>" for m in mentions) + "\n"
    if route in ("appchat", "aibot"):
        names = " ".join(f"@{_name(m)}" for m in mentions)
        return names + ("\n" if msgtype == "markdown" else " ")
    return ""


def _uid(m) -> str:
    return m[0] if isinstance(m, (list, tuple)) else str(m)


def _name(m) -> str:
    if isinstance(m, (list, tuple)):
        return m[1] if len(m) > 1 and m[1] else m[0]
    return str(m)


# -- wechatpy, where 1.8.18 falls short ----------------------------------------------------------------
class RedisTokenStorage(SessionStorage):
    """wechatpy's session storage on the service's Redis, shared by every process: the access_token
    as a plain string under keys.token(corp_id, agent_id) (WeComClient.access_token_key)."""

    def __init__(self, sender: Sender):
        self._sender = sender

    def get(self, key, default=None):
        raw = self._sender.r.get(key)
        return default if raw is None else as_text(raw)

    def set(self, key, value, ttl=None):
        if value is None:
            return
        self._sender.r.set(key, value, ex=int(ttl) if ttl else None)

    def delete(self, key):
        self._sender.r.delete(key)


class WeComClient(WeChatClient):
    """wechatpy's enterprise client for one Sender, with what 1.8.18 lacks:

    - every call, gettoken too, under WECOM_API_BASE_URL (1.8.18 hard-codes qyapi.weixin.qq.com for
      gettoken) and with the service's timeouts (1.8.18 sets none);
    - the token in Redis, fetched under the Sender's lock (`access_token` is Sender.access_token), so
      that many processes fetch it once;
    - a token WeCom rejects (40014, 42001) is dropped, fetched again and the call repeated ONCE per
      attempt (`begin()` starts an attempt); 1.8.18 recurses without bound, on 40001 too;
    - its request lines are logged with the query's secrets redacted.
    """

    def __init__(self, sender: Sender):
        self._sender = sender
        self._local = threading.local()
        settings = sender.settings
        super().__init__(settings.corp_id, settings.secret, session=RedisTokenStorage(sender), auto_retry=True)
        self.API_BASE_URL = settings.api_base_url
        self._http = sender.session

    @property
    def access_token_key(self) -> str:
        return self._sender.token_key

    @property
    def access_token(self) -> str:
        return self._sender.access_token()

    # -- one attempt: at most one refetch -------------------------------------------------------
    def begin(self) -> None:
        self._local.refetched = False

    @property
    def refetched(self) -> bool:
        return bool(getattr(self._local, "refetched", False))

    # -- gettoken ---------------------------------------------------------------------------------
    def fetch_access_token(self) -> dict:
        """gettoken under the API base; the token stored for expires_in - TOKEN_MARGIN seconds.
        Every failure is a SendError carrying its Outcome."""
        params = {"corpid": self.corp_id, "corpsecret": self.secret}
        url = self.API_BASE_URL + "gettoken"
        started = time.monotonic()
        try:
            resp = self._http.get(url, params=params, timeout=(CONNECT_TIMEOUT, http_timeout()))
        except requests.RequestException as exc:
            raise SendError(Outcome("retry", error=f"gettoken failed: {_exc_text(exc)}")) from None
        finally:
            log.debug("GET %s%s (%.0f ms)", redact_url(url), _qs(params), (time.monotonic() - started) * 1000)
        _retry_on_http(resp, "gettoken")
        data = _json(resp)
        if data is None:
            raise SendError(Outcome("retry", http_status=resp.status_code, error="gettoken: not JSON"))
        token = _required(resp, data, "gettoken", "access_token")
        _remember_token(token)
        expires_in = int(data.get("expires_in") or 7200)
        ttl = max(60, expires_in - TOKEN_MARGIN)
        self.session.set(self.access_token_key, token, ttl)
        self.expires_at = int(time.time()) + ttl
        log.info("fetched a new access_token (cached %d s)", ttl)
        return {"access_token": token, "expires_in": expires_in, "cached": ttl}

    # -- requests -------------------------------------------------------------------------------
    def _request(self, method, url_or_endpoint, **kwargs):
        if url_or_endpoint.startswith(("http://", "https://")):  # the repeat after a refetch
            kwargs.pop("api_base_url", None)
            shown = url_or_endpoint
        else:
            shown = kwargs.setdefault("api_base_url", self.API_BASE_URL) + url_or_endpoint
        kwargs.setdefault("timeout", (CONNECT_TIMEOUT, http_timeout()))
        params = kwargs.setdefault("params", {})
        started = time.monotonic()
        try:
            return super()._request(method, url_or_endpoint, **kwargs)
        finally:
            log.debug(
                "%s %s%s (%.0f ms)",
                str(method).upper(),
                redact_url(shown),
                _qs(params if isinstance(params, dict) else {}),
                (time.monotonic() - started) * 1000,
            )

    def _handle_result(self, res, method=None, url=None, result_processor=None, **kwargs):
        result = res if isinstance(res, dict) else self._decode_result(res)
        code = _errcode(result) if isinstance(result, dict) and "errcode" in result else 0
        if code not in _WECHATPY_RETRIED:
            return super()._handle_result(res, method, url, result_processor, **kwargs)
        params = kwargs.get("params")
        if code in TOKEN_ERRCODES and not self.refetched and isinstance(params, dict):
            self._local.refetched = True
            log.info("access_token rejected (errcode %s): fetching a new one and repeating once", code)
            params["access_token"] = self._sender.access_token(force=True, bad=params.get("access_token"))
            return self._request(method=method, url_or_endpoint=url, result_processor=result_processor, **kwargs)
        raise WeChatClientException(
            code,
            scrub(str(result.get("errmsg", code))),
            client=self,
            request=getattr(res, "request", None),
            response=res if isinstance(res, requests.Response) else None,
        )


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
            max_retries=RETRIES,
        )
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers["User-Agent"] = USER_AGENT
        # Every call of this session goes to the one API base: read the proxy and CA settings of the
        # environment once here, not on each call (requests looks them up per call, ~8 % of a busy
        # worker's CPU in bench/e2e.py's profile)
        self.session.proxies = requests.utils.get_environ_proxies(self.settings.api_base_url)
        self.session.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
        self.session.trust_env = False
        self._json_pool = _json_pool(self.session, self.settings.api_base_url, pool_size)
        self.client = WeComClient(self)

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
        """A call outside wechatpy (robot webhooks, the AI bot's response_url)."""
        url = self.url(path)
        started = time.monotonic()
        try:
            resp = self.session.request(method, url, params=params, timeout=(CONNECT_TIMEOUT, http_timeout()), **kwargs)
        finally:
            log.debug("%s %s%s (%.0f ms)", method, redact_url(url), _qs(params), (time.monotonic() - started) * 1000)
        return resp

    def _post_json(self, path: str, params: dict, body: dict) -> tuple[int, bytes]:
        """POST a JSON body (robot webhooks, the AI bot's response_url): (HTTP status, body bytes).

        The hot path of every group reply, so it goes straight to urllib3 (the pool requests itself
        sits on): requests' per-call preparation (its hooks, cookies, header dicts and protocol
        isinstance checks) cost more CPU than the call itself (bench/profile_sending.py). Raises
        urllib3's HTTPError (see _transport_outcome)."""
        url = self.url(path) + ("?" + urlencode(params) if params else "")
        started = time.monotonic()
        try:
            resp = self._json_pool.request(
                "POST",
                url,
                body=json.dumps(body, ensure_ascii=False).encode("utf-8"),
                headers=_JSON_HEADERS,
                timeout=urllib3.Timeout(connect=CONNECT_TIMEOUT, read=http_timeout()),
            )
        finally:
            if log.isEnabledFor(logging.DEBUG):
                log.debug("POST %s%s (%.0f ms)", redact_url(url), _qs(params), (time.monotonic() - started) * 1000)
        return resp.status, resp.data

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
        return str(self.client.fetch_access_token()["access_token"])

    # -- app API calls through wechatpy -----------------------------------------------------------
    def api(self, path: str, call: Callable[[WeComClient], Any], where: str = "") -> Outcome:
        """One app API call through the wechatpy client (`call(client)`), classified; the answer is
        in the Outcome's data. At most one token refetch per attempt (`client.begin()` starts one)."""
        where = where or "app"
        try:
            result = call(self.client)
        except requests.RequestException as exc:
            text = f"{path} to {where}: {_exc_text(exc)}"
            if _connect_failure(exc):
                return Outcome("retry", error=text, refetched=self.client.refetched)
            if isinstance(exc, requests.exceptions.Timeout):
                return Outcome("unknown", error=f"{path} to {where}: timed out; outcome unknown")
            return Outcome("unknown", error=text)
        except WeChatClientException as exc:
            outcome = _client_failure(path, where, exc)
            outcome.refetched = self.client.refetched
            return outcome
        if not isinstance(result, dict):
            status = getattr(result, "status_code", None)
            return Outcome("unknown", http_status=status, error=f"{path} to {where}: HTTP {status}, not JSON")
        return Outcome("ok", errcode=0, http_status=200, refetched=self.client.refetched, data=result)

    def read(self, path: str, call: Callable[[WeComClient], Any], where: str = "") -> Outcome:
        """An app API call that reads (the directory, open userids): one attempt, never raising."""
        try:
            self.client.begin()
            return self.api(path, call, where)
        except SendError as exc:  # the token could not be had
            return exc.outcome
        except redis.RedisError as exc:
            return Outcome("retry", error=f"redis unavailable for the token cache: {type(exc).__name__}")

    def user_get(self, userid: str) -> Outcome:
        """user/get: the member's directory entry (its `name`) in the Outcome's data; 60111 an unknown userid."""
        return self.read("user/get", lambda c: c.user.get(userid), f"user:{userid}")

    def openuserid_to_userid(self, open_userids: list[str]) -> Outcome:
        """batch/openuserid_to_userid (at most 1,000 ids): `userid_list` [{open_userid, userid}] and
        `invalid_open_userid_list` in the Outcome's data."""
        body = {"open_userid_list": list(open_userids), "source_agentid": _agentid(self.settings.agent_id)}
        return self.read("batch/openuserid_to_userid", lambda c: c.post("batch/openuserid_to_userid", data=body))

    # -- sending -------------------------------------------------------------------------------
    def send_once(self, msg: dict) -> Outcome:
        """One attempt at one outbound message (see workers.outbound for its shape)."""
        try:
            return self._send(msg)
        except SendError as exc:
            return exc.outcome
        except redis.RedisError as exc:
            # The token cache and the AI bot's response_url are read before anything is sent.
            return Outcome("retry", error=f"redis unavailable for the token cache: {type(exc).__name__}")

    def _send(self, msg: dict) -> Outcome:
        s = self.settings
        msgtype = msg.get("msgtype", "text")
        if msgtype not in ("text", "markdown", *MEDIA_TYPES):
            return Outcome("fatal", error=f"unsupported msgtype {msgtype!r}")
        if msg.get("to") == "user":
            users = [u for u in msg.get("users") or [] if u]
            if not users:
                return Outcome("fatal", error="no recipients")
            route, target = "app", "|".join(users)
        else:
            route, target = message_route(s, msg)
            if route == "none":
                return Outcome("fatal", error=target)
        content = self._content(route, msg)
        where = _describe(route, msg)
        if s.dry_run:
            preview = (msg.get(msgtype) or {}).get("name") if msgtype in MEDIA_TYPES else content[:200]
            log.info("dry run: would send %s %s to %s: %s", msg.get("id"), msgtype, where, preview)
            return Outcome("ok", dry_run=True)

        if route == "robot":
            return self._robot(msg, msgtype, target, content)
        if route == "aibot":
            return self._aibot(msg, target, content, where)
        if route == "appchat":
            return self._app_call(
                "appchat/send", lambda c, part: c.appchat.send(target, msgtype, **part), msg, msgtype, content, where
            )
        extra = {"enable_duplicate_check": 1, "duplicate_check_interval": 1800, "safe": 0}
        return self._app_call(
            "message/send",
            lambda c, part: c.message.send(
                _agentid(s.agent_id), target, msg={"msgtype": msgtype, msgtype: part, **extra}
            ),
            msg,
            msgtype,
            content,
            where,
        )

    def _content(self, route: str, msg: dict) -> str:
        """The text as it goes out on `route`: the @-prefix first, cut to the route's byte limit."""
        msgtype = msg.get("msgtype", "text")
        content = msg.get("content") or ""
        if msgtype in MEDIA_TYPES:
            return content
        content = mention_prefix(route, msgtype, msg.get("mentions") or []) + content
        limit = byte_limit(route, msgtype)
        raw = content.encode()
        if len(raw) > limit:
            # post() splits to fit; this only happens when the route changed in between.
            log.warning(
                "outbound %s: %d bytes over the %d-byte limit of %s; truncated", msg.get("id"), len(raw), limit, route
            )
            content = raw[:limit].decode(errors="ignore")
        return content

    def _robot(self, msg, msgtype, key, content) -> Outcome:
        body: dict = {"msgtype": msgtype}
        if msgtype == "file":
            media_id = self._upload("webhook/upload_media", {"key": key, "type": "file"}, msg)
            body["file"] = {"media_id": media_id}
        elif msgtype == "image":
            data = self._image_bytes(msg)
            body["image"] = {"base64": base64.b64encode(data).decode(), "md5": hashlib.md5(data).hexdigest()}
        elif msgtype == "text":
            body["text"] = {"content": content}
            ids = [_uid(m) for m in msg.get("mentions") or [] if m]
            if ids:
                body["text"]["mentioned_list"] = ids
        else:
            body["markdown"] = {"content": content}
        return self._call("webhook/send", {"key": key}, body, _describe("robot", msg))

    def _app_call(self, path: str, send: Callable[[WeComClient, dict], Any], msg, msgtype, content, where) -> Outcome:
        """message/send or appchat/send through wechatpy (`send(client, part)`, part the msgtype's
        object), a file uploaded first (media/upload); one token refetch for the whole attempt."""
        self.client.begin()
        if msgtype in MEDIA_TYPES:
            part = {"media_id": self._app_upload(msg)}
        else:
            part = {"content": content}
        outcome = self.api(path, lambda c: send(c, part), where)
        if outcome.ok:
            outcome.data = {k: outcome.data[k] for k in ("msgid",) if k in outcome.data}
        if outcome.errcode in TOKEN_ERRCODES:
            # Rejected again right after a fresh fetch: give up this attempt; the outbox retries later.
            outcome.kind = "retry"
            outcome.error = f"access_token rejected again after a refetch (errcode {outcome.errcode})"
        return outcome

    def _app_upload(self, msg: dict) -> str:
        """media/upload through wechatpy: the media_id, or a SendError (nothing was sent to anyone yet:
        a failed or timed-out upload is retried)."""
        kind = "image" if msg.get("msgtype") == "image" else "file"
        name, content = (_image_name(msg), self._image_bytes(msg)) if kind == "image" else _file_of(msg)
        up = self.api("media/upload", lambda c: c.media.upload(kind, (name, content)), "upload")
        if up.ok and up.data.get("media_id"):
            return str(up.data["media_id"])
        if up.ok:
            raise SendError(Outcome("fatal", errcode=0, error="upload: no media_id in the answer"))
        if up.kind == "unknown" or up.errcode in TOKEN_ERRCODES:
            up.kind = "retry"
        up.error = "upload failed: " + up.error
        raise SendError(up)

    def _image_bytes(self, msg: dict) -> bytes:
        """The picture's bytes, rendered once for its slot and cached in Redis (workers.pictures)."""
        data = self.r.get(str((msg.get("image") or {}).get("key") or ""))
        if data is None:
            raise SendError(Outcome("fatal", error="the picture is no longer cached (expired after its slot)"))
        if len(data) > IMAGE_LIMIT:
            raise SendError(Outcome("fatal", error=f"the picture is {len(data)} bytes, over WeCom's 2 MB"))
        return data if isinstance(data, bytes) else data.encode()

    def _upload(self, path: str, params: dict, msg: dict) -> str:
        """The robot's upload (webhook/upload_media): the media_id, or a SendError."""
        name, content = _file_of(msg)
        try:
            resp = self._request("POST", path, params, files={"media": (name, content)})
        except requests.RequestException as exc:
            # Nothing was sent to anyone yet: an upload that failed or timed out is retried.
            raise SendError(Outcome("retry", error=f"upload failed: {_exc_text(exc)}")) from None
        _retry_on_http(resp, "upload")
        return _required(resp, _json(resp) or {}, "upload", "media_id")

    # -- the AI bot's response_url ----------------------------------------------------------------
    def _aibot(self, msg: dict, post: str, content: str, where: str) -> Outcome:
        """Answer an AI-bot post through its response_url (markdown, once, within the hour)."""
        key = keys.aibot_url(post)
        url_raw, tried, spent = self.r.hmget(key, "url", "tried", "spent")
        if url_raw is None:
            return self._aibot_fallback(msg, post, "its response_url has expired (an hour)")
        if spent:
            return self._aibot_fallback(msg, post, "its response_url answered once already")
        target = _response_target(self.settings, as_text(url_raw))
        if target is None:
            return self._aibot_fallback(msg, post, "its response_url is not on the WeCom API")
        path, params = target
        body = {"msgtype": "markdown", "markdown": {"content": content}}
        outcome = self._call(path, params, body, where)
        if outcome.ok:
            self.r.hset(key, "spent", 1)  # WeCom takes one answer per response_url
            return outcome
        if outcome.kind == "unknown":
            self.r.hset(key, "tried", 1)  # it may have arrived: a refusal next time does not mean expired
            return outcome
        if outcome.kind == "retry":
            return outcome  # failed for certain: the response_url is still unused
        refused = f"errcode {outcome.errcode}" if outcome.errcode is not None else f"HTTP {outcome.http_status}"
        if tried:
            outcome.error = (
                f"{where}: the response_url of post {post} refused an answer ({refused}) after an attempt "
                "whose outcome is unknown: it may have arrived; not sent again another way"
            )
            return outcome
        self.r.hset(key, "spent", 1)
        fallback = self._aibot_fallback(msg, post, f"its response_url refused the answer ({refused}): expired or used")
        if not fallback.ok and fallback.errcode is None:
            fallback.errcode, fallback.http_status = outcome.errcode, outcome.http_status
        return fallback

    def _aibot_fallback(self, msg: dict, post: str, why: str) -> Outcome:
        """An AI-bot answer whose response_url cannot be used: through the group's robot if it has one
        now, else fatal with the reason (the failed registry keeps it)."""
        group = str(msg.get("group", ""))
        route, key = group_route(self.settings, group)
        if route == "robot":
            log.info("outbound %s: AI-bot post %s: %s; sent through the group's robot", msg.get("id"), post, why)
            msgtype = msg.get("msgtype", "text")
            return self._robot(msg, msgtype, key, self._content("robot", msg))
        return Outcome(
            "fatal",
            error=f"AI-bot reply in group {group}: {why}, and the group has no robot webhook key to fall back on "
            f"(GROUP_{group.upper()}_WEBHOOK_KEY)",
        )

    def _call(self, path: str, params: dict, body: dict, where: str) -> Outcome:
        try:
            status, payload = self._post_json(path, params, body)
        except HTTPError as exc:
            return _transport_outcome(exc, f"{path} to {where}")
        if status >= 500 or status == 429:
            return Outcome("retry", http_status=status, error=f"{path} to {where}: HTTP {status}")
        data = _json_bytes(payload)
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


def _transport_outcome(exc: HTTPError, what: str) -> Outcome:
    """A JSON post that got no HTTP answer: nothing sent when the connection was never made (retry),
    else the outcome is unknown (a timeout after the request went out, a connection cut mid-way)."""
    text = f"{what}: {_exc_text(exc)}"
    if _connect_failure(exc):
        return Outcome("retry", error=text)
    if _timed_out(exc):
        return Outcome("unknown", error=f"{what}: timed out; outcome unknown")
    return Outcome("unknown", error=text)


def _json_pool(session: requests.Session, base_url: str, size: int) -> urllib3.PoolManager:
    """urllib3's pool for the JSON posts, with the session's proxy and CA settings (read once from the
    environment in Sender.__init__) and the same retry rule (RETRIES)."""
    verify = session.verify
    tls: dict[str, Any] = {}
    if base_url.startswith("https:"):
        tls = (
            {"cert_reqs": "CERT_NONE"}
            if verify is False
            else {"cert_reqs": "CERT_REQUIRED", "ca_certs": verify if isinstance(verify, str) else certifi.where()}
        )
    proxy = session.proxies.get("https" if base_url.startswith("https:") else "http")
    if proxy:
        return urllib3.ProxyManager(proxy, num_pools=4, maxsize=size, block=False, retries=RETRIES, **tls)
    return urllib3.PoolManager(num_pools=4, maxsize=size, block=False, retries=RETRIES, **tls)


def _client_failure(path: str, where: str, exc: WeChatClientException) -> Outcome:
    """A failure wechatpy raised, classified: an HTTP error status (errcode None) or an errcode."""
    resp = exc.response
    status = getattr(resp, "status_code", None)
    code = exc.errcode
    if code is None:
        if status is not None and (status >= 500 or status == 429):
            return Outcome("retry", http_status=status, error=f"{path} to {where}: HTTP {status}")
        data = _json(resp) if isinstance(resp, requests.Response) else None
        if not data or "errcode" not in data:
            return Outcome("fatal", http_status=status, error=f"{path} to {where}: HTTP {status}")
        code, errmsg = _errcode(data), data.get("errmsg", "")
    else:
        errmsg = exc.errmsg
    try:
        code = int(code)
    except (TypeError, ValueError):
        code = -1
    kind = "retry" if code in RETRY_ERRCODES else "fatal"
    text = scrub(str(errmsg or ""))[:200]
    return Outcome(kind, errcode=code, http_status=status, error=f"{path} to {where}: errcode {code} {text}")


def _response_target(settings: Settings, url: str) -> tuple[str, dict[str, str]] | None:
    """(path under the API base, query) of an AI bot's response_url, or None when it is not a WeCom
    `aibot/` URL. WeCom's own base is mapped onto WECOM_API_BASE_URL (a proxy, the simulator)."""
    for base in (settings.api_base_url, DEFAULT_API_BASE_URL):
        if base and url.startswith(base):
            path, _, query = url[len(base) :].partition("?")
            if path.startswith("aibot/") and ".." not in path:
                return path, dict(parse_qsl(query, keep_blank_values=True))
    return None


def _retry_on_http(resp: requests.Response, what: str) -> None:
    """A server error or a throttle from WeCom's side: worth another try."""
    if resp.status_code >= 500 or resp.status_code == 429:
        raise SendError(Outcome("retry", http_status=resp.status_code, error=f"{what}: HTTP {resp.status_code}"))


def _required(resp: requests.Response, data: dict, what: str, field: str) -> str:
    """`data[field]` of a WeCom answer, or a SendError: retried for the errcodes that pass, fatal
    for the others (the errmsg scrubbed of anything secret)."""
    code = _errcode(data)
    if code != 0 or not data.get(field):
        kind = "retry" if code in RETRY_ERRCODES else "fatal"
        errmsg = scrub(str(data.get("errmsg", "")))[:200]
        raise SendError(
            Outcome(kind, errcode=code, http_status=resp.status_code, error=f"{what}: errcode {code} {errmsg}")
        )
    return str(data[field])


def _file_of(msg: dict) -> tuple[str, bytes]:
    info = msg.get("file") or {}
    file_path = Path(info.get("path") or "")
    name = info.get("name") or file_path.name
    try:
        return name, file_path.read_bytes()
    except OSError as exc:
        raise SendError(Outcome("fatal", error=f"cannot read the file to send: {exc.strerror}")) from None


def _image_name(msg: dict) -> str:
    return str((msg.get("image") or {}).get("name") or "picture.png")


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
    return "?" + "&".join(f"{k}={'***' if k in SECRET_PARAMS else v}" for k, v in params.items())


def _json_bytes(payload: bytes) -> dict | None:
    try:
        data = json.loads(payload)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


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


def _timed_out(exc: BaseException) -> bool:
    """A timeout of requests or of urllib3 (a MaxRetryError carries urllib3's in its reason)."""
    return isinstance(exc, (requests.exceptions.Timeout, urllib3.exceptions.TimeoutError)) or isinstance(
        getattr(exc, "reason", None), urllib3.exceptions.TimeoutError
    )


def _exc_text(exc: BaseException) -> str:
    kind = type(exc).__name__
    if isinstance(getattr(exc, "reason", exc), NewConnectionError):  # urllib3's subclass of its connect timeout
        return f"{kind}: connection failed"
    if isinstance(exc, requests.exceptions.ConnectTimeout) or isinstance(
        getattr(exc, "reason", exc), ConnectTimeoutError
    ):
        return f"{kind}: connect timed out"
    if _timed_out(exc):
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
