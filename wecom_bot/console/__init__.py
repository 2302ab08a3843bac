"""The leader console: the camp's tables as web pages that open inside WeCom, signed in by 网页授权.

`register(app, settings)` (called by create_app) mounts the pages at /console (wecom_bot/console/pages.py:
`/console/` my groups (the admins: every group, the head coach's view), `/console/g/<KEY>` the week,
`/console/g/<KEY>/m/<userid>` one member, `/console/me` a member's own page; changes are POSTs with a
CSRF token, run through the command core) and, when BOT_WW_VERIFY_FILE is set, serves WeCom's domain
check file `WW_verify_<...>.txt` at the domain's root. Sign-in: auth.py.
"""

from __future__ import annotations

from flask import Flask, Response

from config.settings import Settings
from wecom_bot.console.pages import bp

__all__ = ["bp", "register"]


def register(app: Flask, settings: Settings) -> None:
    app.register_blueprint(bp, url_prefix="/console")
    if settings.ww_verify:
        name, content = settings.ww_verify

        def ww_verify() -> Response:
            # WeCom fetches it once when the 可信域名 is saved: plain text, exactly the content given
            return Response(content, mimetype="text/plain")

        app.add_url_rule(f"/{name}", "ww_verify", ww_verify)
