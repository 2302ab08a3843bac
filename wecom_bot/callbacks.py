"""The WeCom callback endpoints: /wecom/robot (group robots, XML), /wecom/callback (the self-built app,
XML) and /wecom/aibot (the 智能机器人 in API mode, JSON). Verify, decrypt, parse, dedupe, persist, answer:
nothing else happens here, so WeCom gets its answer in milliseconds and the work is done by the workers.

Status codes (docs/DESIGN.md): 200 once the message is in Redis, 403 bad signature or receive id,
400 malformed input, 413 too large, 503 Redis unreachable. Never 500.

They are the service's hot path (every post of every member), so they are served by a small WSGI
layer in front of Flask (`CallbackApp`, installed by create_app) rather than through Flask's request
machinery, which would double the CPU a callback costs; every other path goes on to Flask.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from functools import lru_cache
from http import HTTPStatus
from typing import Any, NamedTuple
from urllib.parse import parse_qs

import redis

from config.settings import Settings, get_settings
from wecom_bot.aibot import parse_aibot, parse_json_envelope
from wecom_bot.crypto import BadSignature, CallbackCrypto, CallbackError, Malformed
from wecom_bot.xmlparse import parse_app, parse_envelope, parse_robot
from workers import ingest, keys
from workers.connection import get_redis

log = logging.getLogger(__name__)

Envelope = Callable[[bytes], str]  # parse_envelope / parse_json_envelope: the POST body -> its encrypt text
Parser = Callable[[str, int], dict[str, Any]]  # parse_robot / parse_app / parse_aibot: (plaintext, timestamp) -> event


class Route(NamedTuple):
    kind: str  # robot | app | aibot: the event's source, the metrics' endpoint label
    envelope: Envelope
    parse: Parser


PATHS: dict[str, Route] = {
    "/wecom/robot": Route("robot", parse_envelope, parse_robot),
    "/wecom/callback": Route("app", parse_envelope, parse_app),
    "/wecom/aibot": Route("aibot", parse_json_envelope, parse_aibot),
}


class TooLarge(CallbackError):
    status = 413


class NotAllowed(CallbackError):
    status = 405


class NotConfigured(BadSignature):
    """This endpoint's token and key are not set (or the key is not one): nothing can be verified."""


class Stale(CallbackError):
    """Signed outside the freshness window (BOT_CALLBACK_MAX_AGE): a replay, refused like a forgery."""

    status = 403


@lru_cache(maxsize=8)
def _crypto(token: str, aes_key: str, receive_id: str) -> CallbackCrypto:
    return CallbackCrypto(token, aes_key, receive_id)


# each endpoint's (token, EncodingAESKey, receive id) and the variables that set them
_SECRETS: dict[str, Callable[[Settings], tuple[str, str, str]]] = {
    "robot": lambda s: (s.robot_token, s.robot_aes_key, ""),
    "app": lambda s: (s.token, s.aes_key, s.corp_id),
    "aibot": lambda s: (s.aibot_token, s.aibot_aes_key, ""),
}
_VARIABLES = {
    "robot": "WECOM_ROBOT_TOKEN and WECOM_ROBOT_ENCODING_AES_KEY",
    "app": "WECOM_TOKEN and WECOM_ENCODING_AES_KEY",
    "aibot": "WECOM_AIBOT_TOKEN and WECOM_AIBOT_ENCODING_AES_KEY",
}


def _endpoint_crypto(kind: str, s: Settings) -> CallbackCrypto:
    """The endpoint's crypto; 403 when it is not configured, or configured with a key that cannot be one
    (nothing it receives could be verified: `wecom-bot check-config` names the variable)."""
    token, aes_key, receive_id = _SECRETS[kind](s)
    if not token or not aes_key:
        raise NotConfigured(f"the {kind} callback is not configured ({_VARIABLES[kind]})")
    try:
        return _crypto(token, aes_key, receive_id)
    except ValueError:
        raise NotConfigured(f"the {kind} callback's EncodingAESKey is invalid ({_VARIABLES[kind]})") from None


class CallbackApp:
    """WSGI middleware: answers the callback PATHS itself, passes the rest to `app`."""

    def __init__(self, app: Callable[..., Iterable[bytes]], max_body: int) -> None:
        self.app, self.max_body = app, max_body

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        route = PATHS.get(environ.get("PATH_INFO", ""))
        if route is None:
            return self.app(environ, start_response)
        status, body = handle(route, environ, self.max_body)
        data = body.encode("utf-8")
        start_response(
            f"{status} {HTTPStatus(status).phrase}",
            [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(data)))],
        )
        return [data]


