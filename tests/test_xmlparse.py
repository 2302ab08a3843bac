"""Safe XML parsing: the envelope, group-robot messages, self-built-app messages."""

import json
from xml.sax.saxutils import escape

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wecom_bot import xmlparse
from wecom_bot.crypto import CallbackError, Malformed
from wecom_bot.sim.builders import robot_xml
from wecom_bot.xmlparse import MAX_TEXT, parse_app, parse_envelope, parse_robot

KEYS = {
    "source",
    "msgid",
    "chat_id",
    "chat_type",
    "userid",
    "name",
    "alias",
    "msgtype",
    "text",
    "has_image",
    "event",
    "ts",
}
TS = 1700000000
WEBHOOK_KEY = "693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"
CHAT_INFO_CODE = "m49c5aRCdEP8_QQdZmTNR52yJ5TLGcIMzaLJk3x5KqY"

# Robot samples shaped like those in WeCom's 群机器人 callback documentation (whitespace, CDATA and
# element order as published; the webhook key is a test value).
ROBOT_TEXT = f"""<xml>
\t<WebhookUrl> <![CDATA[http://in.qyapi.weixin.qq.com/cgi-bin/webhook/send?key={WEBHOOK_KEY}]]></WebhookUrl>
\t<MsgId>abcdabcdabcd</MsgId>
\t<ChatId><![CDATA[wrkSFfCgAALFgnrSsWU38puiv4yvExuw]]></ChatId>
\t<PostId><![CDATA[bpkSFfCgAAWeiHos2p6lJbG3_F2xxxxx]]></PostId>
\t<ChatType>group</ChatType>
\t<From>
\t\t<UserId>zhangsan</UserId>
\t\t<Name><![CDATA[张三]]></Name>
\t\t<Alias><![CDATA[jackzhang]]></Alias>
\t</From>
\t<GetChatInfoUrl><![CDATA[https://qyapi.weixin.qq.com/cgi-bin/webhook/get_chat_info?code={CHAT_INFO_CODE}]]></GetChatInfoUrl>
\t<MsgType>text</MsgType>
\t<Text>
\t\t<Content><![CDATA[@RobotA hello robot]]></Content>
\t</Text>
</xml>"""

ROBOT_IMAGE = f"""<xml>
\t<WebhookUrl> <![CDATA[https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={WEBHOOK_KEY}]]></WebhookUrl>
\t<ChatId><![CDATA[wokSFfCgAAvBKmWMiwoJDzAJOVhg4Bbg]]></ChatId>
\t<ChatType>single</ChatType>
\t<From>
\t\t<UserId>zhangsan</UserId>
\t\t<Name><![CDATA[张三]]></Name>
\t\t<Alias><![CDATA[jackzhang]]></Alias>
\t</From>
\t<GetChatInfoUrl><![CDATA[https://qyapi.weixin.qq.com/cgi-bin/webhook/get_chat_info?code=CODE]]></GetChatInfoUrl>
\t<MsgType>image</MsgType>
\t<Image>
\t\t<ImageUrl><![CDATA[https://p.qpic.cn/pic_wework/2085796/353325df3d4200754264e0521fd8f01e32a878aae7e52a/0]]></ImageUrl>
\t</Image>
\t<MsgId>CAIQz7/MjQYY/NGagIOAgAMgl8jK/gI=</MsgId>
</xml>"""

