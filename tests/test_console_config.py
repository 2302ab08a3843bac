"""The console's settings (check-config names the exact variable) and the links the digest uses."""

from __future__ import annotations

from config.settings import load
from handlers.links import console_url, group_page_url, member_page_url

BASE = {"BOT_ENV_FILE": "/nonexistent/.env"}


def problems(**values):
    return load({**BASE, **values}).problems


def test_console_variables_are_checked_by_name(tmp_path):
    assert problems(BOT_PUBLIC_URL="https://bot.example.com/") == []
    assert load({**BASE, "BOT_PUBLIC_URL": "https://bot.example.com/"}).public_url == "https://bot.example.com"
    assert any(p.startswith("BOT_PUBLIC_URL=") for p in problems(BOT_PUBLIC_URL="bot.example.com"))
    short = problems(BOT_SECRET_KEY="tooshort")
    assert any(p.startswith("BOT_SECRET_KEY:") for p in short) and not any("tooshort" in p for p in short)
    assert any(p.startswith("BOT_WW_VERIFY_FILE:") for p in problems(BOT_WW_VERIFY_FILE="verify.txt:abc"))
    assert any(p.startswith("BOT_WW_VERIFY_FILE:") for p in problems(BOT_WW_VERIFY_FILE="WW_verify_abc.txt:"))
    missing = str(tmp_path / "WW_verify_x1.txt")
    assert any(p.startswith("BOT_WW_VERIFY_FILE: cannot read") for p in problems(BOT_WW_VERIFY_FILE=missing))
    ok = load({**BASE, "BOT_WW_VERIFY_FILE": "WW_verify_abc.txt:xyz"})
    assert ok.ww_verify == ("WW_verify_abc.txt", "xyz") and ok.problems == []


def test_the_secret_key_is_a_secret():
    s = load({**BASE, "BOT_SECRET_KEY": "k" * 40})
    assert "k" * 40 in s.secrets() and "k" * 40 not in repr(s)


def test_links_to_the_console_only_with_a_public_url():
    assert group_page_url("", "xhs01") is None and member_page_url("", "xhs01", "lu") is None
    assert console_url("https://bot.example.com/") == "https://bot.example.com/console/"
    assert group_page_url("https://bot.example.com", "XHS01") == "https://bot.example.com/console/g/xhs01"
    assert (
        member_page_url("https://b.example.com/x", "xhs01", "a b") == "https://b.example.com/x/console/g/xhs01/m/a%20b"
    )
