"""The two WeCom callback endpoints. Verify, decrypt, parse, dedupe, persist, answer: nothing else
happens here, so WeCom gets its answer in milliseconds and the work is done by the workers.

Status codes (DESIGN.md): 200 once the message is in Redis, 403 bad signature or receive id,
400 malformed input, 413 too large (Flask's MAX_CONTENT_LENGTH), 503 Redis unreachable. Never 500.
"""
from __future__ import annotations

import logging
from functools import lru_cache

import redis
from flask import Blueprint, Response, current_app, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from config.settings import get_settings
from wecom_bot.crypto import BadSignature, CallbackCrypto, CallbackError, Malformed
from wecom_bot.xmlparse import parse_app, parse_envelope, parse_robot
from workers import ingest, keys
from workers.connection import get_redis

log = logging.getLogger(__name__)
bp = Blueprint("callbacks", __name__)


@lru_cache(maxsize=8)
def _crypto(token: str, aes_key: str, receive_id: str) -> CallbackCrypto:
    return CallbackCrypto(token, aes_key, receive_id)


def _endpoint_crypto(kind: str) -> CallbackCrypto | None:
    s = get_settings()
    if kind == "robot":
        return _crypto(s.robot_token, s.robot_aes_key, "") if s.robot_token and s.robot_aes_key else None
    return _crypto(s.token, s.aes_key, s.corp_id) if s.token and s.aes_key else None


@bp.route("/wecom/robot", methods=["GET", "POST"])
def robot():
    return _handle("robot", parse_robot)


@bp.route("/wecom/callback", methods=["GET", "POST"])
def app_callback():
    return _handle("app", parse_app)


def _handle(kind: str, parse) -> Response:
    status = 500
    try:
        response = _process(kind, parse)
        status = 0 if isinstance(response, _Counted) else response.status_code
        return response
    except CallbackError as exc:
        status = exc.status
        log.info("%s callback rejected (%d): %s", kind, exc.status, exc)
        return _text(str(exc), exc.status)
    except HTTPException as exc:  # 413 from MAX_CONTENT_LENGTH, 405 ...
        status = exc.code or 400
        return _text(exc.name, status)
    except (redis.RedisError, OSError):
        status = 503
        log.warning("%s callback: Redis unreachable; answering 503 so that WeCom retries", kind)
        return _text("storage unavailable, retry later", 503)
    except Exception:  # never a 500: an unforeseen fault is treated as transient so nothing is lost
        status = 503
        log.exception("%s callback: unexpected error", kind)
        return _text("temporary error, retry later", 503)
    finally:
        _count(kind, status)


def _process(kind: str, parse) -> Response:
    crypto = _endpoint_crypto(kind)
    if crypto is None:
        raise BadSignature(f"the {kind} callback is not configured")
    args = request.args
    signature, timestamp, nonce = args.get("msg_signature"), args.get("timestamp"), args.get("nonce")
    if not signature or not timestamp or not nonce:
        raise Malformed("missing msg_signature, timestamp or nonce")
    if not timestamp.isdigit() or len(timestamp) > 12:
        raise Malformed("timestamp must be a unix time in seconds")
    if request.method == "GET":
        echostr = args.get("echostr")
        if not echostr:
            raise Malformed("missing echostr")
        return _text(crypto.verify_url(signature, timestamp, nonce, echostr), 200)
    encrypt = parse_envelope(_read_body())
    event = parse(crypto.decrypt(signature, timestamp, nonce, encrypt), int(timestamp))
    if ingest.accept(get_redis(), event, count_as=f"callbacks:{kind}:200"):
        log.debug("%s message %s accepted", kind, event["msgid"])
    else:
        log.info("%s message %s is a retry; already stored", kind, event["msgid"])
    return _Counted("", status=200, mimetype="text/plain")


def _read_body() -> bytes:
    """The request body, at most MAX_CONTENT_LENGTH bytes, else 413: with a Content-Length werkzeug checks
    it up front; a chunked body (no Content-Length) is read here with a cap, because werkzeug's capped
    stream would stop quietly at the limit and hand us a truncated body (a 400 instead of a 413)."""
    limit = current_app.config.get("MAX_CONTENT_LENGTH") or get_settings().max_body
    try:
        if request.content_length is not None or "wsgi.input_terminated" not in request.environ:
            return request.get_data(cache=False)   # Content-Length checked; else no readable body (b"")
        stream = request.environ["wsgi.input"]
        chunks, size = [], 0
        while size <= limit:
            chunk = stream.read(min(64 * 1024, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except HTTPException:
        raise
    except Exception:  # the server's body reader: bad chunk sizes, a body shorter than announced...
        raise Malformed("unreadable request body") from None
    if size > limit:
        raise RequestEntityTooLarge()
    return b"".join(chunks)


def _text(body: str, status: int) -> Response:
    return Response(body, status=status, mimetype="text/plain")


class _Counted(Response):
    """A 200 whose metrics count was already made by the inbox script itself."""


def _count(kind: str, status: int) -> None:
    if status == 0:
        return
    try:
        get_redis().hincrby(keys.METRICS, f"callbacks:{kind}:{status}", 1)
    except (redis.RedisError, OSError):
        pass
