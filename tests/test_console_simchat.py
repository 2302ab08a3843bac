"""The simulator's chat view (/_sim/): a post made there reaches the service as WeCom's encrypted
callback, and the bot's answers (texts and pictures) come back through /_sim/messages."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import requests
from werkzeug.serving import make_server

from bench.common import free_port
from wecom_bot import create_app
from wecom_bot.sim.simulator import SimState


@pytest.fixture
def demo(env):
    port = free_port()
    env(PORT=port, BOT_ENV_FILE=str(Path("config/demo.env").resolve()))
    app = create_app()
    app.extensions["wecom_sim"] = state = SimState()
    httpd = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}", state
    httpd.shutdown()
    httpd.server_close()


def wait_for(base, pred):
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        got = requests.get(base + "/_sim/messages", timeout=5).json()
        if pred(got):
            return got
        time.sleep(0.1)
    raise AssertionError(got)


def test_the_chat_view_posts_as_wecom_and_shows_the_answers(demo):
    base, state = demo
    page = requests.get(base + "/_sim/", timeout=5).text
    assert "组长 tingting" in page and "私聊应用" in page and "/console/" in page
    form = {"group": "demo", "via": "robot", "userid": "xiaolu", "text": "@打卡助手 打卡"}
    assert requests.post(base + "/_sim/", data=form, timeout=10, allow_redirects=False).status_code == 302
    got = wait_for(base, lambda ms: any(not m["mine"] and "小鹿" in m["text"] for m in ms))
    assert got[0] == {"who": "小鹿", "where": "小红书写作营·1组", "text": "@打卡助手 打卡", "image": None, "mine": True}
    form = {"group": "demo", "via": "app", "userid": "tingting", "text": "帮助"}
    requests.post(base + "/_sim/", data=form, timeout=10, allow_redirects=False)
    got = wait_for(base, lambda ms: any(m["where"] == "私聊 → tingting" and "组长命令" in m["text"] for m in ms))
    # a picture the bot sent is shown as an image served by the simulator
    image = {"md5": "0" * 32, "size": 1, "url": "/_sim/cgi-bin/_control/images/x"}
    state.record(
        {"path": "webhook/send", "channel": "robot", "key": "demo-robot-key-0001", "msgtype": "image", "image": image}
    )
    got = wait_for(base, lambda ms: any(m["image"] for m in ms))
    assert [m["image"] for m in got if m["image"]] == ["/_sim/cgi-bin/_control/images/x"]
