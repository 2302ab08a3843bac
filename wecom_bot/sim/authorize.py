"""The simulator's stand-in for WeCom's 网页授权 page (`open.weixin.qq.com/connect/oauth2/authorize`),
mounted at /_sim/connect/oauth2 in simulator mode: pick who you are (a leader, an admin or a member of
the configured groups), and it redirects back to `redirect_uri` with a one-time `code` and the
`state`, as WeCom does; the service then asks the simulator's auth/getuserinfo who the code is.
"""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit

from flask import Blueprint, redirect, render_template_string, request
from flask.typing import ResponseReturnValue

from config.settings import get_settings
from wecom_bot.sim.simulator import get_state

bp = Blueprint("simauthorize", __name__)

PAGE = """<!doctype html><html lang="zh-CN"><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>企业微信 · 网页授权（模拟）</title>
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:420px;margin:1.5em auto;padding:0 1em}
button{display:block;width:100%;margin:.4em 0;padding:.6em;font:inherit;border:1px solid #ddd;border-radius:8px;
background:#fff;text-align:left}small{color:#666}</style>
<h1>你是谁？</h1><p><small>模拟企业微信的网页授权：选一个身份登录组长台。</small></p>
<form method="post">
{% for uid, label in people %}<button name="userid" value="{{ uid }}" id="as-{{ uid }}">{{ label }}</button>{% endfor %}
{% for k, v in keep.items() %}<input type="hidden" name="{{ k }}" value="{{ v }}">{% endfor %}
</form>"""


def people() -> list[tuple[str, str]]:
    """Everyone the configuration names, with their part: admins, then each group's leaders and members."""
    settings = get_settings()
    out: dict[str, str] = {uid: f"{uid} · 管理员（总教练）" for uid in settings.admins}
    for g in settings.groups.values():
        for uid in g.leaders:
            out.setdefault(uid, f"{g.display_names.get(uid, uid)} · {g.display} 组长")
        for uid in g.members:
            out.setdefault(uid, f"{g.display_names.get(uid, uid)} · {g.display} 成员")
    return list(out.items())


def _own_address(url: str) -> bool:
    """WeCom redirects only to the app's 可信域名; here: back to this very host, nowhere else."""
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and parts.netloc == request.host


@bp.route("/authorize", methods=["GET", "POST"])
def authorize() -> ResponseReturnValue:
    source = request.form if request.method == "POST" else request.args
    redirect_uri, state = source.get("redirect_uri", ""), source.get("state", "")
    if source.get("appid") != get_settings().corp_id or not _own_address(redirect_uri):
        return "redirect_uri 与可信域名不符 (simulated 50001)", 400
    if request.method == "POST":
        userid = request.form.get("userid", "")
        if userid not in dict(people()):
            return "unknown userid", 400
        code = get_state().issue_oauth_code(userid)
        sep = "&" if "?" in redirect_uri else "?"
        return redirect(redirect_uri + sep + urlencode({"code": code, "state": state}))
    keep = {k: source.get(k, "") for k in ("appid", "redirect_uri", "state", "agentid")}
    return render_template_string(PAGE, people=people(), keep=keep)
