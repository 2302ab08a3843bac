"""WeCom check-in bot: the Flask application factory."""

from __future__ import annotations

from flask import Flask


def create_app(test_config: dict | None = None) -> Flask:
    # Imported here, not at the top: this package's __init__ runs for every import of a wecom_bot module
    # (the workers import wecom_bot.logs, the command line wecom_bot.cli), and those need neither the web's
    # modules (which import the workers back) nor, outside simulator mode, the simulator.
    from config.settings import SIM_PATH, get_settings
    from wecom_bot import callbacks, console, ops
    from wecom_bot.logs import configure_logging

    settings = get_settings()
    configure_logging(settings)
    app = Flask(__name__)
    app.config.from_mapping(MAX_CONTENT_LENGTH=settings.max_body, SIMULATOR=settings.simulated)
    if test_config:
        app.config.update(test_config)
    app.register_blueprint(ops.bp)
    console.register(app, settings)  # /console/ and the 可信域名 file WW_verify_<...>.txt
    if app.config["SIMULATOR"]:
        from wecom_bot.sim import authorize, panel, simulator

        app.register_blueprint(simulator.bp, url_prefix=SIM_PATH.rstrip("/"))
        app.register_blueprint(panel.bp, url_prefix="/_sim")
        app.register_blueprint(authorize.bp, url_prefix="/_sim/connect/oauth2")  # plays WeCom's 网页授权
    # the callbacks (the hot path) are answered in front of Flask; everything else goes through it
    app.wsgi_app = callbacks.CallbackApp(app.wsgi_app, app.config["MAX_CONTENT_LENGTH"])  # type: ignore[method-assign]
    return app
