"""/_sim/: a chat view for trying the service without a WeCom account (simulator mode only).

Pick who you are (the page says who leads each group), post in the group (as the group robot's XML
callback to /wecom/robot or the 智能机器人's JSON to /wecom/aibot, encrypted and signed exactly as
WeCom does) or privately to the app (its XML callback to /wecom/callback), and watch the bot's answers
appear: the page polls `/_sim/messages`, the simulator's record of what the bot sent (texts, and
pictures shown as images). The leader console is one click away (/console/).
"""

from __future__ import annotations

import time
from typing import Any

import requests
from flask import Blueprint, jsonify, redirect, render_template_string, request
from flask.typing import ResponseReturnValue

from config.settings import SIM_PATH, Settings, get_settings
from wecom_bot.crypto import CallbackCrypto
from wecom_bot.sim.authorize import people
from wecom_bot.sim.builders import Signed, aibot_json, app_xml, robot_xml, sign, sign_aibot
from wecom_bot.sim.simulator import get_state

bp = Blueprint("simpanel", __name__)

SHOWN = 80  # the latest messages the chat shows
POSTED: list[dict[str, Any]] = []  # what was posted from this page (one process: the simulator's web)

PAGE = """<!doctype html><html lang="zh-CN"><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>打卡助手 · 模拟器</title>
<style>body{margin:0;font:15px/1.45 system-ui,sans-serif;background:#ededed}
header{background:#f7f7f7;padding:.5em .8em;border-bottom:1px solid #ddd}header a{float:right}
#log{padding:.6em;max-width:720px;margin:0 auto 9em}.m{margin:.4em 0;display:flex;flex-direction:column}
.m .b{max-width:85%;padding:.45em .7em;border-radius:8px;background:#fff;white-space:pre-wrap;word-break:break-word}
.m.me{align-items:flex-end}.m.me .b{background:#95ec69}.m small{color:#888;font-size:.75em}
.m img{max-width:100%;border-radius:6px}
form{position:fixed;bottom:0;left:0;right:0;background:#f7f7f7;border-top:1px solid #ddd;padding:.5em}
form div{max-width:720px;margin:0 auto;display:flex;gap:.3em;flex-wrap:wrap}select,input,button{font:inherit}
#text{flex:1;min-width:10em}</style>
<header><b>打卡助手 · 模拟器</b> <a href="/console/">组长台 →</a><br>
<small>{% for g in groups %}{{ g.display }}：组长 {{ leaders[g.key] }}；{% endfor %}</small></header>
<div id="log"></div>
<form method="post" id="send"><div>
 <select name="userid" id="who">
 {% for uid, label in who %}<option value="{{ uid }}">{{ label }}</option>{% endfor %}</select>
 <select name="group">{% for g in groups %}<option value="{{ g.key }}">{{ g.display }}</option>{% endfor %}</select>
 <select name="via"><option value="robot">群里 @群机器人</option><option value="aibot">群里 @智能机器人</option>
 <option value="app">私聊应用</option></select>
</div><div><input name="text" id="text" value="@打卡助手 打卡"><button>发送</button></div></form>
<script>
const log = document.getElementById("log");
let seen = -1;
function bubble(m) {
  const row = document.createElement("div"); row.className = "m" + (m.mine ? " me" : "");
  const who = document.createElement("small"); who.textContent = m.who + " · " + m.where; row.appendChild(who);
  const b = document.createElement("div"); b.className = "b";
  if (m.image) { const img = document.createElement("img"); img.src = m.image; img.alt = "图片"; b.appendChild(img); }
  else { b.textContent = m.text; }
  row.appendChild(b); log.appendChild(row);
}
async function poll() {
  try {
    const res = await fetch("messages"); const all = await res.json();
    if (all.length !== seen) {
      log.textContent = ""; all.forEach(bubble); seen = all.length;
      window.scrollTo(0, document.body.scrollHeight);
    }
  } catch (e) {}
}
document.getElementById("send").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  await fetch("./", {method: "POST", body: new FormData(ev.target), redirect: "manual"});
  document.getElementById("text").value = ""; poll();
});
poll(); setInterval(poll, 1500);
</script>"""


