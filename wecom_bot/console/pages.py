"""The console's pages. Who sees what:
- a member: only /console/me (their own weeks, days off and links; never profile notes);
- a group's leaders: that group's week and members (不公开 members too: the page is the leaders' own);
- BOT_ADMINS: every group, and on /console/ the head coach's overview.
A group page asked for by anyone else is 403, whoever they are elsewhere.
"""

from __future__ import annotations

import io
import os
import re
import secrets
import tempfile
import time
from datetime import date

from flask import Blueprint, abort, make_response, redirect, render_template, request, send_file
from flask.typing import ResponseReturnValue
from werkzeug.wrappers import Response

from config.settings import Group, get_settings
from handlers.calendar import day_date, day_index
from handlers.weekly import display_names
from wecom_bot.console import auth
from workers import console_data, console_store, export
from workers.connection import get_redis

bp = Blueprint("console", __name__, template_folder="templates", static_folder="static")

# what a form on the member page may change, as the leader's command it stands for
CHANGES = {
    "goal": ("目标", re.compile(r"^[1-7]$")),
    "downgrade": ("退阶", re.compile(r"^[1-7]$")),
    "leave": ("请假", re.compile(r"^(1[0-4]|[1-9])$")),
    "credit": ("补卡", re.compile(r"^\d{4}-\d{2}-\d{2}$")),
    "note": ("档案", re.compile(r"^[^\r\n]{1,500}$")),
    "remove": ("移除", re.compile(r"^$")),
}
ASK = {
    "goal": "请填 1–7 之间的天数。",
    "downgrade": "请填 1–7 之间的天数。",
    "leave": "请假天数是 1–14 天。",
    "credit": "日期写成 2026-03-02 这样。",
    "note": "档案写一行字就好（500 字以内）。",
    "remove": "",
}


# the pages run no script and load nothing from elsewhere; nothing may frame them
CSP = "default-src 'self'; script-src 'none'; img-src 'self'; frame-ancestors 'none'; form-action 'self'"


@bp.app_template_filter("weekdate")
def _weekdate(day: int) -> str:
    return day_date(day).isoformat()


@bp.app_template_filter("localtime")
def _localtime(ts: float, group: Group) -> str:
    return console_data.when(ts, group, "%Y-%m-%d")


@bp.after_request
def _headers(resp: Response) -> Response:
    resp.headers["Content-Security-Policy"] = CSP
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Referrer-Policy"] = "no-referrer"
    return resp


def _user() -> auth.User | Response:
    user = auth.current_user()
    return user if user is not None else auth.sign_in_redirect(request.full_path.rstrip("?"))


def _led_group(user: auth.User, key: str) -> Group:
    """The group `key` when the user leads it (or is an admin); 404 an unknown key, else 403."""
    settings = get_settings()
    group = settings.group(key)
    if group is None:
        abort(404)
    if not settings.leads(user.userid, group):
        abort(403)
    return group


def _page(template: str, user: auth.User, **context: object) -> Response:
    flash = auth.read_flash()
    resp = make_response(render_template(template, me=user.userid, csrf=auth.csrf_token(user), flash=flash, **context))
    if flash:
        auth.take_flash(resp)
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.get("/")
def home() -> ResponseReturnValue:
    user = _user()
    if isinstance(user, Response):
        return user
    settings = get_settings()
    groups = settings.groups_led_by(user.userid)
    if not groups:
        return redirect("/console/me")
    rows = console_data.overview(get_redis(), settings, groups, time.time())
    return _page("console/home.html", user, rows=rows, admin=user.userid in settings.admins)


@bp.get("/auth")
def sign_in() -> ResponseReturnValue:
    return auth.finish_sign_in()


@bp.get("/g/<key>")
def week(key: str) -> ResponseReturnValue:
    user = _user()
    if isinstance(user, Response):
        return user
    group = _led_group(user, key)
    view = console_data.week_view(get_redis(), get_settings(), group, time.time(), _week_arg())
    return _page("console/week.html", user, v=view, names=_names(view.rows))


def _week_arg() -> int | None:
    raw = request.args.get("week", "")
    try:
        return day_index(date.fromisoformat(raw)) if raw else None
    except ValueError:
        abort(400, "week 参数是一个日期，如 2026-03-02。")


def _names(rows: list[console_data.Row]) -> dict[str, str]:
    return display_names([row.m for row in rows])


@bp.get("/g/<key>/m/<userid>")
def member(key: str, userid: str) -> ResponseReturnValue:
    user = _user()
    if isinstance(user, Response):
        return user
    group = _led_group(user, key)
    history = console_data.member_history(get_redis(), get_settings(), group, userid, time.time())
    if history is None:
        abort(404)
    return _page("console/member.html", user, h=history, op=secrets.token_urlsafe(12), leader=True)


@bp.post("/g/<key>/m/<userid>")
def change(key: str, userid: str) -> ResponseReturnValue:
    user = auth.current_user()
    if user is None:
        abort(403)
    auth.check_csrf(user)
    group = _led_group(user, key)
    action, value = request.form.get("action", ""), request.form.get("value", "").strip()
    op = request.form.get("op", "")
    if action not in CHANGES or not re.fullmatch(r"[A-Za-z0-9_\-]{8,64}", op):
        abort(400, "看不懂这个改动，请刷新页面再试。")
    word, valid = CHANGES[action]
    if not valid.match(value):
        answer = ASK[action]
    else:
        text = " ".join(p for p in (word, userid, value, group.key) if p)
        settings = get_settings()
        answer = console_store.run_change(get_redis(), settings, user.userid, user.userid, text, op)
    back = f"/console/g/{group.key}" if action == "remove" else f"/console/g/{group.key}/m/{userid}"
    resp = redirect(back, code=303)
    auth.set_flash(resp, answer or "好的。")
    return resp


@bp.get("/g/<key>/export.xlsx")
def export_xlsx(key: str) -> ResponseReturnValue:
    user = _user()
    if isinstance(user, Response):
        return user
    group = _led_group(user, key)
    fd, path = tempfile.mkstemp(suffix=".xlsx")
    os.close(fd)
    try:
        export.write(get_redis(), group, "xlsx", path)
        with open(path, "rb") as f:
            data = f.read()
    finally:
        os.unlink(path)
    resp = send_file(
        io.BytesIO(data),
        as_attachment=True,
        download_name=f"{group.key}-登记表.xlsx",
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.get("/me")
def me() -> ResponseReturnValue:
    user = _user()
    if isinstance(user, Response):
        return user
    settings = get_settings()
    r = get_redis()
    now = time.time()
    groups = console_data.member_of(r, settings, user.userid)
    mine = [console_data.member_history(r, settings, g, user.userid, now) for g in groups]
    led = settings.groups_led_by(user.userid)
    return _page("console/me.html", user, histories=[h for h in mine if h], led=led)


@bp.errorhandler(400)
@bp.errorhandler(403)
@bp.errorhandler(404)
def refused(exc) -> ResponseReturnValue:
    """Console errors as a short page (the message is ours, never user text or a secret)."""
    text = exc.description if isinstance(exc.description, str) and not exc.description.startswith("The ") else ""
    defaults = {400: "请求不对，请刷新后再试。", 403: "这一页只有本组组长能看。", 404: "没有找到这一页。"}
    return render_template("console/error.html", code=exc.code, text=text or defaults.get(exc.code, "")), exc.code
