"""The 智能机器人 (AI bot) in API mode: GET|POST /wecom/aibot, JSON inside the usual signed encryption,
into the same inbox as the robots' posts, with the same dedupe, freshness and status codes."""

from __future__ import annotations

import http.server
import json
import logging
import threading
import time
from datetime import datetime
from pathlib import Path
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rq import Queue

from bench.common import free_port
from wecom_bot import create_app
from wecom_bot.aibot import parse_aibot, parse_json_envelope
from wecom_bot.cli import main as cli
from wecom_bot.crypto import CallbackCrypto, Malformed
from wecom_bot.sim.builders import Signed, aibot_json, sign_aibot, url_check
from workers import jobs, keys, streams

TOKEN, AES = "aibotToken42x", "AiBotAesKey0123456789abcdefghijklmnopqrstuv"
AIBOT = CallbackCrypto(TOKEN, AES, "")
TZ = ZoneInfo("Asia/Shanghai")
RESPONSE_URL = "https://qyapi.weixin.qq.com/cgi-bin/aibot/response?response_code=RC-s3cr3t-0123456789"
MSG = "CAIQ16HMjQYY/NGagIOAgAMgq4KM0AI="  # shaped like the msgid in WeCom's docs (path 100719)


def at(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=TZ).timestamp())


@pytest.fixture
def client(env):
    env(
        WECOM_CORP_ID="wwcorp0001",
        WECOM_AGENT_ID="1000002",
        WECOM_SECRET="s" * 43,
        WECOM_API_BASE_URL="http://127.0.0.1:9/cgi-bin/",
        WECOM_AIBOT_TOKEN=TOKEN,
        WECOM_AIBOT_ENCODING_AES_KEY=AES,
        BOT_GROUPS="g1",
        GROUP_G1_CHAT_ID="chat1",
        GROUP_G1_LEADERS="leader",
    )
    jobs.set_inline(False)  # only the callback here: nothing is processed
    return create_app().test_client()


def send(client, message: str, ts: int | None = None, crypto: CallbackCrypto = AIBOT):
    s = sign_aibot(crypto, message, ts or int(time.time()))
    return client.post(s.path, data=s.body, content_type="application/json")


def inbox(r) -> list[dict]:
    return [json.loads(fields[b"p"]) for _id, fields in r.xrange(streams.INBOX.key)]


# -- the URL check -------------------------------------------------------------------------------------
def test_url_check_answers_the_plaintext_within_a_second(client):
    start = time.monotonic()
    res = client.get(url_check(AIBOT, "/wecom/aibot", "6418417373574528", int(time.time())))
    assert res.status_code == 200 and res.data == b"6418417373574528"  # no quotes, no BOM, no newline
    assert time.monotonic() - start < 1.0


def test_url_check_with_another_token_or_a_corp_id_is_403(client):
    other = CallbackCrypto("someoneElse1", AES, "")
    assert client.get(url_check(other, "/wecom/aibot", "123", int(time.time()))).status_code == 403
    corp = CallbackCrypto(TOKEN, AES, "wwcorp0001")
    res = client.get(url_check(corp, "/wecom/aibot", "123", int(time.time())))
    assert (res.status_code, res.data) == (403, b"wrong receive id")


# -- messages into the inbox -----------------------------------------------------------------------------
def test_a_signed_group_post_becomes_an_inbox_event(client, r):
    ts = int(time.time())
    message = aibot_json("chat1", "lulu", "@打卡助手 打卡", msgid=MSG, aibotid="AIBOTID", response_url=RESPONSE_URL)
    res = send(client, message, ts)
    assert (res.status_code, res.data) == (200, b"")  # an empty answer: nothing passive
    assert inbox(r) == [
        {
            "source": "aibot",
            "msgid": MSG,
            "chat_id": "chat1",
            "chat_type": "group",
            "userid": "lulu",
            "name": "",
            "alias": "",
            "msgtype": "text",
            "text": "@打卡助手 打卡",
            "has_image": False,
            "event": "",
            "ts": ts,
            "aibotid": "AIBOTID",
            "response_url": RESPONSE_URL,
        }
    ]
    assert 'wecom_bot_callbacks_total{endpoint="aibot",status="200"} 1' in client.get("/metrics").data.decode()


