"""Benchmark: check-in detection quality on the labeled corpus (tests/data/detection_corpus).

Every post is detected as a group member's post (`detect(text, "text", sender_userid="u1",
sender_name="小鹿")`); it counts as predicted-positive when the Detection is a "checkin", or a
"chain" that credits someone. A post marked `unsure` (kind "none", the bot would ask the member)
counts as negative and is reported apart.

detect() is the rules' sentence reading with a learned scorer as a second opinion (trained on the
development part only: bench/train_detection_scorer.py); the report counts the posts where the scorer
overruled the rules.

Same-run baseline: the plain-keyword rule (any 打卡 / 已更 / ✅ keyword, or a 小红书 note link, is a
check-in), so the gain of the sentence reading is visible.

The corpus is split once, by a stable hash of the post id (tests/data/detection_corpus/split.py):
60 % development, 40 % held-out. Tune on `--part dev` only; the held-out part is for reporting.

    .venv/bin/python bench/detection.py                 # dev: figures, per-class errors, confusion list
    .venv/bin/python bench/detection.py --part all      # dev and held-out, side by side
    .venv/bin/python bench/detection.py --quick         # figures only (no per-post lists)
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import Result, met  # noqa: E402
from handlers.checkin import detect, find_note_links  # noqa: E402

_spec = importlib.util.spec_from_file_location(
    "detection_corpus_split", ROOT / "tests" / "data" / "detection_corpus" / "split.py"
)
split = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(split)

TARGET = 0.97
BASELINE_WORDS = ("打卡", "已更", "✅")


def baseline(text: str) -> bool:
    """The plain-keyword rule: a keyword anywhere, or a 小红书 note link."""
    return any(w in text for w in BASELINE_WORDS) or bool(find_note_links(text))


def run_detect(text: str):
    d = detect(text, "text", sender_userid="u1", sender_name="小鹿")
    positive = d.kind == "checkin" or (d.kind == "chain" and bool(d.credits))
    return positive, d


def scores(pairs: list[tuple[int, bool]]) -> dict:
    tp = sum(1 for y, p in pairs if y and p)
    fp = sum(1 for y, p in pairs if not y and p)
    fn = sum(1 for y, p in pairs if y and not p)
    tn = len(pairs) - tp - fp - fn
    prec = tp / (tp + fp) if tp + fp else 1.0
    rec = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    return {"n": len(pairs), "tp": tp, "fp": fp, "fn": fn, "tn": tn, "p": prec, "r": rec, "f1": f1}


def evaluate(rows: list[dict]) -> dict:
    """Detection and baseline on rows: scores, per-class errors, confusion list, unsure posts."""
    t0 = time.perf_counter()
    results = [(row, *run_detect(row["text"])) for row in rows]
    elapsed = time.perf_counter() - t0
    det = scores([(row["label"], pos) for row, pos, _ in results])
    base = scores([(row["label"], baseline(row["text"])) for row in rows])
    per_class: dict[str, list[int]] = {}
    for row, pos, _ in results:
        c = per_class.setdefault(row["cls"], [0, 0, 0])  # posts, detection errors, baseline errors
        c[0] += 1
        c[1] += int(pos != bool(row["label"]))
        c[2] += int(baseline(row["text"]) != bool(row["label"]))
    confusion = [(("FP" if pos else "FN"), row, d) for row, pos, d in results if pos != bool(row["label"])]
    unsure = [(row, d) for row, pos, d in results if getattr(d, "unsure", False)]
    # posts where the learned scorer overruled the rules (handlers/checkin/scorer.py), and how many it got right
    overruled = [(row, pos) for row, pos, d in results if d.reason.startswith("scorer")]
    return {
        "overruled": (len(overruled), sum(1 for row, pos in overruled if pos == bool(row["label"]))),
        "det": det,
        "base": base,
        "per_class": per_class,
        "confusion": confusion,
        "unsure": unsure,
        "rate": len(rows) / elapsed if elapsed else 0.0,
    }


def _fmt(s: dict) -> str:
    return (
        f"P {s['p']:.3f}  R {s['r']:.3f}  F1 {s['f1']:.3f}   "
        f"(n {s['n']}: tp {s['tp']} fp {s['fp']} fn {s['fn']} tn {s['tn']})"
    )


def report(name: str, ev: dict, quick: bool) -> None:
    det, base = ev["det"], ev["base"]
    ok = det["p"] >= TARGET and det["r"] >= TARGET
    print(f"== {name}")
    print(f"  detection  {_fmt(det)}   target P,R >= {TARGET}: {'ok' if ok else 'MISSED'}")
    print(f"  baseline   {_fmt(base)}   (plain keyword / note link, same run)")
    print(
        f"  gain       F1 {det['f1'] - base['f1']:+.3f}   errors {det['fp'] + det['fn']} "
        f"vs baseline {base['fp'] + base['fn']}"
    )
    print(
        f"  unsure     {len(ev['unsure'])} posts (counted as negative; "
        f"{sum(1 for r, _ in ev['unsure'] if r['label'])} of them labeled check-in)"
    )
    print(f"  scorer     overruled the rules on {ev['overruled'][0]} posts ({ev['overruled'][1]} of them rightly)")
    print(f"  speed      {ev['rate']:,.0f} posts/s (detect only, this process)")
    print("  per class: posts / detection errors / baseline errors")
    for cls, (n, e, b) in sorted(ev["per_class"].items(), key=lambda kv: (-kv[1][1], kv[0])):
        print(f"    {cls:26s} {n:4d} {e:4d} {b:4d}")
    if quick:
        return
    print("  confusion list (FP = detected but not a check-in, FN = missed):")
    for kind, row, d in sorted(ev["confusion"], key=lambda x: (x[0], x[1]["cls"], x[1]["id"])):
        text = row["text"].replace("\n", "\\n")
        print(f"    {kind} {row['id']:7s} [{row['cls']}] {text}")
        print(f"         detect: {d.kind} / {d.reason}   label: {row['reason']}")
    if ev["unsure"]:
        print("  unsure posts:")
        for row, d in ev["unsure"]:
            print(f"    {row['id']:7s} label {row['label']} [{row['cls']}] {row['text']}  ({d.reason})")


def run(quick: bool, opts=None):
    """For bench/run.py: the figures of both parts as Result rows (the held-out part is reported,
    never tuned on), against the keyword baseline of the same run."""
    res = Result("detection")
    for part in ("dev", "heldout"):
        rows = split.load(part)
        ev = evaluate(rows)
        det, base = ev["det"], ev["base"]
        res.data[part] = {
            "n": det["n"],
            "p": det["p"],
            "r": det["r"],
            "f1": det["f1"],
            "unsure": len(ev["unsure"]),
            "baseline": {"p": base["p"], "r": base["r"], "f1": base["f1"]},
            "errors_by_class": {c: e for c, (_, e, _) in ev["per_class"].items() if e},
        }
        res.row(
            f"{part}: precision / recall ({det['n']} posts)",
            f"{det['p']:.3f} / {det['r']:.3f}",
            f"keyword baseline {base['p']:.3f} / {base['r']:.3f}",
            f">= {TARGET} / {TARGET}" if part == "heldout" else "",
            met(det["p"] >= TARGET and det["r"] >= TARGET) if part == "heldout" else "info",
        )
        if part == "heldout":
            res.row("detect() speed", f"{ev['rate']:,.0f} posts/s", "one process, whole corpus part", "", "info")
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--part",
        choices=("dev", "heldout", "all"),
        default="dev",
        help="which part to report (default dev; 'all' reports dev and held-out separately)",
    )
    ap.add_argument("--quick", action="store_true", help="figures and per-class errors only, no per-post lists")
    args = ap.parse_args(argv)
    parts = ("dev", "heldout") if args.part == "all" else (args.part,)
    for part in parts:
        rows = split.load(part)
        report(f"{part} ({len(rows)} posts)", evaluate(rows), args.quick)
    return 0


if __name__ == "__main__":
    sys.exit(main())
