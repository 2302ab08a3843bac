"""Names from the directory (workers/directory.py) against the simulator's user/get: a configured member
who never posted is named by display name, a miss fetches a group's names at most once a minute, errors
leave the userid, names learnt from posts win, and the daily refresh runs from the minute tick."""

from __future__ import annotations

import itertools
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from config.settings import get_settings
from wecom_bot.sim.builders import app_xml, robot_xml
from wecom_bot.xmlparse import parse_app, parse_robot
from workers import directory, ingest, keys, register
from workers.schedule import tick

TZ = ZoneInfo("Asia/Shanghai")
_ids = itertools.count(8_100_000_000)


@pytest.fixture
def camp(sim, env):
    """Group xhs01 (leader1) with configured members mo01 and lu02, who never posted."""
    env(GROUP_XHS01_MEMBERS="mo01,lu02")
    return sim


def private(userid: str, text: str) -> dict:
    """A private message to the app, as the callback puts it in the inbox."""
    return parse_app(
        app_xml(get_settings().corp_id, userid, text, msgid=str(next(_ids)), create_time=int(time.time())), 0
    )


def say(sim, r, userid: str, text: str) -> str:
    """Send a private command through the inbox (inline worker); the answer the app sent back."""
    before = len(sim.state.sent_messages("message/send"))
    assert ingest.accept(r, private(userid, text))
    answers = [m for m in sim.state.sent_messages("message/send")[before:] if m["touser"] == [userid]]
    assert len(answers) == 1, answers
    return answers[0]["content"]


def user_gets(sim) -> int:
    return sim.state.call_count("user/get")


def test_a_member_who_never_posted_is_named_by_display_name(camp, r, examples):
    camp.state.directory.update({"mo01": "Momo", "lu02": "小鹿", "leader1": "林组长"})
    answer = say(camp, r, "leader1", "档案 Momo 在职妈妈，晚上十点后才有空")
    examples.show("档案 for a member known only from the directory", answer)
    assert "没找到" not in answer and "Momo" in answer
    [note] = r.lrange(keys.notes("xhs01", "mo01"), 0, -1)
    assert "在职妈妈" in note.decode()
    # the miss fetched the group's names: they are kept, and read everywhere names are read
    assert user_gets(camp) == 3  # mo01, lu02 and the leader
    group = get_settings().group("xhs01")
    assert register.member_ids(r, group) == {"mo01": "Momo", "lu02": "小鹿"}
    # known now: the next command needs no fetch
    assert "没找到" not in say(camp, r, "leader1", "档案 小鹿 周末出差")
    assert user_gets(camp) == 3


def test_a_miss_fetches_at_most_once_a_minute(camp, r):
    assert "没找到「Momo」" in say(camp, r, "leader1", "档案 Momo 在职妈妈")  # the directory does not know her yet
    assert user_gets(camp) == 3
    camp.state.directory["mo01"] = "Momo"
    # within the minute another miss asks WeCom nothing
    assert "没找到「Momo」" in say(camp, r, "leader1", "档案 Momo 在职妈妈")
    assert "没找到「Nobody」" in say(camp, r, "leader1", "档案 Nobody 谁")
    assert user_gets(camp) == 3
    # a minute later (the group's last miss moved back) a miss fetches again, and finds her
    r.zadd(keys.DIR_MISSES, {"xhs01": time.time() - keys.DIR_MISS_EVERY - 1})
    assert "没找到" not in say(camp, r, "leader1", "档案 Momo 在职妈妈")
    assert user_gets(camp) == 6
    assert r.lrange(keys.notes("xhs01", "mo01"), 0, -1)


def test_errors_fall_back_to_the_userid(camp, r):
    camp.state.directory.update({"mo01": "Momo", "lu02": "小鹿"})
    camp.state.add_fault({"path": "user/get", "http": 502, "times": 2}, {"path": "user/get", "errcode": 60011})
    answer = say(camp, r, "leader1", "档案 mo01 在职妈妈")  # by userid: resolved without a fetch
    assert "没找到" not in answer
    assert "没找到「小鹿」" in say(camp, r, "leader1", "档案 小鹿 出差")  # the fetch failed: still unknown
    assert r.hlen(keys.DIR_NAMES) == 0
    group = get_settings().group("xhs01")
    assert register.member_ids(r, group) == {"mo01": "mo01", "lu02": "lu02"}
    # WeCom's 60111 (no such user) drops a kept name; the member is shown by userid again
    r.hset(keys.DIR_NAMES, "lu02", "小鹿")
    del camp.state.directory["lu02"]
    assert directory.refresh_group(r, get_settings(), group) == {"mo01": "Momo"}
    assert register.member_ids(r, group) == {"mo01": "Momo", "lu02": "lu02"}


def test_a_name_learnt_from_a_post_wins_and_keeps_updating(camp, r):
    camp.state.directory.update({"mo01": "Momo", "lu02": "小鹿"})
    group = get_settings().group("xhs01")
    directory.refresh_group(r, get_settings(), group)
    assert register.member_ids(r, group)["mo01"] == "Momo"
    post = parse_robot(robot_xml("wrchat01", "mo01", "默默", "@打卡助手 打卡", msgid="dir-p1"), int(time.time()))
    assert ingest.accept(r, post)
    assert register.member_ids(r, group)["mo01"] == "默默"  # what the group sees
    # the directory refresh does not ask about a member the posts name (nor overrides her)
    before = user_gets(camp)
    directory.refresh_group(r, get_settings(), group)
    assert user_gets(camp) == before + 2  # lu02 and the leader only
    assert register.member_ids(r, group) == {"mo01": "默默", "lu02": "小鹿"}


def local_ts(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=TZ).timestamp()


def test_the_daily_refresh_runs_from_the_minute_tick(camp, r):
    camp.state.directory.update({"mo01": "Momo", "lu02": "小鹿"})
    group = get_settings().group("xhs01")
    assert "directory" not in tick(local_ts("2026-03-18 02:59:00"))
    assert user_gets(camp) == 0 and register.member_ids(r, group)["mo01"] == "mo01"
    done = tick(local_ts("2026-03-18 03:30:20"))  # a job queued through workers.jobs (run inline here)
    assert done.get("directory") == "names refresh queued"
    assert register.member_ids(r, group) == {"mo01": "Momo", "lu02": "小鹿"}
    assert user_gets(camp) == 4  # every group's: mo01, lu02, leader1 and leader2
    # once a day: later ticks of the hour, or of the day, queue nothing
    assert "directory" not in tick(local_ts("2026-03-18 03:31:20"))
    assert "directory" not in tick(local_ts("2026-03-18 09:00:00"))
    assert user_gets(camp) == 4
    # the next night the names are fetched again: a rename in the directory shows
    camp.state.directory["mo01"] = "Momo🌙"
    assert tick(local_ts("2026-03-19 03:45:00")).get("directory") == "names refresh queued"
    assert register.member_ids(r, group)["mo01"] == "Momo🌙"


def test_dry_run_and_no_app_fetch_nothing(camp, r, env):
    camp.state.directory["mo01"] = "Momo"
    env(BOT_DRY_RUN="1")
    assert not directory.schedule_daily(r, get_settings(), local_ts("2026-03-18 03:30:00"))
    group = get_settings().group("xhs01")
    assert directory.refresh_group(r, get_settings(), group) == {}
    assert user_gets(camp) == 0
