"""WeCom callback crypto: official vectors, round trips, every bad-input class, fuzzing."""

import base64
import struct

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wecom_bot.crypto import BadSignature, CallbackCrypto, CallbackError, Malformed
from wecom_bot.xmlparse import parse_app, parse_envelope, parse_robot

# ---------------------------------------------------------------------------------------------
# Official vectors, set 1 (token "QDG6eK").
# Source: WeCom's official callback samples, e.g.
#   sbzhu/weworkapi_php     callback/Sample.php  (commit f2c836f57187c5390546a70e99be54251c56a95c)
#   sbzhu/weworkapi_golang  sample.go
#   workweixin/weworkapi_cplusplus  Sample.cpp   (same URL-verification vector, same Encrypt string)
# ---------------------------------------------------------------------------------------------
QDG_TOKEN = "QDG6eK"
QDG_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
QDG_CORP = "wx5823bf96d3bd56c7"
QDG_URL = {
    "msg_signature": "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3",
    "timestamp": "1409659589",
    "nonce": "263014780",
    "echostr": "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ==",
}
QDG_POST_SIG = "477715d11cdb4164915debcba66cb864d751f3e6"
QDG_POST_TS = "1409659813"
QDG_POST_NONCE = "1372623149"
QDG_POST_ENCRYPT = (
    "RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUpj911L3vg3W/sYYvuJ"
    "Ts3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue06DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc2"
    "hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4"
    "EhzJWrQUax5wLVMNS0+rUPA3k22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ"
    "2YoyyH2uyPIGHBZZIs2pDBS8R07+qN+E7Q=="
)
# The POST body exactly as in sbzhu/weworkapi_php callback/Sample.php ($sReqData).
QDG_POST_BODY = (
    "<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName><Encrypt><![CDATA["
    + QDG_POST_ENCRYPT
    + "]]></Encrypt><AgentID><![CDATA[218]]></AgentID></xml>"
).encode()
# The plaintext published (in a comment) right after DecryptMsg in sbzhu/weworkapi_php callback/Sample.php.
QDG_POST_PLAINTEXT = (
    "<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName>\n"
    "<FromUserName><![CDATA[mycreate]]></FromUserName>\n"
    "<CreateTime>1409659813</CreateTime>\n"
    "<MsgType><![CDATA[text]]></MsgType>\n"
    "<Content><![CDATA[hello]]></Content>\n"
    "<MsgId>4561255354251345929</MsgId>\n"
    "<AgentID>218</AgentID>\n"
    "</xml>"
)

# ---------------------------------------------------------------------------------------------
# Official vectors, set 2 (a real-looking corp "ww1436e0e65a779aee").
# Source: sbzhu/weworkapi_python  callback/Sample.py  (commit 27220fbe9d5251d46101e33751568eae9f413666);
# the same values are in callback_python3/Sample.py. The decrypted POST equals the sample's own
# sRespData string, which the sample then re-encrypts as the reply.
# ---------------------------------------------------------------------------------------------
WW_TOKEN = "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo"
WW_KEY = "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt"
WW_CORP = "ww1436e0e65a779aee"
WW_URL = {
    "msg_signature": "012bc692d0a58dd4b10f8dfe5c4ac00ae211ebeb",
    "timestamp": "1476416373",
    "nonce": "47744683",
    "echostr": "fsi1xnbH4yQh0+PJxcOdhhK6TDXkjMyhEPA7xB2TGz6b+g7xyAbEkRxN/3cNXW9qdqjnoVzEtpbhnFyq6SVHyA==",
}
WW_POST_SIG = "0c3914025cb4b4d68103f6bfc8db550f79dcf48e"
WW_POST_TS = "1476422779"
WW_POST_NONCE = "1597212914"
WW_POST_BODY = (
    b"<xml><ToUserName><![CDATA[ww1436e0e65a779aee]]></ToUserName>\n<Encrypt><![CDATA[Kl7kjoSf6DMD1zh7rtrHjFaDapSCkaOnwu3bqLc5tA"
    b"ybhhMl9pFeK8NslNPVdMwmBQTNoW4mY7AIjeLvEl3NyeTkAgGzBhzTtRLNshw2AEew+kkYcD+Fq72Kt00fT0WnN87hGrW8SqGc+NcT3mu87Ha3dz1pSDi6GaUA6"
    b"A0sqfde0VJPQbZ9U+3JWcoD4Z5jaU0y9GSh010wsHF8KZD24YhmZH4ch4Ka7ilEbjbfvhKkNL65HHL0J6EYJIZUC2pFrdkJ7MhmEbU2qARR4iQHE7wy24qy0cR"
    b"X3Mfp6iELcDNfSsPGjUQVDGxQDCWjayJOpcwocugux082f49HKYg84EpHSGXAyh+/oxwaWbvL6aSDPOYuPDGOCI8jmnKiypE+]]></Encrypt>\n"
    b"<AgentID><![CDATA[1000002]]></AgentID>\n</xml>"
)
WW_POST_PLAINTEXT = (
    "<xml><ToUserName>ww1436e0e65a779aee</ToUserName><FromUserName>ChenJiaShun</FromUserName><CreateTime>1476422779"
    "</CreateTime><MsgType>text</MsgType><Content>你好</Content><MsgId>1456453720</MsgId><AgentID>1000002</AgentID></xml>"
)

