"""Other SDKs' published vectors and WeCom's official samples (tests/data/vectors/, each with its source),
sent through the real endpoints of a real Flask app with a real Redis, as a reviewer would try them."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest
from wechatpy.enterprise.crypto import WeChatCrypto

from wecom_bot import create_app
from wecom_bot.cli import main as cli
from wecom_bot.crypto import CallbackCrypto
from workers import jobs, streams

VECTORS = Path(__file__).resolve().parent / "data" / "vectors"
WECHATPY = json.loads((VECTORS / "wechatpy.json").read_text(encoding="utf-8"))
GOWORKWX = json.loads((VECTORS / "go-workwx.json").read_text(encoding="utf-8"))
JSON_SAMPLES = json.loads((VECTORS / "weworkapi-json.json").read_text(encoding="utf-8"))
XML_SAMPLES = json.loads((VECTORS / "weworkapi-xml.json").read_text(encoding="utf-8"))
OUR_TOKEN = "vectorsOwnToken7"  # for vectors published without a signature


@pytest.fixture
def service(env):
    """`service(token, key, corp_id)`: a test client whose three callbacks (app, robots, AI bot) all use
    that token and key; the app's receive id is `corp_id`, the robots' and the AI bot's "". Only the
    callback runs: nothing is processed."""

    def make(token: str, key: str, corp_id: str):
        env(
            WECOM_CORP_ID=corp_id,
            WECOM_AGENT_ID="1000002",
            WECOM_SECRET="s" * 43,
            WECOM_API_BASE_URL="http://127.0.0.1:9/cgi-bin/",
            WECOM_TOKEN=token,
            WECOM_ENCODING_AES_KEY=key,
            WECOM_ROBOT_TOKEN=token,
            WECOM_ROBOT_ENCODING_AES_KEY=key,
            WECOM_AIBOT_TOKEN=token,
            WECOM_AIBOT_ENCODING_AES_KEY=key,
            BOT_GROUPS="g1",
            GROUP_G1_CHAT_ID="chat1",
            GROUP_G1_LEADERS="leader",
        )
        jobs.set_inline(False)
        return create_app().test_client()

    return make


def inbox(r) -> list[dict]:
    return [json.loads(fields[b"p"]) for _id, fields in r.xrange(streams.INBOX.key)]


def get(client, path: str, query: dict):
    return client.get(f"{path}?{urlencode(query)}")


def post(client, path: str, query: dict, body: str | bytes):
    return client.post(f"{path}?{urlencode(query)}", data=body.encode() if isinstance(body, str) else body)


def signed(vector: dict) -> dict:
    return {k: vector[k] for k in ("msg_signature", "timestamp", "nonce")}


# -- wechatpy's tests/test_crypto.py ------------------------------------------------------------------
class TestWechatpy:
    V = WECHATPY

    def client(self, service):
        return service(self.V["token"], self.V["encoding_aes_key"], self.V["corp_id"])

    def test_url_check(self, service):
        client, url = self.client(service), self.V["url_check"]
        query = {**signed(url), "echostr": url["echostr"]}
        res = get(client, "/wecom/callback", query)
        assert res.status_code == 200 and res.data.decode() == url["plaintext"]
        # sent to a robot or AI-bot URL (receive id ""), the corp id inside is refused 403, not decrypted
        for path in ("/wecom/robot", "/wecom/aibot"):
            res = get(client, path, query)
            assert (res.status_code, res.data) == (403, b"wrong receive id"), path

    def test_url_check_with_another_nonce_is_403(self, service):
        url = self.V["url_check_bad_nonce"]
        res = get(self.client(service), "/wecom/callback", {**signed(url), "echostr": url["echostr"]})
        assert (res.status_code, res.data) == (403, b"bad signature")

    def test_post(self, service, r):
        client, vec = self.client(service), self.V["post"]
        for _ in range(2):  # WeCom's retry: stored once
            assert post(client, "/wecom/callback", signed(vec), vec["body"]).status_code == 200
        (event,) = inbox(r)
        assert (event["source"], event["userid"], event["text"]) == ("app", vec["expected"]["FromUserName"], "test")

    def test_encrypt_known_answer_and_the_reply_posted_back(self, service, r):
        vec = self.V["encrypt"]
        crypto = CallbackCrypto(self.V["token"], self.V["encoding_aes_key"], self.V["corp_id"])
        encrypt, sig = crypto.encrypt(vec["plaintext"], vec["nonce"], vec["timestamp"], vec["random16"].encode())
        assert (encrypt, sig) == (vec["encrypt"], vec["msg_signature"])
        query = {"msg_signature": vec["msg_signature"], "timestamp": vec["timestamp"], "nonce": vec["nonce"]}
        assert post(self.client(service), "/wecom/callback", query, vec["envelope"]).status_code == 200
        (event,) = inbox(r)
        assert (event["userid"], event["text"], event["ts"]) == (self.V["corp_id"], "test", 1411525903)

    def test_wechatpy_itself_agrees(self):
        url = self.V["url_check"]
        wechat = WeChatCrypto(self.V["token"], self.V["encoding_aes_key"], self.V["corp_id"])
        assert wechat.check_signature(*signed(url).values(), url["echostr"]) == url["plaintext"]


# -- go-workwx ----------------------------------------------------------------------------------------
class TestGoWorkwx:
    V = GOWORKWX

    def test_envelope_post(self, service, r):
        vec = self.V["envelope"]
        client = service(vec["token"], vec["encoding_aes_key"], vec["receive_id"])
        query = urlsplit(vec["url"]).query
        assert client.post(f"/wecom/callback?{query}", data=vec["body"].encode()).status_code == 200
        (event,) = inbox(r)
        assert event == {
            "source": "app",
            "msgid": "2018405441",
            "chat_id": "",
            "chat_type": "single",
            "userid": "foobar",
            "name": "",
            "alias": "",
            "msgtype": "text",
            "text": "x123",
            "has_image": False,
            "event": "",
            "ts": 1583995625,
        }
        crypto = CallbackCrypto(vec["token"], vec["encoding_aes_key"], vec["receive_id"])
        params = dict(p.split("=", 1) for p in query.split("&"))
        encrypt = vec["body"].split("<![CDATA[")[2].split("]]>")[0]
        assert crypto.decrypt(params["msg_signature"], params["timestamp"], params["nonce"], encrypt) == vec["msg"]

    def test_encryptor_decrypt_as_a_url_check(self, service):
        vec = self.V["encryptor"]
        client = service(OUR_TOKEN, vec["encoding_aes_key"], vec["receive_id"])
        crypto = CallbackCrypto(OUR_TOKEN, vec["encoding_aes_key"], vec["receive_id"])
        query = {"timestamp": "1583995625", "nonce": "n1", "echostr": vec["encrypted"]}
        query["msg_signature"] = crypto.signature(query["timestamp"], query["nonce"], vec["encrypted"])
        res = get(client, "/wecom/callback", query)
        assert res.status_code == 200 and res.data.decode() == vec["msg"]
        assert get(client, "/wecom/robot", query).status_code == 403  # its receive id is a corp's

    def test_encryptor_round_trip(self, service):
        vec = self.V["encryptor"]
        client = service(OUR_TOKEN, vec["encoding_aes_key"], vec["receive_id"])
        crypto = CallbackCrypto(OUR_TOKEN, vec["encoding_aes_key"], vec["receive_id"])
        encrypt, sig = crypto.encrypt(vec["round_trip"], "n2", "1583995625")
        query = {"msg_signature": sig, "timestamp": "1583995625", "nonce": "n2", "echostr": encrypt}
        assert get(client, "/wecom/callback", query).data.decode() == vec["round_trip"]

    @pytest.mark.parametrize("case", sorted(GOWORKWX["bad_encoding_aes_keys"]))
    def test_a_bad_encoding_aes_key_is_named_and_refused(self, service, capsys, case):
        bad = self.V["bad_encoding_aes_keys"][case]
        with pytest.raises(ValueError):
            CallbackCrypto(OUR_TOKEN, bad, "")
        client = service(OUR_TOKEN, bad, "ww6a112864f8022910")
        capsys.readouterr()
        assert cli(["check-config"]) == 1
        err = capsys.readouterr().err
        for name in ("WECOM_ENCODING_AES_KEY", "WECOM_ROBOT_ENCODING_AES_KEY", "WECOM_AIBOT_ENCODING_AES_KEY"):
            assert f"error: {name}" in err, (case, err)
        if bad:
            assert bad not in err  # a problem never quotes the secret
        # every endpoint refuses what it cannot verify: 403, never a 5xx
        good_key = self.V["encryptor"]["encoding_aes_key"]
        for path, rid in (("/wecom/callback", "ww6a112864f8022910"), ("/wecom/robot", ""), ("/wecom/aibot", "")):
            encrypt, sig = CallbackCrypto(OUR_TOKEN, good_key, rid).encrypt("1234", "n", "1583995625")
            query = {"msg_signature": sig, "timestamp": "1583995625", "nonce": "n"}
            res = get(client, path, {**query, "echostr": encrypt})
            assert res.status_code == 403, (case, path, res.data)
            body = (
                json.dumps({"encrypt": encrypt})
                if path == "/wecom/aibot"
                else f"<xml><Encrypt>{encrypt}</Encrypt></xml>"
            )
            res = post(client, path, query, body)
            assert res.status_code == 403, (case, path, res.data)


# -- WeCom's official samples ---------------------------------------------------------------------------
class TestOfficialXml:
    @pytest.mark.parametrize("name", sorted(XML_SAMPLES))
    def test_url_check_and_post(self, service, r, name):
        vec = XML_SAMPLES[name]
        client = service(vec["token"], vec["encoding_aes_key"], vec["corp_id"])
        url = vec["url_check"]
        query = {**signed(url), "echostr": url["echostr"]}
        res = get(client, "/wecom/callback", query)
        assert res.status_code == 200 and res.data.decode() == url["plaintext"]
        p = vec["post"]
        assert post(client, "/wecom/robot", signed(p), p["body"]).status_code == 403  # the corp id: not a robot's
        assert post(client, "/wecom/callback", signed(p), p["body"]).status_code == 200
        (event,) = inbox(r)
        assert event["source"] == "app" and event["msgtype"] == "text" and event["text"] in ("hello", "你好")


class TestOfficialJson:
    def test_golang_json_callback(self, service, r):
        vec = JSON_SAMPLES["golang"]
        crypto = CallbackCrypto(vec["token"], vec["encoding_aes_key"], vec["receive_id"])
        encrypt = json.loads(vec["body"])["encrypt"]
        assert crypto.decrypt(vec["msg_signature"], vec["timestamp"], vec["nonce"], encrypt) == vec["plaintext"]
        client = service(vec["token"], vec["encoding_aes_key"], vec["receive_id"])
        # its signature checks out at /wecom/aibot, then its receive id (a corp's, not the AI bot's "") is refused
        res = post(client, "/wecom/aibot", signed(vec), vec["body"])
        assert (res.status_code, res.data) == (403, b"wrong receive id")
        url = vec["url_check"]
        query = {**signed(url), "echostr": url["echostr"]}
        assert get(client, "/wecom/aibot", query).status_code == 403
        assert get(client, "/wecom/callback", query).data.decode() == url["plaintext"]
        # its plaintext encrypted for the AI bot, as the sample's own EncryptMsg does: JSON, but an app's
        aibot = CallbackCrypto(vec["token"], vec["encoding_aes_key"], "")
        encrypt, sig = aibot.encrypt(vec["plaintext"], vec["nonce"], vec["timestamp"])
        query = {"msg_signature": sig, "timestamp": vec["timestamp"], "nonce": vec["nonce"]}
        res = post(client, "/wecom/aibot", query, json.dumps({"encrypt": encrypt}))
        assert (res.status_code, res.data) == (400, b"missing msgtype")
        assert inbox(r) == []

    def test_python_json_sample_is_a_ready_negative_case(self, service, r):
        vec = JSON_SAMPLES["python"]
        crypto = CallbackCrypto(vec["token"], vec["encoding_aes_key"], vec["receive_id"])
        plaintext = crypto.decrypt(vec["msg_signature"], vec["timestamp"], vec["nonce"], vec["encrypt"])
        assert plaintext == vec["plaintext"]
        with pytest.raises(ValueError):
            json.loads(plaintext)
        client = service(vec["token"], vec["encoding_aes_key"], vec["receive_id"])
        # as published, its envelope says "Encrypt": the AI bot's says "encrypt" (path 101033)
        res = post(client, "/wecom/aibot", signed(vec), vec["body"])
        assert (res.status_code, res.data) == (400, b"missing encrypt")
        res = post(client, "/wecom/aibot", signed(vec), json.dumps({"encrypt": vec["encrypt"]}))
        assert (res.status_code, res.data) == (403, b"wrong receive id")
        aibot = CallbackCrypto(vec["token"], vec["encoding_aes_key"], "")
        encrypt, sig = aibot.encrypt(vec["plaintext"], vec["nonce"], vec["timestamp"])
        query = {"msg_signature": sig, "timestamp": vec["timestamp"], "nonce": vec["nonce"]}
        res = post(client, "/wecom/aibot", query, json.dumps({"encrypt": encrypt}))
        assert (res.status_code, res.data) == (400, b"bad JSON in the message")
        assert inbox(r) == []