ROBOT_MIXED = f"""<xml>
\t<WebhookUrl><![CDATA[http://in.qyapi.weixin.qq.com/cgi-bin/webhook/send?key={WEBHOOK_KEY}]]></WebhookUrl>
\t<MsgId><![CDATA[CAEQi5HR8wUY/NGagIOAgAMgXQ==]]></MsgId>
\t<ChatId><![CDATA[CHATID]]></ChatId>
\t<ChatType><![CDATA[group]]></ChatType>
\t<From>
\t\t<UserId><![CDATA[T434200000]]></UserId>
\t\t<Name><![CDATA[张三]]></Name>
\t\t<Alias><![CDATA[jackzhang]]></Alias>
\t</From>
\t<GetChatInfoUrl><![CDATA[https://qyapi.weixin.qq.com/cgi-bin/webhook/get_chat_info?code=CODE]]></GetChatInfoUrl>
\t<MsgType><![CDATA[mixed]]></MsgType>
\t<MixedMessage>
\t\t<MsgItem>
\t\t\t<MsgType><![CDATA[text]]></MsgType>
\t\t\t<Text>
\t\t\t\t<Content><![CDATA[@机器人 这是今日的测试情况]]></Content>
\t\t\t</Text>
\t\t</MsgItem>
\t\t<MsgItem>
\t\t\t<MsgType><![CDATA[image]]></MsgType>
\t\t\t<Image>
\t\t\t\t<ImageUrl><![CDATA[http://p.qpic.cn/pic_wework/2698515288/54528347764eac2d194c2ce90d83769c62e478f59e706815/0]]></ImageUrl>
\t\t\t</Image>
\t\t</MsgItem>
\t\t<MsgItem>
\t\t\t<MsgType><![CDATA[text]]></MsgType>
\t\t\t<Text>
\t\t\t\t<Content><![CDATA[第3天 ✅]]></Content>
\t\t\t</Text>
\t\t</MsgItem>
\t</MixedMessage>
</xml>"""

ROBOT_EVENT = f"""<xml>
\t<WebhookUrl> <![CDATA[https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={WEBHOOK_KEY}]]></WebhookUrl>
\t<ChatId><![CDATA[wrkSFfCgAALFgnrSsWU38puiv4yvExuw]]></ChatId>
\t<ChatType>group</ChatType>
\t<GetChatInfoUrl><![CDATA[https://qyapi.weixin.qq.com/cgi-bin/webhook/get_chat_info?code={CHAT_INFO_CODE}]]></GetChatInfoUrl>
\t<From>
\t\t<UserId>zhangsan</UserId>
\t\t<Name><![CDATA[张三]]></Name>
\t\t<Alias><![CDATA[jackzhang]]></Alias>
\t</From>
\t<MsgType>event</MsgType>
\t<Event>
\t\t<EventType><![CDATA[add_to_chat]]></EventType>
\t</Event>
\t<MsgId>abcdabcdabcd</MsgId>
</xml>"""


def robot(msgtype="text", *, chat_type="group", chat_id="wrC1", userid="u1", msgid="m1", body="", extra=""):
    parts = [
        "<xml>",
        f"<WebhookUrl><![CDATA[https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={WEBHOOK_KEY}]]></WebhookUrl>",
    ]
    if msgid is not None:
        parts.append(f"<MsgId>{msgid}</MsgId>")
    if chat_id is not None:
        parts.append(f"<ChatId>{chat_id}</ChatId>")
    if chat_type is not None:
        parts.append(f"<ChatType>{chat_type}</ChatType>")
    if userid is not None:
        parts.append(f"<From><UserId>{userid}</UserId><Name>N</Name><Alias>A</Alias></From>")
    if msgtype is not None:
        parts.append(f"<MsgType>{msgtype}</MsgType>")
    parts.append(body)
    parts.append(extra)
    parts.append("</xml>")
    return "".join(parts)


def text_body(content: str) -> str:
    return f"<Text><Content><![CDATA[{content}]]></Content></Text>"


def app(
    msgtype="text",
    *,
    user="zhangsan",
    create="1348831860",
    msgid="1234567890123456",
    content="this is a test",
    extra="",
):
    parts = ["<xml><ToUserName><![CDATA[ww1436e0e65a779aee]]></ToUserName>"]
    if user is not None:
        parts.append(f"<FromUserName><![CDATA[{user}]]></FromUserName>")
    if create is not None:
        parts.append(f"<CreateTime>{create}</CreateTime>")
    if msgtype is not None:
        parts.append(f"<MsgType><![CDATA[{msgtype}]]></MsgType>")
    if content is not None:
        parts.append(f"<Content><![CDATA[{content}]]></Content>")
    if msgid is not None:
        parts.append(f"<MsgId>{msgid}</MsgId>")
    parts.append("<AgentID>1000002</AgentID>")
    parts.append(extra)
    parts.append("</xml>")
    return "".join(parts)


