"""Secrets are masked wherever they stand in a log line or an error text, however many there are."""

from __future__ import annotations

import logging

import pytest

from wecom_bot.logs import RedactSecrets
from workers.redact import SecretMasker

KEYS = [f"{i:08x}-4e5f-6a7b-8c9d-0e1f2a3b4c5d" for i in range(10_000)]  # 10,000 groups' webhook keys
AES = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"


@pytest.mark.parametrize(
    "text,expected",
    [
        (f"send to key={KEYS[1234]} failed", "send to key=*** failed"),
        (f"webhook/send?key={KEYS[9999]}&debug=1", "webhook/send?key=***&debug=1"),
        (f"{KEYS[0]}{KEYS[1]}", "******"),  # run together
        (f"x{AES}y and {AES}", "x***y and ***"),  # inside a longer run
        (f"tokenSECRET-é-{KEYS[7]}.", "tokenSECRET-é-***."),
        ("nothing secret here: 00000001-4e5f", "nothing secret here: 00000001-4e5f"),
    ],
)
def test_masker(text, expected):
    assert SecretMasker(KEYS + [AES, "short"]).mask(text) == expected


def test_a_secret_outside_the_run_alphabet_and_overlaps():
    m = SecretMasker(["pa ss:word!", "abcdef", "abcdefgh"])
    assert m.mask("x pa ss:word! y") == "x *** y"
    assert m.mask("zabcdefghz") == "z***z"  # the longest secret wins at a position


def test_the_log_filter_masks_messages_and_tracebacks(caplog):
    log = logging.getLogger("test.logs")
    redactor = RedactSecrets(KEYS + [AES])
    with caplog.at_level(logging.INFO):
        caplog.handler.addFilter(redactor)
        try:
            log.info("posting with %s", KEYS[42])
            try:
                raise RuntimeError(f"bad key {KEYS[43]} and aes {AES}")
            except RuntimeError:
                log.exception("failed")
        finally:
            caplog.handler.removeFilter(redactor)
    assert KEYS[42] not in caplog.text and KEYS[43] not in caplog.text and AES not in caplog.text
    assert "posting with ***" in caplog.text and "bad key *** and aes ***" in caplog.text


@pytest.fixture
def debug_logs(caplog):
    """DEBUG from every library that might log a URL, captured (levels restored afterwards)."""
    names = ("wechatpy", "wechatpy.client.base", "requests", "urllib3", "urllib3.connectionpool")
    levels = {name: logging.getLogger(name).level for name in names}
    caplog.set_level(logging.DEBUG)
    for name in names:
        logging.getLogger(name).setLevel(logging.DEBUG)
    yield caplog
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def test_no_token_secret_or_response_url_in_wechatpy_requests_or_urllib3_logs(sim, r, debug_logs, tmp_path):
    """Every app API call goes through wechatpy's client, on requests and urllib3, which log request
    lines (query strings included) at DEBUG: all of it captured, none of it may hold a secret."""
    from config.settings import get_settings
    from workers import aibot, directory, keys, outbound
    from workers.sender import Sender

    caplog = debug_logs
    settings = get_settings()
    sim.state.directory["u1"] = "小一"
    sim.state.open_userids["wo-enc-u1"] = "u1"
    f = tmp_path / "register.csv"
    f.write_text("userid\nu1\n", encoding="utf-8")
    url = sim.response_url()
    r.hset(keys.aibot_url("m-logs"), "url", url)
    sim.state.add_fault({"path": "message/send", "errcode": 40014}, {"path": "user/get", "errcode": 42001})
    outbound.post(r, {"id": "l1", "to": "user", "users": ["u1"], "content": "hi"})  # gettoken, refetch, repeat
    outbound.post(r, {"id": "l2", "to": "user", "users": ["u1"], "msgtype": "file", "file": {"path": str(f)}})
    outbound.post(r, {"id": "l3", "to": "group", "group": "xhs02", "content": "hi", "aibot": "m-logs"})
    assert directory.fetch(r, settings, ["u1", "nobody"]) == {"u1": "小一"}
    assert aibot.convert_open_userids(r, settings, ["wo-enc-u1"]) == {"wo-enc-u1": "u1"}
    sim.stop()  # urllib3's retry warnings carry the request line
    r.delete(Sender(settings).token_key)
    outbound.post(r, {"id": "l4", "to": "user", "users": ["u1"], "content": "down"})
    assert [m["path"] for m in sim.state.sent_messages()] == ["message/send", "message/send", "aibot/response"]

    secrets = [settings.secret, url.rsplit("=", 1)[1], *sim.state.tokens]
    texts = []
    for rec in caplog.records:
        texts.append(rec.getMessage())
        if rec.exc_info:
            texts.append(logging.Formatter().formatException(rec.exc_info))
    joined = "\n".join(texts)
    assert "access_token=***" in joined and "corpsecret=***" in joined and "response_code=***" in joined
    assert any(rec.name.startswith("urllib3") for rec in caplog.records)  # its lines were there, scrubbed
    for secret in secrets:
        assert secret not in joined