@pytest.mark.parametrize(
    "kwargs, expected",
    [
        ({"chat_type": "single", "text": "打卡"}, {"chat_id": "", "chat_type": "single", "text": "打卡"}),
        ({"msgtype": "image"}, {"msgtype": "image", "has_image": True, "text": ""}),
        (
            {"msgtype": "mixed", "text": "@打卡助手 已更"},
            {"msgtype": "mixed", "has_image": True, "text": "@打卡助手 已更"},
        ),
        ({"msgtype": "stream"}, {"msgtype": "event", "event": "stream", "text": ""}),
        (
            {"msgtype": "event", "event": "enter_chat", "chat_type": "single"},
            {"msgtype": "event", "event": "enter_chat"},
        ),
        ({"create_time": 1700000000}, {"ts": 1700000000}),
        ({"create_time": 1700000000123}, {"ts": 1700000000}),  # milliseconds
    ],
)
def test_message_types(client, r, kwargs, expected):
    assert send(client, aibot_json("chat1", "lulu", kwargs.pop("text", "hi"), **kwargs)).status_code == 200
    (event,) = inbox(r)
    assert {k: event[k] for k in expected} == expected and event["source"] == "aibot"


def test_the_open_userid_is_passed_through(client, r):
    open_id = "woAJ2GCAAAXtWyujaWJHDDGi0mACHAAA"  # an encrypted open userid: converted by the worker
    assert send(client, aibot_json("chat1", open_id, "打卡")).status_code == 200
    assert inbox(r)[0]["userid"] == open_id


def test_dedupe_on_msgid(client, r):
    message = aibot_json("chat1", "lulu", "@打卡助手 打卡", msgid=MSG)
    for i in range(3):  # WeCom's retries, each signed anew
        assert send(client, message, int(time.time()) + i).status_code == 200
    assert len(inbox(r)) == 1
    assert r.exists(keys.seen(MSG))


# WeCom's own samples (developer docs: a text message, path 100719; the events' common format, path 101027)
DOC_TEXT = """{
    "msgid": "CAIQ16HMjQYY\\/NGagIOAgAMgq4KM0AI=",
    "aibotid": "AIBOTID",
    "chatid": "CHATID",
    "chattype": "group",
    "from": {"userid": "USERID"},
    "response_url": "RESPONSEURL",
    "msgtype": "text",
    "text": {"content": "@RobotA hello robot"},
    "quote": {"msgtype": "text", "text": {"content": "quoted"}}
}"""
DOC_EVENT = """{
    "msgid": "CAIQ16HMjQYY\\/NGagIOAgAMgq4KM0AI=",
    "create_time": 1700000000,
    "aibotid": "AIBOTID",
    "chatid": "CHATID",
    "chattype": "single",
    "from": {"corpid": "wpxxxx", "userid": "USERID"},
    "msgtype": "event",
    "event": {"eventtype": "enter_chat", "enter_chat": {}}
}"""


def test_the_documented_samples():
    ev = parse_aibot(DOC_TEXT, 1700000001)
    assert (ev["msgid"], ev["chat_id"], ev["userid"], ev["text"]) == (MSG, "CHATID", "USERID", "@RobotA hello robot")
    assert (ev["aibotid"], ev["response_url"], ev["ts"]) == ("AIBOTID", "RESPONSEURL", 1700000001)
    ev = parse_aibot(DOC_EVENT, 1700000001)
    assert (ev["msgtype"], ev["event"], ev["chat_id"], ev["ts"]) == ("event", "enter_chat", "", 1700000000)