# ---------------------------------------------------------------------------------------------
# Encryption known-answer vectors (fixed 16-byte random prefix), from Tencent's 公众平台 Java sample
# test WXBizMsgCryptTest.java (testAesEncrypt / testAesEncrypt2); same scheme, appid as receive id.
# Found redistributed in Wyl015/wuyiling  work-test/src/main/resources/Utils/aes/WXBizMsgCryptTest.java
# (and other copies of the sample); the official package is a zip download, not a repository.
# ---------------------------------------------------------------------------------------------
MP_TOKEN = "pamtest"
MP_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
MP_APPID = "wxb11529c136998cb6"
MP_RANDOM = b"aaaabbbbccccdddd"
MP_MSG1 = "我是中文abcd123"
MP_ENC1 = "jn1L23DB+6ELqJ+6bruv21Y6MD7KeIfP82D6gU39rmkgczbWwt5+3bnyg5K55bgVtVzd832WzZGMhkP72vVOfg=="
MP_MSG2 = (
    "<xml><ToUserName><![CDATA[oia2Tj我是中文jewbmiOUlr6X-1crbLOvLw]]></ToUserName><FromUserName><![CDATA[gh_7f083739789a]]>"
    "</FromUserName><CreateTime>1407743423</CreateTime><MsgType><![CDATA[video]]></MsgType><Video><MediaId><![CDATA[eYJ1Mbw"
    "PRJtOvIEabaxHs7TX2D-HV71s79GUxqdUkjm6Gs2Ed1KF3ulAOA9H1xG0]]></MediaId><Title><![CDATA[testCallBackReplyVideo]]></Title>"
    "<Description><![CDATA[testCallBackReplyVideo]]></Description></Video></xml>"
)
MP_ENC2 = (
    "jn1L23DB+6ELqJ+6bruv23M2GmYfkv0xBh2h+XTBOKVKcgDFHle6gqcZ1cZrk3e1qjPQ1F4RsLWzQRG9udbKWesxlkupqcEcW7ZQweImX9+wLMa0GaUzpkyc"
    "A8+IamDBxn5loLgZpnS7fVAbExOkK5DYHBmv5tptA9tklE/fTIILHR8HLXa5nQvFb3tYPKAlHF3rtTeayNf0QuM+UW/wM9enGIDIJHF7CLHiDNAYxr+r+O"
    "rJCmPQyTy8cVWlu9iSvOHPT/77bZqJucQHQ04sq7KZI27OcqpQNSto2OdHCoTccjggX5Z9Mma0nMJBU+jLKJ38YB1fBIz+vBzsYjrTmFQ44YfeEuZ+xRTQ"
    "wr92vhA9OxchWVINGC50qE/6lmkwWTwGX9wtQpsJKhP+oS7rvTY8+VdzETdfakjkwQ5/Xka042OlUb1/slTwo4RscuQ+RdxSGvDahxAJ6+EAjLt9d8igHng"
    "xIbf6YyqqROxuxqIeIch3CssH/LqRs+iAcILvApYZckqmA7FNERspKA5f8GoJ9sv8xmGvZ9Yrf57cExWtnX8aCMMaBropU/1k+hKP5LVdzbWCG0hGwx/dQud"
    "YR/eXp3P0XxjlFiy+9DMlaFExWUZQDajPkdPrEeOwofJb"
)

