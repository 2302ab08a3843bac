"""The leader console through Flask's test client, against a real Redis and the WeCom simulator on
loopback (auth/getuserinfo is answered by the simulator over HTTP through WECOM_API_BASE_URL).
Every permission path: no session, member, leader of another group, admin, forged / reused / foreign
state, a code WeCom refuses, POSTs without or with a wrong CSRF token."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest

from wecom_bot import create_app
from workers import audit, keys

PUBLIC = "https://bot.example.com"


@pytest.fixture
def console(sim, env):
    env(
        BOT_PUBLIC_URL=PUBLIC,
        GROUP_XHS01_MEMBERS="xiaolu:小鹿,aqing:阿青",
        GROUP_XHS02_MEMBERS="momo:Momo",
    )
    return create_app()


def client(app):
    c = app.test_client()
    c.environ_base["wsgi.url_scheme"] = "https"  # the cookies are Secure (BOT_PUBLIC_URL is https)
    return c


def start(c, path="/console/"):
    """The redirect to WeCom's authorize page, and its state."""
    res = c.get(path)
    assert res.status_code == 302, res.status_code
    loc = res.headers["Location"]
    return res, loc, parse_qs(urlsplit(loc).query)["state"][0]


def sign_in(c, sim, userid, path="/console/"):
    _, _, state = start(c, path)
    res = c.get(f"/console/auth?code={sim.state.issue_oauth_code(userid)}&state={state}")
    assert res.status_code == 302, res.get_data(as_text=True)
    return res


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([0-9a-f]+)"', html).group(1)


def test_no_session_redirects_to_wecom_authorize_with_a_fresh_state(console):
    c = client(console)
    res, loc, state = start(c, "/console/g/xhs01")
    parts = urlsplit(loc)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == "https://open.weixin.qq.com/connect/oauth2/authorize"
    q = parse_qs(parts.query)
    assert q["appid"] == ["wwtestcorp"] and q["agentid"] == ["1000002"]
    assert q["redirect_uri"] == [f"{PUBLIC}/console/auth"]
    assert q["response_type"] == ["code"] and q["scope"] == ["snsapi_base"]
    assert parts.fragment == "wechat_redirect"
    assert len(state) >= 24 and start(c)[2] != state
    cookie = res.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=Lax" in cookie


def test_leader_signs_in_and_returns_to_the_page_first_asked(console, sim, r):
    c = client(console)
    res = sign_in(c, sim, "leader1", "/console/g/xhs01")
    assert res.headers["Location"].endswith("/console/g/xhs01")
    session = [h for h in res.headers.getlist("Set-Cookie") if h.startswith("wb_console=")][0]
    for flag in ("HttpOnly", "Secure", "SameSite=Lax", "Max-Age=43200", "Path=/console"):
        assert flag in session
    page = c.get("/console/g/xhs01")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "小鹿" in html and "阿青" in html
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    assert sim.state.call_count("auth/getuserinfo") == 1  # asked WeCom (the simulator) over HTTP
    assert "leader1" in c.get("/console/").get_data(as_text=True)


def test_member_sees_only_their_own_page(console, sim, r):
    c = client(console)
    sign_in(c, sim, "xiaolu")
    assert c.get("/console/g/xhs01").status_code == 403
    assert c.get("/console/g/xhs01/m/xiaolu").status_code == 403
    assert c.get("/console/g/xhs01/export.xlsx").status_code == 403
    home = c.get("/console/")
    assert home.status_code == 302 and home.headers["Location"].endswith("/console/me")
    r.rpush(keys.notes("xhs01", "xiaolu"), json.dumps({"text": "只给组长看的档案", "by": "leader1", "at": 1}))
    me = c.get("/console/me").get_data(as_text=True)
    assert "小红书01" in me and "只给组长看的档案" not in me


def test_leader_of_another_group_is_refused(console, sim, r):
    c = client(console)
    sign_in(c, sim, "leader2")
    assert c.get("/console/g/xhs02").status_code == 200
    assert c.get("/console/g/xhs01").status_code == 403
    assert c.get("/console/g/xhs01/m/xiaolu").status_code == 403
    csrf = csrf_of(c.get("/console/g/xhs02/m/momo").get_data(as_text=True))
    res = c.post("/console/g/xhs01/m/xiaolu", data={"csrf": csrf, "action": "goal", "value": "5", "op": "x" * 16})
    assert res.status_code == 403
    assert r.hlen(keys.goals("xhs01", "xiaolu")) == 0
    home = c.get("/console/").get_data(as_text=True)
    assert "小红书02" in home and "小红书01" not in home


def test_private_members_show_to_their_leaders_only(console, sim, r):
    r.hset(keys.prefs("xhs01"), "xiaolu:private", "1")
    leader = client(console)
    sign_in(leader, sim, "leader1")
    html = leader.get("/console/g/xhs01").get_data(as_text=True)
    assert "小鹿" in html and "不公开" in html
    other = client(console)
    sign_in(other, sim, "leader2")
    assert "小鹿" not in other.get("/console/").get_data(as_text=True)
    assert other.get("/console/g/xhs01").status_code == 403


def test_admin_sees_every_group_with_the_head_coach_view(console, sim):
    c = client(console)
    sign_in(c, sim, "admin1")
    html = c.get("/console/").get_data(as_text=True)
    assert "全营概览" in html and "小红书01" in html and "小红书02" in html and "人达标" in html
    assert c.get("/console/g/xhs02").status_code == 200
    assert c.get("/console/g/xhs01/m/xiaolu").status_code == 200
    res = c.get("/console/g/xhs01/export.xlsx")
    assert res.status_code == 200 and res.data[:2] == b"PK"


