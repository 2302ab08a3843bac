"""A built-in WeCom API simulator: a real HTTP server speaking the parts of WeCom's API the bot uses.

Used by the tests, the benchmarks, `wecom-bot demo`, and mounted by the web app (at
config.settings.SIM_PATH) when nothing is configured. Paths are relative to a base URL, exactly as
under https://qyapi.weixin.qq.com/cgi-bin/:

    GET  gettoken?corpid=&corpsecret=             {errcode, access_token, expires_in}; bad secret 40001
    POST message/send?access_token=               app private messages (text, markdown, file)
    POST appchat/send?access_token=               app group chats (text, markdown, file)
    POST webhook/send?key=                        group robots (text + mentioned_list, markdown, file)
    POST media/upload?access_token=&type=file     multipart upload, gives a media_id
    POST webhook/upload_media?key=&type=file      the robot's upload, gives a media_id
    GET  user/get?access_token=&userid=           the directory: {userid, name, ...}; 60111 unknown userid
    GET  auth/getuserinfo?access_token=&code=     网页授权: {userid}; 40029 an unknown, used or expired code
    POST batch/openuserid_to_userid?access_token= {userid_list: [{open_userid, userid}], invalid_open_userid_list}
    POST aibot/response?response_code=            the AI bot's response_url: markdown, once, within an hour

Pictures: webhook/send takes msgtype image {base64, md5} (md5 checked, at most 2 MB: errcode 40009 else);
media/upload?type=image keeps the bytes, and message/send / appchat/send take msgtype image {media_id}.
A recorded picture has content "[图片]" and `image` {md5, size, url}: `url` is the path under which
GET _control/images/<md5> serves its bytes (image/png), so `sent` stays small and readable.

Token errors: 40014 unknown token, 42001 expired token. Robots: 93000 unknown key, 45009 over 20
messages a minute per key, 40058 content over 2048 bytes (text) / 4096 bytes (markdown). App
messages: 45009 over 30 a minute per user; text over 2048 bytes is truncated as WeCom does.
The directory and the open userids are what the tests put in `SimState.directory` (userid -> name)
and `SimState.open_userids` (open userid -> userid). A response_url (`SimulatorServer.response_url()`,
or any response_code seen for the first time) answers once within its hour; a used or expired one is
refused with errcode RESPONSE_URL_REFUSED (WeCom documents no code for it: the bot treats any refusal
alike). Its posts are recorded in `sent` with channel "aibot".

All state lives in a thread-safe `SimState`: the accepted messages, issued tokens, uploaded media,
injected faults (a FIFO), latency, the valid robot keys, a clock offset, the directory, the open
userids and the response codes. Control endpoints under `_control/` (JSON): GET sent, GET calls, POST
reset, POST faults, POST expire_tokens, POST config, POST directory, POST open_userids.

The blueprint `bp` mounts at any prefix; its state is `current_app.extensions["wecom_sim"]` when
the app sets one (create_simulator_app does), else the module-level `DEFAULT_STATE`.
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import json
import secrets
import socket
import threading
import time
from collections import deque
from typing import Any

from flask import Blueprint, Flask, Response, current_app, has_app_context, jsonify, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.serving import WSGIRequestHandler, make_server

ROBOT_PER_MINUTE = 20
USER_PER_MINUTE = 30
TEXT_LIMIT = 2048
MARKDOWN_LIMIT = 4096
APP_MARKDOWN_LIMIT = 2048
AIBOT_MARKDOWN_LIMIT = 20480
TOKEN_LIFETIME = 7200
RESPONSE_URL_LIFETIME = 3600
RESPONSE_URL_REFUSED = 600101  # the simulator's errcode for a used or expired response_url
OPENUSERID_BATCH = 1000
OAUTH_CODE_LIFETIME = 300  # WeCom's 网页授权 code: five minutes, once


class SimState:
    """Everything the simulator knows. Safe to use from the server's threads and from tests.

    secret / corp_id: None accepts any. valid_keys: None accepts any robot key, else a set.
    latency: seconds slept on every API call. timeout_seconds: how long a `timeout` fault sleeps.
    """

    def __init__(
        self,
        corp_id: str | None = None,
        secret: str | None = None,
        agent_id: str | None = None,
        valid_keys: set[str] | None = None,
        latency: float = 0.0,
        timeout_seconds: float = 15.0,
        rate_limits: bool = True,
    ) -> None:
        self.lock = threading.RLock()
        self.corp_id = corp_id
        self.secret = secret
        self.agent_id = agent_id
        self.valid_keys = set(valid_keys) if valid_keys is not None else None
        self.latency = latency
        self.timeout_seconds = timeout_seconds
        self.rate_limits = rate_limits
        self.directory: dict[str, str] = {}  # userid -> name (user/get)
        self.open_userids: dict[str, str] = {}  # open userid -> userid (batch/openuserid_to_userid)
        self._reset_dynamic()

    def _reset_dynamic(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.calls: list[dict[str, Any]] = []
        self.faults: list[dict[str, Any]] = []
        self.tokens: dict[str, float] = {}
        self.media: dict[str, dict[str, Any]] = {}
        self.images: dict[str, bytes] = {}  # md5 -> the bytes of a picture sent or uploaded (_control/images/<md5>)
        self.token_fetches = 0
        self.offset = 0.0
        self._windows: dict[str, deque[float]] = {}
        self.response_codes: dict[str, float] = {}  # response_code -> when it expires
        self.used_codes: set[str] = set()
        self.oauth_codes: dict[str, tuple[str, float]] = {}  # 网页授权 code -> (userid, when it expires)

    # -- control -------------------------------------------------------------------------------
    def now(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        """Move the simulator's clock forward (rate windows, token expiry)."""
        with self.lock:
            self.offset += seconds

    def reset(self) -> None:
        """Forget messages, calls, faults, tokens, media, rate windows, response codes and the clock
        offset. Credentials, valid keys, latency, the directory and the open userids stay."""
        with self.lock:
            self._reset_dynamic()

    def add_fault(self, *faults: dict[str, Any]) -> None:
        """Queue faults, applied in order to the next matching calls. A fault is a dict with an
        optional "path" (e.g. "message/send"; default any API path but gettoken), optional "times"
        (default 1), and one of: {"errcode": N[, "errmsg": ...]}, {"http": 502}, or
        {"timeout": true[, "delivered": bool][, "seconds": s]} (sleeps past the client's timeout;
        "delivered" says whether the message was recorded anyway)."""
        with self.lock:
            for f in faults:
                f = dict(f)
                f.setdefault("times", 1)
                self.faults.append(f)

    def expire_tokens(self) -> None:
        with self.lock:
            for token in self.tokens:
                self.tokens[token] = 0.0

    def new_response_code(self, lifetime: float = RESPONSE_URL_LIFETIME) -> str:
        """A fresh response_code, valid once within `lifetime` seconds (SimulatorServer.response_url)."""
        with self.lock:
            code = secrets.token_urlsafe(24)
            self.response_codes[code] = self.now() + lifetime
            return code

    def expire_response_codes(self) -> None:
        with self.lock:
            for code in self.response_codes:
                self.response_codes[code] = 0.0

    def take_response_code(self, code: str) -> bool:
        """Use a response_code: True the first time within its hour (an unseen code is new)."""
        with self.lock:
            if not code or code in self.used_codes:
                return False
            expires = self.response_codes.setdefault(code, self.now() + RESPONSE_URL_LIFETIME)
            if expires <= self.now():
                return False
            self.used_codes.add(code)
            return True

    def revoke_key(self, key: str) -> None:
        with self.lock:
            if self.valid_keys is None:
                self.valid_keys = set()
            self.valid_keys.discard(key)

    def issue_oauth_code(self, userid: str) -> str:
        """A 网页授权 code for `userid`, as the authorize page gives one: valid once, for five minutes."""
        with self.lock:
            code = secrets.token_urlsafe(24)
            self.oauth_codes[code] = (userid, self.now() + OAUTH_CODE_LIFETIME)
            return code

    def take_oauth_code(self, code: str) -> str | None:
        """The userid of a code not used nor expired (auth/getuserinfo), else None."""
        with self.lock:
            userid, expires = self.oauth_codes.pop(code, ("", 0.0))
            return userid if userid and expires > self.now() else None

    def sent_messages(self, path: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            return [copy.deepcopy(m) for m in self.sent if path is None or m["path"] == path]

    def call_count(self, path: str | None = None) -> int:
        with self.lock:
            return sum(1 for c in self.calls if path is None or c["path"] == path)

    # -- internals used by the views --------------------------------------------------------------
    def take_fault(self, path: str) -> dict[str, Any] | None:
        with self.lock:
            for i, f in enumerate(self.faults):
                fpath = f.get("path")
                if fpath == path or (fpath is None and path != "gettoken"):
                    f["times"] -= 1
                    if f["times"] <= 0:
                        del self.faults[i]
                    return dict(f)
        return None

    def issue_token(self) -> str:
        with self.lock:
            token = secrets.token_urlsafe(48)
            self.tokens[token] = self.now() + TOKEN_LIFETIME
            self.token_fetches += 1
            return token

    def check_token(self, token: str) -> int:
        with self.lock:
            if token not in self.tokens:
                return 40014
            if self.tokens[token] <= self.now():
                return 42001
            return 0

    def key_valid(self, key: str) -> bool:
        with self.lock:
            return bool(key) and (self.valid_keys is None or key in self.valid_keys)

    def rate_ok(self, names: list[str], limit: int) -> bool:
        """Sliding one-minute window per name; all names must have room; counts only if allowed."""
        if not self.rate_limits:
            return True
        with self.lock:
            now = self.now()
            windows: list[deque[float]] = []
            for name in names:
                w = self._windows.setdefault(name, deque())
                while w and w[0] <= now - 60:
                    w.popleft()
                windows.append(w)
            if any(len(w) >= limit for w in windows):
                return False
            for w in windows:
                w.append(now)
            return True

    def record(self, entry: dict[str, Any]) -> None:
        with self.lock:
            entry["time"] = self.now()
            self.sent.append(entry)

    def log_call(self, path: str, errcode: int | None, http: int = 200) -> None:
        with self.lock:
            self.calls.append({"path": path, "errcode": errcode, "http": http, "time": self.now()})


DEFAULT_STATE = SimState()

bp = Blueprint("wecom_sim", __name__)


def get_state() -> SimState:
    """The app's simulator state (create_simulator_app sets one), else DEFAULT_STATE."""
    state = current_app.extensions.get("wecom_sim") if has_app_context() else None
    return state if isinstance(state, SimState) else DEFAULT_STATE


def _err(state: SimState, path: str, errcode: int, errmsg: str, **extra: Any) -> Response:
    state.log_call(path, errcode)
    return jsonify({"errcode": errcode, "errmsg": errmsg, **extra})


def _ok(state: SimState, path: str, **extra: Any) -> Response:
    state.log_call(path, 0)
    return jsonify({"errcode": 0, "errmsg": "ok", **extra})


class _Fault(Exception):
    """Raised by a view's checks to answer at once with `response`."""

    def __init__(self, response: ResponseReturnValue) -> None:
        super().__init__()
        self.response = response


def _begin(state: SimState, path: str) -> dict[str, Any] | None:
    """Latency, then the next matching fault: errcode/http faults answer at once (raise _Fault);
    a timeout fault is returned so that the view can record (or not) and then sleep."""
    if state.latency:
        time.sleep(state.latency)
    fault = state.take_fault(path)
    if not fault:
        return None
    if fault.get("timeout"):
        return fault
    if "http" in fault:
        state.log_call(path, None, int(fault["http"]))
        raise _Fault((f"simulated HTTP {fault['http']}", int(fault["http"]), {"Content-Type": "text/plain"}))
    if "errcode" in fault:
        raise _Fault(_err(state, path, int(fault["errcode"]), fault.get("errmsg", "simulated fault")))
    return None


def _finish_timeout(state: SimState, path: str, fault: dict[str, Any], entry: dict[str, Any] | None) -> Response:
    """Apply a timeout fault: maybe record, then sleep past the client's timeout."""
    if entry is not None and fault.get("delivered", False):
        state.record(entry)
    state.log_call(path, None, 0)
    time.sleep(float(fault.get("seconds", state.timeout_seconds)))
    return jsonify({"errcode": 0, "errmsg": "ok (too late)"})


def _json_body() -> dict[str, Any] | None:
    try:
        body = json.loads(request.get_data(as_text=True) or "null")
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _content_of(body: dict[str, Any], msgtype: str) -> tuple[str | None, dict[str, Any]]:
    """The message's content (a file's media_id) as text, or None when missing or not text."""
    part = body.get(msgtype)
    if not isinstance(part, dict):
        return None, {}
    content = part.get("media_id" if msgtype in ("file", "image") else "content")
    return (content if isinstance(content, str) else None), part


@bp.errorhandler(_Fault)
def _fault_response(exc: _Fault) -> ResponseReturnValue:
    return exc.response


@bp.get("/gettoken")
def gettoken() -> ResponseReturnValue:
    state = get_state()
    path = "gettoken"
    fault = _begin(state, path)
    if fault:
        return _finish_timeout(state, path, fault, None)
    corpid, secret = request.args.get("corpid", ""), request.args.get("corpsecret", "")
    if not corpid or (state.corp_id is not None and corpid != state.corp_id):
        return _err(state, path, 40013, "invalid corpid")
    if not secret or (state.secret is not None and secret != state.secret):
        return _err(state, path, 40001, "invalid credential")
    token = state.issue_token()
    return _ok(state, path, access_token=token, expires_in=TOKEN_LIFETIME)


def _app_read(state: SimState, path: str) -> Response | None:
    """The start of an app call that records nothing: latency and faults, then the token; a timeout
    fault answers too late (the view returns it), else None."""
    fault = _begin(state, path)
    _token_check(state, path)
    return _finish_timeout(state, path, fault, None) if fault else None


def _token_check(state: SimState, path: str) -> None:
    code = state.check_token(request.args.get("access_token", ""))
    if code == 40014:
        raise _Fault(_err(state, path, 40014, "invalid access_token"))
    if code == 42001:
        raise _Fault(_err(state, path, 42001, "access_token expired"))


def _media_name(state: SimState, media_id: str) -> str | None:
    with state.lock:
        media = state.media.get(media_id)
    return media["name"] if media else None


@bp.post("/message/send")
def message_send() -> ResponseReturnValue:
    state = get_state()
    path = "message/send"
    fault = _begin(state, path)
    _token_check(state, path)
    body = _json_body()
    if body is None:
        return _err(state, path, 47001, "data format error")
    msgtype = body.get("msgtype")
    if msgtype not in ("text", "markdown", "file", "image"):
        return _err(state, path, 40008, "invalid message type")
    agentid = str(body.get("agentid", ""))
    if not agentid or (state.agent_id is not None and agentid != str(state.agent_id)):
        return _err(state, path, 40056, "invalid agentid")
    touser = [u for u in str(body.get("touser", "")).split("|") if u]
    if not touser:
        return _err(state, path, 40031, "invalid userid list")
    content, _part = _content_of(body, msgtype)
    if not content:
        return _err(state, path, 44004, "empty content")
    content, truncated, picture = _media_or_text(state, msgtype, content, TEXT_LIMIT)
    if content is None:
        return _err(state, path, 40007, "invalid media_id")
    entry = {
        "path": path,
        "channel": "app",
        "touser": touser,
        "msgtype": msgtype,
        "content": content,
        "mentioned_list": [],
        "truncated": truncated,
        "duplicate_check": bool(body.get("enable_duplicate_check")),
    }
    if picture is not None:
        entry["image"] = picture
    if fault:
        return _finish_timeout(state, path, fault, entry)
    if not state.rate_ok([f"user:{u}" for u in touser], USER_PER_MINUTE):
        return _err(state, path, 45009, "api freq out of limit")
    state.record(entry)
    return _ok(state, path, invaliduser="", msgid=secrets.token_hex(8))


def _media_or_text(state, msgtype: str, content: str, limit: int) -> tuple[str | None, bool, dict | None]:
    """What an app message shows: an uploaded picture (`[图片]` and its record) or file (its name), or
    the text cut to TEXT_LIMIT bytes when over `limit`; (None, ...) for a media_id never uploaded."""
    if msgtype == "image":
        picture = _uploaded_image(state, content)
        return ("[图片]" if picture is not None else None), False, picture
    if msgtype == "file":
        return _media_name(state, content), False, None
    if len(content.encode()) > limit:
        return content.encode()[:TEXT_LIMIT].decode(errors="ignore"), True, None
    return content, False, None


@bp.post("/appchat/send")
def appchat_send() -> ResponseReturnValue:
    state = get_state()
    path = "appchat/send"
    fault = _begin(state, path)
    _token_check(state, path)
    body = _json_body()
    if body is None:
        return _err(state, path, 47001, "data format error")
    chatid = body.get("chatid")
    if not chatid:
        return _err(state, path, 86003, "chat not exist")
    msgtype = body.get("msgtype")
    if msgtype not in ("text", "markdown", "file", "image"):
        return _err(state, path, 40008, "invalid message type")
    content, _part = _content_of(body, msgtype)
    if not content:
        return _err(state, path, 44004, "empty content")
    limit = TEXT_LIMIT if msgtype == "text" else APP_MARKDOWN_LIMIT
    content, truncated, picture = _media_or_text(state, msgtype, content, limit)
    if content is None:
        return _err(state, path, 40007, "invalid media_id")
    entry = {
        "path": path,
        "channel": "appchat",
        "chatid": chatid,
        "msgtype": msgtype,
        "content": content,
        "mentioned_list": [],
        "truncated": truncated,
    }
    if picture is not None:
        entry["image"] = picture
    if fault:
        return _finish_timeout(state, path, fault, entry)
    state.record(entry)
    return _ok(state, path)


@bp.post("/webhook/send")
def webhook_send() -> ResponseReturnValue:
    state = get_state()
    path = "webhook/send"
    fault = _begin(state, path)
    key = request.args.get("key", "")
    if not state.key_valid(key):
        return _err(state, path, 93000, "invalid webhook url")
    body = _json_body()
    if body is None:
        return _err(state, path, 40035, "invalid json")
    msgtype = body.get("msgtype")
    if msgtype == "image":
        return _webhook_image(state, path, key, body, fault)
    if msgtype not in ("text", "markdown", "file"):
        return _err(state, path, 40008, "invalid message type")
    content, part = _content_of(body, msgtype)
    if not content:
        return _err(state, path, 44004, "empty content")
    limit = TEXT_LIMIT if msgtype == "text" else MARKDOWN_LIMIT
    if msgtype == "file":
        name = _media_name(state, content)
        if name is None:
            return _err(state, path, 40007, "invalid media_id")
        content = name
    elif len(content.encode()) > limit:
        return _err(state, path, 40058, f"{msgtype}.content exceed max length {limit}")
    mentioned = part.get("mentioned_list") or [] if msgtype == "text" else []
    entry = {
        "path": path,
        "channel": "robot",
        "key": key,
        "msgtype": msgtype,
        "content": content,
        "mentioned_list": list(mentioned),
    }
    if fault:
        return _finish_timeout(state, path, fault, entry)
    if not state.rate_ok([f"key:{key}"], ROBOT_PER_MINUTE):
        return _err(state, path, 45009, "api freq out of limit")
    state.record(entry)
    return _ok(state, path)


IMAGE_LIMIT = 2 * 1024 * 1024


def _keep_image(state: SimState, data: bytes) -> dict[str, Any]:
    """Keep a picture's bytes and describe it for `sent`: {md5, size, url} (url serves the bytes)."""
    md5 = hashlib.md5(data).hexdigest()
    with state.lock:
        state.images[md5] = data
    return {"md5": md5, "size": len(data), "url": url_for(".control_image", md5=md5)}


def _uploaded_image(state: SimState, media_id: str) -> dict[str, Any] | None:
    with state.lock:
        media = state.media.get(media_id)
    if not media or media.get("type") != "image":
        return None
    return {"md5": media["md5"], "size": media["size"], "url": url_for(".control_image", md5=media["md5"])}


def _webhook_image(
    state: SimState, path: str, key: str, body: dict[str, Any], fault: dict[str, Any] | None
) -> ResponseReturnValue:
    """A robot's image message: base64 of a JPG/PNG of at most 2 MB, and the md5 of those bytes."""
    part: dict[str, Any] = body["image"] if isinstance(body.get("image"), dict) else {}
    try:
        data = base64.b64decode(str(part.get("base64") or ""), validate=True)
    except (binascii.Error, ValueError):
        return _err(state, path, 40009, "invalid image base64")
    if not data or len(data) > IMAGE_LIMIT or not data.startswith((b"\x89PNG", b"\xff\xd8")):
        return _err(state, path, 40009, "invalid image size or type")
    if hashlib.md5(data).hexdigest() != str(part.get("md5") or ""):
        return _err(state, path, 40009, "image md5 mismatch")
    entry: dict[str, Any] = {"path": path, "channel": "robot", "key": key, "msgtype": "image", "content": "[图片]"}
    entry.update(mentioned_list=[], image=_keep_image(state, data))
    if fault:
        return _finish_timeout(state, path, fault, entry)
    if not state.rate_ok([f"key:{key}"], ROBOT_PER_MINUTE):
        return _err(state, path, 45009, "api freq out of limit")
    state.record(entry)
    return _ok(state, path)


def _upload(state: SimState, path: str) -> ResponseReturnValue:
    if request.args.get("type") not in ("file", "image", "voice", "video"):
        return _err(state, path, 40004, "invalid media type")
    f = request.files.get("media")
    if f is None:
        return _err(state, path, 41006, "media data missing")
    data = f.read()
    if not data:
        return _err(state, path, 40005, "invalid file size")
    media_id = "sim-media-" + secrets.token_hex(12)
    kind = request.args.get("type")
    if kind == "image" and (len(data) > IMAGE_LIMIT or not data.startswith((b"\x89PNG", b"\xff\xd8"))):
        return _err(state, path, 40009, "invalid image size or type")
    with state.lock:
        state.media[media_id] = {"name": f.filename or "file", "size": len(data), "time": state.now(), "type": kind}
    if kind == "image":
        state.media[media_id]["md5"] = _keep_image(state, data)["md5"]
    return _ok(state, path, type=request.args.get("type"), media_id=media_id, created_at=str(int(state.now())))


@bp.post("/media/upload")
def media_upload() -> ResponseReturnValue:
    state = get_state()
    path = "media/upload"
    late = _app_read(state, path)
    if late is not None:
        return late
    return _upload(state, path)


@bp.post("/webhook/upload_media")
def webhook_upload_media() -> ResponseReturnValue:
    state = get_state()
    path = "webhook/upload_media"
    fault = _begin(state, path)
    if not state.key_valid(request.args.get("key", "")):
        return _err(state, path, 93000, "invalid webhook url")
    if fault:
        return _finish_timeout(state, path, fault, None)
    return _upload(state, path)


@bp.get("/user/get")
def user_get() -> ResponseReturnValue:
    state = get_state()
    path = "user/get"
    late = _app_read(state, path)
    if late is not None:
        return late
    userid = request.args.get("userid", "")
    with state.lock:
        name = state.directory.get(userid)
    if not userid or name is None:
        return _err(state, path, 60111, "userid not found")
    # since WeCom's 2022 privacy change an app gets no avatar, mobile or email: only these
    return _ok(state, path, userid=userid, name=name, department=[1], status=1)


@bp.get("/auth/getuserinfo")
def auth_getuserinfo() -> ResponseReturnValue:
    """网页授权: a code (from the authorize page) -> the member's userid; 40029 an unknown or used code."""
    state = get_state()
    path = "auth/getuserinfo"
    late = _app_read(state, path)
    if late is not None:
        return late
    userid = state.take_oauth_code(request.args.get("code", ""))
    if userid is None:
        return _err(state, path, 40029, "invalid code")
    return _ok(state, path, userid=userid, user_ticket=secrets.token_urlsafe(16), expires_in=1800)


@bp.post("/batch/openuserid_to_userid")
def openuserid_to_userid() -> ResponseReturnValue:
    state = get_state()
    path = "batch/openuserid_to_userid"
    late = _app_read(state, path)
    if late is not None:
        return late
    body = _json_body()
    ids = body.get("open_userid_list") if body is not None else None
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
        return _err(state, path, 40058, "invalid open_userid_list")
    if len(ids) > OPENUSERID_BATCH:
        return _err(state, path, 40058, f"open_userid_list exceeds {OPENUSERID_BATCH}")
    with state.lock:
        found = [{"open_userid": i, "userid": state.open_userids[i]} for i in ids if i in state.open_userids]
    invalid = [i for i in ids if i not in state.open_userids]
    return _ok(state, path, userid_list=found, invalid_open_userid_list=invalid)


@bp.post("/aibot/response")
def aibot_response() -> ResponseReturnValue:
    state = get_state()
    path = "aibot/response"
    fault = _begin(state, path)
    code = request.args.get("response_code", "")
    body = _json_body()
    if body is None:
        return _err(state, path, 40035, "invalid json")
    msgtype = body.get("msgtype")
    if msgtype not in ("markdown", "template_card"):
        return _err(state, path, 40008, "invalid message type")
    content, _part = _content_of(body, msgtype) if msgtype == "markdown" else ("", {})
    if msgtype == "markdown" and not content:
        return _err(state, path, 44004, "empty content")
    if content and len(content.encode()) > AIBOT_MARKDOWN_LIMIT:
        return _err(state, path, 40058, f"markdown.content exceed max length {AIBOT_MARKDOWN_LIMIT}")
    entry = {
        "path": path,
        "channel": "aibot",
        "code": code,
        "msgtype": msgtype,
        "content": content or "",
        "mentioned_list": [],
    }
    if fault:
        if fault.get("delivered", False):
            state.take_response_code(code)
        return _finish_timeout(state, path, fault, entry)
    if not state.take_response_code(code):
        return _err(state, path, RESPONSE_URL_REFUSED, "response_url expired or already used")
    state.record(entry)
    return _ok(state, path)


# -- control ---------------------------------------------------------------------------------------
@bp.post("/_control/directory")
def control_directory() -> ResponseReturnValue:
    """{"userid": "name", ...} added to the directory (a null name removes the userid)."""
    body = json.loads(request.get_data(as_text=True) or "{}")
    state = get_state()
    with state.lock:
        for userid, name in (body or {}).items():
            if name is None:
                state.directory.pop(str(userid), None)
            else:
                state.directory[str(userid)] = str(name)
    return jsonify({"ok": True, "size": len(state.directory)})


@bp.post("/_control/open_userids")
def control_open_userids() -> ResponseReturnValue:
    """{"open userid": "userid", ...} the conversions batch/openuserid_to_userid knows."""
    body = json.loads(request.get_data(as_text=True) or "{}")
    state = get_state()
    with state.lock:
        state.open_userids.update({str(k): str(v) for k, v in (body or {}).items()})
    return jsonify({"ok": True, "size": len(state.open_userids)})


@bp.get("/_control/sent")
def control_sent() -> ResponseReturnValue:
    return jsonify(get_state().sent_messages(request.args.get("path")))


@bp.get("/_control/images/<md5>")
def control_image(md5: str) -> ResponseReturnValue:
    """The bytes of a picture the bot sent or uploaded, by md5 (the `url` of its entry in `sent`)."""
    with get_state().lock:
        data = get_state().images.get(md5)
    if data is None:
        return jsonify({"error": "no such picture"}), 404
    kind = "image/jpeg" if data.startswith(b"\xff\xd8") else "image/png"
    return Response(data, mimetype=kind)


@bp.get("/_control/calls")
def control_calls() -> ResponseReturnValue:
    state = get_state()
    with state.lock:
        return jsonify(list(state.calls))


@bp.post("/_control/reset")
def control_reset() -> ResponseReturnValue:
    get_state().reset()
    return jsonify({"ok": True})


@bp.post("/_control/faults")
def control_faults() -> ResponseReturnValue:
    body = json.loads(request.get_data(as_text=True) or "[]")
    faults = body.get("faults", [body]) if isinstance(body, dict) else body
    get_state().add_fault(*[f for f in faults if isinstance(f, dict)])
    return jsonify({"ok": True, "queued": len(get_state().faults)})


@bp.post("/_control/expire_tokens")
def control_expire_tokens() -> ResponseReturnValue:
    get_state().expire_tokens()
    return jsonify({"ok": True})


@bp.post("/_control/config")
def control_config() -> ResponseReturnValue:
    """{"latency": s, "valid_keys": [...]|null, "advance": s, "rate_limits": bool, "timeout_seconds": s}"""
    state = get_state()
    body = json.loads(request.get_data(as_text=True) or "{}")
    with state.lock:
        if "latency" in body:
            state.latency = float(body["latency"])
        if "valid_keys" in body:
            state.valid_keys = None if body["valid_keys"] is None else set(body["valid_keys"])
        if "rate_limits" in body:
            state.rate_limits = bool(body["rate_limits"])
        if "timeout_seconds" in body:
            state.timeout_seconds = float(body["timeout_seconds"])
        if "advance" in body:
            state.offset += float(body["advance"])
    return jsonify({"ok": True})


def create_simulator_app(state: SimState | None = None) -> Flask:
    """A Flask app serving the simulator at /cgi-bin, with its own state."""
    app = Flask(__name__)
    app.extensions["wecom_sim"] = state or SimState()
    app.register_blueprint(bp, url_prefix="/cgi-bin")
    return app


class SimulatorServer:
    """The simulator on 127.0.0.1, a free port, in a background thread.

    with SimulatorServer() as sim:
        os.environ["WECOM_API_BASE_URL"] = sim.base_url   # http://127.0.0.1:PORT/cgi-bin/
        ...
        sim.state.sent_messages()
    """

    def __init__(self, state: SimState | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        live: set[socket.socket] = set()
        self._live = live

        class QuietHandler(WSGIRequestHandler):
            # Request lines carry webhook keys and access tokens: never log them.
            def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
                pass

            def setup(self) -> None:
                super().setup()
                live.add(self.connection)

            def finish(self) -> None:
                live.discard(self.connection)
                super().finish()

        self.state = state or SimState()
        self.app = create_simulator_app(self.state)
        # threaded: a ThreadedWSGIServer, whose request threads are daemons
        self._server = make_server(host, port, self.app, threaded=True, request_handler=QuietHandler)
        self.host, self.port = host, self._server.server_port
        self.base_url = f"http://{host}:{self.port}/cgi-bin/"
        self._thread: threading.Thread | None = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, name="wecom-simulator", daemon=True
        )
        self._thread.start()

    def response_url(self, lifetime: float = RESPONSE_URL_LIFETIME) -> str:
        """A fresh AI-bot response_url on this simulator, as WeCom puts one in each callback."""
        return f"{self.base_url}aibot/response?response_code={self.state.new_response_code(lifetime)}"

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._server.server_close()
            # Keep-alive connections would go on being served: cut them, as a dead server would.
            for conn in list(self._live):
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self._thread.join(5)
            self._thread = None

    def __enter__(self) -> SimulatorServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
