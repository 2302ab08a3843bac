"""workers.export: the register as xlsx (opened back with openpyxl) and as csv (UTF-8 with BOM)."""

from __future__ import annotations

import csv
import json
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from handlers.calendar import day_index, week_start
from wecom_bot import cli
from workers import export, keys

TZ = ZoneInfo("Asia/Shanghai")
TODAY = day_index(date(2024, 5, 8))  # a Wednesday
WEEK = week_start(TODAY)
BASE = TODAY - 35
NOTE_AT = int(datetime(2024, 5, 7, 21, 30, tzinfo=TZ).timestamp())


@pytest.fixture
def group(env, r):
    s = env(
        BOT_GROUPS="xhs01",
        GROUP_XHS01_CHAT_ID="wrchat01",
        GROUP_XHS01_NAME="小红书01",
        GROUP_XHS01_LEADERS="leader1",
        GROUP_XHS01_MEMBERS="lulu,qing,momo",
    )
    r.set(keys.base("xhs01"), BASE)
    r.hset(keys.names("xhs01"), mapping={"lulu": "小鹿", "qing": "阿青", "momo": "Momo"})
    # 小鹿: all of last week (7 days), Mon-Wed this week
    for d in list(range(WEEK - 7, WEEK)) + [WEEK, WEEK + 1, WEEK + 2]:
        r.setbit(keys.days("xhs01", "lulu"), d - BASE, 1)
    # 阿青: one day last week, goal 2 from last week; this week on leave Tue-Wed
    r.setbit(keys.days("xhs01", "qing"), WEEK - 3 - BASE, 1)
    r.hset(keys.goals("xhs01", "qing"), str(WEEK - 7), "2")
    for d in (WEEK + 1, WEEK + 2):
        r.setbit(keys.off("xhs01", "qing"), d - BASE, 1)
    # Momo was removed from the roster but keeps her history
    r.setbit(keys.days("xhs01", "momo"), WEEK - 6 - BASE, 1)
    r.sadd(keys.removed("xhs01"), "momo")
    for text in ("本周出差，周末补更", "状态回来了"):
        r.rpush(
            keys.notes("xhs01", "lulu"),
            json.dumps({"text": text, "by": "leader1", "by_name": "鹿组长", "at": NOTE_AT}, ensure_ascii=False),
        )
    return s.group("xhs01")


def test_xlsx(r, group, tmp_path):
    path = tmp_path / "out" / "register.xlsx"
    assert export.write(r, group, "xlsx", path, today=TODAY) == str(path)
    wb = load_workbook(path)
    assert wb.sheetnames == ["学员目标／监督登记", "学员档案记录"]
    ws = wb["学员目标／监督登记"]
    rows = [[c.value for c in row] for row in ws.iter_rows()]
    header = rows[0]
    assert header[:3] == ["成员", "userid", "当前目标"]
    assert header[3:7] == ["4/29周 打卡", "4/29周 结果", "5/6周 打卡", "5/6周 结果"]
    assert header[7:] == ["连续天数", "最长连续", "累计天数", "状态", "档案"]
    by_name = {row[0]: row for row in rows[1:]}
    assert list(by_name) == ["小鹿", "阿青", "Momo"]
    assert by_name["小鹿"][1:] == [
        "lulu",
        3,
        7,
        "✅",
        3,
        "✅",
        10,
        10,
        10,
        "在营",
        "2024-05-07 本周出差，周末补更\n2024-05-07 状态回来了",
    ]
    # 阿青: goal 2, 1 day last week (missed); this week 2 days off lower it to 1 (the goal in force, as
    # the chat shows it), 0 so far with 5 days left: still possible
    assert by_name["阿青"][2:7] == [1, 1, "❌", 0, "⏳"]
    assert by_name["阿青"][7:10] == [0, 1, 1]
    assert by_name["Momo"][10] == "已移除" and by_name["Momo"][3] == 1

    notes = [[c.value for c in row] for row in wb["学员档案记录"].iter_rows()]
    assert notes == [
        ["成员", "时间", "记录", "记录人"],
        ["小鹿", "2024-05-07 21:30", "本周出差，周末补更", "鹿组长"],
        ["小鹿", "2024-05-07 21:30", "状态回来了", "鹿组长"],
    ]


def test_csv_has_a_bom_and_chinese_intact(r, group, tmp_path):
    path = tmp_path / "register.csv"
    export.write(r, group, "csv", path, today=TODAY)
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    with open(path, encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0][0] == "成员" and rows[0][-1] == "档案"
    assert [row[0] for row in rows[1:]] == ["小鹿", "阿青", "Momo"]
    assert rows[1][-1] == "2024-05-07 本周出差，周末补更\n2024-05-07 状态回来了"
    assert rows[3][-2] == "已移除"


def test_first_day_is_the_camp_start_when_configured(env, r, tmp_path):
    s = env(
        BOT_GROUPS="xhs01",
        GROUP_XHS01_CHAT_ID="wrchat01",
        GROUP_XHS01_LEADERS="leader1",
        GROUP_XHS01_MEMBERS="lulu",
        GROUP_XHS01_CAMP_START="2024-04-15",
    )
    path = tmp_path / "r.csv"
    export.write(r, s.group("xhs01"), "csv", path, today=TODAY)
    with open(path, encoding="utf-8-sig", newline="") as f:
        header = next(csv.reader(f))
    assert [h for h in header if h.endswith("打卡")] == ["4/15周 打卡", "4/22周 打卡", "4/29周 打卡", "5/6周 打卡"]


def test_an_empty_group(env, r, tmp_path):
    s = env(BOT_GROUPS="xhs01", GROUP_XHS01_CHAT_ID="wrchat01", GROUP_XHS01_LEADERS="leader1")
    path = tmp_path / "e.xlsx"
    export.write(r, s.group("xhs01"), "xlsx", path, today=TODAY)
    wb = load_workbook(path)
    assert wb.worksheets[0].max_row == 1


def test_unknown_format(r, group, tmp_path):
    with pytest.raises(ValueError):
        export.write(r, group, "pdf", tmp_path / "x.pdf", today=TODAY)


def test_cli_export(r, group, tmp_path, capsys):
    out = tmp_path / "cli.xlsx"
    assert cli.main(["export", "xhs01", "--format", "xlsx", "--output", str(out)]) == 0
    assert load_workbook(out).sheetnames == ["学员目标／监督登记", "学员档案记录"]