# -- refusals ---------------------------------------------------------------------------------------
def test_bad_signature_is_403_and_stores_nothing(client, r):
    s = sign_aibot(AIBOT, aibot_json("chat1", "lulu", "打卡"), int(time.time()))
    forged = s.path.split("msg_signature=")[0] + "msg_signature=" + "0" * 40 + "&" + s.path.split("&", 1)[1]
    res = client.post(forged, data=s.body)
    assert (res.status_code, res.data) == (403, b"bad signature")
    other = CallbackCrypto("anotherToken", AES, "")
    assert send(client, aibot_json("chat1", "lulu", "打卡"), crypto=other).status_code == 403
    assert inbox(r) == []


def _query(ts: int | None = None) -> str:
    return f"/wecom/aibot?msg_signature={'a' * 40}&timestamp={ts or int(time.time())}&nonce=n"


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"<xml><Encrypt>abc</Encrypt></xml>",  # the robots' envelope
        b"[]",
        b'{"encrypt": 5}',
        b'{"encrypt": ""}',
        b'{"Encrypt": "abcd"}',
        b'{"encrypt": "abcd", "encrypt": "efgh"}',
        b"\xff\xfe{}",
        b'{"encrypt": NaN}',
        b"[" * 5000 + b"]" * 5000,
    ],
)
def test_a_malformed_envelope_is_400(client, r, body):
    res = client.post(_query(), data=body)
    assert res.status_code == 400, res.data
    assert inbox(r) == []


def msg(**changes) -> str:
    """A private text message with `changes` (a value of None drops the field)."""
    base = {"msgid": "m1", "msgtype": "text", "chattype": "single", "from": {"userid": "u"}, "text": {"content": "x"}}
    base.update(changes)
    return json.dumps({k: v for k, v in base.items() if v is not None})


@pytest.mark.parametrize(
    "plaintext, reason",
    [
        ("not json at all", "bad JSON in the message"),
        ('{"msgtype": "text",}', "bad JSON in the message"),
        ('{"msgid": "m1", "msgid": "m2", "msgtype": "text"}', "bad JSON in the message"),
        ("[1, 2]", "the message is not a JSON object"),
        (msg(msgtype=None), "missing msgtype"),
        (msg(chattype="group"), "missing chatid"),
        (msg(**{"from": None}), "missing from.userid"),
        (msg(**{"from": "u"}), "from is not an object"),
        (msg(text="x"), "text is not an object"),
        (msg(msgid=["m"]), "msgid is not a string"),
        (msg(msgtype="event", event={}), "missing eventtype"),
        (msg(msgtype="mixed", mixed={"msg_item": 3}), "mixed.msg_item is not a list"),
        (msg(create_time=-5), "bad create_time"),
        (msg(create_time="yesterday"), "bad create_time"),
    ],
)
def test_wrong_json_is_400(client, r, plaintext, reason):
    res = send(client, plaintext)
    assert (res.status_code, res.data.decode()) == (400, reason)
    assert inbox(r) == []


def test_a_stale_callback_is_403_before_its_body_is_read(env, client, r):
    env(BOT_CALLBACK_MAX_AGE="3600")
    client = create_app().test_client()
    old = int(time.time()) - 7200
    res = send(client, aibot_json("chat1", "lulu", "@打卡助手 移除 小鹿"), old)
    assert res.status_code == 403 and b"stale" in res.data
    res = client.post(_query(old), data=b"not even json")
    assert res.status_code == 403
    assert send(client, aibot_json("chat1", "lulu", "打卡"), int(time.time()) + 3600).status_code == 403
    assert inbox(r) == []


def test_not_configured_is_403(client, env, r):
    env(WECOM_AIBOT_TOKEN="", WECOM_AIBOT_ENCODING_AES_KEY="")
    client = create_app().test_client()
    res = send(client, aibot_json("chat1", "lulu", "打卡"))
    assert res.status_code == 403 and b"WECOM_AIBOT_TOKEN" in res.data