def handle(route: Route, environ: dict[str, Any], max_body: int) -> tuple[int, str]:
    """(status, body) for one callback request; every failure maps to its status, never a 500."""
    kind = route.kind
    status = 500
    try:
        status, body = _process(route, environ, max_body)
        return (200 if status == 0 else status), body
    except CallbackError as exc:
        status = exc.status
        log.info("%s callback rejected (%d): %s", kind, exc.status, exc)
        return exc.status, str(exc)
    except (redis.RedisError, OSError):
        status = 503
        log.warning("%s callback: Redis unreachable; answering 503 so that WeCom retries", kind)
        return 503, "storage unavailable, retry later"
    except Exception:  # never a 500: an unforeseen fault is treated as transient so nothing is lost
        status = 503
        log.exception("%s callback: unexpected error", kind)
        return 503, "temporary error, retry later"
    finally:
        _count(kind, status)


def _process(route: Route, environ: dict[str, Any], max_body: int) -> tuple[int, str]:
    kind = route.kind
    method = environ.get("REQUEST_METHOD", "GET")
    if method not in ("GET", "POST"):
        raise NotAllowed(f"{method} is not allowed here: WeCom uses GET to verify the URL and POST to deliver")
    settings = get_settings()
    crypto = _endpoint_crypto(kind, settings)
    args = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    signature, timestamp, nonce = (args.get(name, [""])[0] for name in ("msg_signature", "timestamp", "nonce"))
    if not signature or not timestamp or not nonce:
        raise Malformed("missing msg_signature, timestamp or nonce")
    if not timestamp.isdigit() or len(timestamp) > 10:
        raise Malformed("timestamp must be a unix time in seconds (at most 10 digits)")
    _check_fresh(int(timestamp), settings.callback_max_age)
    if method == "GET":
        echostr = args.get("echostr", [""])[0]
        if not echostr:
            raise Malformed("missing echostr")
        return 200, crypto.verify_url(signature, timestamp, nonce, echostr)
    encrypt = route.envelope(_read_body(environ, max_body))
    # the event may carry a capability (the AI bot's response_url): it goes to the inbox, never to a log
    event = route.parse(crypto.decrypt(signature, timestamp, nonce, encrypt), int(timestamp))
    if ingest.accept(get_redis(), event, count_as=f"callbacks:{kind}:200"):
        log.debug("%s message %s accepted", kind, event["msgid"])
    else:
        log.info("%s message %s is a retry; already stored", kind, event["msgid"])
    return 0, ""  # 200, already counted by the inbox script itself (see _count)


FUTURE_SKEW = 300  # seconds a callback's timestamp may run ahead of our clock


def _check_fresh(timestamp: int, max_age: int, now: float | None = None) -> None:
    """403 for a callback signed more than `max_age` seconds ago or more than FUTURE_SKEW ahead:
    WeCom delivers and retries within seconds, so only a replay is that old. Checked before the
    signature and the body, so a replay costs nothing. max_age 0: no window."""
    if not max_age:
        return
    now = time.time() if now is None else now
    if timestamp < now - max_age:
        raise Stale(f"stale callback: signed {int(now - timestamp)} s ago (BOT_CALLBACK_MAX_AGE={max_age})")
    if timestamp > now + FUTURE_SKEW:
        raise Stale(f"callback timestamp {int(timestamp - now)} s in the future")


def _read_body(environ: dict[str, Any], limit: int) -> bytes:
    """The request body, at most `limit` bytes, else 413. With a Content-Length it is checked before
    anything is read; a chunked body (no Content-Length, the server marks the input terminated) is
    read with a cap."""
    stream = environ.get("wsgi.input")
    raw_length = environ.get("CONTENT_LENGTH") or ""
    try:
        if raw_length:
            if not raw_length.isdigit():
                raise Malformed("bad Content-Length")
            length = int(raw_length)
            if length > limit:
                raise TooLarge(f"the body is over {limit} bytes")
            if not length:
                return b""
            if stream is None:
                raise Malformed("unreadable request body")
            data: bytes = stream.read(length)
            return data
        if not environ.get("wsgi.input_terminated") or stream is None:
            return b""  # no length and no chunked input: no readable body
        chunks, size = [], 0
        while size <= limit:
            chunk = stream.read(min(64 * 1024, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except CallbackError:
        raise
    except Exception:  # the server's body reader: bad chunk sizes, a body shorter than announced...
        raise Malformed("unreadable request body") from None
    if size > limit:
        raise TooLarge(f"the body is over {limit} bytes")
    return b"".join(chunks)


def _count(kind: str, status: int) -> None:
    """Callbacks by status for /metrics; a stored 200 (status 0 here) was counted by the inbox script."""
    if status == 0:
        return
    try:
        get_redis().hincrby(keys.METRICS, f"callbacks:{kind}:{status}", 1)
    except (redis.RedisError, OSError):
        pass
