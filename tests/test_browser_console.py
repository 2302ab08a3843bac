"""The console in a real browser: Debian's headless Chromium, driven by selenium through its
chromedriver, at phone width, against the service on a free loopback port in simulator mode. It signs
in through the simulator's authorize page (WeCom's 网页授权 stand-in), opens the week, changes a goal
and sees the change. Screenshots go to var/console/.

scripts/setup installs chromium and chromium-driver; without them this test is skipped, unless
TESTS_REQUIRE_BROWSER is set (scripts/test sets it), when it fails instead.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

import pytest
import requests
from werkzeug.serving import make_server

from bench.common import free_port
from config.settings import DEV_AES_KEY, DEV_TOKEN
from wecom_bot import create_app
from wecom_bot.crypto import CallbackCrypto
from wecom_bot.sim.builders import robot_xml, sign
from wecom_bot.sim.simulator import SimState
from workers import audit

ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "var" / "console"
CHROMIUM, DRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
MEMBERS = "xiaolu:小鹿,aqing:阿青,momo:Momo,dabai:大白,xiaoyu:小雨"


def _browser_or_skip():
    if os.path.exists(CHROMIUM) and os.path.exists(DRIVER):
        try:
            import selenium  # noqa: F401
        except ImportError:
            pass
        else:
            return
    why = f"headless Chromium needs {CHROMIUM}, {DRIVER} (scripts/setup installs them) and selenium"
    if os.environ.get("TESTS_REQUIRE_BROWSER", "").strip() not in ("", "0", "false", "no"):
        pytest.fail(why + ": missing, and TESTS_REQUIRE_BROWSER is set", pytrace=False)
    pytest.skip(why)


@pytest.fixture
def server(env):
    """The whole service (web, its simulator, the console) in simulator mode on a free loopback port."""
    port = free_port()
    env(PORT=port, BOT_ADMINS="coach", BOT_GROUPS="demo", GROUP_DEMO_CHAT_ID="wrkDemoChat0001",
        GROUP_DEMO_NAME="写作营·1组", GROUP_DEMO_LEADERS="tingting:婷婷", GROUP_DEMO_MEMBERS=MEMBERS,
        GROUP_DEMO_WEBHOOK_KEY="demo-robot-key-0001")  # fmt: skip
    app = create_app()
    app.extensions["wecom_sim"] = SimState()
    httpd = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


@pytest.fixture
def browser():
    _browser_or_skip()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="console-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        "--window-size=390,844",
        "--lang=zh-CN",
    ):
        options.add_argument(arg)
    # a phone's viewport (headless windows are at least 500 px wide; the emulation is exactly 390)
    options.add_experimental_option(
        "mobileEmulation", {"deviceMetrics": {"width": 390, "height": 844, "pixelRatio": 2}}
    )
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def check_in(base: str, userid: str, name: str) -> None:
    """A member's check-in as the group robot's callback, encrypted exactly as WeCom sends it."""
    crypto = CallbackCrypto(DEV_TOKEN, DEV_AES_KEY, "")
    signed = sign(
        crypto, "/wecom/robot", robot_xml("wrkDemoChat0001", userid, name, "@打卡助手 打卡"), int(time.time())
    )
    assert requests.post(base + signed.path, data=signed.body, timeout=10).status_code == 200


def shot(driver, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / name
    # the whole page at phone width (the window's own height would cut the table off)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(390, max(844, min(int(height) + 120, 2400)))
    driver.save_screenshot(str(path))
    driver.set_window_size(390, 844)
    return path


def test_leader_signs_in_opens_the_week_and_changes_a_goal(server, browser, r):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    for uid, name in (("xiaolu", "小鹿"), ("aqing", "阿青"), ("momo", "Momo")):
        check_in(server, uid, name)
    wait = WebDriverWait(browser, 20)
    browser.get(server + "/console/g/demo")
    # not signed in: the simulator's authorize page asks who we are
    wait.until(ec.presence_of_element_located((By.ID, "as-tingting")))
    assert "/_sim/connect/oauth2/authorize" in browser.current_url
    browser.find_element(By.ID, "as-tingting").click()
    table = wait.until(ec.presence_of_element_located((By.ID, "week")))
    # (the browser keeps the authorize URL's #wechat_redirect through the redirects; WeCom drops it)
    assert browser.current_url.split("#")[0] == server + "/console/g/demo"
    assert "小鹿" in table.text and "阿青" in table.text
    assert browser.execute_script("return window.innerWidth") == 390
    assert browser.execute_script("return document.documentElement.scrollWidth") <= 390  # no sideways scrolling
    shot(browser, "week.png")

    browser.find_element(By.LINK_TEXT, "大白").click()
    form = wait.until(ec.presence_of_element_located((By.ID, "form-goal")))
    field = form.find_element(By.NAME, "value")
    field.clear()
    field.send_keys("5")
    form.find_element(By.TAG_NAME, "button").click()
    wait.until(ec.presence_of_element_located((By.ID, "flash")))
    assert browser.find_element(By.ID, "goal").text == "5"
    assert "5" in browser.find_element(By.ID, "flash").text
    shot(browser, "member.png")

    browser.get(server + "/console/g/demo")
    row = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, 'tr[data-userid="dabai"] td.goal')))
    assert row.text.startswith("0/5")
    entries = audit.entries(r, "demo")
    assert [(e["what"], e["who"], e["target"], e.get("via")) for e in entries] == [
        ("goal", "tingting", "dabai", "console")
    ]
