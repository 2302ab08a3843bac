"""WeCom check-in bot: the Flask application factory."""
from __future__ import annotations

from flask import Flask


def create_app(test_config: dict | None = None) -> Flask:
    from config.settings import get_settings
    from wecom_bot import callbacks, ops
    from wecom_bot.logs import configure_logging

    settings = get_settings()
    configure_logging(settings)
    app = Flask(__name__)
    app.config.from_mapping(MAX_CONTENT_LENGTH=settings.max_body, SIMULATOR=settings.simulated)
    if test_config:
        app.config.update(test_config)
    app.register_blueprint(ops.bp)
    if app.config["SIMULATOR"]:
        from config.settings import SIM_PATH
        from wecom_bot import simpanel, simulator
        app.register_blueprint(simulator.bp, url_prefix=SIM_PATH.rstrip("/"))
        app.register_blueprint(simpanel.bp, url_prefix="/_sim")
    # the callbacks (the hot path) are answered in front of Flask; everything else goes through it
    app.wsgi_app = callbacks.CallbackApp(app.wsgi_app, app.config["MAX_CONTENT_LENGTH"])
    return app
