"""Answers to the 智能机器人 (AI bot) through its response_url, and its open userids, against the simulator:
an AI-bot check-in is counted and answered through the post's response_url exactly once (never through
appchat), the URL appears in no log line and no RQ job, a spent or expired URL is never retried into a
duplicate and ends in the failed registry with its reason, and an encrypted open userid is converted."""

from __future__ import annotations

import logging
import time
import zlib
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from rq import Queue, SimpleWorker

from config.settings import get_settings
from handlers.calendar import day_of
from wecom_bot import create_app
from wecom_bot.aibot import parse_aibot
from wecom_bot.crypto import CallbackCrypto
from wecom_bot.sim.builders import aibot_json, sign_aibot
from workers import aibot, directory, ingest, jobs, keys, outbound, register, streams
from workers.connection import get_redis

TZ = ZoneInfo("Asia/Shanghai")
AIBOT_TOKEN, AIBOT_AES = "aibotToken4567", "Zq1xW2ce3VR4bt5NY6mu7I8ko9LP0aSdFgHjKlZxCvB"


@pytest.fixture
def camp(sim, env):
    """Group xhs02 has no robot (an AI bot's group: answers through response_url), xhs01 has one."""
    env(
        GROUP_XHS02_MEMBERS="qing,lu",
        GROUP_XHS01_MEMBERS="momo",
        WECOM_AIBOT_TOKEN=AIBOT_TOKEN,
        WECOM_AIBOT_ENCODING_AES_KEY=AIBOT_AES,
    )
    sim.state.directory.update({"qing": "阿青", "lu": "小鹿", "momo": "Momo"})
    directory.refresh_job()
    return sim


def event(sim, chat: str, userid: str, text: str, msgid: str, url: str | None = None, ts: float | None = None) -> dict:
    """An AI-bot post as the web process puts it in the inbox (the JSON as WeCom sends it, parsed)."""
    url = sim.response_url() if url is None else url
    return parse_aibot(aibot_json(chat, userid, text, msgid=msgid, response_url=url), int(ts or time.time()))


def answers(sim, path: str | None = None) -> list[dict]:
    return [m for m in sim.state.sent_messages(path) if path or m["path"] != "user/get"]


def checked_in(r, group: str, userid: str) -> bool:
    g = get_settings().group(group)
    return userid in register.member_ids(r, g) and any(
        row.userid == userid and row.checked_in for row in register.rows(r, g, day_of(time.time(), g.tz))
    )


def log_texts(caplog) -> str:
    out = []
    for rec in caplog.records:
        out.append(rec.getMessage())
        if rec.exc_info:
            out.append(logging.Formatter().formatException(rec.exc_info))
    return "\n".join(out)


def test_a_checkin_is_counted_and_answered_through_its_response_url_once(camp, r, caplog, examples):
    caplog.set_level(logging.DEBUG)
    url = camp.response_url()
    code = url.rsplit("=", 1)[1]
    post = event(camp, "wrchat02", "qing", "@打卡助手 打卡", "ai-1", url)
    stored = dict(post)  # the inbox entry, response_url and all
    assert ingest.accept(r, post)
    assert checked_in(r, "xhs02", "qing")
    [reply] = answers(camp)
    examples.show("an AI-bot check-in answered through its response_url", reply["content"])
    assert reply["path"] == "aibot/response" and reply["channel"] == "aibot" and reply["code"] == code
    assert reply["msgtype"] == "markdown" and "阿青" in reply["content"]
    assert outbound.state_of(r, "reply:ai-1")["status"] == "sent"
    # WeCom's retry of the callback, and the same inbox entry processed again: nothing more is sent
    assert not ingest.accept(r, dict(stored))
    ingest.process_batch(r, [("0-1", dict(stored))])
    outbound.process_outbox(r, now=time.time() + 300)
    assert len(answers(camp)) == 1 and answers(camp, "appchat/send") == []
    # the URL was kept apart and is spent; it is in no log line, no outbound message, no failed entry
    assert r.hget(keys.aibot_url("ai-1"), "spent") == b"1"
    assert 0 < r.ttl(keys.aibot_url("ai-1")) <= keys.AIBOT_URL_TTL
    texts = log_texts(caplog)
    assert "aibot/response" in texts and "response_code=***" in texts  # the call was logged, redacted
    assert code not in texts and url not in texts
    for key in r.scan_iter("wb:out:*"):
        if r.type(key) == b"hash":
            assert not any(code.encode() in v for v in r.hvals(key))
    assert not any(code.encode() in b"".join(f for kv in e.items() for f in kv) for _, e in r.xrange(keys.OUTBOX))