def assert_json_clean(ev: dict):
    assert set(ev) == KEYS
    dumped = json.dumps(ev, ensure_ascii=False)
    assert json.loads(dumped) == ev
    for secret in (WEBHOOK_KEY, CHAT_INFO_CODE, "webhook", "get_chat_info", "key="):
        assert secret not in dumped
    assert isinstance(ev["ts"], int) and isinstance(ev["has_image"], bool)


# ---------------------------------------------------------------------------------------------
# envelope
# ---------------------------------------------------------------------------------------------
class TestEnvelope:
    def test_plain(self):
        assert parse_envelope(b"<xml><Encrypt><![CDATA[abcd]]></Encrypt></xml>") == "abcd"

    def test_with_other_fields_and_whitespace(self):
        body = (
            "<xml>\n <ToUserName><![CDATA[ww1]]></ToUserName>\n <Encrypt>\n  <![CDATA[ab+/cd==]]>\n </Encrypt>\n"
            " <AgentID><![CDATA[218]]></AgentID>\n</xml>"
        )
        assert parse_envelope(body.encode()) == "ab+/cd=="

    def test_xml_declaration_and_bom(self):
        assert parse_envelope(b'<?xml version="1.0" encoding="UTF-8"?><xml><Encrypt>abcd</Encrypt></xml>') == "abcd"
        assert parse_envelope(b"\xef\xbb\xbf<xml><Encrypt>abcd</Encrypt></xml>") == "abcd"

    def _400(self, body, reason=None):
        with pytest.raises(Malformed) as ei:
            parse_envelope(body)
        assert ei.value.status == 400
        if reason:
            assert str(ei.value) == reason
        return ei.value

    def test_dtd(self):
        self._400(b"<!DOCTYPE xml [<!ELEMENT xml ANY>]><xml><Encrypt>abcd</Encrypt></xml>", "bad XML")
        self._400(b"<!DOCTYPE xml><xml><Encrypt>abcd</Encrypt></xml>", "bad XML")

    def test_internal_entity(self):
        self._400(b'<!DOCTYPE xml [<!ENTITY e "abcd">]><xml><Encrypt>&e;</Encrypt></xml>', "bad XML")

    def test_billion_laughs(self):
        lol = (
            b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
            + b"".join(
                b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10) for i in range(1, 10)
            )
            + b"]><xml><Encrypt>&lol9;</Encrypt></xml>"
        )
        self._400(lol, "bad XML")

    def test_external_entity(self):
        self._400(b'<!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]><xml><Encrypt>&x;</Encrypt></xml>')
        self._400(b'<!DOCTYPE xml SYSTEM "http://127.0.0.1:9/evil.dtd"><xml><Encrypt>abcd</Encrypt></xml>')
        self._400(
            b'<!DOCTYPE xml [<!ENTITY % p SYSTEM "http://127.0.0.1:9/p.dtd"> %p;]><xml><Encrypt>a</Encrypt></xml>'
        )

    def test_undefined_entity(self):
        self._400(b"<xml><Encrypt>&nope;</Encrypt></xml>", "bad XML")

    def test_non_utf8_body(self):
        self._400(b"<xml><Encrypt>\xff\xfe</Encrypt></xml>", "body is not UTF-8")
        self._400("<xml><Encrypt>中文</Encrypt></xml>".encode("gbk"), "body is not UTF-8")
        self._400(b"\xff\xfe<\x00x\x00m\x00l\x00>\x00", "body is not UTF-8")

    def test_declared_other_encoding_is_read_as_utf8(self):
        # an encoding declaration cannot switch the charset: bytes are decoded as UTF-8 first
        body = b'<?xml version="1.0" encoding="GBK"?><xml><Encrypt>abcd</Encrypt></xml>'
        assert parse_envelope(body) == "abcd"

    def test_missing_or_empty_encrypt(self):
        self._400(b"<xml><ToUserName>x</ToUserName></xml>", "missing Encrypt")
        self._400(b"<xml><Encrypt></Encrypt></xml>", "missing Encrypt")
        self._400(b"<xml><Encrypt><![CDATA[]]></Encrypt></xml>", "missing Encrypt")
        self._400(b"<xml><Encrypt>  \n </Encrypt></xml>", "missing Encrypt")
        self._400(b"<xml><Outer><Encrypt>abcd</Encrypt></Outer></xml>", "missing Encrypt")

    def test_duplicate_encrypt(self):
        self._400(b"<xml><Encrypt>abcd</Encrypt><Encrypt>efgh</Encrypt></xml>", "duplicate Encrypt")

    def test_not_xml(self):
        for body in [
            b"",
            b"   ",
            b'{"encrypt": "abcd"}',
            b"<xml><Encrypt>abcd</Encrypt>",
            b"<xml></xml><xml/>",
            b"<xml><Encrypt>a\x00b</Encrypt></xml>",
            b"<xml><Encrypt>a\x01b</Encrypt></xml>",
        ]:
            self._400(body)

    def test_wrong_root(self):
        self._400(b"<root><Encrypt>abcd</Encrypt></root>", "bad XML root")

    def test_not_bytes(self):
        self._400("<xml><Encrypt>abcd</Encrypt></xml>")
        self._400(None)


