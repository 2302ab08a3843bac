"""/_sim/: a page for trying the service without a WeCom account (simulator mode only).

Type a message as a group member; the page encrypts it as WeCom's group robot (XML, to /wecom/robot) or
智能机器人 (JSON, to /wecom/aibot) callback does, posts it to this service over HTTP, and lists what
the bot sent to the simulator.
"""

from __future__ import annotations

import time
from html import escape

import requests
from flask import Blueprint, redirect, request
from flask.typing import ResponseReturnValue

from config.settings import SIM_PATH, get_settings
from wecom_bot.crypto import CallbackCrypto
from wecom_bot.sim.builders import Signed, aibot_json, robot_xml, sign, sign_aibot
from wecom_bot.sim.simulator import get_state

bp = Blueprint("simpanel", __name__)

PAGE = """<!doctype html><html lang="zh-CN"><meta charset="utf-8"><title>打卡助手 · 模拟器</title>
<style>body{{font:15px/1.5 system-ui,sans-serif;max-width:760px;margin:2em auto;padding:0 1em}}
pre{{background:#f5f5f5;padding:.6em;white-space:pre-wrap}}input,select{{font:inherit}}</style>
<h1>打卡助手 · WeCom simulator</h1>
<form method="post">
 <select name="group">{groups}</select>
 <select name="via"><option value="robot">@群机器人</option><option value="aibot">@智能机器人</option></select>
 userid <input name="userid" value="xiaolu" size="8"> 名字 <input name="name" value="小鹿" size="6">
 <br><input name="text" value="@打卡助手 打卡" size="60"> <button>发送到群</button>
</form>
<p>{status}</p><h2>What the bot sent (newest first)</h2>{sent}
"""


@bp.route("/", methods=["GET", "POST"])
def panel() -> ResponseReturnValue:
    settings = get_settings()
    status = ""
    if request.method == "POST":
        group = settings.group(request.form.get("group", ""))
        if group is None:
            return "unknown group", 400
        signed = _callback(request.form.get("via", "robot"), group.chat_id)
        # to this server's own address (never the Host header's: a forged Host would make this page post
        # signed callbacks anywhere)
        own = settings.api_base_url[: -len(SIM_PATH)] if settings.api_base_url.endswith(SIM_PATH) else ""
        if not own:
            return "the simulator page works only in simulator mode", 404
        res = requests.post(own + signed.path, data=signed.body, timeout=5)
        return redirect(f"./?status={res.status_code}")
    if request.args.get("status"):
        status = f"callback answered {escape(request.args['status'])}; the worker replies within a second (reload)"
    groups = "".join(f'<option value="{escape(g.key)}">{escape(g.display)}</option>' for g in settings.groups.values())
    sent = "".join(
        f"<p><b>{escape(m.get('channel', ''))}</b> {escape(str(m.get('touser') or m.get('mentioned_list') or ''))}"
        f"<pre>{escape(str(m.get('content', '')))}</pre></p>"
        for m in reversed(get_state().sent_messages()[-50:])
    )
    return PAGE.format(groups=groups, status=status, sent=sent or "<p>nothing yet</p>")


def _callback(via: str, chat_id: str) -> Signed:
    """The form's post as the group robot's callback, or as the AI bot's (which carries no display name)."""
    settings = get_settings()
    userid, text = request.form.get("userid", "member"), request.form.get("text", "")
    if via == "aibot":
        crypto = CallbackCrypto(settings.aibot_token, settings.aibot_aes_key, "")
        message = aibot_json(chat_id, userid, text, api_base=settings.api_base_url)
        return sign_aibot(crypto, message, int(time.time()))
    crypto = CallbackCrypto(settings.robot_token, settings.robot_aes_key, "")
    return sign(
        crypto, "/wecom/robot", robot_xml(chat_id, userid, request.form.get("name", ""), text), int(time.time())
    )