# Our own test configuration (not secrets of anything real).
TOKEN = "TestToken123"
KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
CORP = "ww0123456789abcdef"
TS = "1700000000"
NONCE = "98765"


def app_crypto():
    return CallbackCrypto(TOKEN, KEY, CORP)


def robot_crypto():
    return CallbackCrypto(TOKEN, KEY, "")


def raw_encrypt(data: bytes, key: str = KEY) -> str:
    """AES-CBC over ``data`` exactly as given (caller controls padding): builds hostile ciphertexts."""
    k = base64.b64decode(key + "=")
    enc = Cipher(algorithms.AES(k), modes.CBC(k[:16])).encryptor()
    return base64.b64encode(enc.update(data) + enc.finalize()).decode()


def pkcs7(data: bytes, block: int = 32) -> bytes:
    n = block - len(data) % block
    return data + bytes([n]) * n


def frame(message: bytes, receive_id: bytes, length: int | None = None) -> bytes:
    return b"R" * 16 + struct.pack(">I", len(message) if length is None else length) + message + receive_id


def signed_decrypt(crypto: CallbackCrypto, encrypt: str) -> str:
    return crypto.decrypt(crypto.signature(TS, NONCE, encrypt), TS, NONCE, encrypt)


def assert_no_secret(exc: CallbackError, *extra: str):
    text = str(exc) + repr(exc)
    for secret in (TOKEN, KEY, QDG_TOKEN, QDG_KEY, *extra):
        assert secret not in text


# ---------------------------------------------------------------------------------------------
# official vectors
# ---------------------------------------------------------------------------------------------
class TestOfficialVectors:
    def test_qdg_url_signature(self):
        c = CallbackCrypto(QDG_TOKEN, QDG_KEY, QDG_CORP)
        assert c.signature(QDG_URL["timestamp"], QDG_URL["nonce"], QDG_URL["echostr"]) == QDG_URL["msg_signature"]

    def test_qdg_verify_url(self):
        c = CallbackCrypto(QDG_TOKEN, QDG_KEY, QDG_CORP)
        echo = c.verify_url(**QDG_URL)
        # The samples do not print the echostr plaintext; this value is what it decrypts to
        # (a numeric string, as WeCom sends), with the corp id as receive id.
        assert echo == "1616140317555161061"

    def test_qdg_post_signature_and_decrypt(self):
        c = CallbackCrypto(QDG_TOKEN, QDG_KEY, QDG_CORP)
        assert c.signature(QDG_POST_TS, QDG_POST_NONCE, QDG_POST_ENCRYPT) == QDG_POST_SIG
        encrypt = parse_envelope(QDG_POST_BODY)
        assert encrypt == QDG_POST_ENCRYPT
        assert c.decrypt(QDG_POST_SIG, QDG_POST_TS, QDG_POST_NONCE, encrypt) == QDG_POST_PLAINTEXT

    def test_qdg_post_parses_as_app_message(self):
        c = CallbackCrypto(QDG_TOKEN, QDG_KEY, QDG_CORP)
        xml = c.decrypt(QDG_POST_SIG, QDG_POST_TS, QDG_POST_NONCE, parse_envelope(QDG_POST_BODY))
        ev = parse_app(xml, int(QDG_POST_TS))
        assert ev == {
            "source": "app",
            "msgid": "4561255354251345929",
            "chat_id": "",
            "chat_type": "single",
            "userid": "mycreate",
            "name": "",
            "alias": "",
            "msgtype": "text",
            "text": "hello",
            "has_image": False,
            "event": "",
            "ts": 1409659813,
        }

    def test_qdg_wrong_receive_id_is_403(self):
        # The same official message checked as if it came to a robot (receive id ""): the trailing
        # corp id does not match. wechatpy raises InvalidCorpIdException here, which it does not
        # treat as a bad signature; we do.
        for rid in ("", "wx5823bf96d3bd56c8", "wx5823bf96d3bd56c"):
            c = CallbackCrypto(QDG_TOKEN, QDG_KEY, rid)
            with pytest.raises(BadSignature) as ei:
                c.decrypt(QDG_POST_SIG, QDG_POST_TS, QDG_POST_NONCE, QDG_POST_ENCRYPT)
            assert ei.value.status == 403 and str(ei.value) == "wrong receive id"

    def test_qdg_wrong_token_is_403(self):
        c = CallbackCrypto("QDG6eL", QDG_KEY, QDG_CORP)
        with pytest.raises(BadSignature):
            c.verify_url(**QDG_URL)

    def test_ww_url(self):
        c = CallbackCrypto(WW_TOKEN, WW_KEY, WW_CORP)
        assert c.signature(WW_URL["timestamp"], WW_URL["nonce"], WW_URL["echostr"]) == WW_URL["msg_signature"]
        assert c.verify_url(**WW_URL) == "1288432023552776189"  # derived, as above

    def test_ww_post(self):
        c = CallbackCrypto(WW_TOKEN, WW_KEY, WW_CORP)
        encrypt = parse_envelope(WW_POST_BODY)
        assert c.signature(WW_POST_TS, WW_POST_NONCE, encrypt) == WW_POST_SIG
        xml = c.decrypt(WW_POST_SIG, WW_POST_TS, WW_POST_NONCE, encrypt)
        assert xml == WW_POST_PLAINTEXT
        ev = parse_app(xml, 0)
        assert (ev["userid"], ev["text"], ev["msgid"], ev["ts"]) == ("ChenJiaShun", "你好", "1456453720", 1476422779)

    @pytest.mark.parametrize("msg,expected", [(MP_MSG1, MP_ENC1), (MP_MSG2, MP_ENC2)])
    def test_encrypt_known_answer(self, msg, expected):
        c = CallbackCrypto(MP_TOKEN, MP_KEY, MP_APPID)
        enc, sig = c.encrypt(msg, "xxxxxx", "1409304348", random16=MP_RANDOM)
        assert enc == expected
        assert c.decrypt(sig, "1409304348", "xxxxxx", enc) == msg