def test_a_group_with_a_robot_is_answered_through_the_robot(camp, r):
    assert ingest.accept(r, event(camp, "wrchat01", "momo", "@打卡助手 打卡", "ai-robot"))
    [reply] = answers(camp)
    assert reply["path"] == "webhook/send" and "Momo" in reply["content"]
    assert camp.state.call_count("aibot/response") == 0


def test_commands_and_hints_answer_through_the_response_url_too(camp, r):
    assert ingest.accept(r, event(camp, "wrchat02", "leader2", "@打卡助手 本周", "ai-cmd"))
    assert ingest.accept(r, event(camp, "wrchat02", "lu", "@打卡助手 今天天气真好", "ai-hint"))
    sent = answers(camp)
    assert [m["path"] for m in sent] == ["aibot/response", "aibot/response"]
    assert "小鹿" in sent[0]["content"] and "阿青" in sent[0]["content"]  # 本周: the register, named


def test_a_spent_or_expired_response_url_is_not_retried_and_fails_with_its_reason(camp, r):
    # another answer to a post already answered: the URL is spent, and the group has no robot
    assert ingest.accept(r, event(camp, "wrchat02", "qing", "@打卡助手 打卡", "ai-2"))
    extra = {"id": "extra:ai-2", "to": "group", "group": "xhs02", "content": "再说一句", "aibot": "ai-2"}
    outbound.post(r, extra)
    failed = {f["id"]: f for f in outbound.failed_list(r)}
    assert "answered once already" in failed["extra:ai-2"]["error"]
    assert "GROUP_XHS02_WEBHOOK_KEY" in failed["extra:ai-2"]["error"]
    # an answer after the hour: WeCom refuses the URL; it is not retried, and not sent another way
    late = event(camp, "wrchat02", "lu", "@打卡助手 打卡", "ai-3")
    camp.state.expire_response_codes()
    assert ingest.accept(r, late)
    outbound.process_outbox(r, now=time.time() + 600)
    failed = {f["id"]: f for f in outbound.failed_list(r)}
    assert "refused" in failed["reply:ai-3"]["error"] and failed["reply:ai-3"]["attempts"] == 1
    assert failed["reply:ai-3"]["errcode"] is not None
    assert camp.state.call_count("aibot/response") == 2  # ai-2's answer, ai-3's refused one
    assert len(answers(camp, "aibot/response")) == 1 and answers(camp, "appchat/send") == []
    # a URL whose hour passed before the worker saw the post is not even kept
    old = event(camp, "wrchat02", "qing", "@打卡助手 打卡", "ai-old", ts=time.time() - 4000)
    assert aibot.remember_urls(r, [old]) == 0 and "response_url" not in old


def test_a_failure_for_certain_is_retried_and_a_timeout_never_doubled(camp, r):
    camp.state.add_fault({"path": "aibot/response", "http": 502})
    t = time.time()
    assert ingest.accept(r, event(camp, "wrchat02", "qing", "@打卡助手 打卡", "ai-4"))
    assert outbound.state_of(r, "reply:ai-4")["status"] == "retry"
    outbound.process_outbox(r, now=t + 5)
    assert len(answers(camp, "aibot/response")) == 1
    # a timeout whose post did arrive: the one retry finds the URL used and sends nothing elsewhere
    camp.state.add_fault({"path": "aibot/response", "timeout": True, "delivered": True})
    assert ingest.accept(r, event(camp, "wrchat02", "lu", "@打卡助手 打卡", "ai-5"))
    outbound.process_outbox(r, now=t + 30)
    assert len(answers(camp, "aibot/response")) == 2
    [f] = outbound.failed_list(r)
    assert f["id"] == "reply:ai-5" and "may have arrived" in f["error"]
    assert outbound.metrics(r)["sends_unknown"] == 1


