"""The detection corpus and its fixed development / held-out split (used by bench/detection.py and
tests/test_detection.py).

hand_<x>.jsonl: labeled posts by independent writers, one file each (id, label, text, camp, cls, reason);
BRIEF.md is what the writers were asked.
A post is held out when sha1(id) mod 10 < 4 (about 40 %): a stable hash of the id alone, so the split
never depends on file order, and with a few hundred posts per writer every writer and every class
lands in both parts (checked by the tests). Rules are tuned on the development part only; the
held-out part is for reporting.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

CORPUS_DIR = Path(__file__).resolve().parent
HANDS = tuple(sorted(p.stem[len("hand_") :] for p in CORPUS_DIR.glob("hand_*.jsonl")))
PARTS = ("dev", "heldout", "all")


def part_of(post_id: str) -> str:
    """'heldout' or 'dev' for a post id (stable across runs, machines and Python versions)."""
    h = int.from_bytes(hashlib.sha1(post_id.encode("utf-8")).digest()[:8], "big")
    return "heldout" if h % 10 < 4 else "dev"


def load(part: str = "all") -> list[dict]:
    """The posts of one part ('dev', 'heldout' or 'all'), each with its 'hand' added."""
    if part not in PARTS:
        raise ValueError(f"part must be one of {PARTS}")
    rows: list[dict] = []
    for hand in HANDS:
        path = CORPUS_DIR / f"hand_{hand}.jsonl"
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            row = json.loads(line)
            row["hand"] = hand
            if part == "all" or part_of(row["id"]) == part:
                rows.append(row)
    return rows