# ---------------------------------------------------------------------------------------------
# robot
# ---------------------------------------------------------------------------------------------
class TestRobot:
    def test_text_sample(self):
        ev = parse_robot(ROBOT_TEXT, TS)
        assert ev == {
            "source": "robot",
            "msgid": "abcdabcdabcd",
            "chat_id": "wrkSFfCgAALFgnrSsWU38puiv4yvExuw",
            "chat_type": "group",
            "userid": "zhangsan",
            "name": "张三",
            "alias": "jackzhang",
            "msgtype": "text",
            "text": "@RobotA hello robot",
            "has_image": False,
            "event": "",
            "ts": TS,
        }
        assert_json_clean(ev)

    def test_image_sample_single_chat(self):
        ev = parse_robot(ROBOT_IMAGE, TS)
        assert ev["msgtype"] == "image" and ev["has_image"] is True and ev["text"] == ""
        assert ev["chat_type"] == "single" and ev["chat_id"] == ""  # private: chat_id ""
        assert ev["msgid"] == "CAIQz7/MjQYY/NGagIOAgAMgl8jK/gI="
        assert_json_clean(ev)

    def test_mixed_sample(self):
        ev = parse_robot(ROBOT_MIXED, TS)
        assert ev["msgtype"] == "mixed" and ev["has_image"] is True
        assert ev["text"] == "@机器人 这是今日的测试情况\n第3天 ✅"
        assert ev["msgid"] == "CAEQi5HR8wUY/NGagIOAgAMgXQ==" and ev["userid"] == "T434200000"
        assert_json_clean(ev)

    def test_mixed_text_only(self):
        body = (
            "<MixedMessage><MsgItem><MsgType>text</MsgType><Text><Content>a</Content></Text></MsgItem></MixedMessage>"
        )
        ev = parse_robot(robot("mixed", body=body), TS)
        assert ev["text"] == "a" and ev["has_image"] is False

    def test_event_sample(self):
        ev = parse_robot(ROBOT_EVENT, TS)
        assert ev["msgtype"] == "event" and ev["event"] == "add_to_chat" and ev["msgid"] == "abcdabcdabcd"
        assert ev["userid"] == "zhangsan" and ev["chat_id"] == "wrkSFfCgAALFgnrSsWU38puiv4yvExuw"
        assert_json_clean(ev)

    @pytest.mark.parametrize("event", ["add_to_chat", "delete_from_chat", "enter_chat"])
    def test_event_without_msgid(self, event):
        body = f"<Event><EventType>{event}</EventType></Event>"
        ev = parse_robot(robot("event", msgid=None, body=body), TS)
        assert ev["event"] == event and ev["msgid"].startswith("evt:")
        # stable: same inputs -> same id; any of chat, event, time, user changes it
        assert parse_robot(robot("event", msgid=None, body=body), TS)["msgid"] == ev["msgid"]
        assert parse_robot(robot("event", msgid=None, body=body), TS + 1)["msgid"] != ev["msgid"]
        assert parse_robot(robot("event", msgid=None, body=body, userid="u2"), TS)["msgid"] != ev["msgid"]
        assert parse_robot(robot("event", msgid=None, body=body, chat_id="wrC2"), TS)["msgid"] != ev["msgid"]
        assert_json_clean(ev)

    def test_event_without_from(self):
        body = "<Event><EventType>delete_from_chat</EventType></Event>"
        ev = parse_robot(robot("event", msgid=None, userid=None, body=body), TS)
        assert ev["userid"] == "" and ev["event"] == "delete_from_chat" and ev["msgid"].startswith("evt:")

    def test_non_event_has_empty_event(self):
        ev = parse_robot(robot(body=text_body("hi") + "<Event><EventType>add_to_chat</EventType></Event>"), TS)
        assert ev["event"] == ""

    def test_text_without_msgid_gets_stable_id(self):
        a = parse_robot(robot(msgid=None, body=text_body("打卡")), TS)
        b = parse_robot(robot(msgid=None, body=text_body("打卡")), TS)
        c = parse_robot(robot(msgid=None, body=text_body("打卡!")), TS)
        assert a["msgid"] == b["msgid"] != c["msgid"]

    def test_webhook_key_never_in_dict(self):
        for xml in (ROBOT_TEXT, ROBOT_IMAGE, ROBOT_MIXED, ROBOT_EVENT, robot(body=text_body("x"))):
            ev = parse_robot(xml, TS)
            dumped = json.dumps(ev, ensure_ascii=False)
            assert WEBHOOK_KEY not in dumped and CHAT_INFO_CODE not in dumped and "qyapi" not in dumped

    def test_emoji_only(self):
        ev = parse_robot(robot(body=text_body("🎉👍🏻💪")), TS)
        assert ev["text"] == "🎉👍🏻💪"

    def test_10kb_text(self):
        content = "打卡" * 5000  # 10,000 chars, 30 KB of UTF-8
        assert parse_robot(robot(body=text_body(content)), TS)["text"] == content

    def test_long_text_truncated(self):
        content = "x" * (MAX_TEXT + 5000)
        ev = parse_robot(robot(body=text_body(content)), TS)
        assert ev["text"] == "x" * MAX_TEXT and MAX_TEXT == 20_000

    def test_long_mixed_truncated(self):
        item = f"<MsgItem><MsgType>text</MsgType><Text><Content>{'y' * 15000}</Content></Text></MsgItem>"
        ev = parse_robot(robot("mixed", body=f"<MixedMessage>{item}{item}</MixedMessage>"), TS)
        assert len(ev["text"]) == MAX_TEXT

    def test_escaped_text(self):
        ev = parse_robot(robot(body="<Text><Content>a &lt;b&gt; &amp; &#x1F600;</Content></Text>"), TS)
        assert ev["text"] == "a <b> & 😀"

    def test_other_msgtypes_pass_through(self):
        ev = parse_robot(robot("attachment", body="<Attachment><CallbackId>c</CallbackId></Attachment>"), TS)
        assert ev["msgtype"] == "attachment" and ev["text"] == "" and ev["has_image"] is False
        ev = parse_robot(robot("TEXT", body=text_body("hi")), TS)
        assert ev["msgtype"] == "text" and ev["text"] == "hi"

    def test_other_chat_types_pass_through(self):
        ev = parse_robot(robot(chat_type="blackboard", body=text_body("hi")), TS)
        assert ev["chat_type"] == "blackboard" and ev["chat_id"] == "wrC1"

    def test_missing_chat_type(self):
        assert parse_robot(robot(chat_type=None, body=text_body("hi")), TS)["chat_type"] == "group"
        ev = parse_robot(robot(chat_type=None, chat_id=None, body=text_body("hi")), TS)
        assert ev["chat_type"] == "single" and ev["chat_id"] == ""

    def test_timestamp_argument(self):
        assert parse_robot(robot(body=text_body("hi")), str(TS))["ts"] == TS
        for bad in ("abc", "", None, 1.5, True, "１２３"):
            with pytest.raises(Malformed, match="bad timestamp"):
                parse_robot(robot(body=text_body("hi")), bad)

    @pytest.mark.parametrize(
        "kwargs,field",
        [
            (dict(userid=None), "From/UserId"),
            (dict(userid=""), "From/UserId"),
            (dict(msgtype=None), "MsgType"),
            (dict(msgtype=""), "MsgType"),
            (dict(chat_id=None), "ChatId"),
            (dict(chat_id=""), "ChatId"),
        ],
    )
    def test_missing_fields(self, kwargs, field):
        with pytest.raises(Malformed) as ei:
            parse_robot(robot(body=text_body("hi"), **kwargs), TS)
        assert str(ei.value) == f"missing {field}" and ei.value.status == 400

    def test_event_without_event_type(self):
        with pytest.raises(Malformed, match="missing EventType"):
            parse_robot(robot("event", body="<Event></Event>"), TS)

    def test_unsafe_or_bad_xml(self):
        for xml in [
            '<!DOCTYPE xml [<!ENTITY e "x">]><xml>&e;</xml>',
            "<xml><MsgType>text</MsgType>",
            "not xml",
            "",
            "<notxml/>",
            '<!DOCTYPE xml SYSTEM "http://127.0.0.1:9/x.dtd"><xml/>',
        ]:
            with pytest.raises(Malformed):
                parse_robot(xml, TS)