def test_only_get_and_post(client):
    assert client.put("/wecom/aibot").status_code == 405


# -- the response_url is a capability --------------------------------------------------------------------
def test_the_response_url_is_never_logged_nor_a_job_argument(client, r, caplog):
    caplog.set_level(logging.DEBUG)
    message = aibot_json("chat1", "lulu", "@打卡助手 打卡", msgid="cap-1", response_url=RESPONSE_URL)
    for _ in range(2):  # stored, then a duplicate (logged at info)
        assert send(client, message).status_code == 200
    bad = aibot_json("chat1", "", "打卡", response_url=RESPONSE_URL)  # refused: no userid
    assert send(client, bad).status_code == 400
    stale = json.loads(message)
    stale["create_time"] = "yesterday"
    assert send(client, json.dumps(stale)).status_code == 400
    secret = RESPONSE_URL.split("=", 1)[1]
    assert not [rec for rec in caplog.records if secret in rec.getMessage() or secret in str(rec.exc_info)]
    for name in jobs.QUEUES:
        for job in Queue(name, connection=r).jobs:
            assert secret not in repr((job.func_name, job.args, job.kwargs, job.description))
    assert inbox(r)[0]["response_url"] == RESPONSE_URL  # only here, for the worker that answers


# -- never a 500 ------------------------------------------------------------------------------------------
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "msgid": JSON_VALUES | st.text(max_size=30),
        "aibotid": JSON_VALUES,
        "chatid": st.sampled_from(["chat1", "", "unknown"]) | JSON_VALUES,
        "chattype": st.sampled_from(["group", "single", "GROUP", ""]) | JSON_VALUES,
        "from": st.fixed_dictionaries({}, optional={"userid": st.text(max_size=12) | JSON_VALUES}) | JSON_VALUES,
        "response_url": st.text(max_size=30) | JSON_VALUES,
        "msgtype": st.sampled_from(["text", "image", "mixed", "stream", "event", "voice", ""]) | JSON_VALUES,
        "text": st.fixed_dictionaries({}, optional={"content": st.text(max_size=40) | JSON_VALUES}) | JSON_VALUES,
        "mixed": st.fixed_dictionaries({}, optional={"msg_item": st.lists(JSON_VALUES, max_size=3)}) | JSON_VALUES,
        "event": st.fixed_dictionaries({}, optional={"eventtype": st.text(max_size=12) | JSON_VALUES}) | JSON_VALUES,
        "create_time": st.integers(-10, 10**14) | JSON_VALUES,
    },
)
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))


@FUZZ
@given(message=FIELDS)
def test_fuzz_signed_messages_are_200_or_400(client, r, message):
    res = send(client, json.dumps(message, ensure_ascii=False))
    assert res.status_code in (200, 400), (res.status_code, res.data, message)


@FUZZ
@given(body=st.binary(max_size=300) | JSON_VALUES.map(lambda v: json.dumps(v).encode()))
def test_fuzz_bodies_are_400_or_403(client, body):
    s = sign_aibot(AIBOT, aibot_json("chat1", "lulu", "打卡"), int(time.time()))
    for path in (s.path, _query()):
        res = client.post(path, data=body)
        assert res.status_code in (400, 403), (res.status_code, res.data, body)


@FUZZ
@given(text=st.text(max_size=300))
def test_fuzz_parsers_only_raise_malformed(text):
    for parse in (lambda t: parse_json_envelope(t.encode("utf-8", "surrogatepass")), lambda t: parse_aibot(t, 1)):
        try:
            parse(text)
        except Malformed:
            pass


