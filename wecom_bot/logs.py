"""Logging that cannot leak a secret: every record passes a filter that masks configured secrets,
webhook keys and access tokens wherever they appear, whatever the code that logged them."""
from __future__ import annotations

import logging
import re

_PATTERNS = [
    re.compile(r"(?i)(key|access_token|corpsecret|secret|token)=([^&\s\"']+)"),
]


# Secrets are runs of these characters (base64, hex, uuids); text is cut into such runs, and each
# run is searched for windows of the secrets' lengths in a set: the cost is the same for 10 or for
# 10,000 configured webhook keys, where a `str.replace` per secret made every log line and every
# send pay for all of them.
_RUN = re.compile(r"[A-Za-z0-9+/=_\-]{6,}")


class SecretMasker:
    """Replaces every occurrence of the given secrets (6 characters or more) by ***."""

    def __init__(self, secrets):
        self.secrets = frozenset(s for s in secrets if s and len(s) >= 6)
        self.lengths = sorted({len(s) for s in self.secrets}, reverse=True)
        self._odd = [s for s in self.secrets if not _RUN.fullmatch(s)]   # outside the run alphabet

    def mask(self, text: str) -> str:
        if not self.secrets or not text:
            return text
        if self.lengths:
            text = _RUN.sub(self._mask_run, text)
        for secret in self._odd:
            if secret in text:
                text = text.replace(secret, "***")
        return text

    def _mask_run(self, m: re.Match) -> str:
        run = m.group(0)
        if run in self.secrets:
            return "***"
        out, i, n = [], 0, len(run)
        while i < n:
            for length in self.lengths:
                if length <= n - i and run[i:i + length] in self.secrets:
                    out.append("***")
                    i += length
                    break
            else:
                out.append(run[i])
                i += 1
        return "".join(out)


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