# ---------------------------------------------------------------------------------------------
# app
# ---------------------------------------------------------------------------------------------
class TestApp:
    def test_text(self):
        ev = parse_app(app(), TS)
        assert ev == {
            "source": "app",
            "msgid": "1234567890123456",
            "chat_id": "",
            "chat_type": "single",
            "userid": "zhangsan",
            "name": "",
            "alias": "",
            "msgtype": "text",
            "text": "this is a test",
            "has_image": False,
            "event": "",
            "ts": 1348831860,
        }
        assert_json_clean(ev)

    def test_create_time_fallback(self):
        assert parse_app(app(create=None), TS)["ts"] == TS
        assert parse_app(app(create="soon"), TS)["ts"] == TS
        assert parse_app(app(create=""), TS)["ts"] == TS

    def test_image(self):
        extra = "<PicUrl><![CDATA[https://p.qpic.cn/x/0]]></PicUrl><MediaId><![CDATA[m]]></MediaId>"
        ev = parse_app(app("image", content=None, extra=extra), TS)
        assert ev["has_image"] is True and ev["text"] == "" and ev["msgtype"] == "image"
        assert_json_clean(ev)

    def test_voice(self):
        ev = parse_app(app("voice", content=None, extra="<MediaId>m</MediaId><Format>amr</Format>"), TS)
        assert ev["msgtype"] == "voice" and ev["text"] == "" and ev["has_image"] is False

    @pytest.mark.parametrize("event", ["enter_agent", "msgaudit_notify", "subscribe"])
    def test_events(self, event):
        ev = parse_app(app("event", content=None, msgid=None, extra=f"<Event><![CDATA[{event}]]></Event>"), TS)
        assert ev["event"] == event and ev["msgtype"] == "event" and ev["msgid"].startswith("evt:")
        again = parse_app(app("event", content=None, msgid=None, extra=f"<Event><![CDATA[{event}]]></Event>"), TS + 99)
        assert again["msgid"] == ev["msgid"]  # CreateTime, not the callback timestamp, keys the id
        assert_json_clean(ev)

    def test_event_without_user(self):
        ev = parse_app(app("event", user=None, content=None, msgid=None, extra="<Event>msgaudit_notify</Event>"), TS)
        assert ev["userid"] == "" and ev["event"] == "msgaudit_notify"

    def test_event_missing_event(self):
        with pytest.raises(Malformed, match="missing Event"):
            parse_app(app("event", content=None, msgid=None), TS)

    @pytest.mark.parametrize(
        "kwargs,field",
        [
            (dict(user=None), "FromUserName"),
            (dict(user=""), "FromUserName"),
            (dict(msgtype=None), "MsgType"),
            (dict(msgtype=""), "MsgType"),
        ],
    )
    def test_missing_fields(self, kwargs, field):
        with pytest.raises(Malformed) as ei:
            parse_app(app(**kwargs), TS)
        assert str(ei.value) == f"missing {field}"

    def test_emoji_and_long_text(self):
        assert parse_app(app(content="😀"), TS)["text"] == "😀"
        assert parse_app(app(content="z" * 10_240), TS)["text"] == "z" * 10_240
        assert parse_app(app(content="z" * 30_000), TS)["text"] == "z" * MAX_TEXT

    def test_unsafe_xml(self):
        with pytest.raises(Malformed):
            parse_app('<!DOCTYPE xml [<!ENTITY e SYSTEM "file:///etc/passwd">]><xml>&e;</xml>', TS)