# ---------------------------------------------------------------------------------------------
# round trips
# ---------------------------------------------------------------------------------------------
class TestRoundTrip:
    @pytest.mark.parametrize("make", [app_crypto, robot_crypto])
    @pytest.mark.parametrize(
        "text",
        [
            "<xml><a>hi</a></xml>",
            "",
            "打卡 第3天 ✅",
            "🎉🎉🎉",
            "x" * 10_240,
            "a" * 11,
            "b" * 12,
            "c" * 44,
        ],
    )
    def test_roundtrip(self, make, text):
        c = make()
        enc, sig = c.encrypt(text, NONCE, TS)
        assert sig == c.signature(TS, NONCE, enc)
        assert c.decrypt(sig, TS, NONCE, enc) == text

    def test_padding_is_block_32(self):
        c = robot_crypto()
        for n in range(0, 70):
            enc, _ = c.encrypt("x" * n, NONCE, TS)
            assert len(base64.b64decode(enc)) % 32 == 0

    def test_random_prefix_differs(self):
        c = app_crypto()
        assert c.encrypt("same", NONCE, TS)[0] != c.encrypt("same", NONCE, TS)[0]

    def test_encrypt_body(self):
        c = robot_crypto()
        body, args = c.encrypt_body("<xml><MsgType>text</MsgType></xml>", NONCE, TS)
        assert body.startswith(b"<xml><Encrypt><![CDATA[") and body.endswith(b"]]></Encrypt></xml>")
        assert set(args) == {"msg_signature", "timestamp", "nonce"}
        assert args["timestamp"] == TS and args["nonce"] == NONCE
        enc = parse_envelope(body)
        plain = c.decrypt(args["msg_signature"], args["timestamp"], args["nonce"], enc)
        assert plain == "<xml><MsgType>text</MsgType></xml>"

    def test_uppercase_signature_accepted(self):
        c = app_crypto()
        enc, sig = c.encrypt("hi", NONCE, TS)
        assert c.decrypt(sig.upper(), TS, NONCE, enc) == "hi"

    def test_full_robot_pipeline(self):
        c = robot_crypto()
        xml = (
            "<xml><WebhookUrl><![CDATA[https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=SECRETKEY-1]]></WebhookUrl>"
            "<MsgId>m1</MsgId><ChatId>wrC1</ChatId><ChatType>group</ChatType><From><UserId>u1</UserId>"
            "<Name>张三</Name><Alias>zs</Alias></From><MsgType>text</MsgType>"
            "<Text><Content>@bot 打卡</Content></Text></xml>"
        )
        body, args = c.encrypt_body(xml, NONCE, TS)
        plain = c.decrypt(args["msg_signature"], args["timestamp"], args["nonce"], parse_envelope(body))
        ev = parse_robot(plain, int(args["timestamp"]))
        assert ev["text"] == "@bot 打卡" and ev["chat_id"] == "wrC1" and ev["ts"] == int(TS)
        assert "SECRETKEY-1" not in repr(ev)

    def test_repr_hides_secrets(self):
        c = app_crypto()
        assert TOKEN not in repr(c) and KEY not in repr(c)


