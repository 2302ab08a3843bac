"""Logging that cannot leak a secret: every record passes a filter that masks configured secrets,
webhook keys and access tokens wherever they appear, whatever the code that logged them. The
masking itself (`SecretMasker`) lives in workers/redact.py, below the web face, for the workers too."""

from __future__ import annotations

import logging
import re

from workers.redact import SecretMasker

_PATTERNS = [
    re.compile(r"(?i)(key|access_token|corpsecret|secret|token)=([^&\s\"']+)"),
]


class RedactSecrets(logging.Filter):
    def __init__(self, secrets: list[str]):
        super().__init__()
        self.masker = SecretMasker(secrets)

    @property
    def secrets(self) -> list[str]:
        return sorted(self.masker.secrets, key=len, reverse=True)

    def redact(self, text: str) -> str:
        text = self.masker.mask(text)
        for pattern in _PATTERNS:
            text = pattern.sub(lambda m: f"{m.group(1)}=***", text)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = self.redact(message)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if clean != message:
            record.msg, record.args = clean, ()
        return True


_installed: RedactSecrets | None = None


def configure_logging(settings, level: int = logging.INFO) -> RedactSecrets:
    """Install the redaction filter on the root logger's handlers (idempotent)."""
    global _installed
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    redactor = RedactSecrets(settings.secrets())
    for handler in root.handlers:
        for f in list(handler.filters):
            if isinstance(f, RedactSecrets):
                handler.removeFilter(f)
        handler.addFilter(redactor)
    _installed = redactor
    return redactor