# -- end to end: check-ins and commands from the AI bot are counted like the robot's -------------------------
@pytest.fixture
def camp(sim, env):
    env(
        WECOM_AIBOT_TOKEN=TOKEN,
        WECOM_AIBOT_ENCODING_AES_KEY=AES,
        GROUP_XHS01_MEMBERS="xiaolu,aqing,momo",
        GROUP_XHS01_WEEKLY_GOAL="3",
    )
    client = create_app().test_client()

    def post(userid: str, text: str, when: str, chat_type: str = "group", msgid: str | None = None) -> Signed:
        message = aibot_json("wrchat01", userid, text, msgid=msgid, chat_type=chat_type, api_base=sim.base_url)
        s = sign_aibot(AIBOT, message, at(when))
        res = client.post(s.path, data=s.body)
        assert res.status_code == 200, res.data
        return s

    post.client = client  # type: ignore[attr-defined]
    return post


def stats(capsys, date: str) -> dict:
    capsys.readouterr()
    assert cli(["stats", "xhs01", "--date", date, "--json"]) == 0
    return {m["userid"]: m for m in json.loads(capsys.readouterr().out)["members"]}


def test_an_aibot_checkin_is_counted_once(camp, capsys):
    s = camp("xiaolu", "@打卡助手 打卡", "2026-11-23 09:00:00", msgid="AI-1")
    assert camp.client.post(s.path, data=s.body).status_code == 200  # WeCom's retry
    camp("aqing", "@打卡助手 已更 http://xhslink.com/a/Qw12Er", "2026-11-23 10:00:00")
    day = stats(capsys, "2026-11-23")
    assert {u: (m["checked_in"], m["total"]) for u, m in day.items()} == {
        "xiaolu": (True, 1),
        "aqing": (True, 1),
        "momo": (False, 0),
    }


def test_an_aibot_private_checkin_and_a_leader_command(camp, capsys):
    camp("momo", "打卡", "2026-11-23 09:00:00", chat_type="single")
    camp("leader1", "@打卡助手 目标 xiaolu 5", "2026-11-23 09:05:00")
    day = stats(capsys, "2026-11-23")
    assert day["momo"]["checked_in"]
    assert day["xiaolu"]["week_goal"] == 5


# -- the simulator page posts as the AI bot too ----------------------------------------------------------
def test_the_simulator_page_posts_as_the_aibot(env, r):
    got: list[tuple[str, bytes]] = []

    class Recorder(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            got.append((self.path, self.rfile.read(int(self.headers.get("Content-Length") or 0))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *a):
            pass

    port = free_port()
    server = http.server.HTTPServer(("127.0.0.1", port), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        settings = env(PORT=str(port), BOT_ENV_FILE=str(Path("config/demo.env").resolve()))
        client = create_app().test_client()
        form = {"group": "demo", "via": "aibot", "userid": "xiaolu", "name": "小鹿", "text": "@打卡助手 打卡"}
        assert client.post("/_sim/", data=form).status_code == 302
    finally:
        server.shutdown()
    ((path, body),) = got
    assert path.startswith("/wecom/aibot?")
    query = dict(parse_qsl(path.split("?", 1)[1]))
    crypto = CallbackCrypto(settings.aibot_token, settings.aibot_aes_key, "")
    encrypt = parse_json_envelope(body)
    message = parse_aibot(crypto.decrypt(query["msg_signature"], query["timestamp"], query["nonce"], encrypt), 0)
    group = settings.group("demo")
    assert group is not None
    assert (message["chat_id"], message["userid"], message["text"]) == (group.chat_id, "xiaolu", "@打卡助手 打卡")
    assert message["response_url"].startswith(settings.api_base_url + "aibot/response?response_code=")


def test_check_config_lists_the_aibot_among_the_sources(client, capsys):
    capsys.readouterr()
    cli(["check-config"])
    out = capsys.readouterr().out
    assert "sources: " in out and "AI bot callback" in out.split("sources: ", 1)[1].splitlines()[0]
    assert TOKEN not in out and AES not in out
