"""Train the check-in scorer (handlers/checkin/scorer.py) and write handlers/checkin/weights.py.

Training data: the DEVELOPMENT part of the labeled corpus (tests/data/detection_corpus, split.py) and the
hand-written table tests/data/detection_cases.tsv. The held-out part is never read here.

Model: logistic regression over the scorer's features (character 1-3-grams and word classes), plain
SGD with weight averaging, pure Python (no dependency). Deterministic: fixed seed and order.

The weights of the rules' vote are a choice, printed against 5-fold cross-validation on two groups of
development posts: the hands the rules were NOT written against (every hand after hand_g), where the
scorer does best, and the hands they were tuned on (a-g), where the rules are right by construction.
Three weights: SILENT_RULE_WEIGHT for the rules' "no keyword" (they read nothing: a weak "none"),
RULE_WEIGHT for any other answer, STRONG_RULE_WEIGHT for an explicit keyword, a note link or someone
else's act. Some answers stand whatever the scorer says (scorer.vetoed: a proxy, praise of someone
else, the sender's own today note, 我打卡; and a post of links alone). The chosen triple, CHOSEN, is the
one with the fewest cross-validated errors on the fresh hands that keeps the hand-written class tables
of tests/test_detection.py and tests/test_detection_classes.py (the issue's error classes) green.

    .venv/bin/python bench/train_detection_scorer.py            # cross-validate, train, write weights.py
    .venv/bin/python bench/train_detection_scorer.py --check    # cross-validate only
"""

from __future__ import annotations

import argparse
import hashlib
import math
import random
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.detection import split  # noqa: E402  (the corpus's one split, tests/data/detection_corpus/split.py)
from handlers.checkin import scorer  # noqa: E402
from handlers.checkin.entry import _read_post, _rule_detection  # noqa: E402
from handlers.checkin.links import note_link_hosts  # noqa: E402
from handlers.checkin.scorer import features  # noqa: E402
from handlers.checkin.sentence import _analyse  # noqa: E402

OUT = ROOT / "handlers" / "checkin" / "weights.py"
CASES = ROOT / "tests" / "data" / "detection_cases.tsv"
# written after the rules: where the rules' weight is measured
TUNED_HANDS = ("a", "b", "c", "d", "e", "f", "g")
FRESH_HANDS = tuple(h for h in split.HANDS if h not in TUNED_HANDS)
EPOCHS, RATE, DECAY, SEED, FOLDS = 60, 0.6, 1e-3, 1, 5
# (silent, rule, strong): the vote of the rules' "no keyword", of any other answer, of a decided one
RULE_WEIGHTS = [
    (q, w, s)
    for q in (0.0, 0.25, 0.5, 1.0)
    for w in (0.25, 0.5, 1.0, 1.5, 2.0)
    for s in (1.0, 1.5, 2.0, 3.0)
    if q <= w <= s
]
CHOSEN = (0.25, 1.0, 1.0)
UNSURE_MARGIN = 0.5
PRUNE = 0.02  # weights smaller than this are dropped (a smaller file, the same decisions within noise)


def load_cases() -> list[tuple[int, str]]:
    out = []
    for line in CASES.read_text(encoding="utf-8").split("\n"):
        if not line.strip() or line.startswith("#"):
            continue
        label, text = line.split("\t", 1)
        out.append((int(label), text.replace("\\n", "\n").replace("\\r", "\r")))
    return out


Vote = tuple[bool, str, bool, bool]  # the rules' answer: check-in, reason, unsure, and whether it stands


def prepare(text: str) -> tuple[list[str], Vote]:
    """(scorer features, the rules' answer) of a post, as detect() reads a member's text post."""
    nbody, links, scored = _read_post(text, note_link_hosts(None))
    ruled = _rule_detection(_analyse(nbody, None), "text", nbody, links, "u1", False)
    checkin = ruled.kind == "checkin"
    return sorted(features(scored)), (checkin, ruled.reason, ruled.unsure, scorer.stands(checkin, ruled.reason, scored))


def combined(z: float, vote: Vote, weights: tuple[float, float, float]) -> bool:
    """detect()'s decision from the scorer's logit and the rules' answer, under (silent, rule, strong) weights."""
    checkin, reason, unsure, stands = vote
    if stands:
        return checkin
    if unsure:  # asked (no check-in, as bench/detection.py counts it) unless the scorer is sure
        return scorer.confident(z) and z > 0
    scorer.SILENT_RULE_WEIGHT, scorer.RULE_WEIGHT, scorer.STRONG_RULE_WEIGHT = weights
    return z + scorer.rule_vote(checkin, reason) > 0


def train(xs: list[list[str]], ys: list[int]) -> tuple[dict[str, float], float]:
    """Averaged SGD logistic regression."""
    w: dict[str, float] = {}
    acc: dict[str, float] = {}
    b = acc_b = 0.0
    order = list(range(len(xs)))
    rnd = random.Random(SEED)
    for _ in range(EPOCHS):
        rnd.shuffle(order)
        for i in order:
            z = b + sum(w.get(f, 0.0) for f in xs[i])
            p = 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))
            step = (ys[i] - p) * RATE / math.sqrt(len(xs[i]) or 1)
            for f in xs[i]:
                w[f] = w.get(f, 0.0) * (1 - DECAY) + step
            b += step * 0.1
        for f, v in w.items():
            acc[f] = acc.get(f, 0.0) + v
        acc_b += b
    return {f: v / EPOCHS for f, v in acc.items()}, acc_b / EPOCHS


