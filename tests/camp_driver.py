"""A camp driven the way WeCom and cron drive the service, on a simulated clock: member posts are
encrypted robot callbacks, private messages encrypted app callbacks, time moves with
`wecom-bot tick --at`, and what the bot says is read where it arrives, in the WeCom simulator.
Shared by the end-to-end camp tests (tests/test_camp_weeks.py, tests/test_camp_routine.py)."""

from __future__ import annotations

import itertools
import time
import types
from datetime import date, datetime
from zoneinfo import ZoneInfo

from wecom_bot import cli, create_app
from wecom_bot.crypto import CallbackCrypto
from wecom_bot.sim.builders import app_xml, robot_xml, sign
from workers import jobs, outbound, replies

from conftest import SIM_CORP_ID, SIM_ROBOT_KEY

TZ = ZoneInfo("Asia/Shanghai")
ROBOT_TOKEN, ROBOT_AES = "robotToken123", "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
APP_TOKEN, APP_AES = "appToken456", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
CALLBACK_ENV = {
    "WECOM_ROBOT_TOKEN": ROBOT_TOKEN,
    "WECOM_ROBOT_ENCODING_AES_KEY": ROBOT_AES,
    "WECOM_TOKEN": APP_TOKEN,
    "WECOM_ENCODING_AES_KEY": APP_AES,
}
_ids = itertools.count(1)


def local(d: date, hh: int = 0, mm: int = 0, ss: int = 0) -> float:
    return datetime(d.year, d.month, d.day, hh, mm, ss, tzinfo=TZ).timestamp()


def with_text(msgs: list[dict], needle: str) -> list[str]:
    return [m["content"] for m in msgs if needle in m.get("content", "")]


class Camp:
    """The service under test. `names`: userid -> display name; `chats`: userid -> the ChatId of the
    member's group (the robot's group by default)."""

    def __init__(self, sim, r, capsys, names: dict[str, str], chats: dict[str, str] | None = None, chat="wrchat01"):
        self.sim, self.r, self.capsys = sim, r, capsys
        self.names, self.chats, self.chat = names, chats or {}, chat
        self.client = create_app().test_client()
        self.robot = CallbackCrypto(ROBOT_TOKEN, ROBOT_AES, "")
        self.app = CallbackCrypto(APP_TOKEN, APP_AES, SIM_CORP_ID)
        self.now = 0.0
        self.ticks: list[str] = []

    def at(self, ts: float) -> None:
        self.now = ts
        self.sim.state.offset = ts - time.time()

    def deliver(self) -> None:
        outbound.process_outbox(self.r, now=self.now)

    def post(self, uid: str, text: str, ts: float) -> None:
        """A member @-ing the robot in their group."""
        self.at(ts)
        chat = self.chats.get(uid, self.chat)
        xml = robot_xml(chat, uid, self.names.get(uid, uid), text, msgid=f"camp{next(_ids)}", webhook_key=SIM_ROBOT_KEY)
        signed = sign(self.robot, "/wecom/robot", xml, int(ts))
        assert self.client.post(signed.path, data=signed.body).status_code == 200
        self.deliver()

    def private(self, uid: str, text: str, ts: float) -> None:
        """A private message to the app (leaders' commands, a member's own request or answer)."""
        self.at(ts)
        xml = app_xml(SIM_CORP_ID, uid, text, msgid=str(8_000_000_000 + next(_ids)), create_time=int(ts))
        signed = sign(self.app, "/wecom/callback", xml, int(ts))
        assert self.client.post(signed.path, data=signed.body).status_code == 200
        self.deliver()

    def tick(self, ts: float) -> None:
        """`wecom-bot tick --at <local ISO time>`."""
        self.at(ts)
        when = datetime.fromtimestamp(ts, TZ).replace(tzinfo=None).isoformat(timespec="minutes")
        self.capsys.readouterr()
        assert cli.main(["tick", "--at", when]) == 0
        self.ticks += [f"{when}  {line}" for line in self.capsys.readouterr().out.splitlines() if line != "nothing due"]
        self.deliver()

    # --- what arrived in WeCom ---------------------------------------------------------------------
    def arrived(self) -> list[dict]:
        return self.sim.state.sent_messages()

    def robot_posts(self) -> list[dict]:
        return [m for m in self.arrived() if m.get("channel") == "robot"]

    def to(self, uid: str) -> list[dict]:
        return [m for m in self.arrived() if m.get("channel") == "app" and uid in (m.get("touser") or [])]


def start_camp(
    sim, env, r, capsys, monkeypatch, names: dict[str, str], first: date, last: date | None, chats=None, **settings
) -> Camp:
    """The service configured for a camp from `first` to `last` (callback keys, camp dates and
    `settings`), with the outbox and the robot's minute on the simulated clock."""
    dates = {"BOT_CAMP_START": first.isoformat(), "BOT_CAMP_END": last.isoformat() if last else ""}
    env(**CALLBACK_ENV, **dates, **settings)
    jobs.set_inline(True, defer=("outbox",))  # the outbox runs on the simulated clock
    c = Camp(sim, r, capsys, names, chats)
    # the robot's minute as the reply router counts it: the simulated clock, like the outbox's
    monkeypatch.setattr(replies, "time", types.SimpleNamespace(time=lambda: c.now))
    return c
