"""The callback endpoints: every status code of docs/DESIGN.md, through a real Flask app and Redis."""

from __future__ import annotations

import time

import pytest

from wecom_bot import create_app
from wecom_bot.crypto import CallbackCrypto
from wecom_bot.sim.builders import app_xml, robot_xml, sign
from workers import jobs, streams

TOKEN = "robotToken123"
AES = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
APP_TOKEN = "appToken456"
APP_AES = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
CORP = "wwcorp0001"


@pytest.fixture
def client(env):
    env(
        WECOM_CORP_ID=CORP,
        WECOM_AGENT_ID="1000002",
        WECOM_SECRET="s" * 43,
        WECOM_API_BASE_URL="http://127.0.0.1:9/cgi-bin/",
        WECOM_ROBOT_TOKEN=TOKEN,
        WECOM_ROBOT_ENCODING_AES_KEY=AES,
        WECOM_TOKEN=APP_TOKEN,
        WECOM_ENCODING_AES_KEY=APP_AES,
        BOT_GROUPS="g1",
        GROUP_G1_CHAT_ID="chat1",
        GROUP_G1_LEADERS="leader",
    )
    jobs.set_inline(False)  # only the callback here: nothing is processed
    return create_app().test_client()


robot = CallbackCrypto(TOKEN, AES, "")
app_crypto = CallbackCrypto(APP_TOKEN, APP_AES, CORP)


def post_robot(client, xml, ts=None, **kw):
    s = sign(robot, "/wecom/robot", xml, ts or int(time.time()))
    return client.post(s.path, data=s.body, **kw)


def test_url_verification_answers_the_plaintext(client):
    encrypt, sig = robot.encrypt("echo-1234", "n1", "1700000000")
    res = client.get(
        "/wecom/robot",
        query_string={"msg_signature": sig, "timestamp": "1700000000", "nonce": "n1", "echostr": encrypt},
    )
    assert res.status_code == 200 and res.data == b"echo-1234"


def test_a_valid_post_is_stored_once_and_retries_are_200(client, r):
    xml = robot_xml("chat1", "u1", "小鹿", "@打卡助手 打卡", msgid="M1")
    for _ in range(3):
        assert post_robot(client, xml).status_code == 200
    assert r.xlen(streams.INBOX.key) == 1


def test_app_callback_uses_the_corp_id(client, r):
    s = sign(app_crypto, "/wecom/callback", app_xml(CORP, "u1", "我的", create_time=1700000000), 1700000001)
    assert client.post(s.path, data=s.body).status_code == 200
    wrong = CallbackCrypto(APP_TOKEN, APP_AES, "wwOTHER")
    s = sign(wrong, "/wecom/callback", app_xml("wwOTHER", "u1", "我的"), 1700000001)
    assert client.post(s.path, data=s.body).status_code == 403


def test_forged_signature_is_403_and_stores_nothing(client, r):
    s = sign(robot, "/wecom/robot", robot_xml("chat1", "u1", "a", "打卡"), 1700000000)
    path = s.path.replace("msg_signature=", "msg_signature=0")[:-1]
    forged = s.path.split("msg_signature=")[0] + "msg_signature=" + "0" * 40 + "&" + s.path.split("&", 1)[1]
    assert client.post(forged, data=s.body).status_code == 403
    assert client.post(path, data=s.body).status_code in (400, 403)
    assert r.xlen(streams.INBOX.key) == 0


@pytest.mark.parametrize(
    "body",
    [
        b"not xml",
        b"<xml><Encrypt></Encrypt></xml>",
        b'<!DOCTYPE x [<!ENTITY a "b">]><xml><Encrypt>&a;</Encrypt></xml>',
        "<xml><Encrypt>\xff</Encrypt></xml>".encode("latin-1"),
    ],
)
def test_malformed_bodies_are_400(client, body):
    res = client.post("/wecom/robot?msg_signature=" + "a" * 40 + "&timestamp=1&nonce=n", data=body)
    assert res.status_code == 400


def test_missing_query_arguments_are_400(client):
    assert client.post("/wecom/robot", data=b"<xml/>").status_code == 400


def test_a_body_over_256_kib_is_413(client):
    res = client.post("/wecom/robot?msg_signature=" + "a" * 40 + "&timestamp=1&nonce=n", data=b"x" * (257 * 1024))
    assert res.status_code == 413


def test_redis_down_is_503_so_wecom_retries(client, redis_server):
    xml = robot_xml("chat1", "u1", "小鹿", "打卡")
    redis_server.stop()
    try:
        assert post_robot(client, xml).status_code == 503
    finally:
        redis_server.start()


def test_unknown_chat_is_accepted(client, r):
    assert post_robot(client, robot_xml("chatUNKNOWN", "u1", "x", "打卡")).status_code == 200


def test_healthz_and_metrics(client, r):
    post_robot(client, robot_xml("chat1", "u1", "小鹿", "打卡"))
    health = client.get("/healthz").get_json()
    assert health["ok"] and health["inbox"]["length"] == 1
    text = client.get("/metrics").data.decode()
    assert 'wecom_bot_callbacks_total{endpoint="robot",status="200"} 1' in text
    for secret in (TOKEN, AES, APP_AES, APP_TOKEN, "s" * 43):
        assert secret not in text and secret not in str(health)
