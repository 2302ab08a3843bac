"""Settings and `wecom-bot check-config`: each wrong variable is named exactly."""

from __future__ import annotations

import pytest

from config.settings import ConfigError, Slot, load, parse_slot
from wecom_bot.cli import main as cli

GOOD = {
    "BOT_ENV_FILE": "/nonexistent/.env",
    "WECOM_CORP_ID": "wwcorp",
    "WECOM_AGENT_ID": "1000002",
    "WECOM_SECRET": "secret-value-123",
    "WECOM_ROBOT_TOKEN": "tok",
    "WECOM_ROBOT_ENCODING_AES_KEY": "a" * 43,
    "BOT_ADMINS": "boss",
    "BOT_GROUPS": "xhs01,XHS02",
    "GROUP_XHS01_CHAT_ID": "chat1",
    "GROUP_XHS01_LEADERS": "lead1",
    "GROUP_XHS02_CHAT_ID": "chat2",
    "GROUP_XHS02_TIMEZONE": "Europe/Berlin",
    "GROUP_XHS02_CHAIN_AT": "off",
    "GROUP_XHS02_SUMMARY_AT": "周六 20:30",
}


def problems(**changes):
    env = {**GOOD, **changes}
    return load({k: v for k, v in env.items() if v is not None}).problems


def test_a_good_configuration_has_no_problems():
    s = load(dict(GOOD))
    assert s.problems == []
    assert set(s.groups) == {"xhs01", "xhs02"}  # keys are case-insensitive
    assert s.groups["xhs02"].slots["chain"] is None  # `off`
    assert s.groups["xhs02"].slots["summary"] == Slot(20, 30, 5)
    assert s.groups["xhs01"].slots["midweek"] == Slot(20, 0, 2)  # the default, wed 20:00
    assert s.group_by_chat("chat2").timezone == "Europe/Berlin"


@pytest.mark.parametrize(
    "changes, variable",
    [
        ({"WECOM_ROBOT_ENCODING_AES_KEY": "short"}, "WECOM_ROBOT_ENCODING_AES_KEY"),
        ({"WECOM_ENCODING_AES_KEY": "b" * 42, "WECOM_TOKEN": "t"}, "WECOM_ENCODING_AES_KEY"),
        ({"GROUP_XHS01_CHAT_ID": None}, "GROUP_XHS01_CHAT_ID"),
        ({"BOT_CHAIN_AT": "25:00"}, "BOT_CHAIN_AT"),
        ({"GROUP_XHS01_REMIND_AT": "9pm"}, "GROUP_XHS01_REMIND_AT"),
        ({"BOT_MIDWEEK_AT": "20:00"}, "BOT_MIDWEEK_AT"),
        ({"BOT_TIMEZONE": "Mars/Olympus"}, "BOT_TIMEZONE"),
        ({"GROUP_XHS02_TIMEZONE": "CST"}, "GROUP_XHS02_TIMEZONE"),
        ({"BOT_WEEKLY_GOAL": "9"}, "BOT_WEEKLY_GOAL"),
        ({"GROUP_XHS01_WEEKLY_GOAL": "three"}, "GROUP_XHS01_WEEKLY_GOAL"),
        ({"WECOM_SECRET": None}, "WECOM_SECRET"),
        ({"WECOM_AGENT_ID": "abc"}, "WECOM_AGENT_ID"),
        ({"GROUP_XHS03_CHAT_ID": "chat3"}, "GROUP_XHS03_CHAT_ID"),
        ({"GROUP_XHS02_CHAT_ID": "chat1"}, "GROUP_XHS02_CHAT_ID"),
        ({"BOT_GROUPS": "xhs01,bad-key!"}, "BOT_GROUPS"),
        ({"BOT_QUIET_HOURS": "late"}, "BOT_QUIET_HOURS"),
        ({"BOT_CAMP_START": "2026-13-01"}, "BOT_CAMP_START"),
        ({"WECOM_ROBOT_TOKEN": None}, "WECOM_ROBOT_TOKEN"),
    ],
)
def test_each_problem_names_the_variable(changes, variable):
    found = problems(**changes)
    assert found and any(p.startswith(variable) for p in found), found


def test_no_problem_message_carries_a_secret():
    found = problems(WECOM_ROBOT_ENCODING_AES_KEY="x" * 40, WECOM_SECRET="")
    assert not any("x" * 40 in p for p in found)


def test_strict_load_raises_with_all_problems():
    with pytest.raises(ConfigError) as exc:
        load({**GOOD, "BOT_CHAIN_AT": "7", "BOT_TIMEZONE": "Nowhere"}, strict=True)
    assert len(exc.value.problems) == 2


def test_nothing_configured_means_the_simulator():
    s = load({"BOT_ENV_FILE": "/nonexistent/.env", "PORT": "8123"})
    assert s.simulated and s.api_base_url == "http://127.0.0.1:8123/_sim/cgi-bin/" and not s.problems