def logit(model: tuple[dict[str, float], float], x: list[str]) -> float:
    w, b = model
    return b + math.fsum(w.get(f, 0.0) for f in x)


def errors(rows: list[dict], pred: list[bool]) -> str:
    tp = sum(1 for r, p in zip(rows, pred, strict=True) if r["label"] and p)
    fp = sum(1 for r, p in zip(rows, pred, strict=True) if not r["label"] and p)
    fn = sum(1 for r, p in zip(rows, pred, strict=True) if r["label"] and not p)
    prec, rec = tp / (tp + fp) if tp + fp else 1.0, tp / (tp + fn) if tp + fn else 1.0
    return f"P {prec:.3f} R {rec:.3f} errors {fp + fn:3d} (fp {fp}, fn {fn})"


def cross_validate(rows: list[dict], xs: list[list[str]], cases: list[tuple[list[str], int]]) -> list[float]:
    """Out-of-fold scorer logits of the corpus rows (each fold trained on the others and the table)."""
    fold = [int(hashlib.md5(r["id"].encode()).hexdigest(), 16) % FOLDS for r in rows]
    oof = [0.0] * len(rows)
    for k in range(FOLDS):
        train_x = [x for x, f in zip(xs, fold, strict=True) if f != k] + [x for x, _ in cases]
        train_y = [r["label"] for r, f in zip(rows, fold, strict=True) if f != k] + [y for _, y in cases]
        model = train(train_x, train_y)
        for i, f in enumerate(fold):
            if f == k:
                oof[i] = logit(model, xs[i])
    return oof


def show_rule_weights(rows: list[dict], oof: list[float], votes: list[Vote]) -> tuple[float, float, float]:
    fresh = [i for i, r in enumerate(rows) if r["hand"] in FRESH_HANDS]
    old = [i for i, r in enumerate(rows) if r["hand"] not in FRESH_HANDS]
    for rw in RULE_WEIGHTS:
        pred = [combined(oof[i], votes[i], rw) for i in range(len(rows))]
        line = []
        for sel in (fresh, old):
            line.append(errors([rows[i] for i in sel], [pred[i] for i in sel]))
        print(f"  rule weights {rw[0]:4.2f}/{rw[1]:4.2f}/{rw[2]:4.2f}  fresh hands {line[0]}   tuned hands {line[1]}")
    print(f"  rules alone  fresh hands  {errors([rows[i] for i in fresh], [votes[i][0] for i in fresh])}")
    print(f"  chosen rule weights {CHOSEN}")
    return CHOSEN


def write(model: tuple[dict[str, float], float], rule_weight: tuple[float, float, float], n_posts: int) -> None:
    w, b = model
    kept = sorted((f, round(v, 4)) for f, v in w.items() if abs(v) >= PRUNE)
    lines = [
        '"""Weights of the check-in scorer (handlers/checkin/scorer.py). Generated by',
        f"bench/train_detection_scorer.py from {n_posts} development posts and table cases: do not edit.",
        '"""',
        "",
        f"BIAS = {round(b, 4)!r}",
        f"SILENT_RULE_WEIGHT = {rule_weight[0]!r}  # the vote of the rules' 'no keyword' (they read nothing)",
        f"RULE_WEIGHT = {rule_weight[1]!r}  # the rules' vote, added to the scorer's sum (+ check-in, - none)",
        f"STRONG_RULE_WEIGHT = {rule_weight[2]!r}  # the vote of an explicit keyword or someone else's act",
        f"UNSURE_MARGIN = {UNSURE_MARGIN!r}  # overruled and this close: ask the member",
        "WEIGHTS: dict[str, float] = {",
    ]
    lines += [f"    {f!r}: {v!r}," for f, v in kept]
    lines += ["}", ""]
    OUT.write_text("\n".join(lines), encoding="utf-8")
    ruff = Path(sys.executable).parent / "ruff"  # the project's formatter (scripts/lint checks the file)
    if ruff.exists():
        subprocess.run([str(ruff), "format", "-q", str(OUT)], check=False)
    print(f"wrote {OUT.relative_to(ROOT)}: {len(kept)} weights, rule weight {rule_weight}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="cross-validate only, write nothing")
    args = ap.parse_args(argv)
    rows = split.load("dev")
    prepared = [prepare(r["text"]) for r in rows]
    xs, votes = [p[0] for p in prepared], [p[1] for p in prepared]
    cases = [(prepare(text)[0], label) for label, text in load_cases()]
    print(f"{len(rows)} development posts, {len(cases)} table cases; {FOLDS}-fold cross-validation:")
    oof = cross_validate(rows, xs, cases)
    print(f"  scorer alone all dev      {errors(rows, [z > 0 for z in oof])}")
    rule_weight = show_rule_weights(rows, oof, votes)
    if not args.check:
        write(
            train(xs + [x for x, _ in cases], [r["label"] for r in rows] + [y for _, y in cases]),
            rule_weight,
            len(rows),
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