# ---------------------------------------------------------------------------------------------
# fuzzing: arbitrary text only ever gives a dict or Malformed
# ---------------------------------------------------------------------------------------------
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(data=st.binary(max_size=400))
def test_fuzz_envelope_bytes(data):
    try:
        assert isinstance(parse_envelope(data), str)
    except CallbackError:
        pass


# ---------------------------------------------------------------------------------------------
# the two parse paths: documents without "<!DOCTYPE" go to the C parser, the rest to defusedxml;
# both must give the same answer for every document (a dict, or Malformed)
# ---------------------------------------------------------------------------------------------
def _both_paths(monkeypatch, parse, doc):
    """(result through the fast path, result through defusedxml) for `doc`; Malformed as the string "400"."""

    def run():
        try:
            return parse(doc, TS)
        except Malformed:
            return "400"

    fast = run()
    monkeypatch.setattr(xmlparse, "_DTD_MARK", "")  # "" is in every text: all through defusedxml
    slow = run()
    monkeypatch.undo()
    return fast, slow


@FUZZ
@given(cut=st.integers(0, len(ROBOT_MIXED)), insert=st.text(max_size=20), which=st.sampled_from(["robot", "app"]))
def test_fuzz_documents(cut, insert, which):
    """Arbitrary text inserted anywhere only ever gives a dict or Malformed, the same on both paths."""
    src = ROBOT_MIXED if which == "robot" else app()
    cut = min(cut, len(src))
    doc = src[:cut] + insert + src[cut:]
    with pytest.MonkeyPatch.context() as mp:
        for parse in (parse_robot, parse_app):
            fast, slow = _both_paths(mp, parse, doc)
            assert fast == slow
            if fast != "400":
                assert set(fast) == KEYS
                json.dumps(fast)