# ---------------------------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------------------------
class TestSignature:
    def setup_method(self):
        self.c = app_crypto()
        self.enc, self.sig = self.c.encrypt("secret plaintext", NONCE, TS)

    def _403(self, sig, ts=TS, nonce=NONCE, enc=None):
        with pytest.raises(BadSignature) as ei:
            self.c.decrypt(sig, ts, nonce, self.enc if enc is None else enc)
        assert ei.value.status == 403
        assert_no_secret(ei.value, "secret plaintext", self.enc)
        return ei.value

    def test_forged(self):
        flipped = ("0" if self.sig[0] != "0" else "1") + self.sig[1:]
        assert str(self._403(flipped)) == "bad signature"
        self._403("0" * 40)

    def test_truncated_or_not_hex(self):
        self._403(self.sig[:-1])
        self._403(self.sig + "0")
        self._403("")
        self._403(None)
        self._403("g" * 40)
        self._403(self.sig[:-1] + " ")
        self._403(self.sig[:20] + "é" + self.sig[21:])

    def test_signature_bound_to_every_field(self):
        self._403(self.sig, ts=str(int(TS) + 1))
        self._403(self.sig, nonce=NONCE + "1")
        other, _ = self.c.encrypt("secret plaintext", NONCE, TS)
        self._403(self.sig, enc=other)

    def test_signature_checked_before_ciphertext(self):
        # garbage ciphertext with a wrong signature: 403, never a 400 that would reveal the parse
        self._403("0" * 40, enc="!!!not base64!!!")
        self._403("0" * 40, enc=raw_encrypt(b"\x00" * 32))

    def test_other_token(self):
        enc, sig = CallbackCrypto("OtherToken", KEY, CORP).encrypt("x", NONCE, TS)
        with pytest.raises(BadSignature):
            self.c.decrypt(sig, TS, NONCE, enc)

    def test_missing_fields_are_400(self):
        for args in [(self.sig, None, NONCE, self.enc), (self.sig, TS, None, self.enc), (self.sig, TS, NONCE, None)]:
            with pytest.raises(Malformed):
                self.c.decrypt(*args)


class TestReceiveId:
    def test_app_message_to_robot(self):
        enc, sig = app_crypto().encrypt("hi", NONCE, TS)
        with pytest.raises(BadSignature) as ei:
            robot_crypto().decrypt(sig, TS, NONCE, enc)
        assert ei.value.status == 403 and str(ei.value) == "wrong receive id"
        assert CORP not in str(ei.value)

    def test_robot_message_to_app(self):
        enc, sig = robot_crypto().encrypt("hi", NONCE, TS)
        with pytest.raises(BadSignature, match="wrong receive id"):
            app_crypto().decrypt(sig, TS, NONCE, enc)

    def test_other_corp(self):
        enc, sig = CallbackCrypto(TOKEN, KEY, "ww_other_corp").encrypt("hi", NONCE, TS)
        with pytest.raises(BadSignature):
            app_crypto().decrypt(sig, TS, NONCE, enc)
        enc, sig = CallbackCrypto(TOKEN, KEY, CORP + "x").encrypt("hi", NONCE, TS)
        with pytest.raises(BadSignature):
            app_crypto().decrypt(sig, TS, NONCE, enc)


