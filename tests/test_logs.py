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
