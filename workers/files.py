"""Files the service writes that hold members' data (backups, exports): for their owner's eyes only."""

from __future__ import annotations

import os


def private_file(path: str, mode: str = "w", **kw):
    """Open `path` for writing, readable by its owner only (0600) from the first byte."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # an existing file keeps its old mode through O_CREAT: set it
    return os.fdopen(fd, mode, **kw)