@bp.route("/", methods=["GET", "POST"])
def panel() -> ResponseReturnValue:
    settings = get_settings()
    if request.method == "POST":
        return _post(settings)
    leaders = {
        g.key: "、".join(g.display_names.get(u, u) for u in g.leaders) or "（管理员）" for g in settings.groups.values()
    }
    return render_template_string(PAGE, groups=list(settings.groups.values()), leaders=leaders, who=people())


def _post(settings: Settings) -> ResponseReturnValue:
    group = settings.group(request.form.get("group", ""))
    if group is None:
        return "unknown group", 400
    # to this server's own address (never the Host header's: a forged Host would make this page post
    # signed callbacks anywhere)
    own = settings.api_base_url[: -len(SIM_PATH)] if settings.api_base_url.endswith(SIM_PATH) else ""
    if not own:
        return "the simulator page works only in simulator mode", 404
    via, userid = request.form.get("via", "robot"), request.form.get("userid", "member")
    text = request.form.get("text", "")
    signed = _callback(settings, via, group.chat_id, userid, text)
    at = time.time()  # before the bot can answer: the post comes first in the chat
    res = requests.post(own + signed.path, data=signed.body, timeout=5)
    where = "私聊应用" if via == "app" else group.display
    POSTED.append({"time": at, "who": _name(settings, userid), "where": where, "text": text, "mine": True})
    del POSTED[:-SHOWN]
    return redirect(f"./?status={res.status_code}")


def _name(settings: Settings, userid: str) -> str:
    for g in settings.groups.values():
        if userid in g.display_names:
            return g.display_names[userid]
    return userid


def _callback(settings: Settings, via: str, chat_id: str, userid: str, text: str) -> Signed:
    """The post as the group robot's callback, the AI bot's (which carries no display name), or the
    app's (a private message)."""
    now = int(time.time())
    if via == "aibot":
        crypto = CallbackCrypto(settings.aibot_token, settings.aibot_aes_key, "")
        return sign_aibot(crypto, aibot_json(chat_id, userid, text, api_base=settings.api_base_url), now)
    if via == "app":
        crypto = CallbackCrypto(settings.token, settings.aes_key, settings.corp_id)
        xml = app_xml(settings.corp_id, userid, text, create_time=now, agent_id=settings.agent_id)
        return sign(crypto, "/wecom/callback", xml, now)
    crypto = CallbackCrypto(settings.robot_token, settings.robot_aes_key, "")
    name = request.form.get("name") or _name(settings, userid)
    return sign(crypto, "/wecom/robot", robot_xml(chat_id, userid, name, text), now)


@bp.get("/messages")
def messages() -> ResponseReturnValue:
    """What was posted here and what the bot sent, oldest first: {who, where, text, image, mine}."""
    settings = get_settings()
    sent = [_shown(settings, m) for m in get_state().sent_messages()[-SHOWN:]]
    both = sorted([*POSTED, *sent], key=lambda m: m["time"])[-SHOWN:]
    return jsonify([{k: m.get(k) for k in ("who", "where", "text", "image", "mine")} for m in both])


def _shown(settings: Settings, m: dict[str, Any]) -> dict[str, Any]:
    channel = m.get("channel", "")
    if channel == "app":
        where = "私聊 → " + "、".join(_name(settings, u) for u in m.get("touser") or [])
    else:
        where = next(
            (
                g.display
                for g in settings.groups.values()
                if m.get("key") == g.webhook_key or m.get("chatid") == g.chat_id
            ),
            "群",
        )
    image = (m.get("image") or {}).get("url") if m.get("msgtype") == "image" else None
    return {
        "time": m.get("time", 0),
        "who": "打卡助手",
        "where": where,
        "text": str(m.get("content", "")),
        "image": image,
    }