def test_open_userids_are_converted_and_cached(camp, r):
    camp.state.open_userids["woAbC-enc-qing"] = "qing"
    assert ingest.accept(r, event(camp, "wrchat02", "woAbC-enc-qing", "@打卡助手 打卡", "ai-6"))
    assert checked_in(r, "xhs02", "qing")
    assert "阿青" in answers(camp, "aibot/response")[0]["content"]
    assert ingest.accept(r, event(camp, "wrchat02", "woAbC-enc-qing", "@打卡助手 打卡", "ai-7"))
    assert camp.state.call_count("batch/openuserid_to_userid") == 1  # cached
    assert r.get(keys.openid("woAbC-enc-qing")) == b"qing"
    # an id WeCom will not convert (invalid_open_userid_list) is kept as it came; errors too
    assert aibot.convert_open_userids(r, get_settings(), ["wo-stranger"]) == {}
    assert r.get(keys.openid("wo-stranger")) == b""
    camp.state.add_fault({"path": "batch/openuserid_to_userid", "http": 502})
    assert aibot.convert_open_userids(r, get_settings(), ["wo-other"]) == {}
    assert r.get(keys.openid("wo-other")) is None  # asked again next time
    # a configured member's userid is never sent for conversion
    calls = camp.state.call_count("batch/openuserid_to_userid")
    assert ingest.accept(r, event(camp, "wrchat02", "lu", "@打卡助手 打卡", "ai-8"))
    assert camp.state.call_count("batch/openuserid_to_userid") == calls


def job_texts(job: dict) -> str:
    out = []
    for field, value in job.items():
        if field in (b"data", b"exc_info", b"result"):
            try:
                value = zlib.decompress(value)
            except zlib.error:
                pass
        out.append(value.decode("latin-1"))
    return "\n".join(out)


def test_the_response_url_is_in_no_rq_job(camp, r):
    """With real RQ jobs (not inline): every job hash, description and pickled arguments included."""
    url = camp.response_url()
    code = url.rsplit("=", 1)[1]
    jobs.set_inline(False)
    seen: dict[bytes, dict] = {}

    def snapshot():
        for key in r.scan_iter("rq:job:*"):
            if r.type(key) == b"hash":
                seen[key] = r.hgetall(key)

    assert ingest.accept(r, event(camp, "wrchat02", "qing", "@打卡助手 打卡", "ai-9", url))
    worker = SimpleWorker([Queue(q, connection=get_redis()) for q in jobs.QUEUES], connection=get_redis())
    for _ in range(20):
        snapshot()
        if not worker.work(burst=True, max_jobs=1):
            break
        if r.xlen(streams.INBOX.key) == 0 and r.xlen(streams.OUTBOX.key) == 0 and answers(camp, "aibot/response"):
            snapshot()
            break
    assert [m["code"] for m in answers(camp, "aibot/response")] == [code]
    assert any(b"drain_inbox" in j.get(b"description", b"") for j in seen.values())
    for key, job in seen.items():
        text = job_texts(job)
        assert code not in text and "response_url" not in text, key


def test_end_to_end_through_the_aibot_endpoint(camp, r, caplog):
    caplog.set_level(logging.DEBUG)
    client = create_app().test_client()
    crypto = CallbackCrypto(AIBOT_TOKEN, AIBOT_AES, "")
    url = camp.response_url()
    code = url.rsplit("=", 1)[1]
    now = int(datetime.now(TZ).timestamp())
    message = aibot_json("wrchat02", "lu", "@打卡助手 打卡 已更", msgid="ai-http-1", response_url=url)
    signed = sign_aibot(crypto, message, now)
    for _ in range(2):  # WeCom's retry counts once
        assert client.post(signed.path, data=signed.body).status_code == 200
    assert checked_in(r, "xhs02", "lu")
    [reply] = answers(camp)
    assert reply["path"] == "aibot/response" and reply["code"] == code and "小鹿" in reply["content"]
    assert code not in log_texts(caplog)
