"""Masking secrets in text, for every process: the log filter of wecom_bot/logs.py and the WeCom
client's error texts (workers/sender.py) both use `SecretMasker`. Plain text in, text out: no
logging, no Flask, no settings, so that a worker never loads the web face to mask a log line."""

from __future__ import annotations

import re
from collections.abc import Iterable

# Secrets are runs of these characters (base64, hex, uuids); text is cut into such runs, and each
# run is searched for windows of the secrets' lengths in a set: the cost is the same for 10 or for
# 10,000 configured webhook keys, where a `str.replace` per secret made every log line and every
# send pay for all of them.
_RUN = re.compile(r"[A-Za-z0-9+/=_\-]{6,}")


class SecretMasker:
    """Replaces every occurrence of the given secrets (6 characters or more) by ***."""

    def __init__(self, secrets: Iterable[str]):
        self.secrets = frozenset(s for s in secrets if s and len(s) >= 6)
        self.lengths = sorted({len(s) for s in self.secrets}, reverse=True)
        self._odd = [s for s in self.secrets if not _RUN.fullmatch(s)]  # outside the run alphabet

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
                if length <= n - i and run[i : i + length] in self.secrets:
                    out.append("***")
                    i += length
                    break
            else:
                out.append(run[i])
                i += 1
        return "".join(out)