class TestMalformedCiphertext:
    def _400(self, encrypt, crypto=None, reason=None):
        c = crypto or app_crypto()
        with pytest.raises(Malformed) as ei:
            signed_decrypt(c, encrypt)
        assert ei.value.status == 400
        assert_no_secret(ei.value, "payload-π")
        if reason:
            assert str(ei.value) == reason
        return ei.value

    def test_bad_base64(self):
        good, _ = app_crypto().encrypt("hi", NONCE, TS)
        for bad in [
            "",
            "!!!!",
            good[:-1],
            good + "A",
            good[:-4] + "%%%%",
            good.replace("=", "A", 1) + "=",
            " " + good[1:],
            good[:8] + "\n" + good[9:],
            "ＡＡＡＡ",
            good[:-2] + "=A",
        ]:
            self._400(bad, reason="bad base64")

    def test_ciphertext_length(self):
        self._400(base64.b64encode(b"\x01" * 15).decode(), reason="bad ciphertext length")
        self._400(base64.b64encode(b"\x01" * 33).decode(), reason="bad ciphertext length")
        self._400("AAAA", reason="bad ciphertext length")

    @pytest.mark.parametrize(
        "tail",
        [
            b"\x00",  # pad byte 0
            b"\x21",  # 33 > block size
            b"\xff",  # 255
            b"\x05\x05\x05\x04\x05",  # inconsistent pad bytes
            b"\x03\x02\x03",  # inconsistent
        ],
    )
    def test_bad_padding(self, tail):
        body = frame("payload-π".encode(), CORP.encode())
        data = body + b"Z" * (64 - len(body) - len(tail)) + tail
        assert len(data) == 64
        self._400(raw_encrypt(data), reason="bad padding")

    def test_pad_longer_than_plaintext(self):
        self._400(raw_encrypt(bytes([32]) * 16), reason="bad padding")

    def test_pad_value_16_is_fine(self):
        # any consistent pad value 1..32 is accepted, e.g. 16 (an AES-block-sized pad)
        data = frame(b"twelve bytes", b"") + b"\x10" * 16
        assert len(data) == 48
        assert signed_decrypt(robot_crypto(), raw_encrypt(data)) == "twelve bytes"

    @pytest.mark.parametrize("length", [24, 1000, 2**31, 2**32 - 1])
    def test_length_prefix_too_long(self, length):
        data = pkcs7(frame(b"hello", CORP.encode(), length=length))
        self._400(raw_encrypt(data), reason="bad length prefix")
        self._400(
            raw_encrypt(pkcs7(frame(b"hello", b"", length=length))), crypto=robot_crypto(), reason="bad length prefix"
        )

    def test_length_prefix_too_short_app(self):
        data = pkcs7(frame(b"hello", CORP.encode(), length=3))
        self._400(raw_encrypt(data), reason="bad length prefix")

    def test_length_prefix_too_short_robot(self):
        # with receive id "" a short prefix cannot be told from a wrong receive id: 403
        data = pkcs7(frame(b"hello", b"", length=3))
        with pytest.raises(BadSignature):
            signed_decrypt(robot_crypto(), raw_encrypt(data))

    def test_plaintext_shorter_than_header(self):
        self._400(raw_encrypt(pkcs7(b"R" * 19)), reason="bad length prefix")
        self._400(raw_encrypt(pkcs7(b"")), reason="bad length prefix")

    @pytest.mark.parametrize("msg", [b"\xff\xfe", b"abc\xc3", b"\xed\xa0\x80", b"\xc0\xaf", b"ok" + b"\x80"])
    def test_non_utf8_message(self, msg):
        self._400(raw_encrypt(pkcs7(frame(msg, CORP.encode()))), reason="message is not valid UTF-8")

    def test_wrong_key(self):
        other_key = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefg"
        enc, _ = CallbackCrypto(TOKEN, other_key, CORP).encrypt("payload-π", NONCE, TS)
        with pytest.raises(CallbackError) as ei:
            signed_decrypt(app_crypto(), enc)
        assert_no_secret(ei.value, other_key, "payload-π")


class TestConstructor:
    @pytest.mark.parametrize("key", ["", "short", KEY + "A", KEY[:-1] + "!", KEY[:-1] + "=", None])
    def test_bad_key(self, key):
        with pytest.raises(ValueError) as ei:
            CallbackCrypto(TOKEN, key, CORP)
        if key:
            assert key not in str(ei.value)

    def test_empty_token(self):
        with pytest.raises(ValueError):
            CallbackCrypto("", KEY, CORP)

    def test_random16(self):
        with pytest.raises(ValueError):
            app_crypto().encrypt("x", NONCE, TS, random16=b"short")

    def test_status_codes(self):
        assert BadSignature.status == 403 and Malformed.status == 400
        assert issubclass(BadSignature, CallbackError) and issubclass(Malformed, CallbackError)