def test_forged_reused_and_foreign_states_are_refused(console, sim):
    c = client(console)
    _, _, state = start(c)
    forged = c.get(f"/console/auth?code={sim.state.issue_oauth_code('admin1')}&state=forged{state[6:]}")
    assert forged.status_code == 400
    assert c.get(f"/console/auth?code={sim.state.issue_oauth_code('admin1')}&state={state}").status_code == 302
    assert c.get(f"/console/auth?code={sim.state.issue_oauth_code('admin1')}&state={state}").status_code == 400
    # a state issued to one browser, presented by another (a login CSRF): refused
    victim, attacker = client(console), client(console)
    _, _, state = start(attacker)
    start(victim)
    res = victim.get(f"/console/auth?code={sim.state.issue_oauth_code('leader2')}&state={state}")
    assert res.status_code == 400
    assert victim.get("/console/").status_code == 302  # still not signed in
    assert sim.state.call_count("auth/getuserinfo") == 1  # refused states never reach WeCom


def test_a_code_wecom_refuses_signs_nobody_in(console, sim):
    c = client(console)
    _, _, state = start(c)
    res = c.get(f"/console/auth?code=not-a-code&state={state}")
    assert res.status_code == 403
    assert sim.state.call_count("auth/getuserinfo") == 1
    assert c.get("/console/").status_code == 302


def test_tampered_session_cookie_is_not_a_session(console, sim):
    c = client(console)
    sign_in(c, sim, "admin1")
    cookie = c.get_cookie("wb_console", path="/console")
    c.set_cookie("wb_console", cookie.value[:-2] + "xx", path="/console")
    assert c.get("/console/").status_code == 302


def test_post_without_or_with_a_wrong_csrf_token_is_400(console, sim, r):
    c = client(console)
    sign_in(c, sim, "leader1")
    form = {"action": "goal", "value": "5", "op": "a" * 16}
    assert c.post("/console/g/xhs01/m/xiaolu", data=form).status_code == 400
    assert c.post("/console/g/xhs01/m/xiaolu", data={**form, "csrf": "0" * 64}).status_code == 400
    other = client(console)
    sign_in(other, sim, "leader1")  # the same leader's other session has its own token
    token = csrf_of(other.get("/console/g/xhs01/m/xiaolu").get_data(as_text=True))
    assert c.post("/console/g/xhs01/m/xiaolu", data={**form, "csrf": token}).status_code == 400
    assert r.hlen(keys.goals("xhs01", "xiaolu")) == 0 and audit.entries(r, "xhs01") == []
    assert client(console).post("/console/g/xhs01/m/xiaolu", data=form).status_code == 403  # no session


def test_a_goal_change_goes_through_the_command_core_once(console, sim, r):
    c = client(console)
    sign_in(c, sim, "leader1")
    html = c.get("/console/g/xhs01/m/xiaolu").get_data(as_text=True)
    form = {"csrf": csrf_of(html), "action": "goal", "value": "5", "op": "b" * 16}
    res = c.post("/console/g/xhs01/m/xiaolu", data=form)
    assert res.status_code == 303 and res.headers["Location"].endswith("/console/g/xhs01/m/xiaolu")
    page = c.get("/console/g/xhs01/m/xiaolu").get_data(as_text=True)
    assert 'id="goal">5<' in page and 'id="flash"' in page and "5" in page
    c.post("/console/g/xhs01/m/xiaolu", data=form)  # the same form twice: one change
    entries = audit.entries(r, "xhs01")
    assert [(e["what"], e["who"], e["target"], e.get("via")) for e in entries] == [
        ("goal", "leader1", "xiaolu", "console")
    ]
    assert "[控制台]" in audit.format_entry(entries[0], ZoneInfo("Asia/Shanghai"))
    week = c.get("/console/g/xhs01").get_data(as_text=True)
    assert re.search(r'data-userid="xiaolu".*?class="\w+ goal">0/5', week, re.S)


def test_note_leave_and_remove_from_the_page(console, sim, r):
    c = client(console)
    sign_in(c, sim, "leader1")
    csrf = csrf_of(c.get("/console/g/xhs01/m/aqing").get_data(as_text=True))
    post = lambda action, value, op: c.post(  # noqa: E731
        "/console/g/xhs01/m/aqing", data={"csrf": csrf, "action": action, "value": value, "op": op * 16}
    )
    assert post("note", "<script>alert(1)</script> 晚上有空", "n").status_code == 303
    html = c.get("/console/g/xhs01/m/aqing").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt; 晚上有空" in html and "<script>alert" not in html
    assert post("leave", "99", "l").status_code == 303  # refused by the form, nothing changes
    assert "1–14" in c.get("/console/g/xhs01/m/aqing").get_data(as_text=True)
    assert post("leave", "2", "k").status_code == 303
    assert post("remove", "", "r").headers["Location"].endswith("/console/g/xhs01")
    assert [e["what"] for e in audit.entries(r, "xhs01")] == ["note", "leave", "remove"]
    assert "aqing" not in c.get("/console/g/xhs01").get_data(as_text=True)


def test_ww_verify_file_is_served_at_the_root(sim, env, tmp_path):
    env(BOT_WW_VERIFY_FILE="WW_verify_Ab12Cd34.txt:Ab12Cd34content")
    res = create_app().test_client().get("/WW_verify_Ab12Cd34.txt")
    assert res.status_code == 200 and res.data == b"Ab12Cd34content" and res.mimetype == "text/plain"
    path = tmp_path / "WW_verify_Zz9.txt"
    path.write_text("from-a-file\n")
    env(BOT_WW_VERIFY_FILE=str(path))
    assert create_app().test_client().get("/WW_verify_Zz9.txt").data == b"from-a-file"