def test_the_env_file_is_read_and_the_environment_wins(tmp_path):
    f = tmp_path / "camp.env"
    f.write_text("BOT_GROUPS=a1\nGROUP_A1_CHAT_ID=c1\nGROUP_A1_LEADERS=x\nBOT_TIMEZONE=Asia/Tokyo\n", encoding="utf-8")
    s = load({"BOT_ENV_FILE": str(f), "BOT_TIMEZONE": "Europe/Paris"})
    assert s.groups["a1"].chat_id == "c1" and s.timezone == "Europe/Paris"


@pytest.mark.parametrize(
    "text, weekly, expected",
    [
        ("08:00", False, Slot(8, 0)),
        ("7:05", False, Slot(7, 5)),
        ("OFF", False, None),
        ("Sun 21:00", True, Slot(21, 0, 6)),
        ("sunday 21:00", True, Slot(21, 0, 6)),
        ("周三 20:00", True, Slot(20, 0, 2)),
    ],
)
def test_slot_forms(text, weekly, expected):
    assert parse_slot(text, weekly) == expected


def test_check_config_exit_codes(monkeypatch, capsys):
    for k, v in GOOD.items():
        monkeypatch.setenv(k, v)
    assert cli(["check-config"]) == 0
    assert "configuration OK" in capsys.readouterr().out
    monkeypatch.setenv("GROUP_XHS01_CHAIN_AT", "8 o'clock")
    assert cli(["check-config"]) != 0
    assert "GROUP_XHS01_CHAIN_AT" in capsys.readouterr().err


def test_members_may_carry_display_names():
    from config.settings import load

    s = load(
        {
            "BOT_ENV_FILE": "/nonexistent",
            "BOT_GROUPS": "g1",
            "GROUP_G1_CHAT_ID": "c1",
            "GROUP_G1_LEADERS": "lily:莉莉",
            "GROUP_G1_MEMBERS": "lulu:小鹿, qing ,momo：Momo",
        }
    )
    g = s.groups["g1"]
    assert not s.problems
    assert g.members == ("lulu", "qing", "momo") and g.leaders == ("lily",)
    assert g.display_names == {"lulu": "小鹿", "momo": "Momo", "lily": "莉莉"}
    bad = load(
        {
            "BOT_ENV_FILE": "/nonexistent",
            "BOT_GROUPS": "g1",
            "GROUP_G1_CHAT_ID": "c1",
            "GROUP_G1_LEADERS": "lily",
            "GROUP_G1_MEMBERS": "小鹿:lulu",
        }
    )
    assert any("GROUP_G1_MEMBERS: '小鹿' is not a WeCom userid" in p for p in bad.problems)


def test_env_example_documents_every_variable_the_settings_read():
    """Each BOT_* / WECOM_* name read by config/ (settings.py and its section modules), and each
    per-group suffix, is in .env.example, so an operator finds every knob there."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    source = "\n".join(f.read_text(encoding="utf-8") for f in sorted((root / "config").glob("*.py")))
    example = (root / ".env.example").read_text(encoding="utf-8")
    names = set(re.findall(r'(?:get|integer|day|timezone)\("((?:BOT|WECOM)_[A-Z_]+)"', source)) - {"BOT_ENV_FILE"}
    assert len(names) > 20
    slot_names = {f"BOT_{slot.upper()}_AT" for slot in ("chain", "remind", "digest", "midweek", "summary")}
    missing = sorted(n for n in names | slot_names if not re.search(rf"^#?\s*{n}=", example, re.M))
    assert missing == [], f"not in .env.example: {missing}"
    suffixes = set(re.findall(r'p \+ "([A-Z_]+)"', source)) | set(re.findall(r'f"\{p\}([A-Z_]+)"', source))
    assert suffixes, "the per-group variables are read as p + SUFFIX"
    missing = sorted(s for s in suffixes if f"GROUP_XHS01_{s}" not in example)
    assert missing == [], f"per-group variables not in .env.example: {missing}"


def test_env_file_values_with_and_without_interpolation(tmp_path):
    from config.settings import read_environment

    plain = tmp_path / "plain.env"
    plain.write_text(
        "BOT_GROUPS=g1\nGROUP_G1_NAME='小红书 1 组'\n# a comment\nGROUP_G1_LEADERS=lily # leader\n", encoding="utf-8"
    )
    env = read_environment({}, plain)
    assert env["GROUP_G1_NAME"] == "小红书 1 组" and env["GROUP_G1_LEADERS"] == "lily"
    templated = tmp_path / "templated.env"
    templated.write_text("CAMP=xhs\nBOT_GROUPS=${CAMP}01,${CAMP}02\n", encoding="utf-8")
    assert read_environment({}, templated)["BOT_GROUPS"] == "xhs01,xhs02"
    assert read_environment({"BOT_GROUPS": "real"}, templated)["BOT_GROUPS"] == "real"  # the environment wins