# ---------------------------------------------------------------------------------------------
# fuzzing: mutations only ever raise CallbackError
# ---------------------------------------------------------------------------------------------
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ROBOT_XML = (
    "<xml><WebhookUrl><![CDATA[https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=K]]></WebhookUrl>"
    "<MsgId>abc</MsgId><ChatId>wrX</ChatId><ChatType>group</ChatType><From><UserId>u</UserId><Name>n</Name>"
    "</From><MsgType>text</MsgType><Text><Content>hello 打卡</Content></Text></xml>"
)


def _mutate(data: bytes, ops) -> bytes:
    buf = bytearray(data)
    for kind, pos, val in ops:
        if not buf and kind != "insert":
            continue
        i = pos % (len(buf) + 1) if kind == "insert" else pos % len(buf)
        if kind == "flip":
            buf[i] ^= val or 1
        elif kind == "set":
            buf[i] = val
        elif kind == "insert":
            buf.insert(i, val)
        elif kind == "delete":
            del buf[i]
        elif kind == "truncate":
            del buf[i:]
    return bytes(buf)


OPS = st.lists(
    st.tuples(
        st.sampled_from(["flip", "set", "insert", "delete", "truncate"]), st.integers(0, 10_000), st.integers(0, 255)
    ),
    min_size=1,
    max_size=6,
)


def _pipeline(crypto, body: bytes, args: dict):
    enc = parse_envelope(body)
    plain = crypto.decrypt(args.get("msg_signature"), args.get("timestamp"), args.get("nonce"), enc)
    return parse_robot(plain, int(TS))


@FUZZ
@given(ops=OPS)
def test_fuzz_envelope(ops):
    c = robot_crypto()
    body, args = c.encrypt_body(ROBOT_XML, NONCE, TS)
    try:
        _pipeline(c, _mutate(body, ops), args)
    except CallbackError:
        pass


@FUZZ
@given(ops=OPS, target=st.sampled_from(["msg_signature", "timestamp", "nonce"]))
def test_fuzz_query_args(ops, target):
    c = robot_crypto()
    body, args = c.encrypt_body(ROBOT_XML, NONCE, TS)
    mutated = _mutate(args[target].encode(), ops).decode("latin-1")
    try:
        _pipeline(c, body, dict(args, **{target: mutated}))
    except CallbackError:
        pass


@FUZZ
@given(ops=OPS)
def test_fuzz_ciphertext_with_valid_signature(ops):
    # the attacker cannot sign, but a key holder's bug could: every parse step must still hold
    c = robot_crypto()
    enc, _ = c.encrypt(ROBOT_XML, NONCE, TS)
    mutated = _mutate(enc.encode(), ops).decode("latin-1")
    try:
        parse_robot(signed_decrypt(c, mutated), int(TS))
    except CallbackError:
        pass


@FUZZ
@given(raw=st.binary(min_size=0, max_size=200), v=st.integers(0, 255))
def test_fuzz_plaintext_structure(raw, v):
    # arbitrary decrypted bytes (any framing, any padding) under a valid signature
    data = raw + bytes([v]) * ((-len(raw)) % 16 or (16 if not raw else 0))
    for c in (app_crypto(), robot_crypto()):
        try:
            assert isinstance(signed_decrypt(c, raw_encrypt(data)), str)
        except CallbackError:
            pass


@FUZZ
@given(
    msg=st.binary(max_size=120),
    rid=st.sampled_from([b"", CORP.encode(), b"wx", CORP.encode() + b"x"]),
    delta=st.integers(-30, 30),
)
def test_fuzz_framing(msg, rid, delta):
    data = pkcs7(frame(msg, rid, length=max(0, len(msg) + delta)))
    for c in (app_crypto(), robot_crypto()):
        try:
            out = signed_decrypt(c, raw_encrypt(data))
        except CallbackError:
            continue
        # accepted only when the framing is consistent: message + our receive id, nothing else
        assert out.encode() + c._receive_id == msg + rid
        assert len(out.encode()) == max(0, len(msg) + delta)