@FUZZ
@given(text=st.text(alphabet=st.sampled_from(list("<>!&;#x[]CDATA-?'\"DOCTYPE ENTITY 打卡é\n")), max_size=60))
def test_fast_and_defused_paths_agree_on_markup_like_text(text):
    docs = [
        robot_xml("wrkC", "u1", "名字", text, msgid="m1"),  # text in CDATA
        robot_xml("wrkC", "u1", "名字", "", msgid="m1").replace(
            "<Content><![CDATA[]]></Content>", f"<Content>{escape(text)}</Content>"
        ),
        robot_xml("wrkC", "u1", "名字", "", msgid="m1").replace(
            "<Content><![CDATA[]]></Content>", f"<Content>{text}</Content>"
        ),
    ]  # raw: often bad XML
    with pytest.MonkeyPatch.context() as mp:
        for doc in docs:
            fast, slow = _both_paths(mp, parse_robot, doc)
            assert fast == slow


def test_which_path_a_document_takes_changes_nothing_it_must_refuse():
    # an undefined entity without a DTD: the C parser refuses it as well
    doc = robot_xml("wrkC", "u1", "名字", "", msgid="m1").replace("<![CDATA[]]>", "&xxe;")
    with pytest.raises(Malformed):
        parse_robot(doc, TS)
    # "<!DOCTYPE" inside CDATA is text: parsed (by defusedxml), not refused
    assert (
        parse_robot(robot_xml("wrkC", "u1", "名字", "<!DOCTYPE html> 打卡", msgid="m1"), TS)["text"]
        == "<!DOCTYPE html> 打卡"
    )
    # an encoding declaration cannot make the C parser read UTF-8 text as another charset
    doc = '<?xml version="1.0" encoding="ISO-8859-1"?>' + robot_xml("wrkC", "u1", "名字", "打卡é", msgid="m1")
    assert parse_robot(doc, TS)["text"] == "打卡é"
    # character references are fine on both paths
    doc = robot_xml("wrkC", "u1", "名字", "", msgid="m1").replace("<![CDATA[]]>", "&#x6253;&#21345;&amp;")
    assert parse_robot(doc, TS)["text"] == "打卡&"
